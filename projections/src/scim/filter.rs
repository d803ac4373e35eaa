//! SCIM 2.0 filters and PATCH paths (RFC 7644 §3.4.2.2, §3.5.2), parsed to an AST in pure code.
//! Compiling to SQL is `super::compile`, against an allow-list of attributes written by us.
//!
//! Keywords and operators are case-insensitive (`EQ`, `And`), as clients send both. Attribute
//! names are matched case-insensitively too (RFC 7643 §2.1).

use std::fmt;

/// Longest accepted filter or path, in characters: bounds parse time and error echoes.
pub const MAX_FILTER_LEN: usize = 4000;
/// Deepest nesting of parentheses, `not` and value paths; the parser recurses only there.
pub const MAX_DEPTH: usize = 32;

pub const CORE_USER_URN: &str = "urn:ietf:params:scim:schemas:core:2.0:User";
pub const CORE_GROUP_URN: &str = "urn:ietf:params:scim:schemas:core:2.0:Group";
pub const ENTERPRISE_URN: &str = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FilterError {
    pub message: String,
}

impl FilterError {
    fn new(message: impl Into<String>) -> Self {
        FilterError { message: message.into() }
    }
}

impl fmt::Display for FilterError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

/// `[urn:]name[.sub]`. `urn` keeps the client's spelling; `name` and `sub` too (matching is
/// case-insensitive, see [`AttrPath::key`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AttrPath {
    pub urn: Option<String>,
    pub name: String,
    pub sub: Option<String>,
}

impl AttrPath {
    /// `name` or `name.sub`, lowercased: how the allow-lists look attributes up.
    pub fn key(&self) -> String {
        match &self.sub {
            Some(s) => format!("{}.{}", self.name.to_lowercase(), s.to_lowercase()),
            None => self.name.to_lowercase(),
        }
    }

    pub fn parse(raw: &str) -> Result<AttrPath, FilterError> {
        let (urn, rest) = match raw.get(..4) {
            Some(p) if p.eq_ignore_ascii_case("urn:") => match raw.rfind(':') {
                Some(i) => (Some(raw[..i].to_string()), &raw[i + 1..]),
                None => (None, raw),
            },
            _ => (None, raw),
        };
        let (name, sub) = match rest.split_once('.') {
            Some((n, s)) => (n, Some(s)),
            None => (rest, None),
        };
        let valid = |s: &str| {
            let mut chars = s.chars();
            chars.next().is_some_and(|c| c.is_ascii_alphabetic() || c == '$')
                && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-' || c == '$')
        };
        if !valid(name) || sub.is_some_and(|s| !valid(s)) {
            return Err(FilterError::new(format!("'{raw}' is not an attribute path")));
        }
        Ok(AttrPath { urn, name: name.to_string(), sub: sub.map(str::to_string) })
    }
}

impl fmt::Display for AttrPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(u) = &self.urn {
            write!(f, "{u}:")?;
        }
        f.write_str(&self.name)?;
        if let Some(s) = &self.sub {
            write!(f, ".{s}")?;
        }
        Ok(())
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CompareOp {
    Eq,
    Ne,
    Co,
    Sw,
    Ew,
    Gt,
    Ge,
    Lt,
    Le,
}

impl CompareOp {
    fn parse(word: &str) -> Option<CompareOp> {
        Some(match word.to_ascii_lowercase().as_str() {
            "eq" => CompareOp::Eq,
            "ne" => CompareOp::Ne,
            "co" => CompareOp::Co,
            "sw" => CompareOp::Sw,
            "ew" => CompareOp::Ew,
            "gt" => CompareOp::Gt,
            "ge" => CompareOp::Ge,
            "lt" => CompareOp::Lt,
            "le" => CompareOp::Le,
            _ => return None,
        })
    }

