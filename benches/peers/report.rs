//! Writes `BENCHMARKS.md` from one run of `benches/run.sh`: criterion's results (each variant
//! timed in several round-robin passes, `$CRITERION_HOME/<group>/<variant>.pass<k>/new/estimates.json`),
//! the allocation counts the benches saved (`<group>/<variant>/allocations.txt`), the
//! instruction counts (`callgrind.txt`, `callgrind-fused.txt`), what the floor reproduces
//! (`floor.txt`) and the load test (`load.txt`).
//!
//! Run by `benches/run.sh`.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

#[derive(Default)]
struct Result {
    /// The median of the passes' medians, and the passes' range.
    median_ns: f64,
    min_ns: f64,
    max_ns: f64,
    passes: usize,
    allocs: Option<f64>,
    bytes: Option<f64>,
}

fn estimate(dir: &Path) -> Option<f64> {
    let estimates: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(dir.join("new/estimates.json")).ok()?).ok()?;
    estimates["median"]["point_estimate"].as_f64()
}

fn median(v: &mut [f64]) -> f64 {
    v.sort_by(f64::total_cmp);
    let n = v.len();
    if n == 0 {
        f64::NAN
    } else if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    }
}

fn read_group(dir: &Path) -> BTreeMap<String, Result> {
    let mut passes: BTreeMap<String, Vec<f64>> = BTreeMap::new();
    let mut counts: BTreeMap<String, (f64, f64)> = BTreeMap::new();
    for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        if let Some((variant, _pass)) = name.rsplit_once(".pass") {
            if let Some(m) = estimate(&entry.path()) {
                passes.entry(variant.to_owned()).or_default().push(m);
            }
        } else if let Ok(c) = std::fs::read_to_string(entry.path().join("allocations.txt")) {
            let mut c = c.split_whitespace().filter_map(|v| v.parse::<f64>().ok());
            if let (Some(a), Some(b)) = (c.next(), c.next()) {
                counts.insert(name, (a, b));
            }
        }
    }
    passes
        .into_iter()
        .map(|(name, mut p)| {
            let (allocs, bytes) = counts.get(&name).map_or((None, None), |&(a, b)| (Some(a), Some(b)));
            let min_ns = p.iter().copied().fold(f64::INFINITY, f64::min);
            let max_ns = p.iter().copied().fold(f64::NEG_INFINITY, f64::max);
            let r = Result { median_ns: median(&mut p), min_ns, max_ns, passes: p.len(), allocs, bytes };
            (name, r)
        })
        .collect()
}

fn fmt_ns(ns: f64) -> String {
    if ns.is_nan() {
        "-".into()
    } else if ns.abs() >= 1000.0 {
        format!("{:.2} µs", ns / 1000.0)
    } else {
        format!("{ns:.0} ns")
    }
}

/// The bare variant a server variant is measured against: the one with the same request.
fn baseline(group: &str, name: &str) -> &'static str {
    match group {
        "tracing_bridge" => "feature_off",
        "server" if name.ends_with("_no_parent") => "bare_no_parent",
        "server" if name.ends_with("_full_context") => "bare_full_context",
        _ => "bare",
    }
}

struct Load {
    name: String,
    requests: f64,
    errors: f64,
    p50_us: f64,
    p99_us: f64,
    rss_start: f64,
    rss_end: f64,
    /// CPU per request: the median of the slices, and their range.
    cpu_us_median: f64,
    cpu_us_min: f64,
    cpu_us_max: f64,
    /// Requests per second: the median of the slices.
    rate_median: f64,
    /// CPU per request over `none`, paired by round: the median and quartiles of the
    /// differences from none's slice of the same round (NaN without none, or in older files).
    over_none_median: f64,
    over_none_q1: f64,
    over_none_q3: f64,
    /// None's CPU per request ÷ this stack's, paired by round: the median.
    share_of_none: f64,
}

impl Load {
    fn rate(&self) -> f64 {
        self.rate_median
    }
    fn cpu_us(&self) -> f64 {
        self.cpu_us_median
    }
}

