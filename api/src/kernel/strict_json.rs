//! Request bodies read so that a struct is a JSON object and nothing else.
//!
//! serde's derived `Deserialize` for a struct also reads a JSON array, taking the fields by
//! position (`"location": [null, null]` is a location with no address and no coordinates). Every
//! dialect documents its structs as objects, so a client (or the conformance fuzzer) sending an
//! array there sent something the document refuses, and applying it by position would act on a
//! request the client did not mean. [`Strict`] wraps any `Deserializer` and refuses a sequence
//! wherever a struct is read, at any depth, with serde's own `invalid_type` error, so the error
//! path (`serde_path_to_error`) names the field as it does for every other bad value.
//!
//! `#[serde(flatten)]` buffers the fields it does not know into serde's private `Content` and
//! reads the flattened struct from that buffer, out of this wrapper's reach: a flattened field
//! of a request type says `deserialize_with = "strict_json::flattened"` to put the wrapper back.
//! (`#[serde(untagged)]` buffers the same way; the request types use it only for
//! `OneOrMany<String | Uuid>`, which holds no struct.)

use std::fmt;

use serde::de::{self, DeserializeOwned, DeserializeSeed, Deserializer, Unexpected, Visitor};

/// What a struct read from a sequence is told it should have been.
pub const EXPECTED_OBJECT: &str = "a JSON object";

/// Why a body could not be read: its path (`location`, `data[2].email`; `.` for the top level)
/// and serde_json's error.
pub type BodyError = serde_path_to_error::Error<serde_json::Error>;

/// Reads a whole JSON body as `T`: objects only where `T` has structs, nothing after the value,
/// and an error that names the path of the bad value.
pub fn from_slice<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, BodyError> {
    let mut json = serde_json::Deserializer::from_slice(bytes);
    let value = serde_path_to_error::deserialize(Strict(&mut json))?;
    // Trailing characters are a syntax error of the whole body, at no path.
    json.end().map_err(|e| serde_path_to_error::Error::new(serde_path_to_error::Track::new().path(), e))?;
    Ok(value)
}

/// Reads an already parsed body as `T`, with the same refusals and error paths as [`from_slice`].
pub fn from_value<T: DeserializeOwned>(value: serde_json::Value) -> Result<T, BodyError> {
    serde_path_to_error::deserialize(Strict(value))
}

/// For `#[serde(flatten, deserialize_with = "strict_json::flattened")]`: reads the flattened
/// struct through [`Strict`] (see the module's note), naming the path inside it in the error.
pub fn flattened<'de, D: Deserializer<'de>, T: de::Deserialize<'de>>(d: D) -> Result<T, D::Error> {
    // The flattened fields sit at the container's own path, which the caller's tracking adds.
    serde_path_to_error::deserialize(Strict(d)).map_err(|e| {
        let path = e.path().to_string();
        let inner = e.into_inner();
        if path == "." {
            inner
        } else {
            de::Error::custom(format_args!("{path}: {inner}"))
        }
    })
}

/// A `Deserializer` (and, inside, every `Visitor`, `SeqAccess`, `MapAccess`, `EnumAccess`,
/// `VariantAccess` and `DeserializeSeed` it hands out) that reads a struct only from a map.
pub struct Strict<D>(pub D);

/// A visitor passed down through [`Strict`]; `object` when it reads a struct.
struct Wrap<V> {
    visitor: V,
    object: bool,
}

impl<V> Wrap<V> {
    fn any(visitor: V) -> Self {
        Wrap { visitor, object: false }
    }
}

/// A seed whose deserializer is wrapped in [`Strict`].
struct Seed<S>(S);

impl<'de, S: DeserializeSeed<'de>> DeserializeSeed<'de> for Seed<S> {
    type Value = S::Value;

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        self.0.deserialize(Strict(d))
    }
}

macro_rules! forward_deserialize {
    ($($method:ident)*) => {
        $(
            fn $method<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Self::Error> {
                self.0.$method(Wrap::any(visitor))
            }
        )*
    };
}

