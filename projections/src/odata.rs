//! The OData-like `filter` and `orderby` list options of the PortSIP REST API.
//!
//! Client text never reaches SQL: field names are resolved through an allow-list whose SQL
//! expressions are written by us, and every literal becomes a bound parameter. Parsing is
//! separate from compiling so a handler can reject syntax errors before it knows the table.
//! Positions in error messages are 0-based character offsets, since clients count
//! characters rather than UTF-8 bytes.

use std::fmt;

/// Longest accepted filter, in characters; bounds parse time and the size of error echoes.
pub const MAX_FILTER_LEN: usize = 2000;
/// Deepest nesting of parentheses and `not`; the parser recurses only there, so this bounds the stack.
pub const MAX_DEPTH: usize = 32;
/// Most sort keys in one `orderby`; more than this is never useful and only costs the database.
pub const MAX_ORDER_KEYS: usize = 8;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FieldType {
    Text,
    Integer,
    Bool,
}

/// One allowed field: the name clients use, the SQL expression it maps to (trusted, written by us), and its type.
#[derive(Debug, Clone, Copy)]
pub struct Field {
    pub name: &'static str,
    pub sql: &'static str,
    pub ty: FieldType,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Param {
    Text(String),
    Integer(i64),
    Bool(bool),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CmpOp {
    Eq,
    Ne,
    Gt,
    Ge,
    Lt,
    Le,
}

impl CmpOp {
    const ALL: [CmpOp; 6] = [CmpOp::Eq, CmpOp::Ne, CmpOp::Gt, CmpOp::Ge, CmpOp::Lt, CmpOp::Le];

    fn keyword(self) -> &'static str {
        match self {
            CmpOp::Eq => "eq",
            CmpOp::Ne => "ne",
            CmpOp::Gt => "gt",
            CmpOp::Ge => "ge",
            CmpOp::Lt => "lt",
            CmpOp::Le => "le",
        }
    }

    fn sql(self) -> &'static str {
        match self {
            CmpOp::Eq => "=",
            CmpOp::Ne => "<>",
            CmpOp::Gt => ">",
            CmpOp::Ge => ">=",
            CmpOp::Lt => "<",
            CmpOp::Le => "<=",
        }
    }

