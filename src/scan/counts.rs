//! What a scan read, per shape: records recognised (per log source) and records skipped, each
//! with its reason and the first one's place, so nothing is ever dropped without a word.

use std::collections::BTreeMap;

use crate::eval::Place;

/// Distinct category names kept per shape; the rest are counted together.
const CATEGORIES_KEPT: usize = 32;

/// Why a record could not be read as any shape.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Unread {
    /// Not a JSON object (or not UTF-8): the problem.
    Unreadable(String),
    /// No shape of the catalogue recognises it: its first keys.
    UnknownShape(Vec<String>),
}

/// Why a record of a recognised shape was not evaluated, or its match could not alert.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Skip {
    /// Of a category no log source reads.
    OtherCategory(String),
    /// It matched a detection but has no time, so it cannot alert.
    NoTime,
    /// Its time is not written as the shape's time format says: the text.
    UnparseableTime(String),
}

/// The first skipped record of a kind: where it is and what it showed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Example {
    pub place: Place,
    pub detail: String,
}

/// The counts of one shape (a `shapes:` name shared by the log sources).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ShapeCounts {
    /// Per log source (engine order): records read as an event of that source.
    pub recognised: Vec<u64>,
    /// Records with no time that were evaluated all the same (a match on them is a `no_time`
    /// skip; most match nothing and lose nothing).
    pub without_time: u64,
    pub other_category: BTreeMap<String, u64>,
    /// Records of categories beyond the names kept.
    pub other_categories_more: u64,
    pub no_time: u64,
    pub first_no_time: Option<Example>,
    pub unparseable_time: u64,
    pub first_unparseable_time: Option<Example>,
}

impl ShapeCounts {
    /// Records of this shape: recognised ones (a `no_time` record is one of them) and those
    /// skipped before evaluation.
    pub fn read(&self) -> u64 {
        self.recognised.iter().sum::<u64>()
            + self.other_category.values().sum::<u64>()
            + self.other_categories_more
            + self.unparseable_time
    }

    /// Records of this shape that were skipped, or whose match could not alert.
    pub fn skipped(&self) -> u64 {
        self.other_category.values().sum::<u64>()
            + self.other_categories_more
            + self.no_time
            + self.unparseable_time
    }
}

/// What the records of an input (or of one batch) came to.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Counts {
    /// Records seen, of any kind.
    pub records: u64,
    /// By shape name, in the order the engine knows them.
    pub shapes: Vec<(String, ShapeCounts)>,
    pub unreadable: u64,
    pub first_unreadable: Option<Example>,
    pub unknown_shape: u64,
    pub first_unknown_shape: Option<Example>,
    /// Records passed over unparsed: they hold none of the texts the detections require
    /// (see [`super::prefilter`]), so they are of no shape.
    pub passed_over: u64,
}

impl Counts {
    /// Empty counts for `shapes` (names) and `sources` log sources.
    pub fn new(shapes: &[String], sources: usize) -> Counts {
        Counts {
            shapes: shapes
                .iter()
                .map(|name| {
                    (
                        name.clone(),
                        ShapeCounts {
                            recognised: vec![0; sources],
                            ..ShapeCounts::default()
                        },
                    )
                })
                .collect(),
            ..Counts::default()
        }
    }

    pub fn recognised(&self) -> u64 {
        self.shapes
            .iter()
            .map(|(_, c)| c.recognised.iter().sum::<u64>())
            .sum()
    }

    pub fn skipped(&self) -> u64 {
        self.unreadable
            + self.unknown_shape
            + self.shapes.iter().map(|(_, c)| c.skipped()).sum::<u64>()
    }

    /// Counts a record of shape `shape` (an index into `shapes`) read as an event of `source`.
    pub fn recognise(&mut self, shape: usize, source: usize, timed: bool) {
        let counts = &mut self.shapes[shape].1;
        counts.recognised[source] += 1;
        counts.without_time += u64::from(!timed);
    }

    /// Counts a record that could not be read or was of no known shape.
    pub fn unread(&mut self, why: Unread, place: Place) {
        let example = |detail: String| Some(Example { place, detail });
        match why {
            Unread::Unreadable(problem) => {
                self.unreadable += 1;
                if self.first_unreadable.is_none() {
                    self.first_unreadable = example(problem);
                }
            }
            Unread::UnknownShape(keys) => {
                self.unknown_shape += 1;
                if self.first_unknown_shape.is_none() {
                    self.first_unknown_shape = example(keys.join(", "));
                }
            }
        }
    }

    /// Counts a skipped record of shape `shape` (an index into `shapes`).
    pub fn skip(&mut self, shape: usize, skip: Skip, place: Place) {
        let example = |detail: String| Some(Example { place, detail });
        let counts = &mut self.shapes[shape].1;
        match skip {
            Skip::OtherCategory(name) => {
                if counts.other_category.len() < CATEGORIES_KEPT
                    || counts.other_category.contains_key(&name)
                {
                    *counts.other_category.entry(name).or_default() += 1;
                } else {
                    counts.other_categories_more += 1;
                }
            }
            Skip::NoTime => {
                counts.no_time += 1;
                if counts.first_no_time.is_none() {
                    counts.first_no_time = example(String::new());
                }
            }
            Skip::UnparseableTime(text) => {
                counts.unparseable_time += 1;
                if counts.first_unparseable_time.is_none() {
                    counts.first_unparseable_time = example(text);
                }
            }
        }
    }

    /// Adds the counts of the next batch; its places are already final.
    pub fn add(&mut self, other: Counts) {
        fn first(mine: &mut Option<Example>, theirs: Option<Example>) {
            if mine.is_none() {
                *mine = theirs;
            }
        }
        self.records += other.records;
        self.unreadable += other.unreadable;
        first(&mut self.first_unreadable, other.first_unreadable);
        self.unknown_shape += other.unknown_shape;
        self.passed_over += other.passed_over;
        first(&mut self.first_unknown_shape, other.first_unknown_shape);
        for ((_, mine), (_, theirs)) in self.shapes.iter_mut().zip(other.shapes) {
            for (m, t) in mine.recognised.iter_mut().zip(&theirs.recognised) {
                *m += t;
            }
            mine.without_time += theirs.without_time;
            for (name, n) in theirs.other_category {
                if mine.other_category.len() < CATEGORIES_KEPT
                    || mine.other_category.contains_key(&name)
                {
                    *mine.other_category.entry(name).or_default() += n;
                } else {
                    mine.other_categories_more += n;
                }
            }
            mine.other_categories_more += theirs.other_categories_more;
            mine.no_time += theirs.no_time;
            first(&mut mine.first_no_time, theirs.first_no_time);
            mine.unparseable_time += theirs.unparseable_time;
            first(
                &mut mine.first_unparseable_time,
                theirs.first_unparseable_time,
            );
        }
    }

    /// Moves every place of these counts (from a batch) by the records, lines and bytes before
    /// it.
    pub fn rebase(&mut self, shift: &dyn Fn(Place) -> Place) {
        let move_example = |e: &mut Option<Example>| {
            if let Some(e) = e {
                e.place = shift(e.place);
            }
        };
        move_example(&mut self.first_unreadable);
        move_example(&mut self.first_unknown_shape);
        for (_, counts) in &mut self.shapes {
            move_example(&mut counts.first_no_time);
            move_example(&mut counts.first_unparseable_time);
        }
    }
}