fn read_load(home: &Path) -> Option<(String, Vec<Load>)> {
    let text = std::fs::read_to_string(home.join("load.txt")).ok()?;
    let mut lines = text.lines();
    let header = lines.next()?.to_owned();
    let runs = lines
        .filter_map(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            let n = |i: usize| f.get(i).and_then(|v| v.parse::<f64>().ok()).unwrap_or(f64::NAN);
            Some(Load {
                name: (*f.first()?).to_owned(),
                requests: n(1),
                errors: n(2),
                p50_us: n(5),
                p99_us: n(6),
                rss_start: n(7),
                rss_end: n(8),
                cpu_us_median: n(9),
                cpu_us_min: n(10),
                cpu_us_max: n(11),
                rate_median: n(12),
                over_none_median: n(14),
                over_none_q1: n(15),
                over_none_q3: n(16),
                share_of_none: n(17),
            })
        })
        .collect();
    Some((header, runs))
}

fn main() {
    let mut args = std::env::args().skip(1);
    let home = PathBuf::from(args.next().expect("usage: report CRITERION_HOME OUTPUT MACHINE COMMAND"));
    let output = PathBuf::from(args.next().expect("output"));
    let machine = args.next().unwrap_or_default();
    let command = args.next().unwrap_or_default();

    let mut groups: BTreeMap<String, BTreeMap<String, Result>> = BTreeMap::new();
    for group in ["server", "client", "sdk", "tracing_bridge"] {
        let results = read_group(&home.join(group));
        if !results.is_empty() {
            groups.insert(group.to_owned(), results);
        }
    }
    let instructions: BTreeMap<String, f64> = std::fs::read_to_string(home.join("callgrind.txt"))
        .unwrap_or_default()
        .lines()
        .filter_map(|l| {
            let (name, n) = l.split_once(' ')?;
            Some((name.to_owned(), n.trim().parse().ok()?))
        })
        .collect();
    let load = read_load(&home);
    let passes = groups.get("server").and_then(|s| s.values().map(|r| r.passes).max()).unwrap_or(0);

    let mut md = String::new();
    let _ = writeln!(md, "# Benchmarks\n");
    let _ = writeln!(md, "Machine: {machine}  \nCommand: `{command}`  \nAll figures below come from this one run, except the \"Exemplars\" subsection, the \"soak\" section and the notes' few hand measurements, which say how they were measured.\n");
    let _ = writeln!(md, "## Method\n");
    let _ = writeln!(
        md,
        "- **The request** is what real traffic carries: `GET /users/42` with `Host: api.example.com`, a browser's\n  \
         `User-Agent`, `Accept: application/json` and a sampled W3C `traceparent`. Request variants: no `traceparent`\n  \
         (`*_no_parent`), `traceparent` + `tracestate` + `baggage` (`*_full_context`), an unsampled parent, flags `00`\n  \
         (`*_unsampled_parent`); each is measured against the bare route given the same request. The client group sends\n  \
         `GET http://backend.internal:8080/users/7` with a `User-Agent` and `Accept`.\n\
         - **In-process**: `tower::ServiceExt::oneshot` on a current-thread runtime against the same axum route, the body\n  \
         drained. The SDK samples with `ParentBased(AlwaysOn)` (its default; `AlwaysOff` for *sampled out*) and a batch span\n  \
         processor exports to a sink on its own thread; metrics are aggregated by a reader that never collects during the run.\n\
         - **Time is the process's CPU time** (a criterion `Measurement` on `CLOCK_PROCESS_CPUTIME_ID`, `benches/peers/cpu.rs`):\n  \
         the exporter thread's work is included, and time the process spends descheduled on this shared VM is not.\n\
         - **Peers in the same run**: ours, the SDK floor and the peers are one criterion run in one process\n  \
         (`benches/peers/peers.rs`). Every variant is timed in {passes} short passes (1 s each after 0.3 s of warm-up),\n  \
         **round-robin** over all variants, so drift of the VM spreads over all of them; a variant's figure is the median of\n  \
         its passes' medians (the range of the passes' medians is shown).\n\
         - **Allocations** are counted process-wide (the exporter thread included) by a counting global allocator over\n  \
         10,000 requests after a warm-up, the requests built beforehand.\n\
         - **Instructions** (`benches/callgrind.sh`): each variant of `benches/peers/profile.rs` (the same route, requests\n  \
         and SDK setup) under `valgrind --tool=callgrind`, run for 1,000 and 3,000 requests, the difference divided by\n  \
         2,000. Stable to within 1% between runs and immune to the other load on the VM: the verdicts lean on them where\n  \
         timings are noisy, and each verdict says which figure it uses.\n\
         - **The SDK floor** is exactly the OpenTelemetry calls the fused layer makes for the realistic request, everything\n  \
         prebuilt, no middleware: the same span (name, kind, attributes, read back from the layer's own span on the same\n  \
         request), the same metric points, the W3C extract, `Context::with_span`, two clock reads.\n"
    );
    if let Ok(floor) = std::fs::read_to_string(home.join("floor.txt")) {
        let _ = writeln!(md, "What the fused layer records for the realistic request, which the floor reproduces:\n\n```text\n{}```\n", floor);
    }

    for (group, results) in &groups {
        let _ = writeln!(md, "## {group}\n");
        let _ = writeln!(md, "| variant | CPU time (median of passes) | passes' range | overhead over bare | allocs/req | over bare | bytes/req |");
        let _ = writeln!(md, "|---|---|---|---|---|---|---|");
        let mut names: Vec<&String> = results.keys().collect();
        names.sort_by(|a, b| results[*a].median_ns.total_cmp(&results[*b].median_ns));
        for name in names {
            let r = &results[name];
            let base = results.get(baseline(group, name));
            let (overhead, allocs_over) = match (base, group.as_str()) {
                (Some(b), "server" | "client" | "tracing_bridge") => (
                    format!("{} (vs {})", fmt_ns(r.median_ns - b.median_ns), baseline(group, name)),
                    r.allocs.zip(b.allocs).map_or("-".into(), |(a, b)| format!("{:+.1}", a - b)),
                ),
                _ => ("-".to_owned(), "-".to_owned()),
            };
            let allocs = r.allocs.map_or("-".to_owned(), |a| format!("{a:.1}"));
            let bytes = r.bytes.map_or("-".to_owned(), |b| format!("{b:.0}"));
            let _ = writeln!(
                md,
                "| {name} | {} | {}–{} | {overhead} | {allocs} | {allocs_over} | {bytes} |",
                fmt_ns(r.median_ns),
                fmt_ns(r.min_ns),
                fmt_ns(r.max_ns)
            );
        }
        if group == "tracing_bridge" {
            let _ = writeln!(
                md,
                "\nThe trace layer (sampled) built without the `tracing` feature (`feature_off`, the \"bare\" of this group), \
                 with it and no subscriber listening, and with a `fmt` subscriber formatting the request spans into a sink \
                 (`tower-metrics/benches/layers.rs`, run once per build, wall time, its own process)."
            );
        }
        if group == "server" {
            peers_table(&mut md, results, groups.get("sdk"));
        }
        let _ = writeln!(md);
    }
    callgrind(&mut md, &instructions);
    // The exemplars' subsection (measured by hand, as it says) is kept from the file being
    // replaced, as the soak's section below.
    if let Some(section) = std::fs::read_to_string(&output).ok().and_then(|previous| kept(&previous, "\n### Exemplars\n")) {
        md.push_str(&section);
        md.push_str("\n\n");
    }
    if let Some((header, runs)) = &load {
        load_table(&mut md, header, runs, &instructions);
    }
    budgets(&mut md, &groups, load.as_ref().map(|l| l.1.as_slice()), &instructions);
    if let Ok(annotate) = std::fs::read_to_string(home.join("callgrind-fused.txt")) {
        let _ = writeln!(
            md,
            "\n### Where the fused layer's instructions go\n\n`callgrind_annotate --inclusive=yes` on `profile fused 3000` \
             (whole program, setup included; the top inclusive entries, instructions and share of the total):\n\n```text\n{annotate}```"
        );
    }
    md.push_str(NOTES);
    // The soak's section (benches/soak.sh, run by hand) is kept from the file being replaced.
    if let Some(section) = std::fs::read_to_string(&output).ok().and_then(|previous| kept(&previous, "\n## soak\n")) {
        md.push('\n');
        md.push_str(&section);
        md.push('\n');
    }
    std::fs::write(&output, md).expect("write BENCHMARKS.md");
    println!("wrote {}", output.display());
}

