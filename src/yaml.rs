//! YAML loading with source positions.
//!
//! Catalogue files are parsed by serde-saphyr's event parser straight into a
//! `serde_json::Value` (what the schema check and serde see). Any later check, however deep in
//! the model, can point at the exact key or value a user wrote by its JSON pointer: the
//! [`Document`] finds the line and column by parsing its text again, looking for that pointer
//! alone. Problems are few and files many, so no position is kept for the nodes of a file that
//! has nothing to report (a large catalogue would hold several times its text in positions).
//!
//! Size and alias-expansion limits are enforced here, so a hostile file (an alias bomb, a huge
//! file) fails with a clear error instead of exhausting memory.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use serde_json::{Map, Number, Value};

use crate::diagnostic::{Diagnostic, Position};

/// Catalogue files are small hand-written documents; anything bigger is a mistake or an attack.
pub(crate) const MAX_FILE_BYTES: u64 = 1024 * 1024;
/// Nesting deeper than this is not something a person writes.
pub(crate) const MAX_DEPTH: usize = 32;
/// Upper bound on YAML nodes after alias expansion (an alias bomb blows far past it).
pub(crate) const MAX_NODES: usize = 100_000;

/// A parsed YAML document: its JSON value and where each part of it came from.
#[derive(Debug, Clone)]
pub struct Document {
    pub(crate) path: PathBuf,
    text: Text,
    pub(crate) value: Value,
    /// Plain scalars read as numbers whose canonical form is not their text (`1.50`, `007`,
    /// `0x1f`): the pointer, the text as written and the number as read.
    renumbered: Vec<(String, String, String)>,
    /// Parts of the value written in another document (an environment's overrides in
    /// rulecast.yaml): a problem there is reported where it was written.
    pub(crate) overlays: Vec<Overlay>,
}

/// The value at `at` (a JSON pointer of the document) was written at `from` in `origin`.
#[derive(Debug, Clone)]
pub(crate) struct Overlay {
    at: String,
    from: String,
    origin: std::sync::Arc<Document>,
}

/// The text a document was parsed from.
#[derive(Debug, Clone)]
enum Text {
    Kept(String),
    /// Released once the file was read into the model: read again from `file` when a problem
    /// is reported, and used only if it is still what was parsed (same length and digest), so
    /// a file edited meanwhile gets a message without a position rather than a wrong one.
    /// A large catalogue would otherwise hold all of its text for the few files that have
    /// something to report.
    InFile {
        file: PathBuf,
        length: usize,
        digest: u64,
    },
}

/// A digest of `text`, to tell whether a file still holds it.
fn digest(text: &str) -> u64 {
    use std::hash::{Hash, Hasher};
    let mut hasher = std::hash::DefaultHasher::new();
    text.hash(&mut hasher);
    hasher.finish()
}

/// Whether `pointer` is `prefix` or inside it.
fn within(pointer: &str, prefix: &str) -> bool {
    pointer
        .strip_prefix(prefix)
        .is_some_and(|rest| rest.is_empty() || rest.starts_with('/'))
}

impl Document {
    /// Applies `patch` (a JSON merge patch, RFC 7386: a mapping is merged key by key, `null`
    /// removes a key, any other value replaces) over the value at `at`, recording that what it
    /// sets was written at `from` in `origin`, so problems with it are reported there.
    pub(crate) fn overlay(
        &mut self,
        at: &str,
        patch: &Value,
        from: &str,
        origin: &std::sync::Arc<Document>,
    ) {
        let mut target = &mut self.value;
        for segment in at.split('/').skip(1) {
            let key = segment.replace("~1", "/").replace("~0", "~");
            if !target.is_object() {
                *target = Value::Object(Map::new());
            }
            target = target
                .as_object_mut()
                .expect("made an object")
                .entry(key)
                .or_insert(Value::Object(Map::new()));
        }
        let mut set = Vec::new();
        merge(target, patch, at, from, &mut set);
        for (at, from) in set {
            self.overlays.push(Overlay {
                at,
                from,
                origin: origin.clone(),
            });
        }
    }

    /// Appends `items` to the list at `at` (made when missing), each recorded as written at
    /// `from`/<its index> in `origin`.
    pub(crate) fn append(
        &mut self,
        at: &str,
        items: &[Value],
        from: &str,
        origin: &std::sync::Arc<Document>,
    ) {
        if items.is_empty() {
            return;
        }
        let Some(key) = at.strip_prefix('/').filter(|k| !k.contains('/')) else {
            return;
        };
        let Some(object) = self.value.as_object_mut() else {
            return;
        };
        let list = object
            .entry(key.to_owned())
            .or_insert(Value::Array(Vec::new()));
        if !list.is_array() {
            *list = Value::Array(Vec::new());
        }
        let list = list.as_array_mut().expect("made a list");
        for (i, item) in items.iter().enumerate() {
            self.overlays.push(Overlay {
                at: format!("{at}/{}", list.len()),
                from: format!("{from}/{i}"),
                origin: origin.clone(),
            });
            list.push(item.clone());
        }
    }

