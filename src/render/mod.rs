//! Templates: every output file format is a Tera template under `templates/`.
//!
//! Each target embeds its templates in the binary ([`crate::targets::Target::templates`]: a
//! fresh `cargo install` renders without the source tree), and `--templates DIR` overrides any
//! of them by name, for organisations with their own
//! conventions. Templates receive plain data and must print every value through an encoding
//! filter (`yaml`, `yaml_block`, `json`, `arm`, `conf`, `csv`, `md`); a template that prints a value
//! raw is rejected when loaded, so an override cannot reintroduce an injection.

pub mod encode;
mod marks;

use std::path::{Path, PathBuf};

use tera::{Context, Kwargs, State, Tera, Value};

use crate::diagnostic::{Diagnostic, Diagnostics, Position, display_path};
use crate::targets::{Target, Targets};

/// Extension of template files on disk.
pub(crate) const TEMPLATE_SUFFIX: &str = ".tera";

/// Filters that make a printed value safe for its file format. `placeholder` prints a column
/// name as a platform's placeholder (`{{Actor}}`, `$Actor$`): only an identifier passes it, so
/// it can print nothing else.
const ENCODING_FILTERS: [&str; 8] = [
    "yaml",
    "yaml_block",
    "json",
    "arm",
    "conf",
    "csv",
    "md",
    "placeholder",
];

/// The loaded templates.
pub struct Templates {
    tera: Tera,
    /// Where each template came from, for messages about what it rendered.
    paths: std::collections::HashMap<String, PathBuf>,
    /// The names `--templates` overrode.
    overridden: std::collections::HashSet<String>,
}

impl Templates {
    /// The built-in templates of `targets`, with those in `overrides` replacing them by name.
    pub fn load(targets: &Targets, overrides: Option<&Path>) -> Result<Templates, Diagnostics> {
        let mut diagnostics = Diagnostics::new();
        let mut sources: Vec<(String, String, PathBuf)> = targets
            .iter()
            .flat_map(Target::templates)
            .map(|(n, s)| {
                (
                    (*n).to_owned(),
                    (*s).to_owned(),
                    PathBuf::from(format!("templates/{n}{TEMPLATE_SUFFIX}")),
                )
            })
            .collect();
        let mut overridden = std::collections::HashSet::new();
        if let Some(dir) = overrides {
            load_overrides(dir, &mut sources, &mut overridden, &mut diagnostics);
        }
        let mut tera = Tera::new();
        // Output formats are YAML, JSON and .conf, never HTML: encoding is explicit (filters).
        tera.autoescape_on(Vec::<&str>::new());
        register_filters(&mut tera);
        for (name, source, path) in &sources {
            if let Err(d) = lint(name, source, path) {
                diagnostics.push(d);
            }
            // Parse each template alone first, so a syntax error names its own file.
            if let Err(e) = Tera::new().add_raw_template(name, source)
                && matches!(e.kind(), tera::ErrorKind::SyntaxError(_))
            {
                diagnostics.push(template_error(&e, path, source));
            }
        }
        if diagnostics.has_errors() {
            return Err(diagnostics);
        }
        // Then together, so includes resolve.
        if let Err(e) =
            tera.add_raw_templates(sources.iter().map(|(n, s, _)| (n.as_str(), s.as_str())))
        {
            let culprit = sources
                .iter()
                .find(|(n, _, _)| error_text(&e).contains(n.as_str()));
            let d = match culprit {
                Some((_, source, path)) => template_error(&e, path, source),
                None => Diagnostic::error(format!("template error: {}", error_text(&e))),
            };
            diagnostics.push(d);
            return Err(diagnostics);
        }
        let paths = sources.into_iter().map(|(n, _, p)| (n, p)).collect();
        Ok(Templates {
            tera,
            paths,
            overridden,
        })
    }

    /// Whether template `name` is the built-in one, which the tests and the conformance suite
    /// hold to its file format: a file it renders from typed values needs no reading back,
    /// unlike one rendered by a user's override.
    pub fn is_builtin(&self, name: &str) -> bool {
        !self.overridden.contains(name)
    }

    /// Whether every template of `names` is the built-in one ([`Templates::is_builtin`]): a
    /// file rendered through several templates is checked on its values only when none is
    /// overridden.
    pub fn are_builtin(&self, names: &[&str]) -> bool {
        names.iter().all(|name| self.is_builtin(name))
    }

    /// Renders template `name`, and checks that every value in the result is still exactly
    /// what its encoding filter wrote, by a filter that suits the file's format.
    pub fn render(&self, name: &str, context: &Context) -> Result<String, Diagnostic> {
        let (rendered, written) = marks::recording(|| self.tera.render(name, context));
        let rendered = rendered.map_err(|e| {
            let message = match e.kind() {
                tera::ErrorKind::RenderingError(report) => report.message().to_owned(),
                _ => error_text(&e),
            };
            Diagnostic::error(format!("template `{name}` failed: {message}"))
        })?;
        marks::verify(name, &rendered, &written).map_err(|problem| {
            let d =
                Diagnostic::error(format!("template `{name}` {problem}")).with_help(problem.help());
            match self.paths.get(name) {
                Some(path) => d.in_file(path),
                None => d,
            }
        })
    }
}

