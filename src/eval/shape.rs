//! The two shapes one audit event arrives in.
//!
//! Sentinel and Azure Monitor read Log Analytics rows (`TargetResources` is a column); Splunk
//! reads the diagnostic record that a diagnostic setting streams to an Event Hub
//! (`properties.targetResources`). A log source names each column once and gives its path in
//! the diagnostic record (`diagnostic:`), so the evaluator reads either shape through the same
//! field definitions (the paths are found by [`super::key_tree`]), and `rulecast test` can check
//! that both readings agree.

/// How an event is laid out.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum Shape {
    /// A Log Analytics row: columns at the top level (`TimeGenerated`, `TargetResources`).
    LogAnalytics,
    /// A diagnostic-setting record: each column at its `diagnostic` path (`time`, `properties.targetResources`).
    Diagnostic,
}

/// The keys of a dotted path. A key holding `:` is a claim URI
/// (`identity.claims.http://schemas.xmlsoap.org/ws/2005/05/identity/claims/upn`) whose own dots
/// are not separators, so it runs to the end of the path.
pub(crate) fn path_keys(path: &str) -> Vec<&str> {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn claim_uris_keep_their_dots() {
        assert_eq!(
            path_keys("properties.targetResources"),
            ["properties", "targetResources"]
        );
        assert_eq!(path_keys("time"), ["time"]);
        assert_eq!(
            path_keys("identity.claims.http://schemas.xmlsoap.org/ws/2005/05/identity/claims/upn"),
            [
                "identity",
                "claims",
                "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/upn"
            ]
        );
    }
}
