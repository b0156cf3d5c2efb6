//! Which fields of a detection file changed, named the way authors write them
//! (`threshold.count`, `detection.selection`).
//!
//! The comparison is of parsed values, so reformatting is not a change. Paths stop two levels
//! down: `detection.selection` tells a reviewer where to look; the full value path inside a
//! selection would be noise.

use serde_json::Value;

use crate::catalogue::DetectionFile;

/// How deep paths go.
const DEPTH: usize = 2;

/// Dotted paths of the fields that differ, in file order; `version` is left out (the report
/// shows it as old -> new).
pub(crate) fn changed(old: &DetectionFile, new: &DetectionFile) -> Vec<String> {
    let old = serde_json::to_value(old).expect("a detection serialises");
    let new = serde_json::to_value(new).expect("a detection serialises");
    let mut out = Vec::new();
    walk(&old, &new, "", 0, &mut out);
    out.retain(|p| p != "version");
    out
}

fn walk(old: &Value, new: &Value, path: &str, depth: usize, out: &mut Vec<String>) {
    if old == new {
        return;
    }
    match (old, new) {
        (Value::Object(a), Value::Object(b)) if depth < DEPTH => {
            // New keys after the old ones, so the order follows the files.
            let keys = a.keys().chain(b.keys().filter(|k| !a.contains_key(*k)));
            for key in keys {
                let child = if path.is_empty() {
                    key.clone()
                } else {
                    format!("{path}.{key}")
                };
                walk(
                    a.get(key).unwrap_or(&Value::Null),
                    b.get(key).unwrap_or(&Value::Null),
                    &child,
                    depth + 1,
                    out,
                );
            }
        }
        _ => out.push(path.to_owned()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn detection(edit: impl FnOnce(&mut Value)) -> DetectionFile {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/fixtures/minimal/entra-roles/eligible-assignment-burst.yaml");
        let mut value = crate::yaml::load_file(&path, &path).unwrap().value;
        edit(&mut value);
        serde_json::from_value(value).unwrap()
    }

    #[test]
    fn names_changed_fields_two_levels_deep() {
        let old = detection(|_| {});
        let new = detection(|v| {
            v["version"] = 2.into();
            v["threshold"]["count"] = 5.into();
            v["detection"]["selection"]["Category"] = "Other".into();
            v["description"] = "New words.".into();
        });
        assert_eq!(
            changed(&old, &new),
            vec!["description", "detection.selection", "threshold.count"]
        );
        assert!(changed(&old, &detection(|v| v["version"] = 3.into())).is_empty());
    }
}
