//! The `targets:` section of a catalogue file: one entry per target, in the target's own format.
//!
//! A log source says how each target reaches its data (the Splunk source macro, the Sentinel
//! data connector, the Sigma logsource), `rulecast.yaml` holds each target's settings (the
//! Splunk app id) and a detection its own settings in a target (a Sentinel NRT rule). Those facts belong to the targets, not to the catalogue format, so the
//! format has one open `targets:` mapping: each registered target describes its entry (a
//! JSON Schema and a type, [`crate::targets::Section`]), the committed schemas include it,
//! and the loader reads each entry into the target's type once. Adding a target adds a key
//! here without changing the format of anything else.

use std::any::Any;
use std::collections::BTreeMap;
use std::fmt;
use std::sync::Arc;

use indexmap::IndexMap;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// The entries of a `targets:` mapping, as written and as each target read them.
#[derive(Clone, Default)]
pub struct TargetSections {
    written: IndexMap<String, Value>,
    read: BTreeMap<String, Arc<dyn Any + Send + Sync>>,
}

impl TargetSections {
    /// The entry of `target`, in the type the target registered; `None` when the target has
    /// no such section or the catalogue was not loaded for it.
    pub fn get<T: Any>(&self, target: &str) -> Option<&T> {
        self.read.get(target)?.downcast_ref()
    }

    /// No entry was written.
    pub fn is_empty(&self) -> bool {
        self.written.is_empty()
    }

    /// The entries as written, by target name.
    pub fn written(&self) -> &IndexMap<String, Value> {
        &self.written
    }

    pub(crate) fn set_read(&mut self, target: &str, value: Arc<dyn Any + Send + Sync>) {
        self.read.insert(target.to_owned(), value);
    }
}

impl fmt::Debug for TargetSections {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_map().entries(&self.written).finish()
    }
}

impl<'de> Deserialize<'de> for TargetSections {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        Ok(TargetSections {
            written: IndexMap::deserialize(deserializer)?,
            read: BTreeMap::new(),
        })
    }
}

impl Serialize for TargetSections {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        self.written.serialize(serializer)
    }
}

impl JsonSchema for TargetSections {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "TargetSections".into()
    }

    // Inlined, so the registry can fill in each catalogue format's own target entries.
    fn inline_schema() -> bool {
        true
    }

    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        schemars::json_schema!({ "type": "object" })
    }
}
