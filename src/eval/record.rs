//! One event, read lazily.
//!
//! Most events of a real log match no detection, and the plain columns (`Category`,
//! `ActivityDisplayName`) are enough to tell. So a record keeps each column as the raw JSON
//! text it came in and decodes only what a detection asks for: plain text borrowed from the
//! input where it has no escapes, dynamic columns (`TargetResources`) parsed once and only for
//! events that pass the cheap checks. Field values are cached, so twenty detections reading
//! `ActivityDisplayName` decode it once.

use std::borrow::Cow;
use std::cell::OnceCell;
use std::fmt;

use serde::de::{self, Deserialize, Deserializer, MapAccess, Visitor};
use serde_json::value::RawValue;
use serde_json::Value;

use super::field::{self, FieldText};
use super::source::SourcePlan;
use crate::timestamp::Timestamp;

/// The top-level keys of a JSON object and the raw text of each value, borrowed from the input.
#[derive(Debug, Default)]
pub struct Members<'a>(pub Vec<(Cow<'a, str>, &'a RawValue)>);

impl<'a> Members<'a> {
    /// The last value under `key`, as serde_json keeps the last of duplicate keys.
    pub fn get(&self, key: &str) -> Option<&'a RawValue> {
        self.0.iter().rev().find(|(k, _)| k == key).map(|(_, v)| *v)
    }

    /// The text of a string member.
    pub fn text(&self, key: &str) -> Option<Cow<'a, str>> {
        self.get(key).and_then(plain_text)
    }
}

impl<'de> Deserialize<'de> for Members<'de> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct MembersVisitor;
        impl<'de> Visitor<'de> for MembersVisitor {
            type Value = Members<'de>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a JSON object")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Members<'de>, A::Error> {
                let mut members = Vec::with_capacity(32);
                while let Some(key) = map.next_key::<Text<'de>>()? {
                    members.push((key.0, map.next_value::<&'de RawValue>()?));
                }
                Ok(Members(members))
            }
        }
        deserializer.deserialize_map(MembersVisitor)
    }
}

/// A JSON string, borrowed from the input unless it had escapes to undo.
struct Text<'a>(Cow<'a, str>);

impl<'de> Deserialize<'de> for Text<'de> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct TextVisitor;
        impl<'de> Visitor<'de> for TextVisitor {
            type Value = Text<'de>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a string")
            }
            fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Text<'de>, E> {
                Ok(Text(Cow::Borrowed(v)))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Text<'de>, E> {
                Ok(Text(Cow::Owned(v.to_owned())))
            }
            fn visit_string<E: de::Error>(self, v: String) -> Result<Text<'de>, E> {
                Ok(Text(Cow::Owned(v)))
            }
        }
        deserializer.deserialize_str(TextVisitor)
    }
}

/// The text of a scalar column: strings as they are, numbers and booleans written out, objects
/// and arrays as compact JSON (as KQL's `tostring()` does); `None` for null and "".
pub fn plain_text(raw: &RawValue) -> Option<Cow<'_, str>> {
    let json = raw.get();
    if json.starts_with('"') {
        let text = serde_json::from_str::<Text>(json).ok()?.0;
        return (!text.is_empty()).then_some(text);
    }
    let value: Value = serde_json::from_str(json).ok()?;
    field::scalar_text(&value).map(|t| Cow::Owned(t.into_owned()))
}

/// One event of a log source, with lazily decoded columns and fields.
pub struct Record<'a, 'p> {
    plan: &'p SourcePlan,
    raw: Vec<Option<&'a RawValue>>,
    dynamic: Vec<OnceCell<Option<Value>>>,
    fields: Vec<OnceCell<Option<FieldText<'a>>>>,
}

impl<'a, 'p> Record<'a, 'p> {
    /// `raw[i]` is the raw JSON of column `i` of the plan's log source.
    pub fn new(plan: &'p SourcePlan, raw: Vec<Option<&'a RawValue>>) -> Record<'a, 'p> {
        let dynamic = (0..raw.len()).map(|_| OnceCell::new()).collect();
        let fields = (0..plan.field_count()).map(|_| OnceCell::new()).collect();
        Record { plan, raw, dynamic, fields }
    }

    pub fn plan(&self) -> &'p SourcePlan {
        self.plan
    }

    /// Whether column `column` is present at all (even if empty).
    pub fn has_column(&self, column: usize) -> bool {
        self.raw[column].is_some_and(|r| r.get() != "null")
    }

    /// The text of a plain column.
    pub fn column_text(&self, column: usize) -> Option<Cow<'a, str>> {
        self.raw[column].and_then(plain_text)
    }

    /// A dynamic column as JSON. Log Analytics exports and the query API deliver dynamic
    /// columns as JSON text inside a string; that text is parsed too.
    pub fn dynamic(&self, column: usize) -> Option<&Value> {
        self.dynamic[column]
            .get_or_init(|| {
                let value: Value = serde_json::from_str(self.raw[column]?.get()).ok()?;
                match value {
                    Value::String(text) if text.trim_start().starts_with(['[', '{']) => Some(serde_json::from_str(&text).unwrap_or(Value::String(text))),
                    value => Some(value),
                }
            })
            .as_ref()
    }

    /// The value of field `index` (of the log source's fields), `None` when missing or empty.
    pub fn field(&self, index: usize) -> Option<&FieldText<'a>> {
        self.fields[index].get_or_init(|| self.plan.field_plan(index).resolve(self).map(FieldText::new)).as_ref()
    }

    /// The event's time, from the log source's time column.
    pub fn time(&self) -> Option<Timestamp> {
        Timestamp::parse(&self.column_text(self.plan.time_column())?)
    }

    /// The event's id, from the log source's `event_id` column.
    pub fn event_id(&self) -> Option<String> {
        self.column_text(self.plan.event_id_column()?).map(Cow::into_owned)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strings_are_borrowed_unless_escaped() {
        let members: Members = serde_json::from_str(r#"{"a":"plain","b":"say \"hi\"","c":5,"d":null,"e":"","f":{"x":[1, 2]}}"#).unwrap();
        assert!(matches!(members.text("a"), Some(Cow::Borrowed("plain"))));
        assert_eq!(members.text("b").as_deref(), Some("say \"hi\""));
        assert_eq!(members.text("c").as_deref(), Some("5"));
        assert_eq!(members.text("d"), None);
        assert_eq!(members.text("e"), None);
        assert_eq!(members.text("f").as_deref(), Some(r#"{"x":[1,2]}"#));
        assert_eq!(members.text("missing"), None);
    }

    #[test]
    fn only_objects_have_members() {
        assert!(serde_json::from_str::<Members>("[1]").is_err());
        assert!(serde_json::from_str::<Members>("{\"a\":").is_err());
    }
}
