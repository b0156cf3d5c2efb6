//! A hit: one event that matched one detection, reduced to what alerts report, so threshold
//! windows hold a few strings per event rather than the event.

use crate::timestamp::Timestamp;

/// Where a record is in its input.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Place {
    /// 1-based: the record's number in the input (blank lines and wrappers are not records),
    /// the event of a test case.
    pub record: u64,
    /// 1-based line where the record starts.
    pub line: u64,
    /// Byte offset where the record starts (after decompression).
    pub offset: u64,
}

impl Place {
    /// The `n`th event of a list (a test case), which has no file around it.
    pub fn nth(n: u64) -> Place {
        Place {
            record: n,
            line: n,
            offset: 0,
        }
    }
}

/// Which event of the input it was.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct EventRef {
    /// 1-based: the record's number in the input, the event of a test case.
    pub position: u64,
    /// 1-based line where the record starts.
    pub line: u64,
    /// Byte offset where the record starts.
    pub offset: u64,
    /// The log source's `event_id` column, when it has one and the event fills it.
    pub id: Option<String>,
    pub time: Timestamp,
}

#[derive(Debug, Clone)]
pub(crate) struct Hit {
    /// Index of the detection in the catalogue.
    pub detection: usize,
    pub event: EventRef,
    /// Values of the threshold's group-by fields (empty without a threshold).
    pub group: Vec<String>,
    /// Values of the detection's output fields, in its order.
    pub values: Vec<Option<String>>,
    /// Labels of the findings that matched.
    pub findings: Vec<String>,
}

impl Hit {
    pub(crate) fn time(&self) -> Timestamp {
        self.event.time
    }
}
