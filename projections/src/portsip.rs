//! PortSIP's group list: its OData `filter` and `orderby` compiled against the fields a client may
//! name, so that the SQL they become is written here, beside the query that runs it.

use crate::odata::{self, Field, FieldType, Param};
use crate::queries::GROUP_FILTER_FIRST_PLACEHOLDER;

/// The fields `filter` and `orderby` may name.
const GROUP_FIELDS: &[Field] = &[
    Field { name: "id", sql: "encode(convert_to(g.number::text, 'UTF8'), 'base64')", ty: FieldType::Text },
    Field { name: "name", sql: "g.name", ty: FieldType::Text },
    Field { name: "description", sql: "g.description", ty: FieldType::Text },
];

/// A client's `filter` as a WHERE fragment and its parameters (see `queries::GroupListQuery`).
pub fn group_filter(raw: &str) -> Result<(String, Vec<Param>), odata::QueryError> {
    let expr = odata::parse_filter(raw)?;
    odata::compile_filter(&expr, GROUP_FIELDS, GROUP_FILTER_FIRST_PLACEHOLDER)
}

/// A client's `orderby` as an ORDER BY list.
pub fn group_order(raw: &str) -> Result<String, odata::QueryError> {
    let keys = odata::parse_orderby(raw)?;
    odata::compile_orderby(&keys, GROUP_FIELDS)
}