/// The section of `previous` starting at the heading `heading` (`"\n## name\n"` or
/// `"\n### name\n"`), up to the next heading of the same or a higher level, trimmed.
fn kept(previous: &str, heading: &str) -> Option<String> {
    let start = previous.find(heading)? + 1;
    let rest = &previous[start..];
    let level = heading.trim_start().split(' ').next().unwrap_or("##").len();
    let end = rest
        .match_indices("\n#")
        .map(|(i, _)| i)
        .find(|&i| {
            let hashes = rest[i + 1..].bytes().take_while(|b| *b == b'#').count();
            hashes >= 1 && hashes <= level && rest[i + 1 + hashes..].starts_with(' ')
        })
        .unwrap_or(rest.len());
    Some(rest[..end].trim_end().to_owned())
}

fn peers_table(md: &mut String, results: &BTreeMap<String, Result>, sdk: Option<&BTreeMap<String, Result>>) {
    let (Some(bare), Some(ours)) = (results.get("bare"), results.get("ours_fused")) else { return };
    let ours_over = ours.median_ns - bare.median_ns;
    let _ = writeln!(md, "\nOur fused trace + metrics overhead on the realistic request: {}.", fmt_ns(ours_over));
    if let Some(floor) = sdk.and_then(|s| s.get("floor")) {
        let _ = writeln!(
            md,
            "The SDK floor (the same SDK calls, prebuilt, no middleware): {}; ours is {:.2}× the floor in CPU time.",
            fmt_ns(floor.median_ns),
            ours_over / floor.median_ns
        );
    }
    let peers: Vec<(&String, &Result)> = results.iter().filter(|(n, _)| n.starts_with("peer_")).collect();
    if !peers.is_empty() {
        let _ = writeln!(md, "\n| peer | its overhead | its allocs over bare | ours (fused) ÷ theirs |");
        let _ = writeln!(md, "|---|---|---|---|");
        for (name, r) in peers {
            let theirs = r.median_ns - bare.median_ns;
            let allocs = r.allocs.zip(bare.allocs).map_or("-".into(), |(a, b)| format!("{:+.1}", a - b));
            let _ = writeln!(md, "| {name} | {} | {allocs} | {:.2} |", fmt_ns(theirs), ours_over / theirs);
        }
    }
}