impl<'de, D: Deserializer<'de>> Deserializer<'de> for Strict<D> {
    type Error = D::Error;

    forward_deserialize! {
        deserialize_any deserialize_bool deserialize_i8 deserialize_i16 deserialize_i32
        deserialize_i64 deserialize_i128 deserialize_u8 deserialize_u16 deserialize_u32
        deserialize_u64 deserialize_u128 deserialize_f32 deserialize_f64 deserialize_char
        deserialize_str deserialize_string deserialize_bytes deserialize_byte_buf
        deserialize_option deserialize_unit deserialize_seq deserialize_map
        deserialize_identifier deserialize_ignored_any
    }

    fn deserialize_unit_struct<V: Visitor<'de>>(self, name: &'static str, visitor: V) -> Result<V::Value, Self::Error> {
        self.0.deserialize_unit_struct(name, Wrap::any(visitor))
    }

    fn deserialize_newtype_struct<V: Visitor<'de>>(self, name: &'static str, visitor: V) -> Result<V::Value, Self::Error> {
        self.0.deserialize_newtype_struct(name, Wrap::any(visitor))
    }

    fn deserialize_tuple<V: Visitor<'de>>(self, len: usize, visitor: V) -> Result<V::Value, Self::Error> {
        self.0.deserialize_tuple(len, Wrap::any(visitor))
    }

    fn deserialize_tuple_struct<V: Visitor<'de>>(self, name: &'static str, len: usize, visitor: V) -> Result<V::Value, Self::Error> {
        self.0.deserialize_tuple_struct(name, len, Wrap::any(visitor))
    }

    /// The point of the wrapper: a struct's visitor never sees a sequence.
    fn deserialize_struct<V: Visitor<'de>>(
        self,
        name: &'static str,
        fields: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, Self::Error> {
        self.0.deserialize_struct(name, fields, Wrap { visitor, object: true })
    }

    fn deserialize_enum<V: Visitor<'de>>(
        self,
        name: &'static str,
        variants: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, Self::Error> {
        self.0.deserialize_enum(name, variants, Wrap::any(visitor))
    }

    fn is_human_readable(&self) -> bool {
        self.0.is_human_readable()
    }
}

macro_rules! forward_visit {
    ($($method:ident($ty:ty))*) => {
        $(
            fn $method<E: de::Error>(self, v: $ty) -> Result<Self::Value, E> {
                self.visitor.$method(v)
            }
        )*
    };
}

impl<'de, V: Visitor<'de>> Visitor<'de> for Wrap<V> {
    type Value = V::Value;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.visitor.expecting(f)
    }

    forward_visit! {
        visit_bool(bool) visit_i8(i8) visit_i16(i16) visit_i32(i32) visit_i64(i64) visit_i128(i128)
        visit_u8(u8) visit_u16(u16) visit_u32(u32) visit_u64(u64) visit_u128(u128)
        visit_f32(f32) visit_f64(f64) visit_char(char) visit_str(&str) visit_borrowed_str(&'de str)
        visit_string(String) visit_bytes(&[u8]) visit_borrowed_bytes(&'de [u8]) visit_byte_buf(Vec<u8>)
    }

    fn visit_none<E: de::Error>(self) -> Result<Self::Value, E> {
        self.visitor.visit_none()
    }

    fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
        self.visitor.visit_unit()
    }

    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        self.visitor.visit_some(Strict(d))
    }

    fn visit_newtype_struct<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        self.visitor.visit_newtype_struct(Strict(d))
    }

    fn visit_seq<A: de::SeqAccess<'de>>(self, seq: A) -> Result<Self::Value, A::Error> {
        if self.object {
            return Err(de::Error::invalid_type(Unexpected::Seq, &EXPECTED_OBJECT));
        }
        self.visitor.visit_seq(Strict(seq))
    }

    fn visit_map<A: de::MapAccess<'de>>(self, map: A) -> Result<Self::Value, A::Error> {
        self.visitor.visit_map(Strict(map))
    }

    fn visit_enum<A: de::EnumAccess<'de>>(self, data: A) -> Result<Self::Value, A::Error> {
        self.visitor.visit_enum(Strict(data))
    }
}

impl<'de, A: de::SeqAccess<'de>> de::SeqAccess<'de> for Strict<A> {
    type Error = A::Error;

    fn next_element_seed<T: DeserializeSeed<'de>>(&mut self, seed: T) -> Result<Option<T::Value>, Self::Error> {
        self.0.next_element_seed(Seed(seed))
    }

    fn size_hint(&self) -> Option<usize> {
        self.0.size_hint()
    }
}

