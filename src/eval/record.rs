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

use serde::de::{self, Deserialize, Deserializer, Visitor};
use serde_json::Value;

use super::dynamic::Dynamic;
use super::field::{self, FieldText};
use super::key_tree::RawJson;
use super::shape::{Located, Shape, ShapePlan};
use super::source::SourcePlan;
use crate::timestamp::Timestamp;

/// A JSON string, borrowed from the input unless it had escapes to undo.
pub(crate) struct Text<'a>(pub Cow<'a, str>);

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
/// and arrays as compact JSON (as KQL's `tostring()` does); `None` for null, "" and the text
/// `<null>` that Entra writes for a missing value ([`field::is_empty_text`]).
pub(crate) fn plain_text(raw: RawJson<'_>) -> Option<Cow<'_, str>> {
    let json = raw.get();
    if json.starts_with('"') {
        let text = serde_json::from_str::<Text>(json).ok()?.0;
        return (!field::is_empty_text(&text)).then_some(text);
    }
    let value: Value = serde_json::from_str(json).ok()?;
    field::scalar_text(&value).map(|t| Cow::Owned(t.into_owned()))
}

/// One event of a log source, with lazily decoded columns and fields.
pub(crate) struct Record<'a, 'p> {
    plan: &'p SourcePlan,
    shape: &'p ShapePlan,
    raw: Vec<Option<RawJson<'a>>>,
    dynamic: Vec<OnceCell<Option<Dynamic<'a>>>>,
    fields: Vec<OnceCell<Option<FieldText<'a>>>>,
    time: OnceCell<Option<Timestamp>>,
}

impl<'a, 'p> Record<'a, 'p> {
    /// An event of `plan`'s log source read as `shape`: the raw JSON of each column it has, and
    /// the columns built from flat ones.
    pub(crate) fn new(plan: &'p SourcePlan, shape: Shape, located: Located<'a>) -> Record<'a, 'p> {
        let Located { raw, built } = located;
        let dynamic: Vec<OnceCell<Option<Dynamic<'a>>>> =
            (0..raw.len()).map(|_| OnceCell::new()).collect();
        for (column, value) in built {
            let _ = dynamic[column].set(Some(value));
        }
        let fields = (0..plan.field_count()).map(|_| OnceCell::new()).collect();
        Record {
            plan,
            shape: plan.shape(shape),
            raw,
            dynamic,
            fields,
            time: OnceCell::new(),
        }
    }

    /// The text of a plain column, as the Log Analytics column has it.
    pub(crate) fn column_text(&self, column: usize) -> Option<Cow<'a, str>> {
        let text = self.raw[column].and_then(plain_text)?;
        if let Some(mapped) = self.shape.map_value(column, &text) {
            return Some(Cow::Owned(mapped.to_owned()));
        }
        Some(text)
    }

    /// A dynamic column's value (see [`Dynamic::column`] for JSON delivered as text).
    pub(crate) fn dynamic(&self, column: usize) -> Option<&Dynamic<'a>> {
        self.dynamic[column]
            .get_or_init(|| Dynamic::column(self.raw[column]?))
            .as_ref()
    }

    /// The value of field `index` (of the log source's fields), `None` when missing or empty.
    pub(crate) fn field(&self, index: usize) -> Option<&FieldText<'a>> {
        self.fields[index]
            .get_or_init(|| {
                self.plan
                    .field_plan(index)
                    .resolve(self)
                    .map(FieldText::new)
            })
            .as_ref()
    }

    /// The event's time, from the log source's time column.
    pub(crate) fn time(&self) -> Option<Timestamp> {
        *self
            .time
            .get_or_init(|| Timestamp::parse_as(&self.time_text()?, self.shape.time_format))
    }

    /// The text of the time column, `None` when the event has none.
    pub(crate) fn time_text(&self) -> Option<Cow<'a, str>> {
        self.column_text(self.plan.time_column())
    }

    /// The event's id, from the log source's `event_id` column.
    pub(crate) fn event_id(&self) -> Option<String> {
        self.column_text(self.plan.event_id_column()?)
            .map(Cow::into_owned)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::value::RawValue;

    fn text(json: &str) -> Option<Cow<'_, str>> {
        plain_text(serde_json::from_str::<&RawValue>(json).unwrap().into())
    }

    #[test]
    fn strings_are_borrowed_unless_escaped() {
        assert!(matches!(text(r#""plain""#), Some(Cow::Borrowed("plain"))));
        assert_eq!(text(r#""say \"hi\"""#).as_deref(), Some("say \"hi\""));
        assert_eq!(text("5").as_deref(), Some("5"));
        assert_eq!(text("null"), None);
        assert_eq!(text(r#""""#), None);
        assert_eq!(
            text(r#""<null>""#),
            None,
            "Entra's text for a missing value"
        );
        assert_eq!(text(r#"{"x": [1, 2]}"#).as_deref(), Some(r#"{"x":[1,2]}"#));
    }
}