fn error_text(e: &tera::Error) -> String {
    let mut text = e.to_string();
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        text.push_str(&format!(": {s}"));
        source = s.source();
    }
    text
}

fn load_overrides(
    dir: &Path,
    sources: &mut [(String, String, PathBuf)],
    overridden: &mut std::collections::HashSet<String>,
    diagnostics: &mut Diagnostics,
) {
    if !dir.is_dir() {
        diagnostics.push(Diagnostic::error(format!(
            "template folder `{}` does not exist",
            display_path(dir)
        )));
        return;
    }
    let names: Vec<String> = sources.iter().map(|(n, _, _)| n.clone()).collect();
    for entry in walkdir::WalkDir::new(dir)
        .follow_links(true)
        .sort_by_file_name()
    {
        let entry = match entry {
            Ok(entry) => entry,
            Err(e) => {
                diagnostics.push(crate::files::walk_error("template folder", &e));
                continue;
            }
        };
        if entry.file_type().is_dir() {
            continue;
        }
        let relative = entry.path().strip_prefix(dir).unwrap_or(entry.path());
        let name = display_path(relative);
        let Some(name) = name.strip_suffix(TEMPLATE_SUFFIX) else {
            continue;
        };
        match sources.iter_mut().find(|(n, _, _)| n == name) {
            Some(slot) => match crate::yaml::read_text(entry.path(), entry.path()) {
                Ok(text) => {
                    slot.1 = text;
                    slot.2 = entry.path().to_path_buf();
                    overridden.insert(slot.0.clone());
                }
                Err(d) => diagnostics.push(d),
            },
            None => diagnostics.push(
                Diagnostic::error(format!("`{name}` does not override any built-in template"))
                    .in_file(entry.path())
                    .with_help(format!("templates: {}", names.join(", "))),
            ),
        }
    }
}

/// Rejects `{{ ... }}` that does not end in an encoding filter.
fn lint(name: &str, source: &str, path: &Path) -> Result<(), Diagnostic> {
    let mut offset = 0;
    while let Some(start) = source[offset..].find("{{") {
        let start = offset + start;
        let Some(end) = source[start..].find("}}") else {
            break;
        };
        let end = start + end;
        let inner = source[start + 2..end].trim_matches(|c: char| c == '-' || c.is_whitespace());
        let last_filter = inner.rsplit('|').next().map(str::trim).unwrap_or_default();
        let filter_name = last_filter.split(['(', ' ']).next().unwrap_or_default();
        let has_filter = inner.contains('|') && ENCODING_FILTERS.contains(&filter_name);
        if !has_filter {
            let line = source[..start].matches('\n').count() + 1;
            let column = start - source[..start].rfind('\n').map(|i| i + 1).unwrap_or(0) + 1;
            return Err(Diagnostic::error(format!(
                "template `{name}` prints `{{{{ {inner} }}}}` without an encoding filter"
            ))
            .in_file(path)
            .at(source, Position::new(line, column))
            .with_help(format!(
                "end the expression with one of: {}",
                ENCODING_FILTERS.join(", ")
            )));
        }
        offset = end + 2;
    }
    Ok(())
}

fn template_error(e: &tera::Error, path: &Path, source: &str) -> Diagnostic {
    match e.kind() {
        tera::ErrorKind::SyntaxError(report) => {
            let span = report.span();
            Diagnostic::error(format!("template syntax error: {}", report.message()))
                .in_file(path)
                .at(source, Position::new(span.start_line, span.start_col + 1))
        }
        _ => Diagnostic::error(format!("template error: {}", error_text(e))).in_file(path),
    }
}

fn as_text(value: &Value) -> Option<std::borrow::Cow<'_, str>> {
    if let Some(s) = value.as_str() {
        return Some(std::borrow::Cow::Borrowed(s));
    }
    if value.is_number() || value.is_bool() {
        return Some(std::borrow::Cow::Owned(value.to_string()));
    }
    None
}