impl<'de, A: de::MapAccess<'de>> de::MapAccess<'de> for Strict<A> {
    type Error = A::Error;

    fn next_key_seed<K: DeserializeSeed<'de>>(&mut self, seed: K) -> Result<Option<K::Value>, Self::Error> {
        self.0.next_key_seed(Seed(seed))
    }

    fn next_value_seed<V: DeserializeSeed<'de>>(&mut self, seed: V) -> Result<V::Value, Self::Error> {
        self.0.next_value_seed(Seed(seed))
    }

    fn size_hint(&self) -> Option<usize> {
        self.0.size_hint()
    }
}

impl<'de, A: de::EnumAccess<'de>> de::EnumAccess<'de> for Strict<A> {
    type Error = A::Error;
    type Variant = Strict<A::Variant>;

    fn variant_seed<V: DeserializeSeed<'de>>(self, seed: V) -> Result<(V::Value, Self::Variant), Self::Error> {
        let (value, variant) = self.0.variant_seed(Seed(seed))?;
        Ok((value, Strict(variant)))
    }
}

impl<'de, A: de::VariantAccess<'de>> de::VariantAccess<'de> for Strict<A> {
    type Error = A::Error;

    fn unit_variant(self) -> Result<(), Self::Error> {
        self.0.unit_variant()
    }

    fn newtype_variant_seed<T: DeserializeSeed<'de>>(self, seed: T) -> Result<T::Value, Self::Error> {
        self.0.newtype_variant_seed(Seed(seed))
    }

    fn tuple_variant<V: Visitor<'de>>(self, len: usize, visitor: V) -> Result<V::Value, Self::Error> {
        self.0.tuple_variant(len, Wrap::any(visitor))
    }

    /// A struct variant (`{"Variant": {...}}`) is a struct too.
    fn struct_variant<V: Visitor<'de>>(self, fields: &'static [&'static str], visitor: V) -> Result<V::Value, Self::Error> {
        self.0.struct_variant(fields, Wrap { visitor, object: true })
    }
}

#[cfg(test)]
mod tests {
    use domain::patch::Patch;
    use proptest::prelude::*;
    use serde::Deserialize;
    use serde_json::{json, Value};

    use super::*;

    #[derive(Debug, PartialEq, Deserialize)]
    struct Point {
        lat: f64,
        lng: f64,
    }

    #[derive(Debug, PartialEq, Deserialize)]
    struct Place {
        name: Option<String>,
        point: Option<Point>,
    }

    #[derive(Debug, PartialEq, Deserialize)]
    enum Shape {
        Circle { r: f64 },
        Pair(i64, i64),
        Named(Point),
    }

    #[derive(Debug, PartialEq, Deserialize)]
    struct Body {
        #[serde(default)]
        place: Patch<Place>,
        #[serde(default)]
        places: Vec<Place>,
        #[serde(default)]
        pair: Option<(i64, i64)>,
        #[serde(default)]
        shape: Option<Shape>,
    }

    /// The path and the text of a refusal.
    fn refusal<T: DeserializeOwned + fmt::Debug>(body: Value) -> (String, String) {
        let e = from_slice::<T>(body.to_string().as_bytes()).expect_err("refused");
        (e.path().to_string(), e.into_inner().to_string())
    }

    const SEQ: &str = "invalid type: sequence, expected a JSON object";

