//! A log source prepared for evaluation: its columns located in every shape, its fields
//! compiled, so reading an event does no name lookups.

use super::field::FieldPlan;
use super::key_tree::{Found, KeyTree};
use super::shape::{Located, Shape, ShapePlan, path_keys};
use crate::catalogue::logsource::LogSourceFile;
use crate::catalogue::shape::{InputKind, OtherColumns};

#[derive(Debug, Clone)]
pub(crate) struct SourcePlan {
    columns: Vec<String>,
    /// Each column's keys in the diagnostic record.
    diagnostic_paths: Vec<Vec<String>>,
    /// [`Shape::LOG_ANALYTICS`], [`Shape::DIAGNOSTIC`], then the shapes of `shapes:`.
    shapes: Vec<ShapePlan>,
    time_column: usize,
    event_id_column: Option<usize>,
    fields: Vec<FieldPlan>,
    field_names: Vec<String>,
}

impl SourcePlan {
    /// Registers the source's columns, in every shape, in the key tree of the shape's input.
    /// Validation guarantees the time and id columns are declared.
    pub(crate) fn new(source: &LogSourceFile, json: &mut KeyTree, csv: &mut KeyTree) -> SourcePlan {
        let mut shapes = vec![
            ShapePlan::builtin(source, json, OtherColumns::ByName),
            ShapePlan::builtin(source, json, OtherColumns::Diagnostic),
        ];
        for (name, spec) in &source.shapes {
            let tree = match spec.input {
                InputKind::Json => &mut *json,
                InputKind::Csv => &mut *csv,
            };
            shapes.push(ShapePlan::new(source, name, spec, tree));
        }
        SourcePlan {
            columns: source.columns.keys().cloned().collect(),
            diagnostic_paths: source
                .columns
                .values()
                .map(|c| {
                    path_keys(&c.diagnostic)
                        .into_iter()
                        .map(str::to_owned)
                        .collect()
                })
                .collect(),
            shapes,
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
        }
    }

    pub(crate) fn columns(&self) -> &[String] {
        &self.columns
    }

    /// The keys of column `column` in the diagnostic record.
    pub(crate) fn diagnostic_path(&self, column: usize) -> &[String] {
        &self.diagnostic_paths[column]
    }

    pub(crate) fn shape(&self, shape: Shape) -> &ShapePlan {
        &self.shapes[shape.0]
    }

    /// Every shape, the two built-in readings first.
    pub(crate) fn shapes(&self) -> &[ShapePlan] {
        &self.shapes
    }

    /// The shape declared under `name` in `shapes:`.
    #[cfg(test)]
    pub(crate) fn declared_shape(&self, name: &str) -> Option<Shape> {
        (Shape::FIRST_DECLARED..self.shapes.len())
            .find(|&i| self.shapes[i].name == name)
            .map(Shape)
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

    /// The columns of an event read as `shape` (`tree`: the key tree of the shape's input).
    pub(crate) fn locate<'a>(
        &self,
        tree: &KeyTree,
        found: &Found<'a>,
        shape: Shape,
    ) -> Located<'a> {
        self.shapes[shape.0].locate(tree, found)
    }
}
