//! Throughput and peak memory of `rulecast scan` with the shipped catalogue, on generated
//! audit events (see examples/gen_events):
//!
//! ```text
//! cargo bench --bench scan                                   # 1,000,000 events, one thread per CPU
//! RULECAST_BENCH_EVENTS=200000 RULECAST_BENCH_THREADS=1 cargo bench --bench scan
//! ```
//!
//! The events are written to a temporary file first (so the scan reads them from the page
//! cache, as a re-scan of a recent export would), then scanned by the library function the CLI
//! uses. Peak memory is the process's high-water mark (VmHWM), which the generator barely adds
//! to: it streams through a 1 MB buffer.

#[path = "../examples/gen_events/events.rs"]
mod events;

use std::io::{BufWriter, Write as _};
use std::path::Path;
use std::time::Instant;

use rulecast::catalogue::Catalogue;
use rulecast::eval::Engine;

fn setting(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// The process's peak resident memory in kB, from /proc (Linux).
fn peak_rss_kb() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
}

fn main() {
    let count = setting("RULECAST_BENCH_EVENTS", 1_000_000);
    let cpus = std::thread::available_parallelism().map_or(1, |n| n.get() as u64);
    let threads = setting("RULECAST_BENCH_THREADS", cpus) as usize;

    let file = tempfile::NamedTempFile::new().expect("a temporary file");
    let started = Instant::now();
    let generated = {
        let mut writer = BufWriter::with_capacity(1 << 20, file.as_file());
        let generated =
            events::write_events(&mut writer, count, 20_250_601).expect("write the events");
        writer.flush().expect("write the events");
        generated
    };
    let generation = started.elapsed().as_secs_f64();
    let megabytes = generated.bytes as f64 / 1e6;
    println!(
        "generated {} events, {megabytes:.1} MB, in {generation:.2} s; planted:",
        generated.events
    );
    for (attack, planted) in &generated.attacks {
        println!("  {planted:>3} x {attack}");
    }

    let catalogue = Catalogue::load(&Path::new(env!("CARGO_MANIFEST_DIR")).join("detections"))
        .unwrap_or_else(|d| panic!("{d}"));
    let engine = Engine::new(&catalogue, |_| true);
    let mut alerts = 0u64;
    let started = Instant::now();
    let input = rulecast::scan::open(file.path()).expect("open the events");
    let summary = rulecast::scan::scan(&engine, input, threads, &mut |_| {
        alerts += 1;
        Ok(())
    })
    .expect("scan");
    let seconds = started.elapsed().as_secs_f64();
    assert_eq!(
        (
            summary.counts.records,
            summary.counts.recognised() + summary.counts.passed_over
        ),
        (generated.events, generated.events),
        "every generated event was read, and recognised or passed over by the prefilter"
    );
    println!(
        "scanned {} events, {megabytes:.1} MB, with {} detections on {threads} worker thread{} ({cpus} CPU{}): {seconds:.2} s, {:.0} MB/s, {:.0} events/s, {alerts} alerts",
        summary.counts.records,
        engine.detection_count(),
        if threads == 1 { "" } else { "s" },
        if cpus == 1 { "" } else { "s" },
        megabytes / seconds,
        summary.counts.records as f64 / seconds,
    );
    println!(
        "{} events passed over unparsed by the prefilter (they hold none of the texts the detections require)",
        summary.counts.passed_over
    );
    match peak_rss_kb() {
        Some(kb) => println!("peak resident memory (VmHWM): {:.1} MB", kb as f64 / 1024.0),
        None => println!("peak resident memory: not available on this platform"),
    }
}
