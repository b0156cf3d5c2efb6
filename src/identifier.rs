//! The identifier rules of the catalogue and of the languages it compiles to, in one place.
//!
//! A catalogue name ends up in query text, file names, `.conf` stanzas and settings, and
//! templates. Values are escaped by each target, but a name is written as a name: a list key
//! becomes a KQL variable and an SPL field, a record path goes into `spath`, a role into
//! `default.meta`. Escaping a name would change what it names, so names are held to the strict
//! forms here when the catalogue loads: the schemas (`#[schemars(regex(pattern = ...))]`, with
//! the `*_ADVICE` text as the error's help) check them at their file, line and column, where
//! editors see them too, and the compilers still quote anything else (`lang::kql::name`,
//! `lang::spl::field`).

/// A name that is a KQL column, an SPL field and a Sentinel custom-detail key without quoting:
/// a letter or `_`, then letters, digits and `_` (ASCII).
pub(crate) const IDENTIFIER: &str = r"^[A-Za-z_][A-Za-z0-9_]*$";
/// What [`IDENTIFIER`] says to the author.
pub(crate) const IDENTIFIER_ADVICE: &str =
    "use letters, digits and _, not starting with a digit: the name is written into queries as is";

/// A machine name of lower-case letters, digits and `_`, starting with a letter: log-source
/// ids, Splunk app ids, macro and lookup names, tier names, list keys (`rulecast_list_<key>`
/// in KQL, `rc_on_<key>` in SPL).
pub(crate) const LOWER_NAME: &str = r"^[a-z][a-z0-9_]*$";
/// What [`LOWER_NAME`] says to the author.
pub(crate) const LOWER_NAME_ADVICE: &str = "use lower-case letters, digits and _, starting with a letter: the name becomes part of query identifiers";

/// A lower-case name with hyphens, starting with a letter: guide section and row keys, the
/// content-pack name.
pub(crate) const KEY: &str = r"^[a-z][a-z0-9-]*$";

/// A path into a JSON record (a diagnostic record's `properties.targetResources`, a claim
/// type URI as a key): dot-separated keys of letters, digits and `_ - : / @ $`. Quotes, spaces,
/// brackets, braces, pipes, `=` and backslashes never appear, so a path can be given to `spath`
/// and to KQL's bracket access as it is.
pub(crate) const RECORD_PATH: &str =
    r"^[A-Za-z0-9_@$][A-Za-z0-9_@$:/-]*(\.[A-Za-z0-9_@$][A-Za-z0-9_@$:/-]*)*$";
/// What [`RECORD_PATH`] says to the author.
pub(crate) const RECORD_PATH_ADVICE: &str = "write dot-separated keys of letters, digits and _ - : / @ $ (e.g. properties.targetResources): the path is written into SPL and KQL as is";

/// A key of an export `rulecast scan` reads (under a log source's `shapes:`): a path into a
/// JSON record as [`RECORD_PATH`] writes it, or a CSV header name, whose words may be separated
/// by single spaces and carry brackets (`TimeGenerated [UTC]`, `Date (UTC)`). Scan's summary
/// and its "the catalogue reads ..." message print the keys, so quotes, commas, control
/// characters and other spacing never appear. A JSON shape's keys are held to [`RECORD_PATH`]
/// ([`is_record_path`]).
pub(crate) const SHAPE_KEY: &str = r"^[A-Za-z0-9_@$:/.()\[\]-]+( [A-Za-z0-9_@$:/.()\[\]-]+)*$";
/// What [`SHAPE_KEY`] says to the author.
pub(crate) const SHAPE_KEY_ADVICE: &str = "write a dotted path of letters, digits and _ - : / @ $ (e.g. properties.result), or a CSV header name of such words with single spaces, brackets and parentheses (e.g. TimeGenerated [UTC]): scan's report shows the key as is";

/// What [`LOWER_NAME`] says to the author of a shape's name (under `shapes:`).
pub(crate) const SHAPE_NAME_ADVICE: &str = "use lower-case letters, digits and _, starting with a letter: scan's summary names the shape by it";

/// A key of a built column (a CSV download's flattened columns): a [`SHAPE_KEY`] in which
/// `{t}` placeholders stand for the item number of an enclosing list (`Target{t}Type`).
pub(crate) const SHAPE_TEMPLATE_KEY: &str =
    r"^([A-Za-z0-9_@$:/.()\[\]-]|\{[a-z]+\})+( ([A-Za-z0-9_@$:/.()\[\]-]|\{[a-z]+\})+)*$";
