//! The two shapes one audit event arrives in, and where each column of a log source sits in them.
//!
//! Sentinel and Azure Monitor read Log Analytics rows (`TargetResources` is a column); Splunk
//! reads the diagnostic record that a diagnostic setting streams to an Event Hub
//! (`properties.targetResources`). A log source names each column once and gives its path in
//! the diagnostic record (`diagnostic:`), so the evaluator reads either shape through the same
//! field definitions, and `rulecast test` can check that both readings agree.

use serde_json::value::RawValue;

use super::record::Members;

/// How an event is laid out.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Shape {
    /// A Log Analytics row: columns at the top level (`TimeGenerated`, `TargetResources`).
    LogAnalytics,
    /// A diagnostic-setting record: each column at its `diagnostic` path (`time`, `properties.targetResources`).
    Diagnostic,
}

impl Shape {
    pub const ALL: [Shape; 2] = [Shape::LogAnalytics, Shape::Diagnostic];

    pub fn name(self) -> &'static str {
        match self {
            Shape::LogAnalytics => "Log Analytics row",
            Shape::Diagnostic => "diagnostic record",
        }
    }

    /// Tells the shapes apart by their keys: a row has `TimeGenerated`; a diagnostic record has
    /// `properties` and an `operationName` or `time` envelope.
    pub fn of(members: &Members<'_>) -> Shape {
        let has = |key: &str| members.get(key).is_some();
        if !has("TimeGenerated") && has("properties") && (has("operationName") || has("time")) {
            Shape::Diagnostic
        } else {
            Shape::LogAnalytics
        }
    }
}

/// The keys of a dotted path. A key holding `:` is a claim URI
/// (`identity.claims.http://schemas.xmlsoap.org/ws/2005/05/identity/claims/upn`) whose own dots
/// are not separators, so it runs to the end of the path.
pub fn path_keys(path: &str) -> Vec<&str> {
    let mut keys = Vec::new();
    let mut rest = path;
    loop {
        match rest.find('.') {
            Some(i) if !rest[..i].contains(':') => {
                keys.push(&rest[..i]);
                rest = &rest[i + 1..];
            }
            _ => {
                keys.push(rest);
                return keys;
            }
        }
    }
}

/// Where the columns of a log source are in one shape: a tree of keys, so one pass over each
/// object level of a record finds every column.
#[derive(Debug, Clone, Default)]
pub struct ColumnLayout {
    root: LayoutNode,
    columns: usize,
}

#[derive(Debug, Clone, Default)]
struct LayoutNode {
    /// Sorted by key, for binary search.
    children: Vec<(String, LayoutNode)>,
    /// The columns at this path (several when a log source maps them to one place).
    columns: Vec<usize>,
}

impl ColumnLayout {
    /// `paths[i]` is the path of column `i`.
    pub fn new(paths: &[Vec<&str>]) -> ColumnLayout {
        let mut root = LayoutNode::default();
        for (column, keys) in paths.iter().enumerate() {
            let mut node = &mut root;
            for key in keys {
                let at = match node.children.binary_search_by(|(k, _)| k.as_str().cmp(key)) {
                    Ok(at) => at,
                    Err(at) => {
                        node.children.insert(at, ((*key).to_owned(), LayoutNode::default()));
                        at
                    }
                };
                node = &mut node.children[at].1;
            }
            node.columns.push(column);
        }
        ColumnLayout { root, columns: paths.len() }
    }

    /// The raw JSON of each column in the record, `None` where it is missing.
    pub fn locate<'a>(&self, members: &Members<'a>) -> Vec<Option<&'a RawValue>> {
        let mut found = vec![None; self.columns];
        self.root.locate(members, &mut found);
        found
    }
}

impl LayoutNode {
    fn locate<'a>(&self, members: &Members<'a>, found: &mut [Option<&'a RawValue>]) {
        for (key, raw) in &members.0 {
            let Ok(at) = self.children.binary_search_by(|(k, _)| k.as_str().cmp(key)) else { continue };
            let child = &self.children[at].1;
            for column in &child.columns {
                found[*column] = Some(raw);
            }
            if !child.children.is_empty() && raw.get().starts_with('{') {
                if let Ok(inner) = serde_json::from_str::<Members<'a>>(raw.get()) {
                    child.locate(&inner, found);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn claim_uris_keep_their_dots() {
        assert_eq!(path_keys("properties.targetResources"), ["properties", "targetResources"]);
        assert_eq!(path_keys("time"), ["time"]);
        assert_eq!(
            path_keys("identity.claims.http://schemas.xmlsoap.org/ws/2005/05/identity/claims/upn"),
            ["identity", "claims", "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/upn"]
        );
    }

    #[test]
    fn layout_finds_nested_columns_in_one_pass() {
        let layout = ColumnLayout::new(&[vec!["time"], vec!["properties", "category"], vec!["identity", "claims", "http://x.y/upn"]]);
        let text = r#"{"time":"t","properties":{"category":"RoleManagement","other":1},"identity":{"claims":{"http://x.y/upn":"a@b"}}}"#;
        let members: Members = serde_json::from_str(text).unwrap();
        let found: Vec<Option<&str>> = layout.locate(&members).into_iter().map(|r| r.map(RawValue::get)).collect();
        assert_eq!(found, [Some("\"t\""), Some("\"RoleManagement\""), Some("\"a@b\"")]);
        let members: Members = serde_json::from_str(r#"{"properties":"not an object"}"#).unwrap();
        assert!(layout.locate(&members).iter().all(Option::is_none));
    }

    #[test]
    fn shapes_are_told_apart_by_their_envelope() {
        let shape = |text: &str| Shape::of(&serde_json::from_str(text).unwrap());
        assert_eq!(shape(r#"{"TimeGenerated":"x","Category":"RoleManagement"}"#), Shape::LogAnalytics);
        assert_eq!(shape(r#"{"time":"x","operationName":"y","properties":{}}"#), Shape::Diagnostic);
        // AzureActivity rows have a Properties_d column, not `properties`.
        assert_eq!(shape(r#"{"TimeGenerated":"x","Properties_d":{}}"#), Shape::LogAnalytics);
    }
}
