//! How a target describes its entry in the `targets:` section of a catalogue file
//! ([`crate::catalogue::sections`]).

use std::any::Any;
use std::sync::Arc;

use schemars::{JsonSchema, Schema, SchemaGenerator};
use serde::de::DeserializeOwned;
use serde_json::Value;

/// A value read into a target's section type.
pub(crate) type ReadSection = Arc<dyn Any + Send + Sync>;

/// Why a section does not read: where (a JSON pointer below the section) and what.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct SectionError {
    pub pointer: String,
    pub message: String,
}

/// A target's section of a catalogue file: the type it is read into (which also gives its
/// JSON Schema, and so its documentation) and whether every file must have it.
#[derive(Clone, Copy)]
pub struct Section {
    schema: fn(&mut SchemaGenerator) -> Schema,
    read: fn(&Value) -> Result<ReadSection, SectionError>,
    default: Option<fn() -> ReadSection>,
}

impl Section {
    /// A section every file of the format must have.
    pub fn required<T: JsonSchema + DeserializeOwned + Send + Sync + 'static>() -> Section {
        Section {
            schema: |generator| generator.subschema_for::<T>(),
            read: read::<T>,
            default: None,
        }
    }

    /// A section a file may leave out; the target then reads `T::default()`.
    pub fn optional<T: JsonSchema + DeserializeOwned + Default + Send + Sync + 'static>() -> Section
    {
        Section {
            schema: |generator| generator.subschema_for::<T>(),
            read: read::<T>,
            default: Some(|| Arc::new(T::default())),
        }
    }

    pub(crate) fn is_required(&self) -> bool {
        self.default.is_none()
    }

    pub(crate) fn schema(&self, generator: &mut SchemaGenerator) -> Schema {
        (self.schema)(generator)
    }

    /// Reads the section as written, or its default when it was left out (`None` for a
    /// required section that is missing, which the schema check has reported).
    pub(crate) fn read(
        &self,
        written: Option<&Value>,
    ) -> Option<Result<ReadSection, SectionError>> {
        match written {
            Some(value) => Some((self.read)(value)),
            None => self.default.map(|default| Ok(default())),
        }
    }
}

fn read<T: DeserializeOwned + Send + Sync + 'static>(
    value: &Value,
) -> Result<ReadSection, SectionError> {
    serde_path_to_error::deserialize::<_, T>(value)
        .map(|section| Arc::new(section) as ReadSection)
        .map_err(|e| SectionError {
            pointer: crate::catalogue::json_pointer(e.path()),
            message: e.into_inner().to_string(),
        })
}
