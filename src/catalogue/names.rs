//! The forms of the names a catalogue gives to things that reach a query, a `.conf` stanza or
//! setting, a file path or a template: list keys, columns and their paths in the records,
//! watchlist columns, Splunk roles, Sigma field names.
//!
//! Values are escaped by each target, but a name is written as a name: a list key becomes a KQL
//! variable and an SPL field, a record path goes into `spath`, a role into `default.meta`.
//! Escaping a name would change what it names, so names are held to strict forms when the
//! catalogue loads, each in the schema of its format (where editors see it too), and reported
//! at their file, line and column.

/// A KQL column, SPL field or Sentinel custom-detail key: letters, digits and `_`, not starting
/// with a digit.
pub const IDENTIFIER: &str = r"^[A-Za-z_][A-Za-z0-9_]*$";
/// What [`IDENTIFIER`] says to the author.
pub const IDENTIFIER_ADVICE: &str =
    "use letters, digits and _, not starting with a digit: the name is written into queries as is";

/// A lower-case name used in generated identifiers (list keys: `rulecast_list_<key>` in KQL,
/// `rc_on_<key>` in SPL).
pub const LOWER_NAME: &str = r"^[a-z][a-z0-9_]*$";
pub const LOWER_NAME_ADVICE: &str = "use lower-case letters, digits and _, starting with a letter: the name becomes part of query identifiers";

/// A path into a JSON record (a diagnostic record's `properties.targetResources`, a claim
/// type URI as a key): dot-separated keys of letters, digits and `_ - : / @ $`. Quotes, spaces,
/// brackets, braces, pipes, `=` and backslashes never appear, so a path can be given to `spath`
/// and to KQL's bracket access as it is.
pub const RECORD_PATH: &str =
    r"^[A-Za-z0-9_@$][A-Za-z0-9_@$:/-]*(\.[A-Za-z0-9_@$][A-Za-z0-9_@$:/-]*)*$";
pub const RECORD_PATH_ADVICE: &str = "write dot-separated keys of letters, digits and _ - : / @ $ (e.g. properties.targetResources): the path is written into SPL and KQL as is";

/// A Splunk role name (`default.meta` access lists): lower-case letters, digits, `_` and `-`.
pub const SPLUNK_ROLE: &str = r"^[a-z0-9][a-z0-9_-]*$";
pub const SPLUNK_ROLE_ADVICE: &str = "a Splunk role name has lower-case letters, digits, _ and -, e.g. sc_admin; it is written into metadata/default.meta as is";

/// A Sigma field name: an identifier, with dots for nested fields.
pub const SIGMA_FIELD: &str = r"^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*$";
pub const SIGMA_FIELD_ADVICE: &str =
    "use letters, digits and _ with dots between parts: the name is a key of every Sigma rule";

/// A Sigma `service` (and `product`): a lower-case name, as SigmaHQ writes them.
pub const SIGMA_NAME: &str = r"^[a-z0-9][a-z0-9_-]*$";