/// Instructions per request (`benches/callgrind.sh`), with what each variant adds over its
/// baseline, and the floor ratios.
fn callgrind(md: &mut String, n: &BTreeMap<String, f64>) {
    if n.is_empty() {
        return;
    }
    let _ = writeln!(md, "## instructions (callgrind)\n");
    let _ = writeln!(
        md,
        "`benches/callgrind.sh`: instructions per request (`benches/peers/profile.rs`). `floor` and `client_floor` are the SDK\n\
         calls alone; `peer_combo` is axum-tracing-opentelemetry + axum-otel-metrics. Each variant is measured against the bare\n\
         route given the same request.\n"
    );
    let _ = writeln!(md, "| variant | instructions/req | over its baseline |");
    let _ = writeln!(md, "|---|---|---|");
    for (name, v) in n.iter().filter(|(name, _)| !name.starts_with("load_")) {
        let base = if name.starts_with("client") && name != "client_floor" {
            Some("client_bare")
        } else if name == "peer_axum_otel_metrics" {
            Some("bare")
        } else if name.ends_with("floor") || name.starts_with("bare") {
            None
        } else if name.ends_with("_no_parent") {
            Some("bare_no_parent")
        } else if name.ends_with("_full_context") {
            Some("bare_full_context")
        } else {
            Some("bare")
        };
        let over = base.and_then(|b| n.get(b).map(|b2| (b, b2))).map_or("-".into(), |(b, bv)| format!("{:+.0} (vs {b})", v - bv));
        let _ = writeln!(md, "| {name} | {v:.0} | {over} |");
    }
    let ratio = |name: &str, base: &str, floor: &str| Some((n.get(name)? - n.get(base)?) / n.get(floor)?);
    let _ = writeln!(md);
    if let Some(r) = ratio("fused", "bare", "floor") {
        let _ = writeln!(md, "Fused over bare ÷ the SDK floor, in instructions: {r:.2}×.  ");
    }
    if let Some(r) = ratio("fused", "identity", "floor") {
        let _ = writeln!(md, "The same over axum's identity layer (what any `Router::layer` costs): {r:.2}×.  ");
    }
    if let Some(r) = ratio("client", "client_bare", "client_floor") {
        let _ = writeln!(md, "Client layer over bare ÷ its SDK floor, in instructions: {r:.2}×.  ");
    }
    for v in ["metrics", "fused", "sampled_out", "client_fused"] {
        let bare = n.get(if v.starts_with("client") { "client_bare" } else { "bare" });
        if let (Some(bound), Some(stable), Some(bare)) = (n.get(v), n.get(&format!("{v}_stable_api")), bare) {
            let _ = writeln!(
                md,
                "`{v}` with the opt-in `bound-instruments` feature: {:.0} instructions over bare, against {:.0} on the stable metrics API \
                 (`{v}_stable_api`): {:.0} fewer ({:.0}%).  ",
                bound - bare,
                stable - bare,
                stable - bound,
                100.0 * (stable - bound) / (stable - bare)
            );
        }
    }
    if let (Some(f), Some(p), Some(b)) = (n.get("fused"), n.get("peer_combo"), n.get("bare")) {
        let _ = writeln!(md, "Fused over bare ÷ axum-tracing-opentelemetry + axum-otel-metrics over bare, in instructions: {:.2}.", (f - b) / (p - b));
    }
    let _ = writeln!(md);
}

