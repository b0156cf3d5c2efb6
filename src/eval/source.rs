//! A log source prepared for evaluation: its columns located in both shapes, its fields
//! compiled, so reading an event does no name lookups.

use serde_json::value::RawValue;

use super::field::FieldPlan;
use super::record::{Members, Record};
use super::shape::{path_keys, ColumnLayout, Shape};
use crate::catalogue::logsource::LogSourceFile;

#[derive(Debug, Clone)]
pub struct SourcePlan {
    pub id: String,
    /// The Log Analytics table, which rows name in their `Type` column.
    pub table: String,
    columns: Vec<String>,
    /// Each column's keys in the diagnostic record.
    diagnostic_paths: Vec<Vec<String>>,
    row_layout: ColumnLayout,
    diagnostic_layout: ColumnLayout,
    time_column: usize,
    event_id_column: Option<usize>,
    fields: Vec<FieldPlan>,
    field_names: Vec<String>,
}

impl SourcePlan {
    /// Validation guarantees the time and id columns are declared.
    pub fn new(source: &LogSourceFile) -> SourcePlan {
        let columns: Vec<String> = source.columns.keys().cloned().collect();
        let diagnostic_paths: Vec<Vec<String>> =
            source.columns.values().map(|c| path_keys(&c.diagnostic).into_iter().map(str::to_owned).collect()).collect();
        let row_paths: Vec<Vec<&str>> = columns.iter().map(|c| vec![c.as_str()]).collect();
        let diagnostic: Vec<Vec<&str>> = diagnostic_paths.iter().map(|p| p.iter().map(String::as_str).collect()).collect();
        SourcePlan {
            id: source.id.clone(),
            table: source.kql.table.clone(),
            row_layout: ColumnLayout::new(&row_paths),
            diagnostic_layout: ColumnLayout::new(&diagnostic),
            time_column: source.columns.get_index_of(&source.kql.time_column).expect("validated: the time column is declared"),
            event_id_column: source.event_id.as_ref().and_then(|c| source.columns.get_index_of(c)),
            fields: source.fields.values().map(|f| FieldPlan::new(&f.value, &source.columns)).collect(),
            field_names: source.fields.keys().cloned().collect(),
            columns,
            diagnostic_paths,
        }
    }

    pub fn columns(&self) -> &[String] {
        &self.columns
    }

    /// The keys of column `column` in the diagnostic record.
    pub fn diagnostic_path(&self, column: usize) -> &[String] {
        &self.diagnostic_paths[column]
    }

    pub fn time_column(&self) -> usize {
        self.time_column
    }

    pub fn event_id_column(&self) -> Option<usize> {
        self.event_id_column
    }

    pub fn field_count(&self) -> usize {
        self.fields.len()
    }

    pub fn field_index(&self, name: &str) -> Option<usize> {
        self.field_names.iter().position(|n| n == name)
    }

    pub fn field_name(&self, index: usize) -> &str {
        &self.field_names[index]
    }

    pub fn field_plan(&self, index: usize) -> &FieldPlan {
        &self.fields[index]
    }

    /// Where each column is in a record of `shape`.
    pub fn locate<'a>(&self, shape: Shape, members: &Members<'a>) -> Vec<Option<&'a RawValue>> {
        match shape {
            Shape::LogAnalytics => self.row_layout.locate(members),
            Shape::Diagnostic => self.diagnostic_layout.locate(members),
        }
    }

    /// A record of this source read in `shape`.
    pub fn record<'a>(&self, shape: Shape, members: &Members<'a>) -> Record<'a, '_> {
        Record::new(self, self.locate(shape, members))
    }
}