/// What [`SHAPE_TEMPLATE_KEY`] says to the author.
pub(crate) const SHAPE_TEMPLATE_KEY_ADVICE: &str = "write a CSV header name of letters, digits and _ - : / @ $ . with single spaces, brackets, parentheses and {t} placeholders (e.g. Target{t}DisplayName): scan's report shows the key as is";

/// A Splunk role name (`default.meta` access lists): lower-case letters, digits, `_` and `-`.
pub(crate) const SPLUNK_ROLE: &str = r"^[a-z0-9][a-z0-9_-]*$";
/// What [`SPLUNK_ROLE`] says to the author.
pub(crate) const SPLUNK_ROLE_ADVICE: &str = "a Splunk role name has lower-case letters, digits, _ and -, e.g. sc_admin; it is written into metadata/default.meta as is";

/// A Splunk index name: what indexes.conf allows (lower-case letters, digits, _ and -, not
/// first), so it goes into a search as a plain term.
pub(crate) const SPLUNK_INDEX: &str = r"^[a-z0-9][a-z0-9_-]*$";
/// What [`SPLUNK_INDEX`] says to the author.
pub(crate) const SPLUNK_INDEX_ADVICE: &str = "a Splunk index name has lower-case letters, digits, _ and -, e.g. azure; it is written into the source macro as index=<name>";

/// A Sigma field name: an identifier, with dots for nested fields.
pub(crate) const SIGMA_FIELD: &str = r"^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*$";
/// What [`SIGMA_FIELD`] says to the author.
pub(crate) const SIGMA_FIELD_ADVICE: &str =
    "use letters, digits and _ with dots between parts: the name is a key of every Sigma rule";

/// A Sigma `product` or `service`: a lower-case name, as SigmaHQ writes them.
pub(crate) const SIGMA_NAME: &str = r"^[a-z0-9][a-z0-9_-]*$";

/// Whether `name` matches [`IDENTIFIER`] (without a regular expression: the compilers ask for
/// every name they print).
pub(crate) fn is_identifier(name: &str) -> bool {
    let mut chars = name.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// Whether `path` matches [`RECORD_PATH`] (without a regular expression, like
/// [`is_identifier`]): dot-separated keys, none empty, of letters, digits and `_ @ $ : / -`, a
/// key not starting with `:`, `/` or `-`.
pub(crate) fn is_record_path(path: &str) -> bool {
    path.split('.').all(|key| {
        let mut chars = key.chars();
        chars
            .next()
            .is_some_and(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '@' | '$'))
            && chars.all(|c| {
                c.is_ascii_alphanumeric() || matches!(c, '_' | '@' | '$' | ':' | '/' | '-')
            })
    })
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
        let record_path = regex::Regex::new(RECORD_PATH).unwrap();
        for path in [
            "properties.targetResources",
            "a",
            "@odata.type",
            "http://schemas.example/claims/x",
            "a..b",
            ".a",
            "a.",
            "",
            "a b",
            "-a",
            "a.-b",
            "a/b-c:d",
            "$x.y_z",
            "a\"b",
            "TimeGenerated [UTC]",
            "é",
        ] {
            assert_eq!(is_record_path(path), record_path.is_match(path), "{path:?}");
        }
    }

    #[test]
    fn shape_keys_are_paths_or_header_names() {
        let key = regex::Regex::new(SHAPE_KEY).unwrap();
        let template = regex::Regex::new(SHAPE_TEMPLATE_KEY).unwrap();
        for ok in [
            "TimeGenerated [UTC]",
            "Date (UTC)",
            "properties.result",
            "operationName.value",
        ] {
            assert!(key.is_match(ok), "{ok:?}");
            assert!(template.is_match(ok), "{ok:?}");
        }
        for bad in [
            "",
            " Lead",
            "two  spaces",
            "a,b",
            "a\"b",
            "line\nbreak",
            "esc\u{1b}[2J",
            "{t}",
        ] {
            assert!(!key.is_match(bad), "{bad:?}");
        }
        assert!(template.is_match("Target{t}ModifiedProperty{p}Name"));
        for bad in ["Target{T}", "Target{t", "a{}b", "x\ty"] {
            assert!(!template.is_match(bad), "{bad:?}");
        }
    }
}
