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
    seconds: f64,
    cpu_seconds: f64,
    p50_us: f64,
    p99_us: f64,
    rss_start: f64,
    rss_end: f64,
}

impl Load {
    fn rate(&self) -> f64 {
        self.requests / self.seconds
    }
    fn cpu_us(&self) -> f64 {
        self.cpu_seconds * 1e6 / self.requests
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
                seconds: n(3),
                cpu_seconds: n(4),
                p50_us: n(5),
                p99_us: n(6),
                rss_start: n(7),
                rss_end: n(8),
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
    let _ = writeln!(md, "Machine: {machine}  \nCommand: `{command}`  \nAll figures below come from this one run.\n");
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
    if let Some((header, runs)) = &load {
        load_table(&mut md, header, runs);
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
    if let Ok(previous) = std::fs::read_to_string(&output) {
        if let Some(start) = previous.find("\n## soak\n") {
            let rest = &previous[start + 1..];
            let end = rest[3..].find("\n## ").map_or(rest.len(), |i| i + 4);
            md.push('\n');
            md.push_str(rest[..end].trim_end());
            md.push('\n');
        }
    }
    std::fs::write(&output, md).expect("write BENCHMARKS.md");
    println!("wrote {}", output.display());
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
    for (name, v) in n {
        let base = if name.starts_with("client") && name != "client_floor" {
            Some("client_bare")
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
    for v in ["metrics", "fused"] {
        if let (Some(bound), Some(stable), Some(bare)) = (n.get(v), n.get(&format!("{v}_stable_api")), n.get("bare")) {
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

fn load_table(md: &mut String, header: &str, runs: &[Load]) {
    let mut h = header.split_whitespace();
    let seconds = h.next().unwrap_or("?");
    let concurrency = h.next().unwrap_or("?");
    let _ = writeln!(md, "## load\n");
    let _ = writeln!(
        md,
        "`benches/peers/load.rs` (`load {seconds}`): {concurrency} concurrent clients for {seconds} s per stack (after a 2 s warm-up),\n\
         a frontend calling a backend over HTTP for every request, all on 127.0.0.1 in one process, the three stacks one\n\
         after another in the same process: **none** (no layers); **ours** (the fused server layer on both servers, our client\n\
         layer with metrics on the frontend's call); **peers** (axum-tracing-opentelemetry's `OtelAxumLayer` +\n\
         `OtelInResponseLayer` and axum-otel-metrics on both servers; a `tracing` CLIENT span on the frontend's call whose\n\
         context the global propagator injects, as reqwest-tracing does; no client metrics, which no peer offers). Spans go to\n\
         a batch processor with a sink exporter and metrics to a reader that never collects, identically for both. The load\n\
         generator's requests carry `Host`, `User-Agent`, `Accept` and a sampled `traceparent`.\n\n\
         The load generator runs on the same 2 cores, so throughput is what is left after it: **CPU per request** (the\n\
         process's CPU time ÷ requests: generator, frontend, backend and exporter threads) is the fair figure, and its\n\
         increase over *none* is what the three layers of each request (two server spans, one client span) cost under load.\n"
    );
    let none = runs.iter().find(|r| r.name == "none");
    let _ = writeln!(md, "| stack | requests/s | requests | errors | p50 | p99 | CPU/request | over none | RSS after warm-up | RSS at the end |");
    let _ = writeln!(md, "|---|---|---|---|---|---|---|---|---|---|");
    for r in runs {
        let over = none.map_or("-".into(), |n| format!("{:+.1} µs", r.cpu_us() - n.cpu_us()));
        let _ = writeln!(
            md,
            "| {} | {:.0} | {:.0} | {:.0} | {:.0} µs | {:.0} µs | {:.1} µs | {over} | {:.0} KiB | {:.0} KiB |",
            r.name,
            r.rate(),
            r.requests,
            r.errors,
            r.p50_us,
            r.p99_us,
            r.cpu_us(),
            r.rss_start,
            r.rss_end
        );
    }
    let _ = writeln!(md, "\nLatency quantiles are the upper bounds of 2%-wide buckets.\n");
}

/// The performance budgets (the "Budgets" table of BENCHMARKS.md), each with the figure from
/// this run and whether it holds.
fn budgets(md: &mut String, groups: &BTreeMap<String, BTreeMap<String, Result>>, load: Option<&[Load]>, n: &BTreeMap<String, f64>) {
    let server = groups.get("server");
    let get = |name: &str| server.and_then(|s| s.get(name));
    let over = |name: &str, base: &str| Some(get(name)?.median_ns - get(base)?.median_ns);
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
        "Checked against this run's figures: time is process CPU time (criterion, median of the passes), instructions are\n\
         callgrind's, allocations are counted. Overheads are over the bare route given the same request unless said.\n"
    );
    let _ = writeln!(md, "| budget | this run | verdict | verdict from |");
    let _ = writeln!(md, "|---|---|---|---|");
    let mut row = |budget: &str, figure: String, ok: Option<bool>, from: &str| {
        let _ = writeln!(md, "| {budget} | {figure} | {} | {from} |", verdict(ok));
    };
    let opt = |v: Option<f64>, f: &dyn Fn(f64) -> String| v.map_or("-".into(), f);

    // 1. fused vs the peer combination.
    let peer = "peer_axum_tracing_otel_plus_axum_otel_metrics";
    let t = over("ours_fused", "bare").zip(over(peer, "bare"));
    let i = ins("fused", "bare").zip(ins("peer_combo", "bare"));
    let figure = format!(
        "{}; in CPU time {}",
        opt(i.map(|(f, p)| f / p), &|r| format!("{r:.2} in instructions ({:.0} vs {:.0})", i.unwrap().0, i.unwrap().1)),
        opt(t.map(|(f, p)| f / p), &|r| format!("{r:.2} ({} vs {})", fmt_ns(t.unwrap().0), fmt_ns(t.unwrap().1))),
    );
    let ratio = i.map(|(f, p)| f / p).or(t.map(|(f, p)| f / p));
    row(
        "fused ≤ 1/3 of axum-tracing-opentelemetry + axum-otel-metrics (overhead on the realistic request)",
        figure.clone(),
        ratio.map(|r| r <= 1.0 / 3.0),
        if i.is_some() { "instructions" } else { "CPU time" },
    );
    row("… ambition: ≤ 1/4", figure, ratio.map(|r| r <= 0.25), if i.is_some() { "instructions" } else { "CPU time" });

    // 2. fused vs the SDK floor, in instructions.
    let floor = n.get("floor").copied();
    let fi = ins("fused", "bare").zip(floor);
    let figure = opt(fi.map(|(f, fl)| f / fl), &|r| {
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
    });
    row("fused ≤ 1.3× the SDK floor (same span, attributes, points), in instructions", figure.clone(), fi.map(|(f, fl)| f <= 1.3 * fl), "instructions");
    row("… ambition: ≤ 1.15×", figure, fi.map(|(f, fl)| f <= 1.15 * fl), "instructions");

    // 3. allocations.
    let a = allocs_over("ours_fused", "bare");
    // Two decimals: the count is process-wide over 10,000 requests (the exporter thread's
    // batches included), so a verdict at the edge shows why.
    row("fused: ≤ 10 allocations per request over bare", opt(a, &|a| format!("{a:+.2}")), a.map(|a| a <= 10.0), "allocation count");

    // 4. disabled and filtered vs axum's identity layer.
    for (name, cg, label) in [("ours_disabled", "disabled", "disabled (no provider: the API's no-op tracer)"), ("ours_filtered", "filtered", "filtered (`skip_if`)")] {
        let a = allocs_over(name, "bare_identity_layer");
        let t = over(name, "bare_identity_layer");
        let i = ins(cg, "identity");
        row(
            &format!("{label}: ≤ 2 allocations and ≤ 100 ns over axum's identity layer"),
            format!(
                "{} allocations, {} (in instructions {})",
                opt(a, &|a| format!("{a:+.2}")),
                opt(t, &|t| format!("{t:+.0} ns")),
                opt(i, &|i| format!("{i:+.0}"))
            ),
            a.zip(t).map(|(a, t)| a <= 2.0 && t <= 100.0),
            "allocation count and CPU time",
        );
    }

    // 5. sampled out vs sampled.
    for (name, cg, label) in [("ours_sampled_out", "sampled_out", "sampled out (`AlwaysOff`)"), ("ours_fused_unsampled_parent", "fused_unsampled_parent", "sampled out by the parent (flags `00`, `ParentBased`)")] {
        let i = ins(cg, "bare").zip(ins("fused", "bare"));
        let t = over(name, "bare").zip(over("ours_fused", "bare"));
        let figure = format!(
            "{}; in CPU time {}",
            opt(i.map(|(o, s)| o / s), &|r| format!("{r:.2} in instructions ({:.0} vs {:.0})", i.unwrap().0, i.unwrap().1)),
            opt(t.map(|(o, s)| o / s), &|r| format!("{r:.2} ({} vs {})", fmt_ns(t.unwrap().0), fmt_ns(t.unwrap().1))),
        );
        let ratio = i.map(|(o, s)| o / s).or(t.map(|(o, s)| o / s));
        row(&format!("{label}: ≤ 1/2 of sampled (fused)"), figure, ratio.map(|r| r <= 0.5), if i.is_some() { "instructions" } else { "CPU time" });
    }

    // 6. load.
    let find = |name: &str| load.and_then(|l| l.iter().find(|r| r.name == name));
    let (none, ours, peers) = (find("none"), find("ours"), find("peers"));
    let op = ours.zip(peers);
    row(
        "load: ours ahead of the peer stack",
        opt(op.map(|(o, _)| o.cpu_us()), &|_| {
            let (o, p) = op.unwrap();
            format!("{:.1} vs {:.1} µs CPU/request; {:.0} vs {:.0} requests/s", o.cpu_us(), p.cpu_us(), o.rate(), p.rate())
        }),
        op.map(|(o, p)| o.cpu_us() < p.cpu_us()),
        "CPU per request",
    );
    let on = ours.zip(none);
    row(
        "load: ours ≥ 85% of no layers",
        opt(on.map(|(o, n)| n.cpu_us() / o.cpu_us()), &|r| {
            let (o, n) = on.unwrap();
            format!("{:.1}% in requests per CPU-second ({:.1} vs {:.1} µs CPU/request); throughput {:.1}%", 100.0 * r, o.cpu_us(), n.cpu_us(), 100.0 * o.rate() / n.rate())
        }),
        on.map(|(o, n)| n.cpu_us() / o.cpu_us() >= 0.85),
        "CPU per request",
    );
}

/// What the figures are made of, written from the callgrind profile of the run this file
/// comes from (see `callgrind-fused.txt`, and `callgrind_annotate --inclusive=yes`).
const NOTES: &str = include_str!("notes.md");
