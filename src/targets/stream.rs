//! Handing a target's files on as it renders them, each checked first.
//!
//! A target's whole output is hundreds of megabytes for a large catalogue (a combined ARM
//! template alone is tens), so `build` does not hold it: each file is checked as it is rendered
//! ([`FileCheck`]), handed to a [`Sink`] (the staging folder beside the output, or memory for
//! `check` and the library's [`crate::build::render`]) and dropped. A check only keeps what a
//! whole-tree rule needs (ids, for "each rule exactly once"), and reports it at the end. Nothing
//! the sink received is used unless every target's checks pass: the staging folder is swapped in
//! only then, and removed otherwise.

use std::collections::BTreeMap;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};

use super::Target;
use crate::diagnostic::Diagnostics;
pub(crate) use crate::output::{Pieces, Sink};

/// A target's check of its rendered files, one file at a time, as the target's platform reads
/// them ([`Target::file_check`]). `rulecast verify` feeds it every file of a tree on disk;
/// `build` feeds it each file as it is rendered, except the files a built-in template rendered
/// from values the target checked as it rendered them, of which it only learns what they
/// declare.
pub trait FileCheck: Send {
    /// Reads back one file (`path` below the target's folder).
    fn read_back(&mut self, path: &Path, text: &str, out: &mut Diagnostics);
    /// A file checked as it was rendered ([`super::Artifacts::checked_in_render`]): not read,
    /// but it declares the rule ids `ids` (for the whole-tree rule that each is declared once).
    fn checked(&mut self, path: &Path, ids: &[String]) {
        let _ = (path, ids);
    }
    /// The whole-tree rules, once every file has been seen.
    fn finish(self: Box<Self>, out: &mut Diagnostics);
}

/// Reads back every file of `files` through `check`: what [`Target::check`] does for a target
/// whose check works file by file.
pub(crate) fn check_all(
    mut check: Box<dyn FileCheck + '_>,
    files: &BTreeMap<PathBuf, String>,
) -> Diagnostics {
    let mut out = Diagnostics::new();
    for (path, text) in files {
        check.read_back(path, text, &mut out);
    }
    check.finish(&mut out);
    out
}

/// The check of a target that checks only whole trees ([`Target::check`], and no
/// [`Target::file_check`]): it holds the files it must read back until the end.
pub(crate) struct Hold<'t> {
    pub(crate) target: &'t dyn Target,
    pub(crate) files: BTreeMap<PathBuf, String>,
}

impl FileCheck for Hold<'_> {
    fn read_back(&mut self, path: &Path, text: &str, _: &mut Diagnostics) {
        self.files.insert(path.to_path_buf(), text.to_owned());
    }

    fn finish(self: Box<Self>, out: &mut Diagnostics) {
        out.extend(self.target.check(&self.files));
    }
}

/// Where a target rendering for `build` sends its files (see [`super::RenderContext`]).
#[derive(Clone, Copy)]
pub(crate) struct Output<'a> {
    pub(crate) target: &'a dyn Target,
    pub(crate) sink: &'a dyn Sink,
    /// Set when a target fails: the others stop writing files that will not be used.
    pub(crate) failed: &'a AtomicBool,
}

/// The files of one target on their way to the sink ([`super::Artifacts`] in `build`).
pub(crate) struct Stream<'a> {
    root: PathBuf,
    output: Output<'a>,
    check: Box<dyn FileCheck + 'a>,
    /// What the check found so far, not yet pointed at detections.
    pub(crate) findings: Diagnostics,
    pub(crate) files: usize,
    /// How many of them were checked in render and not read back.
    pub(crate) unread: usize,
    /// The first write that failed; nothing is written after it.
    pub(crate) error: Option<io::Error>,
}

impl<'a> Stream<'a> {
    pub(crate) fn new(output: Output<'a>) -> Stream<'a> {
        Stream {
            root: PathBuf::from(output.target.name()),
            check: output.target.file_check().unwrap_or_else(|| {
                Box::new(Hold {
                    target: output.target,
                    files: BTreeMap::new(),
                })
            }),
            output,
            findings: Diagnostics::new(),
            files: 0,
            unread: 0,
            error: None,
        }
    }

    fn writing(&self) -> bool {
        self.error.is_none() && !self.output.failed.load(Ordering::Relaxed)
    }

    /// Checks one file (read back, unless `checked` holds what it declares) and hands it on.
    pub(crate) fn add(&mut self, path: PathBuf, content: String, checked: Option<Vec<String>>) {
        match checked {
            Some(ids) => {
                self.unread += 1;
                self.check.checked(&path, &ids);
            }
            None => self.check.read_back(&path, &content, &mut self.findings),
        }
        self.files += 1;
        if self.writing()
            && let Err(e) = self.output.sink.file(self.root.join(path), content)
        {
            self.error = Some(e);
        }
    }

    /// Reads back a file ahead of the file written at its path ([`Stream::open`]) and built on
    /// it: a combined template's skeleton, whose resources are then declared through
    /// [`Stream::checked`].
    pub(crate) fn read_back(&mut self, path: &Path, text: &str) {
        self.check.read_back(path, text, &mut self.findings);
    }

    /// Opens a file written piece by piece; `None` once writing has stopped.
    pub(crate) fn open(&mut self, path: &Path) -> Option<Box<dyn Pieces + 'a>> {
        if !self.writing() {
            return None;
        }
        self.files += 1;
        match self.output.sink.open(self.root.join(path)) {
            Ok(pieces) => Some(pieces),
            Err(e) => {
                self.error = Some(e);
                None
            }
        }
    }

    /// Records a failed write of a file written piece by piece.
    pub(crate) fn failed_write(&mut self, e: io::Error) {
        self.error.get_or_insert(e);
    }

    /// Tells the check what a file written piece by piece declares.
    pub(crate) fn checked(&mut self, path: &Path, ids: &[String]) {
        self.unread += 1;
        self.check.checked(path, ids);
    }

    /// Runs the whole-tree rules.
    pub(crate) fn finish(self) -> Finished {
        let mut findings = self.findings;
        self.check.finish(&mut findings);
        Finished {
            findings,
            files: self.files,
            unread: self.unread,
            error: self.error,
        }
    }
}

/// What a [`Stream`] did.
pub(crate) struct Finished {
    pub(crate) findings: Diagnostics,
    pub(crate) files: usize,
    pub(crate) unread: usize,
    pub(crate) error: Option<io::Error>,
}

impl std::fmt::Debug for Stream<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Stream")
            .field("root", &self.root)
            .field("files", &self.files)
            .finish_non_exhaustive()
    }
}