    fn from_word(word: &str) -> Option<CmpOp> {
        CmpOp::ALL.into_iter().find(|op| word.eq_ignore_ascii_case(op.keyword()))
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StrFunc {
    StartsWith,
    EndsWith,
    Contains,
}

impl StrFunc {
    fn name(self) -> &'static str {
        match self {
            StrFunc::StartsWith => "startswith",
            StrFunc::EndsWith => "endswith",
            StrFunc::Contains => "contains",
        }
    }

    fn from_word(word: &str) -> Option<StrFunc> {
        [StrFunc::StartsWith, StrFunc::EndsWith, StrFunc::Contains].into_iter().find(|f| word.eq_ignore_ascii_case(f.name()))
    }
}

#[derive(Debug, Clone, PartialEq)]
pub enum Literal {
    Text(String),
    Integer(i64),
    Bool(bool),
    Null,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Expr {
    Compare { field: String, op: CmpOp, value: Literal },
    Func { func: StrFunc, field: String, value: String },
    And(Box<Expr>, Box<Expr>),
    Or(Box<Expr>, Box<Expr>),
    Not(Box<Expr>),
}

#[derive(Debug, Clone, PartialEq)]
pub struct OrderKey {
    pub field: String,
    pub descending: bool,
}

/// A parse or validation error; `message` is a sentence fit for an API client, naming the problem.
#[derive(Debug, Clone, PartialEq)]
pub struct QueryError {
    pub message: String,
}

impl fmt::Display for QueryError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for QueryError {}

fn err<T>(ctx: &str, msg: String) -> Result<T, QueryError> {
    Err(QueryError { message: format!("{ctx}: {msg}") })
}

/// Words that can never be a field name; rejecting them up front gives a clearer message
/// than "unknown field 'and'" for inputs like `name eq 'a' and and ...`.
const RESERVED: [&str; 12] = ["and", "or", "not", "eq", "ne", "gt", "ge", "lt", "le", "true", "false", "null"];

fn is_reserved(word: &str) -> bool {
    RESERVED.iter().any(|k| word.eq_ignore_ascii_case(k))
}

// ---------------------------------------------------------------- lexer

#[derive(Debug, Clone, PartialEq)]
enum Tok {
    Ident(String),
    Str(String),
    Int(i64),
    LParen,
    RParen,
    Comma,
    Eof,
}

#[derive(Debug, Clone)]
struct Token {
    tok: Tok,
    pos: usize,
}

/// Client text echoed in messages is clipped so a 2000-character literal does not become a 2000-character error.
fn clip(s: &str) -> String {
    const MAX: usize = 40;
    if s.chars().nth(MAX).is_some() {
        format!("{}...", s.chars().take(MAX).collect::<String>())
    } else {
        s.to_string()
    }
}

fn describe(tok: &Tok) -> String {
    match tok {
        Tok::Ident(s) => format!("'{}'", clip(s)),
        Tok::Str(s) => format!("the string '{}'", clip(&s.replace('\'', "''"))),
        Tok::Int(n) => format!("the number {n}"),
        Tok::LParen => "'('".into(),
        Tok::RParen => "')'".into(),
        Tok::Comma => "','".into(),
        Tok::Eof => "end of input".into(),
    }
}

/// ", found X" for a real token; nothing at end of input, where "at position N" already says it all.
fn found(t: &Token) -> String {
    if t.tok == Tok::Eof {
        String::new()
    } else {
        format!(", found {}", describe(&t.tok))
    }
}

/// Splits input into tokens. Works on a char vector so positions are character offsets and
/// no slice can land inside a multi-byte character.
fn tokenize(input: &str, ctx: &str) -> Result<(Vec<Token>, usize), QueryError> {
    let chars: Vec<char> = input.chars().collect();
    let mut out = Vec::new();
    let mut i = 0;
    while let Some(&c) = chars.get(i) {
        let start = i;
        let tok = match c {
            c if c.is_whitespace() => {
                i += 1;
                continue;
            }
            '(' => {
                i += 1;
                Tok::LParen
            }
            ')' => {
                i += 1;
                Tok::RParen
            }
            ',' => {
                i += 1;
                Tok::Comma
            }
            '\'' => {
                let mut s = String::new();
                i += 1;
                loop {
                    match chars.get(i) {
                        None => return err(ctx, format!("unterminated string starting at position {start}")),
                        Some('\'') if chars.get(i + 1) == Some(&'\'') => {
                            s.push('\'');
                            i += 2;
                        }
                        Some('\'') => {
                            i += 1;
                            break;
                        }
                        Some(&ch) => {
                            s.push(ch);
                            i += 1;
                        }
                    }
                }
                Tok::Str(s)
            }
            c if c.is_ascii_digit() || (c == '-' && chars.get(i + 1).is_some_and(char::is_ascii_digit)) => {
                // Swallow trailing letters and dots too, so `12abc` or `1.5` is reported whole
                // instead of as a number followed by a confusing second token.
                i += 1;
                while chars.get(i).is_some_and(|d| d.is_ascii_alphanumeric() || *d == '_' || *d == '.') {
                    i += 1;
                }
                let text: String = chars.iter().skip(start).take(i - start).collect();
                match text.parse::<i64>() {
                    Ok(n) => Tok::Int(n),
                    Err(_) => {
                        return err(
                            ctx,
                            format!(
                                "invalid integer '{}' at position {start} (only whole numbers that fit in 64 bits are supported)",
                                clip(&text)
                            ),
                        )
                    }
                }
            }
            c if c.is_ascii_alphabetic() || c == '_' => {
                while chars.get(i).is_some_and(|d| d.is_ascii_alphanumeric() || *d == '_') {
                    i += 1;
                }
                Tok::Ident(chars.iter().skip(start).take(i - start).collect())
            }
            other => return err(ctx, format!("unexpected character '{}' at position {start}", other.escape_debug())),
        };
        out.push(Token { tok, pos: start });
    }
    Ok((out, chars.len()))
}

struct Parser {
    toks: Vec<Token>,
    idx: usize,
    eof: Token,
    ctx: &'static str,
}

impl Parser {
    fn new(toks: Vec<Token>, len: usize, ctx: &'static str) -> Self {
        Parser { toks, idx: 0, eof: Token { tok: Tok::Eof, pos: len }, ctx }
    }

    fn peek(&self) -> &Token {
        self.toks.get(self.idx).unwrap_or(&self.eof)
    }

    fn bump(&mut self) -> Token {
        let t = self.peek().clone();
        if self.idx < self.toks.len() {
            self.idx += 1;
        }
        t
    }

    fn peek_kw(&self, kw: &str) -> bool {
        matches!(&self.peek().tok, Tok::Ident(s) if s.eq_ignore_ascii_case(kw))
    }

    fn fail<T>(&self, msg: String) -> Result<T, QueryError> {
        err(self.ctx, msg)
    }
}

// ---------------------------------------------------------------- filter

/// Parses a `filter` expression. Precedence, loosest first: `or`, `and`, `not`, comparison.
pub fn parse_filter(input: &str) -> Result<Expr, QueryError> {
    if input.chars().nth(MAX_FILTER_LEN).is_some() {
        return err("filter", format!("expression is longer than {MAX_FILTER_LEN} characters"));
    }
    let (toks, len) = tokenize(input, "filter")?;
    if toks.is_empty() {
        return err("filter", "empty expression".into());
    }
    let mut p = Parser::new(toks, len, "filter");
    let expr = p.or_expr(0)?;
    let t = p.peek();
    match t.tok {
        Tok::Eof => Ok(expr),
        Tok::RParen => p.fail(format!("unmatched ')' at position {}", t.pos)),
        _ => p.fail(format!("expected 'and', 'or' or end of input at position {}{}", t.pos, found(t))),
    }
}

impl Parser {
    // Chains of and/or are built in a loop, not by recursion, so long flat filters cost no stack.
    fn or_expr(&mut self, depth: usize) -> Result<Expr, QueryError> {
        let mut left = self.and_expr(depth)?;
        while self.peek_kw("or") {
            self.bump();
            left = Expr::Or(Box::new(left), Box::new(self.and_expr(depth)?));
        }
        Ok(left)
    }