    /// The overlay that wrote `pointer`, and the pointer in its origin.
    fn overlaid(&self, pointer: &str) -> Option<(&Document, String)> {
        self.overlays
            .iter()
            .filter(|o| within(pointer, &o.at))
            .max_by_key(|o| o.at.len())
            .map(|o| (&*o.origin, format!("{}{}", o.from, &pointer[o.at.len()..])))
    }

    /// The text the document was parsed from, when it can still be had.
    pub(crate) fn source(&self) -> Option<std::borrow::Cow<'_, str>> {
        match &self.text {
            Text::Kept(text) => Some(std::borrow::Cow::Borrowed(text)),
            Text::InFile {
                file,
                length,
                digest: parsed,
            } => {
                let bytes = crate::files::read_regular(file, MAX_FILE_BYTES).ok()?;
                let text = String::from_utf8(bytes).ok()?;
                (text.len() == *length && digest(&text) == *parsed)
                    .then_some(std::borrow::Cow::Owned(text))
            }
        }
    }

    /// Lets go of the text, which `file` holds: positions are then found by reading it again.
    pub(crate) fn release_text(&mut self, file: &Path) {
        if let Text::Kept(text) = &self.text {
            self.text = Text::InFile {
                file: file.to_path_buf(),
                length: text.len(),
                digest: digest(text),
            };
        }
    }

    /// Where the parts of `pointer` start in `source`, the document's text.
    ///
    /// Positions are needed only to report a problem, a handful of times per file at most, so
    /// none is kept: the source is parsed again, looking for this pointer alone. Keeping a
    /// position for every node would cost several times the text itself for every file of a
    /// large catalogue that has nothing to report.
    fn locate_in(source: &str, pointer: &str) -> Located {
        let mut builder = Builder::new(Track::Locate(pointer));
        // The text parsed when the document was made, so it parses again.
        let _ = builder.run(source);
        builder.located
    }

    fn locate(&self, pointer: &str) -> Located {
        self.source()
            .map(|source| Self::locate_in(&source, pointer))
            .unwrap_or_default()
    }

    /// Where each item of the list at `pointer` starts, in order (none when it is not a list).
    pub(crate) fn item_positions(&self, pointer: &str) -> Vec<Position> {
        let Some(source) = self.source() else {
            return Vec::new();
        };
        let mut builder = Builder::new(Track::Items(pointer));
        let _ = builder.run(&source);
        builder.items
    }

    /// Position of the value at `pointer` (falling back to the nearest parent that has one).
    pub fn position(&self, pointer: &str) -> Option<Position> {
        self.locate(pointer).nearest.map(|(_, at)| at)
    }

    /// Position of the key that introduces `pointer` (for "unknown key" errors).
    pub fn key_position(&self, pointer: &str) -> Option<Position> {
        let located = self.locate(pointer);
        located.key.or(located.nearest.map(|(_, at)| at))
    }

    /// Where the value at `pointer` starts, when it is written under a key (a top-level
    /// `version:`, for editing it in place); no parent stands in for it.
    pub(crate) fn keyed_value_position(&self, pointer: &str) -> Option<Position> {
        let located = self.locate(pointer);
        located.key.and(located.value)
    }

    /// The plain scalars YAML reads as a number that prints otherwise (`1.50` is 1.5): the
    /// pointer, the text as written and the number as read.
    pub(crate) fn renumbered(&self) -> impl Iterator<Item = (&str, &str, &str)> {
        self.renumbered
            .iter()
            .map(|(pointer, text, number)| (pointer.as_str(), text.as_str(), number.as_str()))
    }

    /// `diagnostic` in this file, at the character at byte `offset` of the text `value`, the
    /// scalar at `pointer`, when the scalar is written on one line as it reads (plain, or quoted
    /// without escapes before the offset); otherwise at the scalar.
    pub(crate) fn at_character(
        &self,
        diagnostic: Diagnostic,
        pointer: &str,
        value: &str,
        offset: usize,
    ) -> Diagnostic {
        let diagnostic = diagnostic.in_file(&self.path);
        let Some(source) = self.source() else {
            return diagnostic;
        };
        match Self::character_position(&source, pointer, value, offset) {
            Some(p) => diagnostic.at(&source, p),
            None => diagnostic,
        }
    }

    fn character_position(
        source: &str,
        pointer: &str,
        value: &str,
        offset: usize,
    ) -> Option<Position> {
        let start = Self::locate_in(source, pointer).value?;
        let line = source.lines().nth(start.line.checked_sub(1)?)?;
        let rest: String = line.chars().skip(start.column - 1).collect();
        let quoted = rest.starts_with(['"', '\'']);
        let written = if quoted { &rest[1..] } else { rest.as_str() };
        let before = value.get(..offset)?;
        if !written.starts_with(before) || (quoted && before.contains(['\\', '\''])) {
            return Some(start);
        }
        let column = start.column + usize::from(quoted) + before.chars().count();
        Some(Position::new(start.line, column))
    }

    /// An error pointing at the value at `pointer`.
    pub fn error_at(&self, pointer: &str, message: impl Into<String>) -> Diagnostic {
        self.diagnostic_at(Diagnostic::error(message), pointer, false)
    }

    /// An error pointing at the key of `pointer`.
    pub fn error_at_key(&self, pointer: &str, message: impl Into<String>) -> Diagnostic {
        self.diagnostic_at(Diagnostic::error(message), pointer, true)
    }

    /// An error at the key of `pointer` (when `at_key`) or at its value, with its help if any.
    pub(crate) fn error_with_help(
        &self,
        pointer: &str,
        at_key: bool,
        message: impl Into<String>,
        help: Option<String>,
    ) -> Diagnostic {
        let d = self.diagnostic_at(Diagnostic::error(message), pointer, at_key);
        match help {
            Some(h) => d.with_help(h),
            None => d,
        }
    }

    pub fn warning_at(&self, pointer: &str, message: impl Into<String>) -> Diagnostic {
        self.diagnostic_at(Diagnostic::warning(message), pointer, false)
    }

    pub fn diagnostic_at(&self, diagnostic: Diagnostic, pointer: &str, key: bool) -> Diagnostic {
        if let Some((origin, from)) = self.overlaid(pointer) {
            return origin.diagnostic_at(diagnostic, &from, key);
        }
        let diagnostic = diagnostic.in_file(&self.path);
        let Some(source) = self.source() else {
            return diagnostic;
        };
        let located = Self::locate_in(&source, pointer);
        let nearest = located.nearest.map(|(_, at)| at);
        let position = if key {
            located.key.or(nearest)
        } else {
            nearest
        };
        match position {
            Some(p) => diagnostic.at(&source, p),
            None => diagnostic,
        }
    }
}

