//! The guide being implemented: `detections/guide.yaml` lists the monitoring rows of Microsoft's
//! "Microsoft Entra security operations for Privileged Identity Management" with a stable key
//! each. Detections name the keys they implement, and the catalogue fails to load when a row has
//! no detection, so coverage of the guide is checked, not hoped for.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::detection::Risk;

#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct GuideFile {
    /// The guide's title.
    pub title: String,
    /// Where the guide is published.
    pub url: String,
    /// The guide's sections, in its order.
    pub sections: Vec<GuideSection>,
}

#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct GuideSection {
    /// Folder name under detections/ for this section's detections.
    #[schemars(regex(pattern = crate::identifier::KEY))]
    pub key: String,
    /// The section's title in the guide.
    pub title: String,
    /// The monitoring rows of the section; every one must be implemented by a detection.
    pub rows: Vec<GuideRow>,
}

#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct GuideRow {
    /// Stable key of the row, which detections list under `guide_rows`.
    #[schemars(regex(pattern = crate::identifier::KEY))]
    pub key: String,
    /// What to monitor, as the guide says it.
    pub title: String,
    pub risk: Risk,
}

impl GuideFile {
    pub fn rows(&self) -> impl Iterator<Item = (&GuideSection, &GuideRow)> {
        self.sections
            .iter()
            .flat_map(|s| s.rows.iter().map(move |r| (s, r)))
    }

    pub fn row(&self, key: &str) -> Option<(&GuideSection, &GuideRow)> {
        self.rows().find(|(_, r)| r.key == key)
    }
}