    fn and_expr(&mut self, depth: usize) -> Result<Expr, QueryError> {
        let mut left = self.unary(depth)?;
        while self.peek_kw("and") {
            self.bump();
            left = Expr::And(Box::new(left), Box::new(self.unary(depth)?));
        }
        Ok(left)
    }

    fn enter(&self, depth: usize) -> Result<usize, QueryError> {
        if depth >= MAX_DEPTH {
            return self.fail(format!("expression is nested more than {MAX_DEPTH} levels deep at position {}", self.peek().pos));
        }
        Ok(depth + 1)
    }

    fn unary(&mut self, depth: usize) -> Result<Expr, QueryError> {
        if self.peek_kw("not") {
            let depth = self.enter(depth)?;
            self.bump();
            return Ok(Expr::Not(Box::new(self.unary(depth)?)));
        }
        self.primary(depth)
    }

    fn primary(&mut self, depth: usize) -> Result<Expr, QueryError> {
        let t = self.peek().clone();
        match &t.tok {
            Tok::LParen => {
                let depth = self.enter(depth)?;
                self.bump();
                let inner = self.or_expr(depth)?;
                let close = self.bump();
                if close.tok != Tok::RParen {
                    return self.fail(format!(
                        "expected ')' at position {} to close the '(' at position {}{}",
                        close.pos,
                        t.pos,
                        found(&close)
                    ));
                }
                Ok(inner)
            }
            Tok::Ident(word) => {
                // A function name is only a function when called, so a field may still be named `contains`.
                let is_call = self.toks.get(self.idx + 1).is_some_and(|n| n.tok == Tok::LParen);
                match StrFunc::from_word(word) {
                    Some(func) if is_call => self.call(func),
                    _ => self.comparison(),
                }
            }
            _ => self.fail(format!("expected a field name, a function, 'not' or '(' at position {}{}", t.pos, found(&t))),
        }
    }

    fn field_name(&mut self, what: &str) -> Result<String, QueryError> {
        let t = self.bump();
        match t.tok {
            Tok::Ident(name) if !is_reserved(&name) => Ok(name),
            _ => self.fail(format!("expected {what} at position {}{}", t.pos, found(&t))),
        }
    }

    fn comparison(&mut self) -> Result<Expr, QueryError> {
        let field = self.field_name("a field name")?;
        let t = self.bump();
        let Some(op) = (if let Tok::Ident(w) = &t.tok { CmpOp::from_word(w) } else { None }) else {
            return self.fail(format!(
                "expected a comparison operator (eq, ne, gt, ge, lt, le) after '{}' at position {}{}",
                clip(&field),
                t.pos,
                found(&t)
            ));
        };
        let v = self.bump();
        let value = match v.tok {
            Tok::Str(s) => Literal::Text(s),
            Tok::Int(n) => Literal::Integer(n),
            Tok::Ident(ref w) if w.eq_ignore_ascii_case("true") => Literal::Bool(true),
            Tok::Ident(ref w) if w.eq_ignore_ascii_case("false") => Literal::Bool(false),
            Tok::Ident(ref w) if w.eq_ignore_ascii_case("null") => Literal::Null,
            _ => return self.fail(format!("expected a value after '{}' at position {}{}", op.keyword(), v.pos, found(&v))),
        };
        Ok(Expr::Compare { field, op, value })
    }

    fn call(&mut self, func: StrFunc) -> Result<Expr, QueryError> {
        let name = func.name();
        self.bump(); // function name
        self.bump(); // '(' - checked by the caller
        let field = self.field_name(&format!("a field name as the first argument of {name}()"))?;
        let t = self.bump();
        if t.tok != Tok::Comma {
            return self.fail(format!("expected ',' after '{}' in {name}() at position {}{}", clip(&field), t.pos, found(&t)));
        }
        let t = self.bump();
        let Tok::Str(value) = t.tok else {
            return self.fail(format!("expected a quoted string as the second argument of {name}() at position {}{}", t.pos, found(&t)));
        };
        let t = self.bump();
        if t.tok != Tok::RParen {
            return self.fail(format!("expected ')' to close {name}() at position {}{}", t.pos, found(&t)));
        }
        Ok(Expr::Func { func, field, value })
    }
}

fn lookup<'f>(fields: &'f [Field], name: &str, ctx: &str) -> Result<&'f Field, QueryError> {
    let Some(f) = fields.iter().find(|f| f.name == name) else {
        let allowed: Vec<&str> = fields.iter().map(|f| f.name).collect();
        return err(ctx, format!("unknown field '{}' (allowed: {})", clip(name), allowed.join(", ")));
    };
    Ok(f)
}