/// Escapes one JSON-pointer segment.
pub(crate) fn pointer_segment(segment: &str) -> String {
    if segment.contains(['~', '/']) {
        segment.replace('~', "~0").replace('/', "~1")
    } else {
        segment.to_owned()
    }
}

/// Reads and parses `path`. Errors come back as diagnostics with positions.
pub(crate) fn load_file(path: &Path, display: &Path) -> Result<Document, Diagnostic> {
    parse_text(read_text(path, display)?, display)
}

/// The text of a catalogue file: a regular file of at most [`MAX_FILE_BYTES`], in UTF-8.
pub(crate) fn read_text(path: &Path, display: &Path) -> Result<String, Diagnostic> {
    use crate::files::ReadError;
    let bytes = crate::files::read_regular(path, MAX_FILE_BYTES).map_err(|e| {
        let d = Diagnostic::error(format!("cannot read the file: {e}")).in_file(display);
        match e {
            ReadError::TooLarge { .. } => Diagnostic::error(format!(
                "the file is larger than {MAX_FILE_BYTES} bytes, the limit of a catalogue file"
            ))
            .in_file(display)
            .with_help(
                "split the content into several files; a detection never needs this much text",
            ),
            ReadError::NotAFile(_) => d.with_help(
                "a catalogue holds regular files and folders only; replace it with the file itself",
            ),
            _ => d,
        }
    })?;
    String::from_utf8(bytes).map_err(|e| not_utf8(e.as_bytes(), e.utf8_error(), display))
}

/// The line and column of the first byte of `bytes` that is not UTF-8.
pub(crate) fn utf8_error_position(bytes: &[u8], error: std::str::Utf8Error) -> Position {
    let at = error.valid_up_to();
    let line_start = bytes[..at]
        .iter()
        .rposition(|b| *b == b'\n')
        .map_or(0, |i| i + 1);
    let line = memchr::memchr_iter(b'\n', &bytes[..at]).count() + 1;
    // Bytes before the bad one on its line are valid UTF-8, so they count as characters.
    let column = String::from_utf8_lossy(&bytes[line_start..at])
        .chars()
        .count()
        + 1;
    Position::new(line, column)
}

/// An error at the line and column of the first byte of `bytes` that is not UTF-8.
fn not_utf8(bytes: &[u8], error: std::str::Utf8Error, display: &Path) -> Diagnostic {
    let at = error.valid_up_to();
    let Position { line, column } = utf8_error_position(bytes, error);
    let lossy = String::from_utf8_lossy(bytes);
    Diagnostic::error(format!(
        "the file is not valid UTF-8: byte 0x{:02x} cannot start or continue a character",
        bytes[at]
    ))
    .in_file(display)
    .at(&lossy, Position::new(line, column))
    .with_help("save the file as UTF-8")
}

/// Parses YAML text. `display` is the path shown in diagnostics.
pub(crate) fn parse_str(source: &str, display: &Path) -> Result<Document, Diagnostic> {
    parse_text(source.to_owned(), display)
}

