//! Writes synthetic Entra audit and Azure activity rows as JSON lines, for benchmarks:
//!
//! ```text
//! cargo run --release --example gen_events -- OUT COUNT [SEED]
//! ```
//!
//! OUT `-` writes to standard output, so a scan can read the events from a pipe
//! (`gen_events - 1000000 | rulecast scan --logs -`) without a gigabyte on the disk.
//!
//! One million events make about a gigabyte. See `events.rs` for what is in the file.

mod events;

use std::io::{BufWriter, Write as _};
use std::process::ExitCode;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (Some(out), Some(count)) = (
        args.first(),
        args.get(1).and_then(|c| c.parse::<u64>().ok()),
    ) else {
        eprintln!("usage: gen_events OUT COUNT [SEED]");
        return ExitCode::from(2);
    };
    let seed = args
        .get(2)
        .and_then(|s| s.parse().ok())
        .unwrap_or(20_250_601);
    let file: std::io::Result<Box<dyn std::io::Write>> = if out == "-" {
        Ok(Box::new(std::io::stdout().lock()))
    } else {
        std::fs::File::create(out).map(|file| Box::new(file) as Box<dyn std::io::Write>)
    };
    let written = file.and_then(|file| {
        let mut writer = BufWriter::with_capacity(1 << 20, file);
        let generated = events::write_events(&mut writer, count, seed)?;
        writer.flush()?;
        Ok(generated)
    });
    let out = if out == "-" { "standard output" } else { out };
    match written {
        Ok(generated) => {
            eprintln!(
                "wrote {} events ({:.1} MB) to {out}",
                generated.events,
                generated.bytes as f64 / 1e6
            );
            for (attack, planted) in generated.attacks {
                eprintln!("  {planted:>3} x {attack}");
            }
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("error: {out}: {e}");
            ExitCode::from(3)
        }
    }
}