struct Compiler<'f> {
    fields: &'f [Field],
    first: usize,
    params: Vec<Param>,
}

impl Compiler<'_> {
    fn bind(&mut self, p: Param) -> String {
        let n = self.first + self.params.len();
        self.params.push(p);
        format!("${n}")
    }

    fn expr(&mut self, e: &Expr) -> Result<String, QueryError> {
        // Every compound is parenthesised so the SQL keeps the tree's grouping whatever surrounds it.
        match e {
            Expr::And(a, b) => {
                let a = self.expr(a)?;
                let b = self.expr(b)?;
                Ok(format!("({a} AND {b})"))
            }
            Expr::Or(a, b) => {
                let a = self.expr(a)?;
                let b = self.expr(b)?;
                Ok(format!("({a} OR {b})"))
            }
            Expr::Not(a) => Ok(format!("NOT ({})", self.expr(a)?)),
            Expr::Func { func, field, value } => {
                let f = lookup(self.fields, field, "filter")?;
                if f.ty != FieldType::Text {
                    return err("filter", format!("{}() needs a text field, but '{}' is {}", func.name(), f.name, type_name(f.ty)));
                }
                let v = crate::search::like_escape(value);
                let pattern = match func {
                    StrFunc::StartsWith => format!("{v}%"),
                    StrFunc::EndsWith => format!("%{v}"),
                    StrFunc::Contains => format!("%{v}%"),
                };
                let ph = self.bind(Param::Text(pattern));
                Ok(format!("{} LIKE {ph} ESCAPE '\\'", f.sql))
            }
            Expr::Compare { field, op, value } => {
                let f = lookup(self.fields, field, "filter")?;
                let param = match (f.ty, value) {
                    (_, Literal::Null) => {
                        return match op {
                            CmpOp::Eq => Ok(format!("{} IS NULL", f.sql)),
                            CmpOp::Ne => Ok(format!("{} IS NOT NULL", f.sql)),
                            _ => err(
                                "filter",
                                format!("null can only be compared with eq or ne, not '{}' (field '{}')", op.keyword(), f.name),
                            ),
                        };
                    }
                    (FieldType::Text, Literal::Text(s)) => Param::Text(s.clone()),
                    (FieldType::Integer, Literal::Integer(n)) => Param::Integer(*n),
                    (FieldType::Bool, Literal::Bool(b)) => {
                        // Ordering booleans is legal SQL but almost surely a client mistake.
                        if !matches!(op, CmpOp::Eq | CmpOp::Ne) {
                            return err(
                                "filter",
                                format!("field '{}' is boolean and can only be compared with eq or ne, not '{}'", f.name, op.keyword()),
                            );
                        }
                        Param::Bool(*b)
                    }
                    (ty, v) => return err("filter", format!("field '{}' expects {}, got {}", f.name, expected_value(ty), literal_text(v))),
                };
                let ph = self.bind(param);
                Ok(format!("{} {} {ph}", f.sql, op.sql()))
            }
        }
    }
}

fn type_name(ty: FieldType) -> &'static str {
    match ty {
        FieldType::Text => "text",
        FieldType::Integer => "an integer",
        FieldType::Bool => "boolean",
    }
}

fn expected_value(ty: FieldType) -> &'static str {
    match ty {
        FieldType::Text => "a quoted string",
        FieldType::Integer => "an integer",
        FieldType::Bool => "true or false",
    }
}

fn literal_text(v: &Literal) -> String {
    match v {
        Literal::Text(s) => format!("'{}'", clip(&s.replace('\'', "''"))),
        Literal::Integer(n) => n.to_string(),
        Literal::Bool(b) => b.to_string(),
        Literal::Null => "null".into(),
    }
}

/// Compile to SQL. Placeholders are numbered $first, $first+1, ... (Postgres style); every literal becomes a Param, never text in the SQL.
/// Fields are checked against `fields`; a literal of the wrong type for its field is an error naming the field.
/// startswith/endswith/contains compile to `<sql> LIKE $n ESCAPE '\'` with `%`, `_` and `\` in the value escaped.
/// Text comparisons are case-sensitive as written (plain =, <>, <, ...).
pub fn compile_filter(expr: &Expr, fields: &[Field], first_placeholder: usize) -> Result<(String, Vec<Param>), QueryError> {
    let mut c = Compiler { fields, first: first_placeholder, params: Vec::new() };
    let sql = c.expr(expr)?;
    Ok((sql, c.params))
}

// ---------------------------------------------------------------- orderby

