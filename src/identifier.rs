//! The identifier rules of the catalogue and of the languages it compiles to, in one place.
//!
//! A catalogue name ends up in query text, file names and `.conf` stanzas. The rules here say
//! which names may appear bare; the schemas (`#[schemars(regex(pattern = ...))]`) and the
//! validator use the same patterns, and the compilers quote anything else
//! (`lang::kql::name`, `lang::spl::field`).

/// A name that is a KQL column, an SPL field and a Sentinel custom-detail key without quoting:
/// a letter or `_`, then letters, digits and `_` (ASCII).
pub(crate) const IDENTIFIER: &str = r"^[A-Za-z_][A-Za-z0-9_]*$";

/// A machine name of lower-case letters, digits and `_`, starting with a letter: log-source
/// ids, Splunk app ids, macro and lookup names, tier names.
pub(crate) const LOWER_NAME: &str = r"^[a-z][a-z0-9_]*$";

/// A lower-case name with hyphens, starting with a letter: guide section and row keys, the
/// content-pack name.
pub(crate) const KEY: &str = r"^[a-z][a-z0-9-]*$";

/// Whether `name` matches [`IDENTIFIER`] (without a regular expression: the compilers ask for
/// every name they print).
pub(crate) fn is_identifier(name: &str) -> bool {
    let mut chars = name.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// Whether `name` can be a detection file name, which names every file generated for the
/// detection: lower-case letters, digits and hyphens, not starting with a hyphen.
pub(crate) fn is_slug(name: &str) -> bool {
    let mut chars = name.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_lowercase() || c.is_ascii_digit())
        && chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_checks_agree_with_the_patterns() {
        let identifier = regex::Regex::new(IDENTIFIER).unwrap();
        let slug = regex::Regex::new(r"^[a-z0-9][a-z0-9-]*$").unwrap();
        for name in [
            "Actor",
            "_rc_x",
            "a1",
            "1a",
            "a-b",
            "",
            "é",
            "A B",
            "pim-alert",
            "x--",
            "-x",
            "ab_c",
        ] {
            assert_eq!(is_identifier(name), identifier.is_match(name), "{name:?}");
            assert_eq!(is_slug(name), slug.is_match(name), "{name:?}");
        }
    }
}
