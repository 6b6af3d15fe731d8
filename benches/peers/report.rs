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
    let load = std::fs::read_to_string(home.join("load.md")).ok();
    if let Some(load) = &load {
        let _ = writeln!(md, "{load}");
    }
    budgets(&mut md, &groups, load.as_deref());
    std::fs::write(&output, md).expect("write BENCHMARKS.md");
    println!("wrote {}", output.display());
}

/// The budgets of the cost issue, each with the figure from this run and whether it holds.
fn budgets(md: &mut String, groups: &BTreeMap<String, BTreeMap<String, Result>>, load: Option<&str>) {
    let server = groups.get("server");
    let get = |name: &str| server.and_then(|s| s.get(name));
    let Some(bare) = get("bare") else { return };
    let over = |name: &str| get(name).map(|r| r.median_ns - bare.median_ns);
    let allocs_over = |name: &str| get(name).and_then(|r| Some(r.allocs? - bare.allocs?));
    let floor = groups.get("sdk").and_then(|s| s.get("floor")).map(|r| r.median_ns);
    let verdict = |ok: Option<bool>| match ok {
        Some(true) => "met",
        Some(false) => "**not met**",
        None => "not measured",
    };
    let _ = writeln!(md, "## Budgets\n");
    let _ = writeln!(md, "Checked against this run's figures (server group unless said; allocations over bare).\n");
    let _ = writeln!(md, "| budget | this run | verdict |");
    let _ = writeln!(md, "|---|---|---|");
    let mut row = |budget: &str, figure: String, ok: Option<bool>| {
        let _ = writeln!(md, "| {budget} | {figure} | {} |", verdict(ok));
    };
    for (name, label) in [("ours_disabled", "disabled (no provider)"), ("ours_filtered", "filtered")] {
        let (t, a) = (over(name), allocs_over(name));
        row(
            &format!("{label}: 0 allocations and < 50 ns over bare"),
            format!(
                "{} and {:+.0} allocations (axum's own cost of any layer, `bare_identity_layer`: {} and {:+.0})",
                t.map_or("-".into(), fmt_ns),
                a.unwrap_or(f64::NAN),
                over("bare_identity_layer").map_or("-".into(), fmt_ns),
                allocs_over("bare_identity_layer").unwrap_or(f64::NAN),
            ),
            t.zip(a).map(|(t, a)| t < 50.0 && a <= 0.0),
        );
    }
    let fused = over("ours_fused");
    row(
        "fused, sampled: ≤ 1.15× the SDK floor",
        fused.zip(floor).map_or("-".into(), |(f, fl)| format!("{:.2}× ({} over a {} floor)", f / fl, fmt_ns(f), fmt_ns(fl))),
        fused.zip(floor).map(|(f, fl)| f <= 1.15 * fl),
    );
    let peer = over("peer_axum_tracing_otel_plus_axum_otel_metrics");
    row(
        "fused: ≤ 1/4 of axum-tracing-opentelemetry + axum-otel-metrics",
        fused.zip(peer).map_or("-".into(), |(f, p)| format!("{:.2}× ({} vs {})", f / p, fmt_ns(f), fmt_ns(p))),
        fused.zip(peer).map(|(f, p)| f <= 0.25 * p),
    );
    let fused_allocs = allocs_over("ours_fused");
    row(
        "fused: ≤ 8 allocations per request",
        fused_allocs.map_or("-".into(), |a| format!("{a:+.0}")),
        fused_allocs.map(|a| a <= 8.0),
    );
    let out = over("ours_sampled_out");
    row(
        "sampled out: ≤ 1/3 of sampled",
        out.zip(fused).map_or("-".into(), |(o, f)| format!("{:.2} ({} vs {})", o / f, fmt_ns(o), fmt_ns(f))),
        out.zip(fused).map(|(o, f)| o <= f / 3.0),
    );
    row("client: ≤ 1.15× its SDK floor", "no client floor bench yet".into(), None);
    let throughput = load.and_then(|l| {
        let rest = &l[l.find("Throughput with the layers: ")? + "Throughput with the layers: ".len()..];
        rest[..rest.find('%')?].parse::<f64>().ok()
    });
    row(
        "load: throughput within 10% of no layers, collector down",
        throughput.map_or("-".into(), |t| format!("{t:.1}%")),
        throughput.map(|t| t >= 90.0),
    );
    let _ = writeln!(
        md,
        "\nUnder axum's `Router::layer`, any layer that wraps the response body pays axum's boxing of it (one allocation) on\n\
         top of `bare_identity_layer`; against a bare hyper service, `tower-trace/tests/allocations.rs` asserts that the\n\
         disabled layer adds 0 allocations, and the filtered one 0 without an incoming context (one `Context` with one).\n\
         Timings here vary by ±20% between runs; `benches/peers/profile.rs` gives stable instruction counts under callgrind.\n"
    );
}