/// Parses `field [asc|desc], ...`; direction defaults to ascending.
pub fn parse_orderby(input: &str) -> Result<Vec<OrderKey>, QueryError> {
    let (toks, len) = tokenize(input, "orderby")?;
    if toks.is_empty() {
        return err("orderby", "empty expression".into());
    }
    let mut p = Parser::new(toks, len, "orderby");
    let mut keys: Vec<OrderKey> = Vec::new();
    loop {
        let t = p.bump();
        let Tok::Ident(field) = t.tok else {
            let after = if keys.is_empty() { String::new() } else { " after ','".to_string() };
            return p.fail(format!("expected a field name{after} at position {}{}", t.pos, found(&t)));
        };
        let mut descending = false;
        let mut last = format!("'{}'", clip(&field));
        if let Tok::Ident(dir) = &p.peek().tok {
            descending = match dir.to_ascii_lowercase().as_str() {
                "desc" => true,
                "asc" => false,
                _ => return p.fail(format!("expected 'asc' or 'desc' after '{}', found '{}'", clip(&field), clip(dir))),
            };
            last = format!("'{} {}'", clip(&field), dir);
            p.bump();
        }
        // A repeated key is ignored by the database, so it can only be a client mistake.
        if keys.iter().any(|k| k.field == field) {
            return p.fail(format!("field '{}' is listed more than once", clip(&field)));
        }
        keys.push(OrderKey { field, descending });
        if keys.len() > MAX_ORDER_KEYS {
            return p.fail(format!("at most {MAX_ORDER_KEYS} sort keys are allowed"));
        }
        let t = p.bump();
        match t.tok {
            Tok::Eof => return Ok(keys),
            Tok::Comma => {}
            _ => return p.fail(format!("expected ',' or end of input after {last}, found {}", describe(&t.tok))),
        }
    }
}

/// Compile to an ORDER BY list like `name ASC, id DESC` using the fields' sql; unknown field is an error.
/// No keys gives an empty string, which the caller must not put after `ORDER BY`.
pub fn compile_orderby(keys: &[OrderKey], fields: &[Field]) -> Result<String, QueryError> {
    if keys.len() > MAX_ORDER_KEYS {
        return err("orderby", format!("at most {MAX_ORDER_KEYS} sort keys are allowed"));
    }
    let mut parts = Vec::with_capacity(keys.len());
    for k in keys {
        let f = lookup(fields, &k.field, "orderby")?;
        parts.push(format!("{} {}", f.sql, if k.descending { "DESC" } else { "ASC" }));
    }
    Ok(parts.join(", "))
}

#[cfg(test)]
mod tests {
    use super::*;

    const FIELDS: &[Field] = &[
        Field { name: "id", sql: "t.id", ty: FieldType::Integer },
        Field { name: "name", sql: "t.name", ty: FieldType::Text },
        Field { name: "description", sql: "t.descr", ty: FieldType::Text },
        Field { name: "enabled", sql: "t.enabled", ty: FieldType::Bool },
    ];

    fn compile(s: &str) -> Result<(String, Vec<Param>), QueryError> {
        compile_filter(&parse_filter(s)?, FIELDS, 1)
    }
    fn sql(s: &str) -> String {
        compile(s).unwrap_or_else(|e| panic!("{s:?}: {e}")).0
    }
    fn params(s: &str) -> Vec<Param> {
        compile(s).unwrap().1
    }
    fn error(s: &str) -> String {
        compile(s).expect_err(s).message
    }
    fn text(s: &str) -> Param {
        Param::Text(s.into())
    }
    fn cmp(field: &str, op: CmpOp, value: Literal) -> Expr {
        Expr::Compare { field: field.into(), op, value }
    }
    fn order(s: &str) -> Result<String, QueryError> {
        compile_orderby(&parse_orderby(s)?, FIELDS)
    }

    #[test]
    fn and_binds_tighter_than_or() {
        let e = parse_filter("id eq 1 or id eq 2 and id eq 3").unwrap();
        let c = |n| Box::new(cmp("id", CmpOp::Eq, Literal::Integer(n)));
        assert_eq!(e, Expr::Or(c(1), Box::new(Expr::And(c(2), c(3)))));
        assert_eq!(sql("id eq 1 or id eq 2 and id eq 3"), "(t.id = $1 OR (t.id = $2 AND t.id = $3))");
        assert_eq!(sql("id eq 1 and id eq 2 or id eq 3"), "((t.id = $1 AND t.id = $2) OR t.id = $3)");
        assert_eq!(sql("id eq 1 and id eq 2 and id eq 3"), "((t.id = $1 AND t.id = $2) AND t.id = $3)");
        // Parentheses override precedence.
        assert_eq!(sql("(id eq 1 or id eq 2) and id eq 3"), "((t.id = $1 OR t.id = $2) AND t.id = $3)");
        assert_eq!(sql("((((id eq 1))))"), "t.id = $1");
        assert_eq!(sql("(id eq 1)and(name eq 'a')"), "(t.id = $1 AND t.name = $2)");
    }

