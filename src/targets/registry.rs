//! The registry of targets: which targets a catalogue is loaded, validated and built for.
//!
//! rulecast's own targets are [`BUILTIN`](super::BUILTIN); a program embedding rulecast can register more
//! ([`Targets::with`]) and pass the registry to the loader and the CLI. Everything a target
//! contributes is asked of the registry: its templates, its sections of the catalogue files
//! (and so the committed JSON Schemas), its checks, its release file and its conformance
//! hooks.

use std::fmt;
use std::sync::{Arc, OnceLock};

use serde_json::Value;

use super::{BUILTIN, Target};
use crate::schema::{self, SchemaKind};

/// A set of targets, with the catalogue schemas their sections make (generated once).
pub struct Targets {
    list: Vec<&'static dyn Target>,
    schemas: [OnceLock<Value>; SchemaKind::ALL.len()],
}

/// Why a target cannot be registered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RegistryError {
    /// Two targets have this name.
    Duplicate(&'static str),
    /// The name cannot be a folder of the output and a key of the catalogue formats.
    BadName(&'static str),
    /// A built-in template's name does not start with `<target>/`.
    TemplateOutsideTarget {
        target: &'static str,
        template: &'static str,
    },
    /// A target's section of detection files is required: every detection would need it.
    RequiredDetectionSection(&'static str),
}

impl fmt::Display for RegistryError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RegistryError::Duplicate(name) => write!(f, "two targets are named `{name}`"),
            RegistryError::BadName(name) => write!(
                f,
                "`{name}` cannot name a target: use lower-case letters, digits and `-`"
            ),
            RegistryError::TemplateOutsideTarget { target, template } => write!(
                f,
                "target `{target}` ships the template `{template}`, which is not under `{target}/`"
            ),
            RegistryError::RequiredDetectionSection(name) => write!(
                f,
                "target `{name}` requires a section in every detection file; make it optional (`Section::optional`)"
            ),
        }
    }
}

impl std::error::Error for RegistryError {}

impl Targets {
    /// rulecast's own targets.
    pub fn builtin() -> Arc<Targets> {
        static BUILTIN_TARGETS: OnceLock<Arc<Targets>> = OnceLock::new();
        BUILTIN_TARGETS
            .get_or_init(|| {
                Arc::new(Targets::new(BUILTIN.to_vec()).expect("the built-in targets register"))
            })
            .clone()
    }

    /// A registry of `list`, in output order.
    pub fn new(list: Vec<&'static dyn Target>) -> Result<Targets, RegistryError> {
        for (i, target) in list.iter().enumerate() {
            let name = target.name();
            if !is_target_name(name) {
                return Err(RegistryError::BadName(name));
            }
            if list[..i].iter().any(|t| t.name() == name) {
                return Err(RegistryError::Duplicate(name));
            }
            if target
                .detection_section()
                .is_some_and(|section| section.is_required())
            {
                return Err(RegistryError::RequiredDetectionSection(name));
            }
            if let Some((template, _)) = target
                .templates()
                .iter()
                .find(|(template, _)| !template.starts_with(&format!("{name}/")))
            {
                return Err(RegistryError::TemplateOutsideTarget {
                    target: name,
                    template,
                });
            }
        }
        Ok(Targets {
            list,
            schemas: Default::default(),
        })
    }

    /// These targets and `target` after them.
    pub fn with(&self, target: &'static dyn Target) -> Result<Targets, RegistryError> {
        let mut list = self.list.clone();
        list.push(target);
        Targets::new(list)
    }

    /// The targets, in output order.
    pub fn iter(&self) -> impl Iterator<Item = &'static dyn Target> + '_ {
        self.list.iter().copied()
    }

    pub fn get(&self, name: &str) -> Option<&'static dyn Target> {
        self.iter().find(|t| t.name() == name)
    }

    /// The JSON Schema of a catalogue format, with these targets' sections.
    pub fn schema(&self, kind: SchemaKind) -> &Value {
        self.schemas[kind as usize].get_or_init(|| schema::generate(kind, self))
    }
}

impl fmt::Debug for Targets {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list()
            .entries(self.iter().map(Target::name))
            .finish()
    }
}

/// A target name is a folder under `generated/` and a key of `targets:`: lower-case letters
/// and digits, with `-` between words.
fn is_target_name(name: &str) -> bool {
    !name.is_empty()
        && !name.starts_with('-')
        && !name.ends_with('-')
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn registration_refuses_clashes_and_stray_templates() {
        struct Named(&'static str, &'static [(&'static str, &'static str)]);
        impl Target for Named {
            fn name(&self) -> &'static str {
                self.0
            }
            fn description(&self) -> &'static str {
                "test"
            }
            fn templates(&self) -> &'static [(&'static str, &'static str)] {
                self.1
            }
            fn render<'c>(
                &self,
                _: &super::super::RenderContext<'c>,
            ) -> Result<super::super::Artifacts<'c>, crate::diagnostic::Diagnostics> {
                Ok(super::super::Artifacts::default())
            }
        }
        static AGAIN: Named = Named("sigma", &[]);
        static BAD: Named = Named("Elastic Search", &[]);
        static STRAY: Named = Named("elastic", &[("sigma/rule.yml", "x")]);
        static GOOD: Named = Named("elastic", &[("elastic/rule.ndjson", "x")]);
        let builtin = Targets::builtin();
        assert_eq!(
            builtin.with(&AGAIN).unwrap_err(),
            RegistryError::Duplicate("sigma")
        );
        assert_eq!(
            builtin.with(&BAD).unwrap_err(),
            RegistryError::BadName("Elastic Search")
        );
        assert!(matches!(
            builtin.with(&STRAY).unwrap_err(),
            RegistryError::TemplateOutsideTarget { .. }
        ));
        let names: Vec<&str> = builtin
            .with(&GOOD)
            .unwrap()
            .iter()
            .map(Target::name)
            .collect();
        assert_eq!(
            names,
            ["sentinel", "splunk", "sigma", "azure-monitor", "elastic"]
        );
    }
}