/// Parses YAML text, which the document keeps. `display` is the path shown in diagnostics.
fn parse_text(source: String, display: &Path) -> Result<Document, Diagnostic> {
    if source.len() as u64 > MAX_FILE_BYTES {
        return Err(Diagnostic::error(format!(
            "document is {} bytes; catalogue files are limited to {} bytes",
            source.len(),
            MAX_FILE_BYTES
        ))
        .in_file(display));
    }
    let mut builder = Builder::new(Track::Renumbered);
    let mut documents = builder
        .run(&source)
        .map_err(|e| e.into_diagnostic(&source, display))?;
    if documents.len() > 1 {
        return Err(Diagnostic::error(
            "a catalogue file holds one YAML document; this one holds several (`---`)",
        )
        .in_file(display));
    }
    let value = documents.pop().unwrap_or(Value::Null);
    if value.is_null() {
        return Err(Diagnostic::error("the file is empty")
            .in_file(display)
            .with_help("a catalogue file holds one YAML mapping; see detections/schema.json"));
    }
    Ok(Document {
        path: display.to_path_buf(),
        text: Text::Kept(source),
        value,
        renumbered: builder.renumbered,
        overlays: Vec::new(),
    })
}

/// RFC 7386 merge of `patch` into `target`; `set` collects (pointer in the target, pointer in
/// the patch's document) of every value the patch wrote.
fn merge(target: &mut Value, patch: &Value, at: &str, from: &str, set: &mut Vec<(String, String)>) {
    let Value::Object(changes) = patch else {
        *target = patch.clone();
        set.push((at.to_owned(), from.to_owned()));
        return;
    };
    if !target.is_object() {
        // A mapping the patch creates is all the patch's, missing keys included.
        *target = Value::Object(Map::new());
        set.push((at.to_owned(), from.to_owned()));
    }
    let object = target.as_object_mut().expect("made an object");
    for (key, value) in changes {
        let segment = pointer_segment(key);
        let (at, from) = (format!("{at}/{segment}"), format!("{from}/{segment}"));
        if value.is_null() {
            object.shift_remove(key);
        } else {
            let slot = object.entry(key.clone()).or_insert(Value::Null);
            merge(slot, value, &at, &from, set);
        }
    }
}

/// Parses every document of a YAML stream into values, without positions: for checking what
/// rulecast itself wrote.
pub(crate) fn parse_documents(source: &str) -> Result<Vec<Value>, ParseError> {
    Builder::new(Track::Nothing).run(source)
}

/// A parse failure with its position.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParseError {
    position: Position,
    message: String,
    help: Option<String>,
}

impl std::fmt::Display for ParseError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "line {} column {}: {}",
            self.position.line, self.position.column, self.message
        )
    }
}

impl std::error::Error for ParseError {}

impl ParseError {
    fn into_diagnostic(self, source: &str, display: &Path) -> Diagnostic {
        let d = Diagnostic::error(format!("invalid YAML: {}", self.message))
            .in_file(display)
            .at(source, self.position);
        match self.help {
            Some(h) => d.with_help(h),
            None => d,
        }
    }
}

/// The innermost flow bracket (`[` or `{`) still open at `at`, if it was opened on an earlier
/// line: a flow collection spanning lines is rare in a catalogue, an unclosed one is the usual
/// cause. Quoted text and comments are skipped.
fn unclosed_flow(source: &str, at: Position) -> Option<(char, Position)> {
    let mut open: Vec<(char, Position)> = Vec::new();
    for (index, line) in source.lines().enumerate().take(at.line.saturating_sub(1)) {
        let mut quote: Option<char> = None;
        let mut previous = ' ';
        for (column, c) in line.chars().enumerate() {
            let after_space = previous.is_whitespace();
            // A quote opens a quoted scalar only where a value starts (`It's` is plain text).
            let starts_value = after_space || matches!(previous, '[' | '{' | ',');
            previous = c;
            match (quote, c) {
                (Some(q), c) if c == q => quote = None,
                (None, '"' | '\'') if starts_value => quote = Some(c),
                (None, '#') if after_space => break,
                (None, '[' | '{') => open.push((c, Position::new(index + 1, column + 1))),
                (None, ']' | '}') => {
                    open.pop();
                }
                _ => {}
            }
        }
    }
    open.pop()
}

/// The YAML merge key.
const MERGE_KEY: &str = "<<";

/// Builds JSON values from the parser's event stream, recording where every key and value is.
///
/// The catalogue format needs only YAML's data model (maps, lists, scalars of the core schema),
/// so the tree is built directly from events: this keeps positions exact, rejects duplicate
/// keys, and bounds alias expansion and nesting, at a fraction of the cost of a general
/// deserializer.
struct Builder<'a> {
    track: Track<'a>,
    /// The JSON pointer of the node being built (a frame keeps the length of its own), built
    /// only when a position is looked for: one buffer, not a string per node.
    path: String,
    /// Plain scalars read as numbers whose canonical form is not their text (`1.50`, `007`,
    /// `0x1f`): the pointer, the text as written and the number as read.
    renumbered: Vec<(String, String, String)>,
    /// What [`Track::Locate`] found.
    located: Located,
    /// What [`Track::Items`] found.
    items: Vec<Position>,
    /// Anchor id -> the anchored value and its node count.
    anchors: HashMap<usize, (Value, usize)>,
    nodes: usize,
}