    #[test]
    fn each_operator_and_case_insensitive_keywords() {
        for (kw, op) in [("eq", "="), ("ne", "<>"), ("gt", ">"), ("ge", ">="), ("lt", "<"), ("le", "<=")] {
            assert_eq!(sql(&format!("name {kw} 'x'")), format!("t.name {op} $1"));
            assert_eq!(sql(&format!("id {} 7", kw.to_uppercase())), format!("t.id {op} $1"));
        }
        assert_eq!(sql("id Eq 1 AND NOT name nE 'a' Or enabled EQ TRUE"), "((t.id = $1 AND NOT (t.name <> $2)) OR t.enabled = $3)");
        assert_eq!(params("id Eq 1 AND NOT name nE 'a' Or enabled EQ TRUE"), vec![Param::Integer(1), text("a"), Param::Bool(true)]);
    }

    #[test]
    fn field_names_are_case_sensitive() {
        assert_eq!(error("Name eq 'x'"), "filter: unknown field 'Name' (allowed: id, name, description, enabled)");
        assert_eq!(error("foo eq 1"), "filter: unknown field 'foo' (allowed: id, name, description, enabled)");
        assert_eq!(error("startswith(foo,'x')"), "filter: unknown field 'foo' (allowed: id, name, description, enabled)");
    }

    #[test]
    fn string_literals_and_quote_escape() {
        assert_eq!(params("name eq 'O''Brien'"), vec![text("O'Brien")]);
        assert_eq!(params("name eq ''"), vec![text("")]);
        assert_eq!(params("name eq ''''"), vec![text("'")]);
        assert_eq!(params("name eq 'a and (b) or ,c'"), vec![text("a and (b) or ,c")]);
        assert_eq!(params("name eq 'Zoë 日本 😀'"), vec![text("Zoë 日本 😀")]);
        assert_eq!(sql("name\teq\n'x'\u{a0}and id eq 1"), "(t.name = $1 AND t.id = $2)");
    }

    #[test]
    fn literals_never_reach_the_sql() {
        let (s, p) = compile("name eq 'x''; DROP TABLE users; --' or description eq 'id'").unwrap();
        assert_eq!(s, "(t.name = $1 OR t.descr = $2)");
        assert_eq!(p, vec![text("x'; DROP TABLE users; --"), text("id")]);
    }

    #[test]
    fn placeholders_start_at_first_placeholder() {
        let e = parse_filter("id eq 1 and contains(name,'a') and enabled ne false").unwrap();
        let (s, p) = compile_filter(&e, FIELDS, 5).unwrap();
        assert_eq!(s, "((t.id = $5 AND t.name LIKE $6 ESCAPE '\\') AND t.enabled <> $7)");
        assert_eq!(p, vec![Param::Integer(1), text("%a%"), Param::Bool(false)]);
    }

    #[test]
    fn integer_literals() {
        assert_eq!(params("id eq -42"), vec![Param::Integer(-42)]);
        assert_eq!(params("id eq 9223372036854775807"), vec![Param::Integer(i64::MAX)]);
        assert_eq!(params("id eq -9223372036854775808"), vec![Param::Integer(i64::MIN)]);
        assert!(error("id eq 9223372036854775808").starts_with("filter: invalid integer '9223372036854775808' at position 6"));
        assert!(error("id eq 1.5").starts_with("filter: invalid integer '1.5' at position 6"));
        assert!(error("id eq 12abc").contains("'12abc'"));
        assert_eq!(error("id eq - 1"), "filter: unexpected character '-' at position 6");
    }

    #[test]
    fn functions_compile_to_escaped_like() {
        let like = "t.name LIKE $1 ESCAPE '\\'";
        assert_eq!(compile("startswith(name,'ab')").unwrap(), (like.to_string(), vec![text("ab%")]));
        assert_eq!(compile("endswith(name, 'ab')").unwrap(), (like.to_string(), vec![text("%ab")]));
        assert_eq!(compile("contains( name , 'ab' )").unwrap(), (like.to_string(), vec![text("%ab%")]));
        assert_eq!(params("contains(name,'50%_off\\x')"), vec![text("%50\\%\\_off\\\\x%")]);
        assert_eq!(params("STARTSWITH(name,'it''s')"), vec![text("it's%")]);
        assert_eq!(sql("not contains(description,'x')"), "NOT (t.descr LIKE $1 ESCAPE '\\')");
        let e = parse_filter("endswith(name,'z')").unwrap();
        assert_eq!(e, Expr::Func { func: StrFunc::EndsWith, field: "name".into(), value: "z".into() });
        // Only a call is a function, so a field may share a function's name.
        let e = parse_filter("contains eq 'x'").unwrap();
        assert_eq!(e, cmp("contains", CmpOp::Eq, Literal::Text("x".into())));
    }

