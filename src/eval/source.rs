//! A log source prepared for evaluation: its columns located in both shapes, its fields
//! compiled, so reading an event does no name lookups.

use serde_json::value::RawValue;

use super::field::FieldPlan;
use super::key_tree::{Found, KeyTree};
use super::record::Record;
use super::shape::{Shape, path_keys};
use crate::catalogue::logsource::LogSourceFile;

#[derive(Debug, Clone)]
pub(crate) struct SourcePlan {
    /// The Log Analytics table, which rows name in their `Type` column.
    pub table: String,
    columns: Vec<String>,
    /// Each column's keys in the diagnostic record.
    diagnostic_paths: Vec<Vec<String>>,
    /// Each column's slot path in the engine's key tree, as a row and as a diagnostic record.
    row_slots: Vec<Vec<usize>>,
    diagnostic_slots: Vec<Vec<usize>>,
    time_column: usize,
    event_id_column: Option<usize>,
    fields: Vec<FieldPlan>,
    field_names: Vec<String>,
}

impl SourcePlan {
    /// Registers the source's columns, in both shapes, in `keys`. Validation guarantees the
    /// time and id columns are declared.
    pub(crate) fn new(source: &LogSourceFile, keys: &mut KeyTree) -> SourcePlan {
        let columns: Vec<String> = source.columns.keys().cloned().collect();
        let diagnostic_paths: Vec<Vec<String>> = source
            .columns
            .values()
            .map(|c| {
                path_keys(&c.diagnostic)
                    .into_iter()
                    .map(str::to_owned)
                    .collect()
            })
            .collect();
        SourcePlan {
            table: source.table.clone(),
            row_slots: columns.iter().map(|c| keys.insert(&[c.as_str()])).collect(),
            diagnostic_slots: diagnostic_paths
                .iter()
                .map(|p| keys.insert(&p.iter().map(String::as_str).collect::<Vec<_>>()))
                .collect(),
            time_column: source
                .columns
                .get_index_of(&source.time_column)
                .expect("validated: the time column is declared"),
            event_id_column: source
                .event_id
                .as_ref()
                .and_then(|c| source.columns.get_index_of(c)),
            fields: source
                .fields
                .values()
                .map(|f| FieldPlan::new(&f.value, &source.columns))
                .collect(),
            field_names: source.fields.keys().cloned().collect(),
            columns,
            diagnostic_paths,
        }
    }

    pub(crate) fn columns(&self) -> &[String] {
        &self.columns
    }

    /// The keys of column `column` in the diagnostic record.
    pub(crate) fn diagnostic_path(&self, column: usize) -> &[String] {
        &self.diagnostic_paths[column]
    }

    pub(crate) fn time_column(&self) -> usize {
        self.time_column
    }

    pub(crate) fn event_id_column(&self) -> Option<usize> {
        self.event_id_column
    }

    pub(crate) fn field_count(&self) -> usize {
        self.fields.len()
    }

    pub(crate) fn field_index(&self, name: &str) -> Option<usize> {
        self.field_names.iter().position(|n| n == name)
    }

    pub(crate) fn field_name(&self, index: usize) -> &str {
        &self.field_names[index]
    }

    pub(crate) fn field_plan(&self, index: usize) -> &FieldPlan {
        &self.fields[index]
    }

    /// The raw value of each column in an event read as `shape` (`keys`: the tree the source
    /// was registered in).
    pub(crate) fn locate<'a>(
        &self,
        keys: &KeyTree,
        found: &Found<'a>,
        shape: Shape,
    ) -> Vec<Option<&'a RawValue>> {
        let slots = match shape {
            Shape::LogAnalytics => &self.row_slots,
            Shape::Diagnostic => &self.diagnostic_slots,
        };
        slots.iter().map(|path| found.at(keys, path)).collect()
    }

    /// An event of this source read as `shape`.
    pub(crate) fn record<'a>(
        &self,
        keys: &KeyTree,
        found: &Found<'a>,
        shape: Shape,
    ) -> Record<'a, '_> {
        Record::new(self, self.locate(keys, found, shape))
    }
}