fn load_table(md: &mut String, header: &str, runs: &[Load], n: &BTreeMap<String, f64>) {
    let mut h = header.split_whitespace();
    let slice = h.next().unwrap_or("?");
    let concurrency = h.next().unwrap_or("?");
    let slices = h.next().unwrap_or("?");
    let _ = writeln!(md, "## load\n");
    let _ = writeln!(
        md,
        "`benches/peers/load.rs`: {concurrency} concurrent clients, a frontend calling a backend over HTTP for every request, all on\n\
         127.0.0.1 in one process; the stacks up at once, each measured in {slices} slices of {slice} s, **round-robin** (after a 2 s\n\
         warm-up each), so the VM's drift spreads over all of them; a stack's figure is the median of its slices, and its cost\n\
         over *none* the median of its differences from none's slice of the same round (within one round, the drift\n\
         mostly cancels: the difference of the two medians moves more between runs). **none** (no\n\
         layers); **ours** (the fused server layer on both servers, our client layer with metrics on the frontend's call);\n\
         **ours_trace**, **ours_metrics** (the same layers, one signal only), **ours_sampled_out** (ours with an `AlwaysOff`\n\
         sampler: no span recorded or exported, the metrics as in ours);\n\
         **peers** (axum-tracing-opentelemetry's `OtelAxumLayer` + `OtelInResponseLayer` and axum-otel-metrics on both servers;\n\
         a `tracing` CLIENT span on the frontend's call whose context the global propagator injects, as reqwest-tracing does; no\n\
         client metrics, which no peer offers; their `tracing` subscriber is the default inside their servers' futures only).\n\
         Spans go to a batch processor with a sink exporter and metrics to a reader that never collects, identically for both.\n\
         The load generator's requests carry `Host`, `User-Agent`, `Accept` and a sampled `traceparent`.\n\n\
         The load generator runs on the same 2 cores, so throughput is what is left after it: **CPU per request** (the\n\
         process's CPU time ÷ requests: generator, frontend, backend and exporter threads) is the fair figure, and its\n\
         increase over *none* is what the three layers of each request (two server spans, one client span) cost under load.\n"
    );
    let none = runs.iter().find(|r| r.name == "none");
    let _ = writeln!(md, "| stack | requests/s | requests | errors | p50 | p99 | CPU/request | slices' range | over none (paired: median, quartiles) | difference of medians |");
    let _ = writeln!(md, "|---|---|---|---|---|---|---|---|---|---|");
    for r in runs {
        let paired = if r.over_none_median.is_nan() {
            "-".into()
        } else {
            format!("{:+.1} µs ({:+.1} to {:+.1})", r.over_none_median, r.over_none_q1, r.over_none_q3)
        };
        let over = none.map_or("-".into(), |n| format!("{:+.1} µs", r.cpu_us() - n.cpu_us()));
        let _ = writeln!(
            md,
            "| {} | {:.0} | {:.0} | {:.0} | {:.0} µs | {:.0} µs | {:.1} µs | {:.1}–{:.1} µs | {paired} | {over} |",
            r.name,
            r.rate(),
            r.requests,
            r.errors,
            r.p50_us,
            r.p99_us,
            r.cpu_us(),
            r.cpu_us_min,
            r.cpu_us_max,
        );
    }
    if let Some(r) = runs.first() {
        let _ = writeln!(md, "\nThe process's RSS (all the stacks): {:.0} KiB after warm-up, {:.0} KiB at the end.", r.rss_start, r.rss_end);
    }
    let _ = writeln!(md, "Latency quantiles are the upper bounds of 2%-wide buckets.\n");
    // The same load under callgrind: the work per request, without the cores' interplay.
    let get = |k: &str| n.get(k).copied();
    if let (Some(none), Some(ours)) = (get("load_none"), get("load_ours")) {
        let _ = writeln!(
            md,
            "**Instructions per request under load** (`benches/callgrind.sh`: the load test under callgrind, no warm-up, 10 s and\n\
             20 s per stack, the difference in instructions ÷ the difference in requests; valgrind runs one thread at a time, so\n\
             this is the work alone, user space only): none {none:.0}, ours {ours:.0}{}; ours adds {:.0}.",
            get("load_peers").map_or(String::new(), |p| format!(", peers {p:.0}")),
            ours - none
        );
        if let Some(chain) = micro_chain_instructions(n) {
            let _ = writeln!(
                md,
                "The same three layers in the single-threaded profile (2 × `fused` over `bare` + `client_fused` over `client_bare`): {chain:.0};\n\
                 under load they execute {:.2}× that (the load test's requests, ids and client call differ a little from the\n\
                 profile's). What CPU time adds under load beyond the single-threaded figures is therefore the cost of each\n\
                 instruction on busy cores, not more work (see the notes below).\n",
                (ours - none) / chain
            );
        }
    }
}