    #[test]
    fn function_errors() {
        assert_eq!(error("contains(id,'1')"), "filter: contains() needs a text field, but 'id' is an integer");
        assert_eq!(error("startswith(enabled,'t')"), "filter: startswith() needs a text field, but 'enabled' is boolean");
        assert_eq!(error("contains(name)"), "filter: expected ',' after 'name' in contains() at position 13, found ')'");
        assert_eq!(
            error("contains(name, 5)"),
            "filter: expected a quoted string as the second argument of contains() at position 15, found the number 5"
        );
        assert_eq!(error("contains(name,'a'"), "filter: expected ')' to close contains() at position 17");
        assert_eq!(
            error("contains('a',name)"),
            "filter: expected a field name as the first argument of contains() at position 9, found the string 'a'"
        );
        assert_eq!(error("contains(name,'a','b')"), "filter: expected ')' to close contains() at position 17, found ','");
    }

    #[test]
    fn not_prefix() {
        let e = parse_filter("not not id eq 1").unwrap();
        let inner = cmp("id", CmpOp::Eq, Literal::Integer(1));
        assert_eq!(e, Expr::Not(Box::new(Expr::Not(Box::new(inner)))));
        assert_eq!(sql("not (id eq 1 or id eq 2)"), "NOT ((t.id = $1 OR t.id = $2))");
        // `not` binds tighter than `and`.
        assert_eq!(sql("not id eq 1 and id eq 2"), "(NOT (t.id = $1) AND t.id = $2)");
    }

    #[test]
    fn null_handling() {
        assert_eq!(compile("name eq null").unwrap(), ("t.name IS NULL".to_string(), vec![]));
        assert_eq!(compile("id NE NULL").unwrap(), ("t.id IS NOT NULL".to_string(), vec![]));
        let mixed = ("(t.enabled IS NULL OR t.id = $1)".to_string(), vec![Param::Integer(3)]);
        assert_eq!(compile("enabled eq null or id eq 3").unwrap(), mixed);
        assert_eq!(error("id gt null"), "filter: null can only be compared with eq or ne, not 'gt' (field 'id')");
        assert_eq!(parse_filter("name eq 'null'").unwrap(), cmp("name", CmpOp::Eq, Literal::Text("null".into())));
    }

    #[test]
    fn type_mismatches_name_the_field() {
        assert_eq!(error("id eq 'abc'"), "filter: field 'id' expects an integer, got 'abc'");
        assert_eq!(error("name eq 5"), "filter: field 'name' expects a quoted string, got 5");
        assert_eq!(error("enabled eq 1"), "filter: field 'enabled' expects true or false, got 1");
        assert_eq!(error("id eq true"), "filter: field 'id' expects an integer, got true");
        assert_eq!(error("enabled lt true"), "filter: field 'enabled' is boolean and can only be compared with eq or ne, not 'lt'");
    }

    #[test]
    fn syntax_errors_report_positions() {
        assert_eq!(error("name eq "), "filter: expected a value after 'eq' at position 8");
        assert_eq!(error("name eq )"), "filter: expected a value after 'eq' at position 8, found ')'");
        assert_eq!(
            error("name 'x'"),
            "filter: expected a comparison operator (eq, ne, gt, ge, lt, le) after 'name' at position 5, found the string 'x'"
        );
        assert_eq!(error("name eq 'x' and"), "filter: expected a field name, a function, 'not' or '(' at position 15");
        assert_eq!(error("name eq 'x' name eq 'y'"), "filter: expected 'and', 'or' or end of input at position 12, found 'name'");
        assert_eq!(error("name eq 'x' and and id eq 1"), "filter: expected a field name at position 16, found 'and'");
        assert_eq!(error("(id eq 1"), "filter: expected ')' at position 8 to close the '(' at position 0");
        assert_eq!(error("id eq 1)"), "filter: unmatched ')' at position 7");
        assert_eq!(error("name eq 'abc"), "filter: unterminated string starting at position 8");
        // Positions count characters, not bytes.
        assert_eq!(error("name eq '日本' and"), "filter: expected a field name, a function, 'not' or '(' at position 16");
        assert_eq!(error("namé eq 'x'"), "filter: unexpected character 'é' at position 3");
        assert_eq!(parse_filter(" \t\n").unwrap_err().message, "filter: empty expression");
        assert_eq!(parse_filter("").unwrap_err().to_string(), "filter: empty expression");
        let m = error(&format!("id eq '{}'", "x".repeat(500))); // echoed client text is clipped
        assert!(m.len() < 120 && m.ends_with("...'"), "{m}");
    }

    #[test]
    fn filter_length_limit() {
        let at_limit = format!("name eq '{}'", "é".repeat(MAX_FILTER_LEN - 10));
        assert_eq!(at_limit.chars().count(), MAX_FILTER_LEN);
        assert!(compile(&at_limit).is_ok());
        let over = format!("name eq '{}'", "a".repeat(MAX_FILTER_LEN - 9));
        assert_eq!(error(&over), format!("filter: expression is longer than {MAX_FILTER_LEN} characters"));
    }

