//! Replaying a few events through one detection, as `rulecast test` does for each case: every
//! event is read in the given shape, matching events become hits, and the hits are fed to the
//! alerting in time order (a test case lists its events in any order).

use std::fmt;

use super::alert::Alert;
use super::engine::{Alerter, Engine};
use super::hit::{Hit, Place};
use super::shape::Shape;

/// What a detection made of the events.
#[derive(Debug, Clone)]
pub(crate) struct Replay {
    /// The matching events that count (in time order).
    pub hits: Vec<Hit>,
    pub alerts: Vec<Alert>,
}

/// An event that is not a JSON object.
#[derive(Debug)]
pub(crate) struct NotAnEvent {
    /// 1-based position of the event.
    pub position: usize,
    pub cause: serde_json::Error,
}

impl fmt::Display for NotAnEvent {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "event {} is not a JSON object: {}",
            self.position, self.cause
        )
    }
}

impl std::error::Error for NotAnEvent {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(&self.cause)
    }
}

/// Replays `events` (JSON texts, each one event in `shape`) through catalogue detection
/// `detection`, which `engine` must include. An event that is not a JSON object is an error
/// naming its position.
pub(crate) fn replay(
    engine: &Engine,
    detection: usize,
    shape: Shape,
    events: &[String],
) -> Result<Replay, NotAnEvent> {
    let compiled = engine
        .compiled(detection)
        .expect("the engine includes the replayed detection");
    let mut hits = Vec::new();
    for (i, text) in events.iter().enumerate() {
        let found = engine.read(text).map_err(|cause| NotAnEvent {
            position: i + 1,
            cause,
        })?;
        let record = engine.record(&found, shape, compiled.source);
        if compiled.matches(&record) {
            hits.extend(compiled.hit(&record, Place::nth(i as u64 + 1)));
        }
    }
    hits.sort_by_key(|h| (h.time(), h.event.position));
    let mut alerter = Alerter::new(engine);
    let mut alerts: Vec<Alert> = hits
        .iter()
        .cloned()
        .filter_map(|h| alerter.push(h))
        .collect();
    alerts.extend(alerter.finish().0);
    Ok(Replay { hits, alerts })
}