fn register_filters(tera: &mut Tera) {
    tera.register_filter(
        "yaml",
        |value: Value, _: Kwargs, _: &State| -> tera::TeraResult<String> {
            let value = marks::unmarked_value(value)?;
            match as_text(&value) {
                Some(text) if value.as_str().is_some() => {
                    Ok(marks::mark("yaml", encode::yaml_scalar(&text)))
                }
                Some(text) => Ok(marks::mark("yaml", text.into_owned())),
                None => Err(tera::Error::message(
                    "the yaml filter takes a string, number or boolean",
                )),
            }
        },
    );
    tera.register_filter(
        "yaml_block",
        |value: &str, kwargs: Kwargs, _: &State| -> tera::TeraResult<String> {
            let value = marks::unmarked(value)?;
            let indent: i64 = kwargs.get("indent")?.unwrap_or(2);
            Ok(marks::mark(
                "yaml_block",
                encode::yaml_block(&value, indent.clamp(1, 32) as usize),
            ))
        },
    );
    tera.register_filter(
        "json",
        |value: Value, _: Kwargs, _: &State| -> tera::TeraResult<String> {
            let value = marks::unmarked_value(value)?;
            serde_json::to_string(&value)
                .map(|text| marks::mark("json", text))
                .map_err(|e| tera::Error::message(e.to_string()))
        },
    );
    tera.register_filter(
        "arm",
        |value: &str, _: Kwargs, _: &State| -> tera::TeraResult<String> {
            Ok(marks::mark(
                "arm",
                encode::arm_string(&marks::unmarked(value)?),
            ))
        },
    );
    tera.register_filter(
        "conf",
        |value: Value, _: Kwargs, _: &State| -> tera::TeraResult<String> {
            let value = marks::unmarked_value(value)?;
            let text = as_text(&value)
                .ok_or_else(|| tera::Error::message("the conf filter takes a string"))?;
            encode::conf_value(&text)
                .map(|t| marks::mark("conf", t))
                .map_err(|e| {
                    // Name the value: this error has no detection attached to say which one it
                    // was.
                    let shown: String = text.chars().take(40).collect();
                    tera::Error::message(format!(
                        "{} (the value {shown:?}{})",
                        e,
                        if shown.len() < text.len() { "..." } else { "" }
                    ))
                })
        },
    );
    tera.register_filter(
        "csv",
        |value: &str, _: Kwargs, _: &State| -> tera::TeraResult<String> {
            Ok(marks::mark(
                "csv",
                encode::csv_field(&marks::unmarked(value)?),
            ))
        },
    );
    tera.register_filter(
        "placeholder",
        |value: &str, kwargs: Kwargs, _: &State| -> tera::TeraResult<String> {
            let syntax = match kwargs.get::<&str>("syntax")?.unwrap_or("sentinel") {
                "sentinel" => crate::targets::alert_text::SENTINEL,
                "splunk" => crate::targets::alert_text::SPLUNK,
                other => {
                    return Err(tera::Error::message(format!(
                        "placeholder syntax `{other}` is not sentinel or splunk"
                    )));
                }
            };
            if !crate::identifier::is_identifier(value) {
                return Err(tera::Error::message(format!(
                    "`{value}` is not a column name (letters, digits and _), so it cannot be a placeholder"
                )));
            }
            Ok(marks::mark(
                "placeholder",
                format!("{}{value}{}", syntax.open, syntax.close),
            ))
        },
    );
    tera.register_filter(
        "md",
        |value: Value, _: Kwargs, _: &State| -> tera::TeraResult<String> {
            let value = marks::unmarked_value(value)?;
            let text = as_text(&value)
                .ok_or_else(|| tera::Error::message("the md filter takes a string"))?;
            Ok(marks::mark("md", encode::markdown_text(&text)))
        },
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builtin_templates_load() {
        Templates::load(&crate::targets::Targets::builtin(), None)
            .unwrap_or_else(|d| panic!("{d}"));
    }

    #[test]
    fn raw_prints_are_rejected() {
        let err = lint(
            "x",
            "a: {{ value }}\nb: {{ other | yaml }}\n",
            Path::new("x.tera"),
        )
        .unwrap_err();
        assert_eq!(err.position(), Some(Position::new(1, 4)));
        assert!(err.message().contains("without an encoding filter"));
        assert!(
            lint(
                "x",
                "{{ a | lower | yaml }} {{- b | json -}}",
                Path::new("x")
            )
            .is_ok()
        );
        assert!(lint("x", "{{ a | yaml | lower }}", Path::new("x")).is_err());
    }

    #[test]
    fn a_literal_placeholder_prints_through_its_filter_only() {
        assert!(lint("x", r#"{{ "Actor" | placeholder }}"#, Path::new("x")).is_ok());
        assert!(lint("x", r#"{{ "{{Actor}}" }}"#, Path::new("x")).is_err());
        let mut tera = Tera::new();
        tera.autoescape_on(Vec::<&str>::new());
        register_filters(&mut tera);
        tera.add_raw_template(
            "t",
            r#"{{ c | placeholder }} {{ c | placeholder(syntax="splunk") }}"#,
        )
        .unwrap();
        let mut ctx = Context::new();
        ctx.insert("c", "RoleName");
        assert_eq!(tera.render("t", &ctx).unwrap(), "{{RoleName}} $RoleName$");
        ctx.insert("c", "x}} {{y");
        assert!(tera.render("t", &ctx).is_err());
    }

    #[test]
    fn catalogue_values_are_never_executed_as_templates() {
        let mut tera = Tera::new();
        tera.autoescape_on(Vec::<&str>::new());
        register_filters(&mut tera);
        tera.add_raw_template("t", "v: {{ v | yaml }}").unwrap();
        let mut ctx = Context::new();
        ctx.insert("v", "{{ 7 * 7 }} {% raw %}");
        assert_eq!(
            tera.render("t", &ctx).unwrap(),
            "v: \"{{ 7 * 7 }} {% raw %}\""
        );
    }
}