    #[test]
    fn depth_limit() {
        let parens = |n: usize| format!("{}id eq 1{}", "(".repeat(n), ")".repeat(n));
        assert!(compile(&parens(MAX_DEPTH)).is_ok());
        assert_eq!(
            error(&parens(MAX_DEPTH + 1)),
            format!("filter: expression is nested more than {MAX_DEPTH} levels deep at position {MAX_DEPTH}")
        );
        let nots = |n: usize| format!("{}id eq 1", "not ".repeat(n));
        assert!(compile(&nots(MAX_DEPTH)).is_ok());
        assert!(error(&nots(MAX_DEPTH + 1)).contains("nested more than"));
        let mixed = format!("{}id eq 1{}", "not (".repeat(MAX_DEPTH / 2 + 1), ")".repeat(MAX_DEPTH / 2 + 1));
        assert!(error(&mixed).contains("nested more than"));
        // A long flat chain is not nesting and must not hit the limit.
        let flat = vec!["id eq 1"; 150].join(" or ");
        assert_eq!(compile(&flat).unwrap().1.len(), 150);
    }

    #[test]
    fn garbage_is_rejected_without_panicking() {
        for input in [
            "(",
            ")",
            "()",
            "((id eq 1)",
            "id eq 1))",
            "'unterminated",
            "name eq 'a''",
            "eq",
            "and",
            "or",
            "not",
            "name",
            "name eq",
            "name eq eq",
            "'x' eq name",
            "5 eq id",
            "id eq 1 2",
            "id eq 1 or",
            "contains",
            "contains(",
            "contains(name,",
            ",",
            "id eq --1",
            "😀",
            "名前 eq 'x'",
            "id\u{200b}eq 1",
            "\u{0}",
            "id eq 1 ;",
            "id == 1",
            "id eq 'a' and (",
            "null eq null",
            "true eq true",
        ] {
            assert!(compile(input).is_err(), "{input:?} should fail");
        }
    }

    #[test]
    fn pseudo_random_inputs_never_panic() {
        let atoms = [
            "(",
            ")",
            "'",
            "''",
            ",",
            " ",
            "id",
            "name",
            "eq",
            "gt",
            "and",
            "or",
            "not",
            "null",
            "true",
            "contains",
            "-",
            "9",
            "é",
            "日",
            "\\",
            "%",
            "99999999999999999999",
        ];
        let mut seed: u64 = 0x2545_f491_4f6c_dd1d;
        for _ in 0..5000 {
            let mut s = String::new();
            for _ in 0..(seed % 12) {
                seed ^= seed << 13;
                seed ^= seed >> 7;
                seed ^= seed << 17;
                s.push_str(atoms[(seed % atoms.len() as u64) as usize]);
            }
            let _ = compile(&s);
            let _ = order(&s);
        }
    }

    #[test]
    fn orderby_variations() {
        let k = |f: &str, d| OrderKey { field: f.into(), descending: d };
        assert_eq!(parse_orderby("name").unwrap(), vec![k("name", false)]);
        assert_eq!(parse_orderby("name DESC, id asc,description").unwrap(), vec![k("name", true), k("id", false), k("description", false)]);
        assert_eq!(order("  name   desc ,id  ").unwrap(), "t.name DESC, t.id ASC");
        assert_eq!(order("Id desc").unwrap_err().message, "orderby: unknown field 'Id' (allowed: id, name, description, enabled)");
        assert_eq!(compile_orderby(&[], FIELDS).unwrap(), "");
    }

    #[test]
    fn orderby_errors() {
        let e = |s: &str| parse_orderby(s).unwrap_err().message;
        assert_eq!(e("name up"), "orderby: expected 'asc' or 'desc' after 'name', found 'up'");
        assert_eq!(e("  "), "orderby: empty expression");
        assert_eq!(e("name,"), "orderby: expected a field name after ',' at position 5");
        assert_eq!(e(",name"), "orderby: expected a field name at position 0, found ','");
        assert_eq!(e("name id"), "orderby: expected 'asc' or 'desc' after 'name', found 'id'");
        assert_eq!(e("name desc id"), "orderby: expected ',' or end of input after 'name desc', found 'id'");
        assert_eq!(e("name (asc)"), "orderby: expected ',' or end of input after 'name', found '('");
        assert_eq!(e("'name'"), "orderby: expected a field name at position 0, found the string 'name'");
        assert_eq!(e("name, id, name desc"), "orderby: field 'name' is listed more than once");
        assert_eq!(e("nämé"), "orderby: unexpected character 'ä' at position 1");
        // Key limit, checked by both parse and compile.
        let names: Vec<String> = (0..=MAX_ORDER_KEYS).map(|i| format!("f{i}")).collect();
        assert_eq!(parse_orderby(&names[..MAX_ORDER_KEYS].join(",")).unwrap().len(), MAX_ORDER_KEYS);
        assert_eq!(
            parse_orderby(&names.join(",")).unwrap_err().message,
            format!("orderby: at most {MAX_ORDER_KEYS} sort keys are allowed")
        );
        let keys = vec![OrderKey { field: "id".into(), descending: false }; MAX_ORDER_KEYS + 1];
        assert!(compile_orderby(&keys, FIELDS).is_err());
    }
}