    #[test]
    fn a_struct_is_read_from_an_object_only_and_the_refusal_names_its_path() {
        let ok: Body = from_slice(br#"{"place": {"name": "HQ", "point": {"lat": 1, "lng": 2}}, "pair": [1, 2]}"#).unwrap();
        assert_eq!(ok.place, Patch::Set(Place { name: Some("HQ".into()), point: Some(Point { lat: 1.0, lng: 2.0 }) }));
        assert_eq!(ok.pair, Some((1, 2)));
        // What serde alone reads by position.
        let positional = json!({"place": [null, [1, 2]]});
        assert!(serde_json::from_value::<Body>(positional.clone()).is_ok());
        for (body, path) in [
            (positional, "place"),
            (json!({"place": [null, null]}), "place"),
            (json!({"place": {"point": [1, 2]}}), "place.point"),
            (json!({"places": [{"name": "a"}, []]}), "places[1]"),
            (json!({"shape": {"Circle": [1.0]}}), "shape.Circle"),
            (json!({"shape": {"Named": [1.0, 2.0]}}), "shape.Named"),
            (json!([]), "."),
        ] {
            let (at, message) = refusal::<Body>(body.clone());
            assert_eq!(at, path, "{body}");
            assert!(message.starts_with(SEQ), "{body}: {message}");
        }
        // Sequences where the type is one are untouched; `null` still clears.
        let ok: Body = from_slice(br#"{"place": null, "places": [], "shape": {"Pair": [1, 2]}}"#).unwrap();
        assert_eq!((ok.place, ok.shape), (Patch::Clear, Some(Shape::Pair(1, 2))));
        // Other refusals are serde's own, at their path.
        assert_eq!(refusal::<Body>(json!({"place": {"point": {"lat": "x", "lng": 1}}})).0, "place.point.lat");
    }

    #[test]
    fn the_whole_body_is_read_and_a_value_parsed_already_is_read_the_same_way() {
        let e = from_slice::<Place>(br#"{"name": "a"} x"#).expect_err("trailing characters");
        assert_eq!((e.path().to_string(), e.inner().is_syntax()), (".".to_string(), true));
        assert!(from_slice::<Place>(br#"{"name": "a", "#).expect_err("cut short").inner().is_eof());
        let e = from_value::<Body>(json!({"places": [{"point": [0, 0]}]})).expect_err("refused");
        assert_eq!(e.path().to_string(), "places[0].point");
        assert_eq!(from_value::<Place>(json!({"name": "a"})).unwrap(), Place { name: Some("a".into()), point: None });
    }

    #[derive(Debug, PartialEq, Deserialize)]
    struct Row {
        #[serde(flatten, deserialize_with = "flattened")]
        place: Place,
        id: Option<String>,
    }

    #[derive(Debug, PartialEq, Deserialize)]
    struct LooseRow {
        #[serde(flatten)]
        place: Place,
    }

    #[test]
    fn a_flattened_struct_is_read_through_the_wrapper_again() {
        // serde buffers a flattened struct's fields out of the wrapper's reach ...
        let body = json!({"point": [1, 2]});
        assert!(from_value::<LooseRow>(body.clone()).is_ok());
        // ... `flattened` puts it back, naming the field inside.
        let e = from_value::<Row>(body).expect_err("refused");
        assert_eq!(e.into_inner().to_string(), format!("point: {SEQ}"));
        let e = from_value::<Vec<Row>>(json!([{"id": "a"}, {"point": {"lat": 1}}])).expect_err("refused");
        assert_eq!(e.path().to_string(), "[1]");
        assert_eq!(e.into_inner().to_string(), "point: missing field `lng`");
        let ok: Row = from_value(json!({"id": "a", "name": "b", "point": {"lat": 1, "lng": 2}})).unwrap();
        assert_eq!(ok, Row { place: Place { name: Some("b".into()), point: Some(Point { lat: 1.0, lng: 2.0 }) }, id: Some("a".into()) });
    }

    #[test]
    fn untagged_lists_still_take_one_value_or_many() {
        use crate::workdrive::content::OneOrMany;
        #[derive(Debug, Deserialize)]
        struct Tags {
            #[serde(default)]
            tags: OneOrMany<String>,
        }
        assert_eq!(from_value::<Tags>(json!({"tags": "a"})).unwrap().tags, OneOrMany::One("a".into()));
        assert_eq!(from_value::<Tags>(json!({"tags": ["a", "b"]})).unwrap().tags, OneOrMany::Many(vec!["a".into(), "b".into()]));
        assert_eq!(from_value::<Tags>(json!({})).unwrap().tags, OneOrMany::None);
        assert!(from_value::<Tags>(json!({"tags": {"a": 1}})).is_err());
    }

    /// The request types that met this: each refuses an array where it has an object, by name.
    #[test]
    fn the_request_types_refuse_an_array_for_an_object() {
        use crate::workdrive::library::documents::UpdateDocumentBody;
        use crate::workdrive::posts::PostBody;
        use crate::workdrive::users_bulk::BulkCreateBody;
        let (at, message) = refusal::<PostBody>(json!({"postText": "hi", "location": [null, null]}));
        assert_eq!((at.as_str(), message.starts_with(SEQ)), ("location", true), "{message}");
        assert_eq!(refusal::<PostBody>(json!({"location": {"coordinates": [1.0, 2.0]}})).0, "location.coordinates");
        assert_eq!(refusal::<PostBody>(json!({"permissions": [true]})).0, "permissions");
        // Flattened (its fields buffered by serde): the message names the field.
        let (_, message) = refusal::<UpdateDocumentBody>(json!({"permissions": [true, false]}));
        assert!(message.starts_with(&format!("permissions: {SEQ}")), "{message}");
        assert_eq!(refusal::<UpdateDocumentBody>(json!({"kb": {"permissions": [true]}})).0, "kb.permissions");
        assert_eq!(refusal::<BulkCreateBody>(json!({"data": [["a@b.io"]]})).0, "data[0]");
        assert!(from_value::<BulkCreateBody>(json!({"data": [{"email": "a@b.io", "externalUserId": "x"}]})).is_ok());
    }

    /// A tree of structs, to draw bodies that put arrays (and other things) where structs go.
    #[derive(Debug, PartialEq, Deserialize)]
    struct Node {
        n: Option<i64>,
        child: Option<Box<Node>>,
        list: Option<Vec<Node>>,
    }

    /// JSON shaped like a `Node`, either as an object or (what serde alone reads) by position.
    fn node_json() -> impl Strategy<Value = Value> {
        let leaf = prop_oneof![Just(Value::Null), any::<i8>().prop_map(Value::from), Just(json!("x"))];
        leaf.prop_recursive(4, 32, 3, |inner| {
            let n = prop_oneof![Just(Value::Null), any::<i64>().prop_map(Value::from)];
            let list = prop_oneof![Just(Value::Null), prop::collection::vec(inner.clone(), 0..3).prop_map(Value::Array)];
            (n, inner, list, any::<bool>(), any::<bool>()).prop_map(|(n, child, list, by_position, with_child)| {
                if by_position {
                    json!([n, child, list])
                } else if with_child {
                    json!({"n": n, "child": child, "list": list})
                } else {
                    json!({"n": n, "list": list})
                }
            })
        })
    }

    /// Whether `v`, read as a `Node`, has an array where a `Node` goes.
    fn array_for_a_node(v: &Value) -> bool {
        match v {
            Value::Array(_) => true,
            Value::Object(m) => {
                m.get("child").is_some_and(|c| !c.is_null() && array_for_a_node(c))
                    || m.get("list").and_then(Value::as_array).is_some_and(|l| l.iter().any(array_for_a_node))
            }
            _ => false,
        }
    }

    /// Arbitrary JSON.
    fn any_json() -> impl Strategy<Value = Value> {
        let leaf = prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::from),
            any::<i64>().prop_map(Value::from),
            any::<f64>().prop_filter("finite", |f| f.is_finite()).prop_map(Value::from),
            "\\PC{0,6}".prop_map(Value::from),
        ];
        leaf.prop_recursive(3, 24, 4, |inner| {
            prop_oneof![
                prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
                prop::collection::btree_map("\\PC{0,4}", inner, 0..4).prop_map(|m| Value::Object(m.into_iter().collect())),
            ]
        })
    }

    proptest! {
        /// The wrapper refuses what serde refuses, and beyond that exactly an array for a struct;
        /// what it accepts, it reads as serde does.
        #[test]
        fn only_arrays_for_structs_are_refused_beyond_serde(v in node_json()) {
            let strict = from_slice::<Node>(v.to_string().as_bytes());
            let plain = serde_json::from_value::<Node>(v.clone());
            match (strict, plain) {
                (Ok(s), Ok(p)) => {
                    prop_assert!(!array_for_a_node(&v), "{v} accepted");
                    prop_assert_eq!(s, p);
                }
                (Err(e), Ok(_)) => {
                    prop_assert!(array_for_a_node(&v), "{v} refused: {e}");
                    prop_assert!(e.inner().to_string().starts_with(SEQ), "{v}: {e}");
                }
                (Err(_), Err(_)) => {}
                (Ok(s), Err(e)) => prop_assert!(false, "{v}: accepted as {s:?}, serde says {e}"),
            }
        }

        /// Types without structs read every JSON value as serde_json does.
        #[test]
        fn the_wrapper_is_transparent_to_values(v in any_json()) {
            let bytes = serde_json::to_vec(&v).unwrap();
            prop_assert_eq!(from_slice::<Value>(&bytes).unwrap(), serde_json::from_slice::<Value>(&bytes).unwrap());
            prop_assert_eq!(from_value::<Value>(v.clone()).unwrap(), v);
        }
    }
}
