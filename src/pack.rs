//! Pack selection: smaller content packs cut from the one catalogue.
//!
//! Not every SOC wants every rule: a "core" pack of stable, high-severity detections is easier
//! to adopt first. Selection happens before rendering, so a smaller pack is a normal build of a
//! smaller catalogue: every target, the combined templates and the Splunk app agree on it.
//!
//! Orders (documented in `--help`):
//! * status: experimental < test < stable. A deprecated detection is in the full pack (disabled
//!   everywhere, so deployments that had it switch it off) and in no pack cut by `--min-status`,
//!   which are meant for first deployments that never had it.
//! * severity: informational < low < medium < high.

use crate::catalogue::detection::{Severity, Status};
use crate::catalogue::{Catalogue, Detection};

/// The pack-selection options of `build`, `check` and `release`.
#[derive(clap::Args, Debug, Clone, Default)]
pub(crate) struct Selection {
    /// Only detections at least this mature (experimental < test < stable); leaves out
    /// deprecated detections.
    #[arg(long, value_name = "STATUS", value_parser = parse_status)]
    pub min_status: Option<Status>,
    /// Only detections at least this severe (informational < low < medium < high).
    #[arg(long, value_name = "SEVERITY", value_parser = parse_severity)]
    pub min_severity: Option<Severity>,
}

impl Selection {
    pub(crate) fn includes(&self, detection: &Detection) -> bool {
        let meta = &detection.meta;
        let status_ok = match self.min_status {
            None => true,
            Some(min) => meta.status != Status::Deprecated && meta.status >= min,
        };
        status_ok && self.min_severity.is_none_or(|min| meta.severity >= min)
    }

    /// The catalogue with only the selected detections.
    pub(crate) fn apply(&self, catalogue: &Catalogue) -> Catalogue {
        let mut selected = catalogue.clone();
        selected.detections.retain(|d| self.includes(d));
        selected
    }

    /// [`Selection::apply`] to a catalogue that is not needed whole afterwards, without a copy
    /// (a large catalogue is hundreds of megabytes in memory).
    pub(crate) fn apply_owned(&self, mut catalogue: Catalogue) -> Catalogue {
        catalogue.detections.retain(|d| self.includes(d));
        catalogue
    }

    /// How the selection is described in messages and the release manifest.
    pub(crate) fn describe(&self) -> String {
        let mut parts = Vec::new();
        if let Some(s) = self.min_status {
            parts.push(format!("status >= {}", s.as_str()));
        }
        if let Some(s) = self.min_severity {
            parts.push(format!("severity >= {}", s.as_str()));
        }
        if parts.is_empty() {
            "full pack".to_owned()
        } else {
            parts.join(", ")
        }
    }
}

/// A `--min-status` or `--min-severity` value that is not one of the levels.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum LevelError {
    Status(String),
    Severity(String),
}

impl std::fmt::Display for LevelError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            LevelError::Status(text) => write!(
                f,
                "`{text}` is not a status to select by; use experimental, test or stable"
            ),
            LevelError::Severity(text) => write!(
                f,
                "`{text}` is not a severity; use informational, low, medium or high"
            ),
        }
    }
}

impl std::error::Error for LevelError {}

fn parse_status(text: &str) -> Result<Status, LevelError> {
    [Status::Experimental, Status::Test, Status::Stable]
        .into_iter()
        .find(|s| s.as_str() == text)
        .ok_or_else(|| LevelError::Status(text.to_owned()))
}

fn parse_severity(text: &str) -> Result<Severity, LevelError> {
    Severity::ALL
        .into_iter()
        .find(|s| s.as_str() == text)
        .ok_or_else(|| LevelError::Severity(text.to_owned()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_orders_are_the_documented_ones() {
        assert!(Status::Experimental < Status::Test && Status::Test < Status::Stable);
        assert!(
            Severity::Informational < Severity::Low
                && Severity::Low < Severity::Medium
                && Severity::Medium < Severity::High
        );
        assert!(
            parse_status("deprecated").is_err(),
            "deprecated is not a maturity"
        );
        assert_eq!(parse_severity("medium"), Ok(Severity::Medium));
    }

    #[test]
    fn selection_by_status_and_severity() {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("detections");
        let catalogue = Catalogue::load(&root).unwrap_or_else(|d| panic!("{d}"));
        // The shipped detections are all new, hence experimental: select by severity.
        let high = Selection {
            min_status: Some(Status::Experimental),
            min_severity: Some(Severity::High),
        };
        let picked = high.apply(&catalogue);
        assert!(
            !picked.detections.is_empty() && picked.detections.len() < catalogue.detections.len()
        );
        assert!(
            picked
                .detections
                .iter()
                .all(|d| d.meta.severity == Severity::High)
        );
        let stable = Selection {
            min_status: Some(Status::Stable),
            min_severity: None,
        };
        assert!(
            stable
                .apply(&catalogue)
                .detections
                .iter()
                .all(|d| d.meta.status == Status::Stable)
        );
        let full = Selection::default();
        assert_eq!(
            full.apply(&catalogue).detections.len(),
            catalogue.detections.len()
        );
    }
}
