//! Benchmark: load a synthetic catalogue of 5,000 detections and render it to every target.
//!
//! The catalogue is the shipped one, copied 5,000 / 21 times with fresh ids, names and titles,
//! so every detection shape (thresholds with tiers, findings, array lookups) is represented in
//! its real proportion. Run with `cargo bench --bench render`; it prints wall time per stage
//! and the process's peak resident memory.

use std::path::Path;
use std::time::Instant;

use rulecast::catalogue::Catalogue;
use rulecast::render::Templates;

const DETECTIONS: usize = 5_000;
/// How a shipped detection asks for a near-real-time Sentinel rule, and how many of those
/// Sentinel allows (`MAX_NRT_RULES` in src/targets/sentinel/mod.rs).
const NRT: &str = "sentinel: { kind: nrt }";
const MAX_NRT: usize = 50;

// The same allocator as the rulecast binary, so the figures are what users get.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() {
    let dir = tempfile::tempdir().expect("temp dir");
    let catalogue_dir = dir.path().join("detections");
    let count = synthesise(
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("detections")
            .as_path(),
        &catalogue_dir,
    );

    let start = Instant::now();
    let catalogue = Catalogue::load(&catalogue_dir).unwrap_or_else(|d| panic!("{d}"));
    let loaded = start.elapsed();
    let templates = Templates::load(&catalogue.targets, None).unwrap_or_else(|d| panic!("{d}"));
    let stamps = |d: &rulecast::catalogue::Detection| rulecast::targets::Stamp {
        version: d.meta.version,
        modified: d.meta.date.clone(),
    };
    let rendered = rulecast::build::render(&catalogue, &templates, &stamps, "1.0.0")
        .unwrap_or_else(|d| panic!("{d}"));
    let rendered_at = start.elapsed();
    rulecast::output::write_atomic(&dir.path().join("generated"), &rendered.tree).expect("write");
    let written = start.elapsed();

    let bytes: usize = rendered.tree.values().map(String::len).sum();
    println!("detections: {count}");
    println!(
        "files: {} ({:.1} MB)",
        rendered.tree.len(),
        bytes as f64 / 1e6
    );
    println!("load + validate: {:.0} ms", loaded.as_secs_f64() * 1e3);
    println!(
        "render (4 targets): {:.0} ms",
        rendered_at.checked_sub(loaded).unwrap().as_secs_f64() * 1e3
    );
    println!(
        "write (atomic swap): {:.0} ms",
        written.checked_sub(rendered_at).unwrap().as_secs_f64() * 1e3
    );
    println!("total: {:.0} ms", written.as_secs_f64() * 1e3);
    println!(
        "rules per second (all 4 targets): {:.0}",
        count as f64 / written.as_secs_f64()
    );
    if let Some(peak) = peak_rss_mb() {
        println!("peak RSS: {peak:.0} MB");
    }
}

/// Copies the shipped catalogue, multiplying its detections up to `DETECTIONS`.
fn synthesise(shipped: &Path, out: &Path) -> usize {
    std::fs::create_dir_all(out.join("logsources")).unwrap();
    for name in ["rulecast.yaml", "guide.yaml"] {
        std::fs::copy(shipped.join(name), out.join(name)).unwrap();
    }
    for entry in std::fs::read_dir(shipped.join("logsources"))
        .unwrap()
        .flatten()
    {
        if entry.path().extension().is_some_and(|e| e == "yaml") {
            std::fs::copy(entry.path(), out.join("logsources").join(entry.file_name())).unwrap();
        }
    }
    let mut sources = Vec::new();
    for entry in walkdir::WalkDir::new(shipped)
        .min_depth(2)
        .sort_by_file_name()
        .into_iter()
        .flatten()
    {
        let path = entry.path();
        let is_detection = path.extension().is_some_and(|e| e == "yaml")
            && !path.starts_with(shipped.join("logsources"))
            && !path.to_string_lossy().ends_with(".tests.yaml");
        if is_detection {
            let section = path
                .parent()
                .unwrap()
                .file_name()
                .unwrap()
                .to_string_lossy()
                .into_owned();
            sources.push((
                section,
                path.file_stem().unwrap().to_string_lossy().into_owned(),
                std::fs::read_to_string(path).unwrap(),
            ));
        }
    }
    let mut nrt = 0;
    for i in 0..DETECTIONS {
        let (section, slug, text) = &sources[i % sources.len()];
        let id_line = text.lines().find(|l| l.starts_with("id: ")).unwrap();
        let title_line = text.lines().find(|l| l.starts_with("title: ")).unwrap();
        let mut text = text
            .replacen(id_line, &format!("id: {}", uuid_for(i)), 1)
            .replacen(title_line, &format!("title: \"synthetic {i}: {slug}\""), 1);
        // Sentinel allows 50 NRT rules (the build refuses more): later copies are scheduled.
        if text.contains(NRT) {
            nrt += 1;
            if nrt > MAX_NRT {
                text = text.replace(NRT, "sentinel: { kind: scheduled }");
            }
        }
        let folder = out.join(section);
        std::fs::create_dir_all(&folder).unwrap();
        std::fs::write(folder.join(format!("{slug}-{i:05}.yaml")), text).unwrap();
    }
    DETECTIONS
}

fn uuid_for(i: usize) -> String {
    format!("00000000-0000-4000-8000-{i:012x}")
}

fn peak_rss_mb() -> Option<f64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kb: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb / 1024.0)
}