    pub fn as_str(&self) -> &'static str {
        match self {
            CompareOp::Eq => "eq",
            CompareOp::Ne => "ne",
            CompareOp::Co => "co",
            CompareOp::Sw => "sw",
            CompareOp::Ew => "ew",
            CompareOp::Gt => "gt",
            CompareOp::Ge => "ge",
            CompareOp::Lt => "lt",
            CompareOp::Le => "le",
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub enum CompValue {
    Str(String),
    Num(f64),
    Bool(bool),
    Null,
}

impl fmt::Display for CompValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CompValue::Str(s) => write!(f, "{}", serde_json::Value::String(s.clone())),
            CompValue::Num(n) => write!(f, "{n}"),
            CompValue::Bool(b) => write!(f, "{b}"),
            CompValue::Null => f.write_str("null"),
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub enum Filter {
    Compare {
        path: AttrPath,
        op: CompareOp,
        value: CompValue,
    },
    Present(AttrPath),
    And(Box<Filter>, Box<Filter>),
    Or(Box<Filter>, Box<Filter>),
    Not(Box<Filter>),
    /// `emails[type eq "work"]`: the inner filter's paths are relative to `attr`.
    ValuePath {
        attr: AttrPath,
        filter: Box<Filter>,
    },
}

impl fmt::Display for Filter {
    /// Canonical text that parses back to the same AST (fully parenthesized).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Filter::Compare { path, op, value } => write!(f, "{path} {} {value}", op.as_str()),
            Filter::Present(p) => write!(f, "{p} pr"),
            Filter::And(a, b) => write!(f, "({a} and {b})"),
            Filter::Or(a, b) => write!(f, "({a} or {b})"),
            Filter::Not(a) => write!(f, "not ({a})"),
            Filter::ValuePath { attr, filter } => write!(f, "{attr}[{filter}]"),
        }
    }
}

/// A PATCH `path`: `attrPath`, or `valuePath` with an optional sub-attribute
/// (`emails[type eq "work"].value`, `members[value eq "…"]`).
#[derive(Debug, Clone, PartialEq)]
pub struct PatchPath {
    pub attr: AttrPath,
    pub filter: Option<Filter>,
    pub sub: Option<String>,
}

#[derive(Debug, Clone, PartialEq)]
enum Token {
    Word(String),
    Str(String),
    Open,
    Close,
    LBracket,
    RBracket,
}

fn tokenize(input: &str) -> Result<Vec<Token>, FilterError> {
    if input.chars().count() > MAX_FILTER_LEN {
        return Err(FilterError::new(format!("longer than {MAX_FILTER_LEN} characters")));
    }
    let mut tokens = vec![];
    let mut chars = input.char_indices().peekable();
    while let Some(&(i, c)) = chars.peek() {
        match c {
            c if c.is_whitespace() => {
                chars.next();
            }
            '(' | ')' | '[' | ']' => {
                chars.next();
                tokens.push(match c {
                    '(' => Token::Open,
                    ')' => Token::Close,
                    '[' => Token::LBracket,
                    _ => Token::RBracket,
                });
            }
            '"' => {
                // A JSON string: find its end honouring escapes, then let serde decode it.
                chars.next();
                let mut escaped = false;
                let mut end = None;
                for (j, d) in chars.by_ref() {
                    if escaped {
                        escaped = false;
                    } else if d == '\\' {
                        escaped = true;
                    } else if d == '"' {
                        end = Some(j);
                        break;
                    }
                }
                let end = end
                    .ok_or_else(|| FilterError::new(format!("unterminated string starting at character {}", input[..i].chars().count())))?;
                let s: String =
                    serde_json::from_str(&input[i..=end]).map_err(|_| FilterError::new(format!("bad string {}", &input[i..=end])))?;
                tokens.push(Token::Str(s));
            }
            _ => {
                let start = i;
                let mut end = input.len();
                while let Some(&(j, d)) = chars.peek() {
                    if d.is_whitespace() || matches!(d, '(' | ')' | '[' | ']' | '"') {
                        end = j;
                        break;
                    }
                    chars.next();
                }
                tokens.push(Token::Word(input[start..end].to_string()));
            }
        }
    }
    Ok(tokens)
}

struct Parser {
    tokens: Vec<Token>,
    pos: usize,
    depth: usize,
}

fn is_kw(t: Option<&Token>, kw: &str) -> bool {
    matches!(t, Some(Token::Word(w)) if w.eq_ignore_ascii_case(kw))
}