/// The three layers of a load-test request (two fused server layers, one fused client layer)
/// in the single-threaded profile, in instructions.
fn micro_chain_instructions(n: &BTreeMap<String, f64>) -> Option<f64> {
    Some(2.0 * (n.get("fused")? - n.get("bare")?) + (n.get("client_fused")? - n.get("client_bare")?))
}

/// The performance budgets (the "Budgets" table of BENCHMARKS.md), each with the figure from
/// this run and whether it holds.
fn budgets(md: &mut String, groups: &BTreeMap<String, BTreeMap<String, Result>>, load: Option<&[Load]>, n: &BTreeMap<String, f64>) {
    let server = groups.get("server");
    let get = |name: &str| server.and_then(|s| s.get(name));
    let over = |name: &str, base: &str| Some(get(name)?.median_ns - get(base)?.median_ns);
    let client_over = |name: &str| {
        let client = groups.get("client")?;
        Some(client.get(name)?.median_ns - client.get("bare")?.median_ns)
    };
    let allocs_over = |name: &str, base: &str| Some(get(name)?.allocs? - get(base)?.allocs?);
    let ins = |name: &str, base: &str| Some(n.get(name)? - n.get(base)?);
    let verdict = |ok: Option<bool>| match ok {
        Some(true) => "met",
        Some(false) => "**not met**",
        None => "not measured",
    };
    let _ = writeln!(md, "## Budgets\n");
    let _ = writeln!(
        md,
        "Checked against this run's figures: time is process CPU time (criterion, median of the passes; the load test, each\n\
         slice paired with none's of the same round, the median), instructions are callgrind's, allocations are counted. Overheads are over the bare route given the same\n\
         request unless said. Exemplars are on (their default) in every figure. `(bound)` is the benches' build, with the opt-in\n\
         `bound-instruments` feature; `(stable API)` is the default build, measured in instructions.\n"
    );
    let _ = writeln!(md, "| budget | this run | verdict | verdict from |");
    let _ = writeln!(md, "|---|---|---|---|");
    let mut row = |budget: &str, figure: String, ok: Option<bool>, from: &str| {
        let _ = writeln!(md, "| {budget} | {figure} | {} | {from} |", verdict(ok));
    };
    let opt = |v: Option<f64>, f: &dyn Fn(f64) -> String| v.map_or("-".into(), f);
    let both = |a: Option<bool>, b: Option<bool>| match (a, b) {
        (Some(a), Some(b)) => Some(a && b),
        (a, None) => a,
        (None, b) => b,
    };

    // 1. fused vs the peer combination, in both builds.
    let peer = "peer_axum_tracing_otel_plus_axum_otel_metrics";
    let t = over("ours_fused", "bare").zip(over(peer, "bare"));
    let p = ins("peer_combo", "bare");
    let bound = ins("fused", "bare").zip(p);
    let stable = ins("fused_stable_api", "bare").zip(p);
    let ratio = |x: Option<(f64, f64)>| x.map(|(f, p)| f / p);
    let figure = format!(
        "in instructions {} (bound), {} (stable API); in CPU time {} (bound)",
        opt(ratio(bound), &|r| format!("{r:.2} ({:.0} vs {:.0})", bound.unwrap().0, bound.unwrap().1)),
        opt(ratio(stable), &|r| format!("{r:.2} ({:.0})", stable.unwrap().0)),
        opt(ratio(t), &|r| format!("{r:.2} ({} vs {})", fmt_ns(t.unwrap().0), fmt_ns(t.unwrap().1))),
    );
    row(
        "fused ≤ 0.40× axum-tracing-opentelemetry + axum-otel-metrics (overhead on the realistic request)",
        figure,
        both(ratio(bound).map(|r| r <= 0.40), ratio(stable).map(|r| r <= 0.40)),
        "instructions, both builds",
    );

    // 2. metrics alone on the stable API vs axum-otel-metrics.
    let m = ins("metrics_stable_api", "bare").zip(ins("peer_axum_otel_metrics", "bare"));
    let mb = ins("metrics", "bare").zip(ins("peer_axum_otel_metrics", "bare"));
    let tm = over("ours_metrics", "bare").zip(over("peer_axum_otel_metrics", "bare"));
    row(
        "metrics only, stable API: ≤ 0.7× axum-otel-metrics",
        format!(
            "{} in instructions; with `bound-instruments` {}; in CPU time (bound) {}",
            opt(ratio(m), &|r| format!("{r:.2} ({:.0} vs {:.0})", m.unwrap().0, m.unwrap().1)),
            opt(ratio(mb), &|r| format!("{r:.2} ({:.0})", mb.unwrap().0)),
            opt(ratio(tm), &|r| format!("{r:.2} ({} vs {})", fmt_ns(tm.unwrap().0), fmt_ns(tm.unwrap().1))),
        ),
        ratio(m).map(|r| r <= 0.7),
        "instructions",
    );

    // 3. load.
    let find = |name: &str| load.and_then(|l| l.iter().find(|r| r.name == name));
    let (none, ours, peers) = (find("none"), find("ours"), find("peers"));
    let on = ours.zip(none);
    // Paired by round where the file has it (see the load table), else the medians' ratio.
    let share = on.map(|(o, n)| if o.share_of_none.is_nan() { n.cpu_us() / o.cpu_us() } else { o.share_of_none });
    row(
        "load: ours ≥ 85% of no layers",
        opt(share, &|r| {
            let (o, n) = on.unwrap();
            format!(
                "{:.1}% in requests per CPU-second (paired by round; medians {:.1} vs {:.1} µs CPU/request: {:.1}%); throughput {:.1}%",
                100.0 * r,
                o.cpu_us(),
                n.cpu_us(),
                100.0 * n.cpu_us() / o.cpu_us(),
                100.0 * o.rate() / n.rate()
            )
        }),
        share.map(|r| r >= 0.85),
        "CPU per request",
    );
    let op = ours.zip(peers);
    row(
        "load: ours ahead of the peer stack (same run)",
        opt(op.map(|(o, _)| o.cpu_us()), &|_| {
            let (o, p) = op.unwrap();
            format!("{:.1} vs {:.1} µs CPU/request; {:.0} vs {:.0} requests/s", o.cpu_us(), p.cpu_us(), o.rate(), p.rate())
        }),
        op.map(|(o, p)| o.cpu_us() < p.cpu_us()),
        "CPU per request",
    );
    // The three layers of a load-test request single-threaded: two fused servers, one fused client.
    let micro = over("ours_fused", "bare").zip(client_over("ours_fused")).map(|(s, c)| (2.0 * s + c) / 1000.0);
    let under = on.map(|(o, n)| if o.over_none_median.is_nan() { o.cpu_us() - n.cpu_us() } else { o.over_none_median });
    let loaded = ins("load_ours", "load_none");
    row(
        "load: the chain's CPU overhead per request ≤ 2× its single-threaded figure",
        opt(under.zip(micro).map(|(u, m)| u / m), &|r| {
            format!(
                "{r:.2}× ({:.1} µs under load, paired by round (quartiles {}) vs {:.1} µs: 2 × server fused + client fused); in instructions {}",
                under.unwrap(),
                match ours.filter(|o| !o.over_none_q1.is_nan()) {
                    Some(o) => format!("{:.1} to {:.1} µs", o.over_none_q1, o.over_none_q3),
                    None => "-".into(),
                },
                micro.unwrap(),
                opt(loaded.zip(micro_chain_instructions(n)).map(|(l, m)| l / m), &|r| format!(
                    "{r:.2}× ({:.0} under load vs {:.0})",
                    loaded.unwrap(),
                    micro_chain_instructions(n).unwrap()
                )),
            )
        }),
        under.zip(micro).map(|(u, m)| u <= 2.0 * m),
        "CPU time",
    );

    // 4. sampled out vs sampled.
    for (name, cg, label) in [("ours_sampled_out", "sampled_out", "sampled out (`AlwaysOff`)"), ("ours_fused_unsampled_parent", "fused_unsampled_parent", "sampled out by the parent (flags `00`, `ParentBased`)")] {
        let i = ins(cg, "bare").zip(ins("fused", "bare"));
        let t = over(name, "bare").zip(over("ours_fused", "bare"));
        let figure = format!(
            "{}; in CPU time {}",
            opt(ratio(i), &|r| format!("{r:.2} in instructions ({:.0} vs {:.0})", i.unwrap().0, i.unwrap().1)),
            opt(ratio(t), &|r| format!("{r:.2} ({} vs {})", fmt_ns(t.unwrap().0), fmt_ns(t.unwrap().1))),
        );
        let r = ratio(i).or(ratio(t));
        row(&format!("{label}: ≤ 0.6 of sampled (fused)"), figure, r.map(|r| r <= 0.6), if i.is_some() { "instructions" } else { "CPU time" });
    }

    // 5. disabled vs axum's identity layer.
    let a = allocs_over("ours_disabled", "bare_identity_layer");
    row(
        "disabled (no provider: the API's no-op tracer): ≤ 1 allocation over axum's identity layer",
        format!(
            "{} allocations ({} in CPU time, {} in instructions)",
            opt(a, &|a| format!("{a:+.2}")),
            opt(over("ours_disabled", "bare_identity_layer"), &|t| format!("{t:+.0} ns")),
            opt(ins("disabled", "identity"), &|i| format!("{i:+.0}"))
        ),
        a.map(|a| a <= 1.0),
        "allocation count",
    );

    // Earlier budgets, kept.
    let floor = n.get("floor").copied();
    let fi = ins("fused", "bare").zip(floor);
    row(
        "fused ≤ 1.3× the SDK floor (same span, attributes, points), in instructions",
        opt(fi.map(|(f, fl)| f / fl), &|r| {
            format!(
                "{r:.2}× ({:.0} over bare vs a {:.0} floor; over axum's identity layer {}; in CPU time {})",
                fi.unwrap().0,
                fi.unwrap().1,
                opt(ins("fused", "identity").zip(floor).map(|(f, fl)| f / fl), &|r| format!("{r:.2}×")),
                opt(
                    over("ours_fused", "bare").zip(groups.get("sdk").and_then(|s| s.get("floor")).map(|f| f.median_ns)).map(|(o, f)| o / f),
                    &|r| format!("{r:.2}×")
                ),
            )
        }),
        fi.map(|(f, fl)| f <= 1.3 * fl),
        "instructions",
    );
    // Two decimals: the count is process-wide over 10,000 requests (the exporter thread's
    // batches included), so a verdict at the edge shows why.
    let a = allocs_over("ours_fused", "bare");
    row("fused: ≤ 10 allocations per request over bare", opt(a, &|a| format!("{a:+.2}")), a.map(|a| a <= 10.0), "allocation count");
    let a = allocs_over("ours_filtered", "bare_identity_layer");
    let t = over("ours_filtered", "bare_identity_layer");
    row(
        "filtered (`skip_if`): ≤ 2 allocations and ≤ 100 ns over axum's identity layer",
        format!(
            "{} allocations, {} (in instructions {})",
            opt(a, &|a| format!("{a:+.2}")),
            opt(t, &|t| format!("{t:+.0} ns")),
            opt(ins("filtered", "identity"), &|i| format!("{i:+.0}"))
        ),
        a.zip(t).map(|(a, t)| a <= 2.0 && t <= 100.0),
        "allocation count and CPU time",
    );
}

/// What the figures are made of, written from the callgrind profile of the run this file
/// comes from (see `callgrind-fused.txt`, and `callgrind_annotate --inclusive=yes`).
const NOTES: &str = include_str!("notes.md");
