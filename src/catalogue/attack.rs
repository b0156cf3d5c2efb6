//! MITRE ATT&CK names and the technique-to-tactic table.
//!
//! Sentinel rejects a template whose techniques do not belong to one of its listed tactics, and
//! Sigma wants its own tag spelling; both are derived from this one table, embedded from
//! `attack.tsv` (enterprise ATT&CK parent techniques and the tactics they belong to).

use std::collections::HashMap;
use std::sync::OnceLock;

/// Enterprise tactics, in Sentinel's CamelCase spelling, with Sigma's tag spelling.
pub(crate) const TACTICS: [(&str, &str); 14] = [
    ("Reconnaissance", "reconnaissance"),
    ("ResourceDevelopment", "resource-development"),
    ("InitialAccess", "initial-access"),
    ("Execution", "execution"),
    ("Persistence", "persistence"),
    ("PrivilegeEscalation", "privilege-escalation"),
    ("DefenseEvasion", "defense-evasion"),
    ("CredentialAccess", "credential-access"),
    ("Discovery", "discovery"),
    ("LateralMovement", "lateral-movement"),
    ("Collection", "collection"),
    ("CommandAndControl", "command-and-control"),
    ("Exfiltration", "exfiltration"),
    ("Impact", "impact"),
];

pub(crate) fn is_tactic(name: &str) -> bool {
    TACTICS.iter().any(|(t, _)| *t == name)
}

pub(crate) fn sigma_tactic(name: &str) -> Option<&'static str> {
    TACTICS.iter().find(|(t, _)| *t == name).map(|(_, s)| *s)
}

/// `T1234` or `T1234.567`.
pub(crate) fn is_technique_id(id: &str) -> bool {
    let bytes = id.as_bytes();
    let digits = |s: &[u8]| s.iter().all(u8::is_ascii_digit);
    match bytes.len() {
        5 => bytes[0] == b'T' && digits(&bytes[1..]),
        9 => bytes[0] == b'T' && digits(&bytes[1..5]) && bytes[5] == b'.' && digits(&bytes[6..]),
        _ => false,
    }
}

/// The parent technique of a sub-technique (`T1098.003` -> `T1098`).
pub(crate) fn parent(id: &str) -> &str {
    id.split('.').next().unwrap_or(id)
}

fn table() -> &'static HashMap<&'static str, Vec<&'static str>> {
    static TABLE: OnceLock<HashMap<&'static str, Vec<&'static str>>> = OnceLock::new();
    TABLE.get_or_init(|| {
        include_str!("attack.tsv")
            .lines()
            .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
            .filter_map(|l| {
                let mut cols = l.split('\t');
                let id = cols.next()?;
                let tactics = cols.next()?.split(',').map(str::trim).collect();
                Some((id, tactics))
            })
            .collect()
    })
}

/// Tactics a technique (or its parent) belongs to; `None` when the technique is unknown.
pub(crate) fn tactics_of(id: &str) -> Option<&'static [&'static str]> {
    table().get(parent(id)).map(Vec::as_slice)
}