impl Parser {
    fn peek(&self) -> Option<&Token> {
        self.tokens.get(self.pos)
    }

    fn next(&mut self) -> Option<Token> {
        let t = self.tokens.get(self.pos).cloned();
        self.pos += 1;
        t
    }

    fn deeper(&mut self) -> Result<(), FilterError> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return Err(FilterError::new(format!("nested deeper than {MAX_DEPTH}")));
        }
        Ok(())
    }

    fn or(&mut self) -> Result<Filter, FilterError> {
        let mut left = self.and()?;
        while is_kw(self.peek(), "or") {
            self.next();
            let right = self.and()?;
            left = Filter::Or(Box::new(left), Box::new(right));
        }
        Ok(left)
    }

    fn and(&mut self) -> Result<Filter, FilterError> {
        let mut left = self.unary()?;
        while is_kw(self.peek(), "and") {
            self.next();
            let right = self.unary()?;
            left = Filter::And(Box::new(left), Box::new(right));
        }
        Ok(left)
    }

    fn unary(&mut self) -> Result<Filter, FilterError> {
        match self.next() {
            Some(Token::Word(w)) if w.eq_ignore_ascii_case("not") && self.peek() == Some(&Token::Open) => {
                self.next();
                self.deeper()?;
                let inner = self.or()?;
                self.depth -= 1;
                self.expect(Token::Close, "')'")?;
                Ok(Filter::Not(Box::new(inner)))
            }
            Some(Token::Open) => {
                self.deeper()?;
                let inner = self.or()?;
                self.depth -= 1;
                self.expect(Token::Close, "')'")?;
                Ok(inner)
            }
            Some(Token::Word(w)) => {
                let path = AttrPath::parse(&w)?;
                if self.peek() == Some(&Token::LBracket) {
                    self.next();
                    if path.sub.is_some() {
                        return Err(FilterError::new(format!("'{path}' has a sub-attribute before '['")));
                    }
                    self.deeper()?;
                    let inner = self.or()?;
                    self.depth -= 1;
                    self.expect(Token::RBracket, "']'")?;
                    if contains_value_path(&inner) {
                        return Err(FilterError::new("a value filter cannot hold another value filter"));
                    }
                    return Ok(Filter::ValuePath { attr: path, filter: Box::new(inner) });
                }
                let op = match self.next() {
                    Some(Token::Word(op)) if op.eq_ignore_ascii_case("pr") => return Ok(Filter::Present(path)),
                    Some(Token::Word(op)) => {
                        CompareOp::parse(&op).ok_or_else(|| FilterError::new(format!("'{op}' is not an operator (after '{path}')")))?
                    }
                    _ => return Err(FilterError::new(format!("expected an operator after '{path}'"))),
                };
                let value = match self.next() {
                    Some(Token::Str(s)) => CompValue::Str(s),
                    Some(Token::Word(v)) if v == "true" => CompValue::Bool(true),
                    Some(Token::Word(v)) if v == "false" => CompValue::Bool(false),
                    Some(Token::Word(v)) if v == "null" => CompValue::Null,
                    Some(Token::Word(v)) => match v.parse::<f64>() {
                        Ok(n) if n.is_finite() && v.starts_with(|c: char| c.is_ascii_digit() || c == '-') => CompValue::Num(n),
                        _ => return Err(FilterError::new(format!("'{v}' is not a value (strings are quoted)"))),
                    },
                    _ => return Err(FilterError::new(format!("expected a value after '{path} {}'", op.as_str()))),
                };
                Ok(Filter::Compare { path, op, value })
            }
            Some(t) => Err(FilterError::new(format!("unexpected {}", describe(&t)))),
            None => Err(FilterError::new("unexpected end of filter")),
        }
    }

    fn expect(&mut self, want: Token, name: &str) -> Result<(), FilterError> {
        match self.next() {
            Some(t) if t == want => Ok(()),
            Some(t) => Err(FilterError::new(format!("expected {name}, found {}", describe(&t)))),
            None => Err(FilterError::new(format!("expected {name} at the end"))),
        }
    }
}

