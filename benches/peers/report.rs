//! Writes `BENCHMARKS.md` from criterion's results and the allocation counts the benches
//! saved next to them (`$CRITERION_HOME/<group>/<variant>/{new/estimates.json,allocations.txt}`).
//!
//! Run by `benches/run.sh`.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

struct Result {
    median_ns: f64,
    allocs: Option<f64>,
    bytes: Option<f64>,
}

fn read(dir: &Path) -> Option<Result> {
    let estimates: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(dir.join("new/estimates.json")).ok()?).ok()?;
    let median_ns = estimates["median"]["point_estimate"].as_f64()?;
    let counts = std::fs::read_to_string(dir.join("allocations.txt")).ok();
    let mut counts = counts.iter().flat_map(|c| c.split_whitespace()).filter_map(|v| v.parse::<f64>().ok());
    Some(Result { median_ns, allocs: counts.next(), bytes: counts.next() })
}

fn fmt_ns(ns: f64) -> String {
    if ns.abs() >= 1000.0 { format!("{:.2} µs", ns / 1000.0) } else { format!("{ns:.0} ns") }
}

fn main() {
    let mut args = std::env::args().skip(1);
    let home = PathBuf::from(args.next().expect("usage: report CRITERION_HOME OUTPUT MACHINE COMMAND"));
    let output = PathBuf::from(args.next().expect("output"));
    let machine = args.next().unwrap_or_default();
    let command = args.next().unwrap_or_default();

    let mut groups: BTreeMap<String, BTreeMap<String, Result>> = BTreeMap::new();
    for group in ["server", "client", "sdk", "load"] {
        let Ok(entries) = std::fs::read_dir(home.join(group)) else { continue };
        for entry in entries.flatten() {
            let name = entry.file_name().to_string_lossy().into_owned();
            if let Some(result) = read(&entry.path()) {
                groups.entry(group.to_owned()).or_default().insert(name, result);
            }
        }
    }

    let mut md = String::new();
    let _ = writeln!(md, "# Benchmarks\n");
    let _ = writeln!(md, "Machine: {machine}  \nCommand: `{command}`\n");
    let _ = writeln!(
        md,
        "Per request, in-process (`tower::ServiceExt::oneshot` on a current-thread runtime) against the same axum route with no\n\
         middleware, the body drained, the request carrying a valid sampled `traceparent`; the SDK with `AlwaysOn` (or\n\
         `AlwaysOff` for *sampled out*) and a batch span processor exporting to a sink, so the exporter thread's work counts in\n\
         the allocations (counted process-wide over 10,000 requests). Times are criterion medians; the machine is a shared\n\
         2-core VM, so timings vary by ±20% between runs (allocation counts do not).\n"
    );
    for (group, results) in &groups {
        let bare = results.get("bare").map(|r| r.median_ns);
        let floor = groups.get("sdk").and_then(|s| s.get("floor")).map(|r| r.median_ns);
        let _ = writeln!(md, "## {group}\n");
        let _ = writeln!(md, "| variant | median | overhead over bare | allocs/req | bytes/req |");
        let _ = writeln!(md, "|---|---|---|---|---|");
        let mut names: Vec<&String> = results.keys().collect();
        names.sort_by(|a, b| results[*a].median_ns.total_cmp(&results[*b].median_ns));
        for name in names {
            let r = &results[name];
            let overhead = match (bare, group.as_str()) {
                (Some(b), "server" | "client") => fmt_ns(r.median_ns - b),
                _ => "-".to_owned(),
            };
            let allocs = r.allocs.map_or("-".to_owned(), |a| format!("{a:.1}"));
            let bytes = r.bytes.map_or("-".to_owned(), |b| format!("{b:.0}"));
            let _ = writeln!(md, "| {name} | {} | {overhead} | {allocs} | {bytes} |", fmt_ns(r.median_ns));
        }
        if group == "server" {
            if let (Some(bare), Some(ours)) = (bare, results.get("ours_fused")) {
                let ours_over = ours.median_ns - bare;
                let _ = writeln!(md, "\nOur fused trace + metrics overhead: {}.", fmt_ns(ours_over));
                if let Some(floor) = floor {
                    let _ = writeln!(
                        md,
                        "The SDK floor (the same SDK calls, prebuilt, no middleware): {}; ours is {:.2}× the floor.",
                        fmt_ns(floor),
                        ours_over / floor
                    );
                }
                let peers: Vec<(&String, &Result)> = results.iter().filter(|(n, _)| n.starts_with("peer_")).collect();
                if !peers.is_empty() {
                    let _ = writeln!(md, "\n| peer | its overhead | ours (fused) ÷ theirs |");
                    let _ = writeln!(md, "|---|---|---|");
                    for (name, r) in peers {
                        let theirs = r.median_ns - bare;
                        let _ = writeln!(md, "| {name} | {} | {:.2} |", fmt_ns(theirs), ours_over / theirs);
                    }
                }
            }
        }
        let _ = writeln!(md);
    }
    if let Ok(load) = std::fs::read_to_string(home.join("load.md")) {
        let _ = writeln!(md, "{load}");
    }
    std::fs::write(&output, md).expect("write BENCHMARKS.md");
    println!("wrote {}", output.display());
}