/// What the builder records besides the values.
#[derive(Clone, Copy)]
enum Track<'a> {
    /// Nothing: checking what rulecast itself wrote.
    Nothing,
    /// The numbers that print otherwise: loading a catalogue file.
    Renumbered,
    /// Where the node at this pointer (or else its nearest parent) and its key start: locating
    /// a diagnostic.
    Locate(&'a str),
    /// Where each item of the list at this pointer starts.
    Items(&'a str),
}

/// The positions [`Track::Locate`] looks for.
#[derive(Debug, Default)]
struct Located {
    key: Option<Position>,
    /// Where the pointer itself starts.
    value: Option<Position>,
    /// Where the pointer or its nearest parent with a position starts: the length of that
    /// parent's pointer, and its position.
    nearest: Option<(usize, Position)>,
}

enum Frame {
    Seq {
        items: Vec<Value>,
        pointer: usize,
        anchor: usize,
        start: usize,
    },
    Map {
        object: Map<String, Value>,
        pointer: usize,
        key: Option<(String, Position)>,
        anchor: usize,
        start: usize,
        /// Mappings merged in with `<<`; their keys apply where the mapping has none of its own.
        merges: Vec<Map<String, Value>>,
    },
}

impl<'a> Builder<'a> {
    fn new(track: Track<'a>) -> Builder<'a> {
        Builder {
            track,
            path: String::new(),
            renumbered: Vec::new(),
            located: Located::default(),
            items: Vec::new(),
            anchors: HashMap::new(),
            nodes: 0,
        }
    }

    fn error(position: Position, message: impl Into<String>) -> ParseError {
        ParseError {
            position,
            message: message.into(),
            help: None,
        }
    }

    fn run(&mut self, source: &str) -> Result<Vec<Value>, ParseError> {
        use serde_saphyr::granit_parser::{Event, Parser, ScalarStyle};
        let mut documents = Vec::new();
        let mut stack: Vec<Frame> = Vec::new();
        let mut root: Option<Value> = None;
        for item in Parser::new_from_str(source) {
            let (event, span) = item.map_err(|e| {
                let mark = e.marker();
                let position = Position::new(mark.line(), mark.col() + 1);
                let message = e.info();
                let mut help = if message.contains("mapping values are not allowed")
                    || message.contains("':'")
                {
                    Some("a value containing ': ' must be quoted, e.g. title: \"a: b\"".to_owned())
                } else {
                    None
                };
                // The parser notices an unclosed `[` or `{` only where the text stops making
                // sense, often lines later; name the bracket, which is the real mistake.
                if let Some(open) = unclosed_flow(source, position) {
                    help = Some(format!(
                        "the `{}` at line {}, column {} is never closed",
                        open.0, open.1.line, open.1.column
                    ));
                }
                ParseError {
                    position,
                    message,
                    help,
                }
            })?;
            let at = Position::new(span.start.line(), span.start.col() + 1);
            let (value, anchor, size) = match event {
                Event::DocumentEnd => {
                    documents.push(root.take().unwrap_or(Value::Null));
                    self.anchors.clear();
                    continue;
                }
                Event::SequenceStart(_, anchor, ref tag)
                | Event::MappingStart(_, anchor, ref tag) => {
                    if let Some(tag) = tag
                        && !tag.is_yaml_core_schema()
                    {
                        return Err(Self::error(
                            at,
                            format!(
                                "the tag `!{}` is not supported; catalogue files use plain YAML",
                                tag.suffix()
                            ),
                        ));
                    }
                    if stack.len() >= MAX_DEPTH {
                        return Err(ParseError {
                            position: at,
                            message: format!("the document nests more than {MAX_DEPTH} levels deep"),
                            help: Some("a catalogue file needs a few levels of nesting; flatten the structure".to_owned()),
                        });
                    }
                    let pointer = self.child_pointer(&stack, at)?;
                    self.count(1, at)?;
                    let is_seq = matches!(event, Event::SequenceStart(..));
                    let start = self.nodes;
                    stack.push(if is_seq {
                        Frame::Seq {
                            items: Vec::new(),
                            pointer,
                            anchor,
                            start,
                        }
                    } else {
                        Frame::Map {
                            object: Map::new(),
                            pointer,
                            key: None,
                            anchor,
                            start,
                            merges: Vec::new(),
                        }
                    });
                    continue;
                }
                Event::SequenceEnd | Event::MappingEnd => match stack.pop() {
                    Some(Frame::Seq {
                        items,
                        anchor,
                        start,
                        ..
                    }) => (Value::Array(items), anchor, self.nodes - start + 1),
                    Some(Frame::Map {
                        mut object,
                        anchor,
                        start,
                        merges,
                        ..
                    }) => {
                        for merged in merges {
                            for (k, v) in merged {
                                object.entry(k).or_insert(v);
                            }
                        }
                        (Value::Object(object), anchor, self.nodes - start + 1)
                    }
                    None => continue,
                },
                Event::Scalar(text, style, anchor, tag) => {
                    let plain = matches!(style, ScalarStyle::Plain);
                    // The text of a plain scalar read as a number that prints otherwise.
                    let mut renumbered: Option<String> = None;
                    let value = match tag {
                        Some(tag) if tag.is_yaml_core_schema() && tag.suffix() == "str" => {
                            Value::String(text.into_owned())
                        }
                        Some(tag)
                            if !tag.is_yaml_core_schema()
                                || !["int", "float", "bool", "null"].contains(&tag.suffix()) =>
                        {
                            return Err(Self::error(
                                at,
                                format!(
                                    "the tag `!{}` is not supported; catalogue files use plain YAML",
                                    tag.suffix()
                                ),
                            ));
                        }
                        _ if plain => {
                            let value = resolve_plain(&text);
                            if let Value::Number(n) = &value
                                && n.to_string() != *text
                            {
                                renumbered = Some(text.into_owned());
                            }
                            value
                        }
                        _ => Value::String(text.into_owned()),
                    };
                    self.count(1, at)?;
                    // A scalar in key position is a mapping key.
                    if let Some(Frame::Map {
                        key: key @ None,
                        pointer,
                        ..
                    }) = stack.last_mut()
                    {
                        if anchor != 0 {
                            self.anchors.insert(anchor, (value.clone(), 1));
                        }
                        // A key is a name: a number keeps the digits it was written with.
                        let name = match value {
                            Value::String(s) => s,
                            Value::Null => "null".to_owned(),
                            other => renumbered.take().unwrap_or_else(|| other.to_string()),
                        };
                        if let Track::Locate(target) = self.track {
                            self.path.truncate(*pointer);
                            push_segment(&mut self.path, &name);
                            if self.located.key.is_none() && self.path == target {
                                self.located.key = Some(at);
                            }
                        }
                        *key = Some((name, at));
                        continue;
                    }
                    self.child_pointer(&stack, at)?;
                    if let (Track::Renumbered, Some(text)) = (self.track, renumbered) {
                        self.renumbered
                            .push((pointer_of_next(&stack), text, value.to_string()));
                    }
                    (value, anchor, 1)
                }
                Event::Alias(id) => {
                    let Some((value, size)) = self.anchors.get(&id).cloned() else {
                        return Err(Self::error(at, "this alias has no anchor"));
                    };
                    // Expansion counts against the node budget: an alias bomb stops here.
                    self.count(size, at)?;
                    self.child_pointer(&stack, at)?;
                    (value, 0, size)
                }
                // Stream and document starts, and events that carry no data.
                _ => continue,
            };
            if anchor != 0 {
                self.anchors.insert(anchor, (value.clone(), size));
            }
            match stack.last_mut() {
                Some(Frame::Seq { items, .. }) => items.push(value),
                Some(Frame::Map {
                    object,
                    key,
                    merges,
                    ..
                }) => {
                    let (name, key_at) = key.take().expect("a value follows its key");
                    if name == MERGE_KEY {
                        // YAML's merge key: `<<: *base` or `<<: [*a, *b]` copies in the keys the
                        // mapping does not set itself (test events share most of their fields).
                        match value {
                            Value::Object(m) => merges.push(m),
                            Value::Array(items) if items.iter().all(Value::is_object) => {
                                merges.extend(items.into_iter().filter_map(|i| match i {
                                    Value::Object(m) => Some(m),
                                    _ => None,
                                }));
                            }
                            _ => {
                                return Err(Self::error(
                                    key_at,
                                    "a merge key (`<<`) takes a mapping or a list of mappings",
                                ));
                            }
                        }
                    } else {
                        // A repeated key is found as its value is stored: one look-up.
                        match object.entry(name) {
                            serde_json::map::Entry::Vacant(slot) => {
                                slot.insert(value);
                            }
                            serde_json::map::Entry::Occupied(first) => {
                                return Err(ParseError {
                                    position: key_at,
                                    message: format!(
                                        "the key `{}` appears twice in the same mapping",
                                        first.key()
                                    ),
                                    help: Some("remove or rename one of them".to_owned()),
                                });
                            }
                        }
                    }
                }
                None => root = Some(value),
            }
        }
        if let Some(v) = root.take() {
            documents.push(v);
        }
        Ok(documents)
    }

    fn count(&mut self, nodes: usize, at: Position) -> Result<(), ParseError> {
        self.nodes += nodes;
        if self.nodes > MAX_NODES {
            return Err(ParseError {
                position: at,
                message: "the document expands to too many values (is it an alias bomb?)"
                    .to_owned(),
                help: Some(format!(
                    "catalogue files are limited to {MAX_NODES} values after aliases are expanded; write the values out instead of repeating aliases"
                )),
            });
        }
        Ok(())
    }

    /// Makes `path` the JSON pointer of the next child of the innermost collection, returns its
    /// length and records its position when it is looked for. Without anything tracked
    /// (checking rulecast's own output) no pointer is built at all.
    fn child_pointer(&mut self, stack: &[Frame], at: Position) -> Result<usize, ParseError> {
        if let Some(Frame::Map { key: None, .. }) = stack.last() {
            return Err(Self::error(
                at,
                "a mapping key must be text, not a list or a mapping",
            ));
        }
        // Loading keeps no position; the few numbers it records build their own pointers.
        if matches!(self.track, Track::Nothing | Track::Renumbered) {
            return Ok(0);
        }
        match stack.last() {
            None => self.path.clear(),
            Some(Frame::Seq { items, pointer, .. }) => {
                use std::fmt::Write as _;
                self.path.truncate(*pointer);
                write!(self.path, "/{}", items.len()).expect("writing to a String cannot fail");
            }
            Some(Frame::Map {
                key: Some((name, _)),
                pointer,
                ..
            }) => {
                self.path.truncate(*pointer);
                push_segment(&mut self.path, name);
            }
            Some(Frame::Map { key: None, .. }) => unreachable!("checked above"),
        }
        if let (Track::Items(list), Some(Frame::Seq { pointer, .. })) = (self.track, stack.last())
            && self.path[..*pointer] == *list
        {
            self.items.push(at);
        }
        if let Track::Locate(target) = self.track
            && within(target, &self.path)
        {
            // The first position recorded for a pointer is where the node starts.
            let length = self.path.len();
            if self.located.nearest.is_none_or(|(l, _)| l < length) {
                self.located.nearest = Some((length, at));
                if length == target.len() {
                    self.located.value = Some(at);
                }
            }
        }
        Ok(self.path.len())
    }
}

/// The JSON pointer of the next child of the innermost collection of `stack`, built from the
/// keys and item counts of the collections it is in.
fn pointer_of_next(stack: &[Frame]) -> String {
    use std::fmt::Write as _;
    let mut pointer = String::new();
    for frame in stack {
        match frame {
            Frame::Seq { items, .. } => {
                write!(pointer, "/{}", items.len()).expect("writing to a String cannot fail");
            }
            Frame::Map {
                key: Some((name, _)),
                ..
            } => push_segment(&mut pointer, name),
            // Only the innermost collection can be waiting for a key, and a value follows one.
            Frame::Map { key: None, .. } => {}
        }
    }
    pointer
}

/// Appends `/` and `segment`, escaped as a JSON-pointer segment, to `path`.
pub(crate) fn push_segment(path: &mut String, segment: &str) {
    path.push('/');
    if segment.contains(['~', '/']) {
        path.push_str(&pointer_segment(segment));
    } else {
        path.push_str(segment);
    }
}

/// YAML 1.2 core-schema resolution of a plain scalar.
fn resolve_plain(text: &str) -> Value {
    match text {
        "" | "~" | "null" | "Null" | "NULL" => return Value::Null,
        "true" | "True" | "TRUE" => return Value::Bool(true),
        "false" | "False" | "FALSE" => return Value::Bool(false),
        _ => {}
    }
    let digits = text.strip_prefix(['-', '+']).unwrap_or(text);
    if !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit()) {
        if let Ok(i) = text.parse::<i64>() {
            return Value::Number(i.into());
        }
        if let Ok(u) = text.parse::<u64>() {
            return Value::Number(u.into());
        }
    }
    if let Some(hex) = text.strip_prefix("0x")
        && let Ok(i) = i64::from_str_radix(hex, 16)
    {
        return Value::Number(i.into());
    }
    if let Some(oct) = text.strip_prefix("0o")
        && let Ok(i) = i64::from_str_radix(oct, 8)
    {
        return Value::Number(i.into());
    }
    let looks_float = digits.starts_with(|c: char| c.is_ascii_digit() || c == '.')
        && digits.bytes().all(|b| {
            b.is_ascii_digit() || b == b'.' || b == b'e' || b == b'E' || b == b'-' || b == b'+'
        })
        && digits.bytes().any(|b| b.is_ascii_digit());
    if looks_float && let Some(n) = text.parse::<f64>().ok().and_then(Number::from_f64) {
        return Value::Number(n);
    }
    // .inf and .nan have no JSON form; no catalogue field takes them, so they stay text.
    Value::String(text.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_positions_of_keys_and_values() {
        let doc = parse_str(
            "id: abc\nlist:\n  - a: 1\n    b: [x, y]\n",
            Path::new("t.yaml"),
        )
        .unwrap();
        assert_eq!(doc.position("/id"), Some(Position::new(1, 5)));
        assert_eq!(doc.key_position("/list/0/b"), Some(Position::new(4, 5)));
        assert_eq!(doc.position("/list/0/b/1"), Some(Position::new(4, 12)));
        // A pointer below a scalar falls back to the scalar.
        assert_eq!(doc.position("/id/deeper"), Some(Position::new(1, 5)));
    }

    #[test]
    fn a_released_text_is_read_again_and_used_only_while_unchanged() {
        let folder = tempfile::tempdir().unwrap();
        let file = folder.path().join("d.yaml");
        std::fs::write(&file, "id: abc\nlist: [x, y]\n").unwrap();
        let mut doc = load_file(&file, &file).unwrap();
        doc.release_text(&file);
        assert_eq!(doc.position("/list/1"), Some(Position::new(2, 11)));
        let d = doc.error_at("/id", "x");
        assert_eq!(d.position(), Some(Position::new(1, 5)));
        // Edited since it was parsed: no position rather than a wrong one.
        std::fs::write(&file, "# a comment\nid: abc\nlist: [x, y]\n").unwrap();
        assert_eq!(doc.position("/list/1"), None);
        let d = doc.error_at("/id", "x");
        assert_eq!((d.file(), d.position()), (Some(file.as_path()), None));
    }

    #[test]
    fn an_overlay_merges_like_a_merge_patch_and_locates_what_it_wrote() {
        let mut doc = parse_str(
            "a: { keep: 1, drop: 2, list: [x, y] }\nb: 3\n",
            Path::new("t.yaml"),
        )
        .unwrap();
        let origin = std::sync::Arc::new(
            parse_str(
                "env:\n  over:\n    a: { drop: null, list: [z] }\n    b: 4\n",
                Path::new("o.yaml"),
            )
            .unwrap(),
        );
        let patch = origin.value["env"]["over"].clone();
        doc.overlay("", &patch, "/env/over", &origin);
        assert_eq!(
            doc.value,
            serde_json::json!({ "a": { "keep": 1, "list": ["z"] }, "b": 4 })
        );
        let at = |pointer: &str| {
            let d = doc.error_at(pointer, "x");
            (
                d.file().map(Path::to_path_buf),
                d.position().map(|p| p.line),
            )
        };
        let file = |f: &str| Some(Path::new(f).to_path_buf());
        assert_eq!(at("/b"), (file("o.yaml"), Some(4)));
        assert_eq!(at("/a/list/0"), (file("o.yaml"), Some(3)));
        assert_eq!(at("/a/keep"), (file("t.yaml"), Some(1)));
    }

    #[test]
    fn syntax_error_has_position() {
        let err = parse_str("a: 1\nb: [1, 2\nc: 3\n", Path::new("t.yaml")).unwrap_err();
        assert_eq!(err.position().map(|p| p.line), Some(3));
        assert!(
            err.message().starts_with("invalid YAML"),
            "{}",
            err.message()
        );
    }

    #[test]
    fn numbers_that_print_otherwise_are_recorded_with_their_text() {
        let doc = parse_str(
            "a: 1.50\nb: 1.5\nc: 007\nd: '1.50'\ne: [0x1f, 3]\n1.50: key\n",
            Path::new("t.yaml"),
        )
        .unwrap();
        let found: Vec<(&str, &str, &str)> = doc.renumbered().collect();
        assert_eq!(
            found,
            [
                ("/a", "1.50", "1.5"),
                ("/c", "007", "7"),
                ("/e/0", "0x1f", "31")
            ]
        );
        assert_eq!(doc.value["1.50"], "key", "a key keeps its digits");
    }

    #[test]
    fn duplicate_keys_are_rejected() {
        let err = parse_str("a: 1\na: 2\n", Path::new("t.yaml")).unwrap_err();
        assert!(
            err.message().contains("`a` appears twice"),
            "{}",
            err.message()
        );
    }

    #[test]
    fn merge_keys_fill_in_what_the_mapping_lacks() {
        let doc = parse_str(
            "base: &b {a: 1, b: 2}\nx:\n  <<: *b\n  b: 3\ny: {c: 4, <<: [*b, {d: 5}]}\n",
            Path::new("m.yaml"),
        )
        .unwrap();
        assert_eq!(doc.value["x"], serde_json::json!({"b": 3, "a": 1}));
        assert_eq!(
            doc.value["y"],
            serde_json::json!({"c": 4, "a": 1, "b": 2, "d": 5})
        );
        let err = parse_str("x:\n  <<: 3\n", Path::new("m.yaml")).unwrap_err();
        assert!(err.message().contains("merge key"), "{}", err.message());
    }

    #[test]
    fn alias_bomb_is_stopped() {
        let mut src = String::from("a: &a [x,x,x,x,x,x,x,x,x,x]\n");
        for (prev, name) in ["a", "b", "c", "d", "e", "f", "g"]
            .iter()
            .zip(["b", "c", "d", "e", "f", "g", "h"])
        {
            src.push_str(&format!(
                "{name}: &{name} [{}]\n",
                vec![format!("*{prev}"); 10].join(",")
            ));
        }
        let err = parse_str(&src, Path::new("bomb.yaml")).unwrap_err();
        assert!(err.message().contains("alias bomb"), "{}", err.message());
    }

    #[test]
    fn deep_nesting_is_stopped() {
        let src = format!("a: {}{}\n", "[".repeat(200), "]".repeat(200));
        let err = parse_str(&src, Path::new("deep.yaml")).unwrap_err();
        assert!(err.message().contains("levels deep"), "{}", err.message());
    }
}