fn contains_value_path(f: &Filter) -> bool {
    match f {
        Filter::ValuePath { .. } => true,
        Filter::And(a, b) | Filter::Or(a, b) => contains_value_path(a) || contains_value_path(b),
        Filter::Not(a) => contains_value_path(a),
        _ => false,
    }
}

fn describe(t: &Token) -> String {
    match t {
        Token::Word(w) => format!("'{w}'"),
        Token::Str(s) => format!("string {}", serde_json::Value::String(s.clone())),
        Token::Open => "'('".into(),
        Token::Close => "')'".into(),
        Token::LBracket => "'['".into(),
        Token::RBracket => "']'".into(),
    }
}

pub fn parse_filter(input: &str) -> Result<Filter, FilterError> {
    let tokens = tokenize(input)?;
    if tokens.is_empty() {
        return Err(FilterError::new("empty filter"));
    }
    let mut p = Parser { tokens, pos: 0, depth: 0 };
    let f = p.or()?;
    match p.next() {
        None => Ok(f),
        Some(t) => Err(FilterError::new(format!("unexpected {} after a complete filter", describe(&t)))),
    }
}

/// A PATCH path. `emails[type eq "work"].value`: the attribute, its value filter, then the
/// sub-attribute after `].`.
pub fn parse_path(input: &str) -> Result<PatchPath, FilterError> {
    let input = input.trim();
    if input.is_empty() {
        return Err(FilterError::new("empty path"));
    }
    let Some(open) = input.find('[') else {
        return Ok(PatchPath { attr: AttrPath::parse(input)?, filter: None, sub: None });
    };
    let close = input.rfind(']').ok_or_else(|| FilterError::new("'[' without ']'"))?;
    if close < open {
        return Err(FilterError::new("']' before '['"));
    }
    let attr = AttrPath::parse(&input[..open])?;
    if attr.sub.is_some() {
        return Err(FilterError::new(format!("'{attr}' has a sub-attribute before '['")));
    }
    let filter = parse_filter(&input[open + 1..close])?;
    if contains_value_path(&filter) {
        return Err(FilterError::new("a value filter cannot hold another value filter"));
    }
    let sub = match &input[close + 1..] {
        "" => None,
        rest => {
            let sub = rest.strip_prefix('.').ok_or_else(|| FilterError::new(format!("unexpected '{rest}' after ']'")))?;
            AttrPath::parse(sub)
                .ok()
                .filter(|p| p.urn.is_none() && p.sub.is_none())
                .ok_or_else(|| FilterError::new(format!("'{sub}' is not a sub-attribute")))?;
            Some(sub.to_string())
        }
    };
    Ok(PatchPath { attr, filter: Some(filter), sub })
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    fn p(s: &str) -> AttrPath {
        AttrPath::parse(s).unwrap()
    }

    #[test]
    fn the_rfc_examples_parse() {
        for f in [
            r#"userName eq "bjensen""#,
            r#"name.familyName co "O'Malley""#,
            r#"userName sw "J""#,
            r#"urn:ietf:params:scim:schemas:core:2.0:User:userName sw "J""#,
            "title pr",
            r#"meta.lastModified gt "2011-05-13T04:42:34Z""#,
            r#"title pr and userType eq "Employee""#,
            r#"title pr or userType eq "Intern""#,
            r#"schemas eq "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User""#,
            r#"userType eq "Employee" and (emails co "example.com" or emails.value co "example.org")"#,
            r#"userType ne "Employee" and not (emails co "example.com" or emails.value co "example.org")"#,
            r#"userType eq "Employee" and emails[type eq "work" and value co "@example.com"]"#,
            r#"emails[type eq "work" and value co "@example.com"] or ims[type eq "xmpp" and value co "@foo.com"]"#,
            r#"active eq true"#,
            r#"userName EQ "x" AND active Eq false"#,
        ] {
            parse_filter(f).unwrap_or_else(|e| panic!("{f}: {e}"));
        }
    }

    #[test]
    fn precedence_and_urns() {
        let f = parse_filter(r#"a eq "1" or b eq "2" and c pr"#).unwrap();
        assert!(matches!(f, Filter::Or(_, ref r) if matches!(**r, Filter::And(_, _))));
        let u = p("urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager.value");
        assert_eq!(u.urn.as_deref(), Some(ENTERPRISE_URN));
        assert_eq!(u.key(), "manager.value");
    }

    #[test]
    fn bad_filters_say_why() {
        for bad in [
            "",
            "userName",
            "userName eq",
            "userName xx \"a\"",
            "userName eq bjensen",
            "(a pr",
            "a pr)",
            "a[b pr",
            "a pr b pr",
            "1a pr",
            "a[b[c pr]]",
        ] {
            assert!(parse_filter(bad).is_err(), "{bad} parsed");
        }
    }

    #[test]
    fn patch_paths() {
        let pp = parse_path(r#"emails[type eq "work"].value"#).unwrap();
        assert_eq!(pp.attr, p("emails"));
        assert_eq!(pp.sub.as_deref(), Some("value"));
        assert!(pp.filter.is_some());
        let m = parse_path(r#"members[value eq "2819c223"]"#).unwrap();
        assert_eq!(m.sub, None);
        assert_eq!(parse_path("name.givenName").unwrap().attr.key(), "name.givenname");
        assert!(parse_path("emails[type eq \"work\"]x").is_err());
        assert!(parse_path("").is_err());
    }

    fn attr() -> impl Strategy<Value = AttrPath> {
        ("[a-zA-Z][a-zA-Z0-9]{0,5}", proptest::option::of("[a-zA-Z][a-zA-Z0-9]{0,5}"), proptest::bool::ANY)
            .prop_map(|(name, sub, urn)| AttrPath { urn: urn.then(|| ENTERPRISE_URN.to_string()), name, sub })
    }

    fn value() -> impl Strategy<Value = CompValue> {
        prop_oneof![
            "[ -~é\"\\\\]{0,6}".prop_map(CompValue::Str),
            (-1000i32..1000).prop_map(|n| CompValue::Num(f64::from(n))),
            proptest::bool::ANY.prop_map(CompValue::Bool),
            Just(CompValue::Null),
        ]
    }

    fn leaf() -> impl Strategy<Value = Filter> {
        let ops = prop_oneof![
            Just(CompareOp::Eq),
            Just(CompareOp::Ne),
            Just(CompareOp::Co),
            Just(CompareOp::Sw),
            Just(CompareOp::Ew),
            Just(CompareOp::Gt),
            Just(CompareOp::Ge),
            Just(CompareOp::Lt),
            Just(CompareOp::Le)
        ];
        prop_oneof![
            (attr(), ops, value()).prop_map(|(path, op, value)| Filter::Compare { path, op, value }),
            attr().prop_map(Filter::Present),
        ]
    }

    fn filter() -> impl Strategy<Value = Filter> {
        let plain = leaf().prop_recursive(4, 16, 2, |inner| {
            prop_oneof![
                (inner.clone(), inner.clone()).prop_map(|(a, b)| Filter::And(Box::new(a), Box::new(b))),
                (inner.clone(), inner.clone()).prop_map(|(a, b)| Filter::Or(Box::new(a), Box::new(b))),
                inner.prop_map(|a| Filter::Not(Box::new(a))),
            ]
        });
        prop_oneof![
            plain.clone(),
            ("[a-z]{1,5}", plain)
                .prop_map(|(name, f)| Filter::ValuePath { attr: AttrPath { urn: None, name, sub: None }, filter: Box::new(f) }),
        ]
    }

    proptest! {
        /// Printing a filter and parsing it back gives the same AST.
        #[test]
        fn filters_round_trip(f in filter()) {
            let text = f.to_string();
            prop_assert_eq!(parse_filter(&text).map_err(|e| format!("{text}: {e}")), Ok(f));
        }

        /// Any input is answered with a filter or an error, never a panic.
        #[test]
        fn arbitrary_text_never_panics(s in "[a-zA-Z0-9 ()\\[\\]\"\\\\.:é]{0,60}") {
            let _ = parse_filter(&s);
            let _ = parse_path(&s);
        }
    }
}
