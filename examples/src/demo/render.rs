//! Terminal output: trace waterfalls and a RED table, in 80 columns, coloured only on a
//! terminal (and never with `NO_COLOR` set).

use std::collections::{BTreeMap, HashMap};
use std::io::{self, Write};
use std::time::SystemTime;

use opentelemetry::trace::{SpanId, SpanKind, Status};
use opentelemetry_sdk::metrics::data::{AggregatedMetrics, MetricData, ResourceMetrics};
use opentelemetry_sdk::trace::SpanData;
use tower_telemetry_metrics::SeriesExemplars;

use super::logs::LogLine;

/// Whether to colour the output.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Style {
    color: bool,
}

impl Style {
    /// Colour when stdout is a terminal and `NO_COLOR` is not set.
    pub fn detect() -> Self {
        use std::io::IsTerminal;
        Style {
            color: std::io::stdout().is_terminal() && std::env::var_os("NO_COLOR").is_none(),
        }
    }

    /// Plain text.
    pub const fn plain() -> Self {
        Style { color: false }
    }

    fn paint(self, code: &str, text: &str) -> String {
        if self.color {
            format!("\x1b[{code}m{text}\x1b[0m")
        } else {
            text.to_owned()
        }
    }

    /// Bold.
    pub fn bold(self, text: &str) -> String {
        self.paint("1", text)
    }

    /// Dimmed.
    pub fn dim(self, text: &str) -> String {
        self.paint("2", text)
    }

    /// Red for errors.
    pub fn red(self, text: &str) -> String {
        self.paint("31", text)
    }

    /// A status code, red when it is 5xx or an error.
    pub fn status(self, status: &str) -> String {
        if status.starts_with('5') || status.starts_with("error") {
            self.red(status)
        } else {
            self.paint("32", status)
        }
    }

    fn service(self, service: &str, text: &str) -> String {
        let code = match service {
            "frontend" => "36",
            "backend" => "35",
            _ => "33",
        };
        self.paint(code, text)
    }
}

const SERVICE: usize = 8;
const KIND: usize = 6;
const NAME: usize = 27;
const BAR: usize = 24;

fn service_of(span: &SpanData) -> String {
    span.instrumentation_scope.name().to_owned()
}

fn kind(kind: &SpanKind) -> &'static str {
    match kind {
        SpanKind::Server => "server",
        SpanKind::Client => "client",
        SpanKind::Producer => "prod",
        SpanKind::Consumer => "cons",
        SpanKind::Internal => "intern",
    }
}

fn millis(from: SystemTime, to: SystemTime) -> f64 {
    to.duration_since(from)
        .map(|d| d.as_secs_f64() * 1e3)
        .unwrap_or(0.0)
}

fn fit(text: &str, width: usize) -> String {
    if text.chars().count() <= width {
        format!("{text:<width$}")
    } else {
        let cut: String = text.chars().take(width.saturating_sub(1)).collect();
        format!("{cut}…")
    }
}

/// Prints every trace as a span tree with a time bar per span, then the log lines written in
/// its requests (matched on their `trace_id`).
///
/// # Errors
///
/// When writing fails.
pub fn render_waterfalls(
    spans: &[SpanData],
    logs: &[LogLine],
    out: &mut impl Write,
    style: Style,
) -> io::Result<()> {
    let mut traces: BTreeMap<[u8; 16], Vec<&SpanData>> = BTreeMap::new();
    for span in spans {
        traces
            .entry(span.span_context.trace_id().to_bytes())
            .or_default()
            .push(span);
    }
    let mut traces: Vec<Vec<&SpanData>> = traces.into_values().collect();
    traces.sort_by_key(|t| t.iter().map(|s| s.start_time).min());
    writeln!(out, "{}", style.bold(&format!("Traces ({})", traces.len())))?;
    for trace in traces {
        let start = trace
            .iter()
            .map(|s| s.start_time)
            .min()
            .unwrap_or(SystemTime::UNIX_EPOCH);
        let end = trace.iter().map(|s| s.end_time).max().unwrap_or(start);
        let total = millis(start, end).max(0.001);
        let ids: Vec<SpanId> = trace.iter().map(|s| s.span_context.span_id()).collect();
        let mut children: HashMap<SpanId, Vec<&SpanData>> = HashMap::new();
        let mut roots = Vec::new();
        for span in &trace {
            if ids.contains(&span.parent_span_id) {
                children.entry(span.parent_span_id).or_default().push(span);
            } else {
                roots.push(*span);
            }
        }
        roots.sort_by_key(|s| s.start_time);
        for list in children.values_mut() {
            list.sort_by_key(|s| s.start_time);
        }
        let root = roots.first().copied();
        let remote = root
            .filter(|r| r.parent_span_id != SpanId::INVALID)
            .map(|_| "  continues a remote parent");
        writeln!(
            out,
            "{} {}  {:.1} ms{}",
            style.dim("trace"),
            trace[0].span_context.trace_id(),
            total,
            style.dim(remote.unwrap_or(""))
        )?;
        let mut stack: Vec<(&SpanData, usize)> = roots.iter().rev().map(|s| (*s, 0)).collect();
        while let Some((span, depth)) = stack.pop() {
            let service = service_of(span);
            let failed = matches!(span.status, Status::Error { .. });
            let offset = ((millis(start, span.start_time) / total) * BAR as f64).round() as usize;
            let length = (((millis(span.start_time, span.end_time) / total) * BAR as f64).round()
                as usize)
                .max(1);
            let offset = offset.min(BAR - 1);
            let length = length.min(BAR - offset);
            let bar = format!(
                "{}{}{}",
                " ".repeat(offset),
                "█".repeat(length),
                " ".repeat(BAR - offset - length)
            );
            let name = fit(&format!("{}{}", "  ".repeat(depth), span.name), NAME);
            let marker = if failed {
                style.red("✗")
            } else {
                " ".to_owned()
            };
            writeln!(
                out,
                "{marker}{} {} {} {} {:>6.1}ms",
                style.service(&service, &fit(&service, SERVICE)),
                style.dim(&fit(kind(&span.span_kind), KIND)),
                if failed { style.red(&name) } else { name },
                style.service(&service, &bar),
                millis(span.start_time, span.end_time),
            )?;
            if let Some(kids) = children.get(&span.span_context.span_id()) {
                for kid in kids.iter().rev() {
                    stack.push((kid, depth + 1));
                }
            }
        }
        render_logs(
            &trace[0].span_context.trace_id().to_string(),
            logs,
            out,
            style,
        )?;
    }
    Ok(())
}

/// Level, service, message: the width left for the message.
const MESSAGE: usize = 80 - 2 - 5 - 1 - SERVICE - 1;

/// The log lines of one trace, in the order they were written.
fn render_logs(
    trace_id: &str,
    logs: &[LogLine],
    out: &mut impl Write,
    style: Style,
) -> io::Result<()> {
    let mut lines = logs.iter().filter(|l| l.trace_id == trace_id).peekable();
    if lines.peek().is_none() {
        return Ok(());
    }
    writeln!(
        out,
        "  {}",
        style.dim(&format!("logs, each with trace_id={trace_id}:"))
    )?;
    for line in lines {
        let level = format!("{:<5}", line.level);
        let level = match line.level.as_str() {
            "ERROR" | "WARN" => style.red(&level),
            _ => style.dim(&level),
        };
        writeln!(
            out,
            "  {level} {} {}",
            style.service(&line.service, &fit(&line.service, SERVICE)),
            fit(&line.message, MESSAGE).trim_end()
        )?;
    }
    Ok(())
}

/// One row of the RED table: merged histogram points of one route.
#[derive(Debug, Default)]
struct Row {
    count: u64,
    errors: u64,
    bounds: Vec<f64>,
    buckets: Vec<u64>,
}

/// The `q` quantile of a histogram, interpolated linearly inside its bucket (as Prometheus's
/// `histogram_quantile` does).
pub(super) fn quantile(bounds: &[f64], buckets: &[u64], q: f64) -> Option<f64> {
    let total: u64 = buckets.iter().sum();
    if total == 0 {
        return None;
    }
    let rank = q * total as f64;
    let mut seen = 0u64;
    for (i, &count) in buckets.iter().enumerate() {
        if count > 0 && (seen + count) as f64 >= rank {
            let lower = if i == 0 { 0.0 } else { bounds[i - 1] };
            let Some(&upper) = bounds.get(i) else {
                return Some(lower);
            };
            let within = (rank - seen as f64) / count as f64;
            return Some(lower + (upper - lower) * within);
        }
        seen += count;
    }
    bounds.last().copied()
}

/// The route of a server duration series as the RED table names it: `GET /users/{id}`, or
/// the RPC method.
fn route_of(rpc: bool, attr: impl Fn(&str) -> Option<String>) -> String {
    if rpc {
        attr("rpc.method").unwrap_or_else(|| "_OTHER".to_owned())
    } else {
        let method = attr("http.request.method").unwrap_or_default();
        format!(
            "{method} {}",
            attr("http.route").unwrap_or_else(|| "(no route)".to_owned())
        )
    }
}

/// Per service and route, the exemplar of the slowest bucket that has one: its bucket's upper
/// bound (ms) and trace id. The service is the one whose span the exemplar names.
fn slowest_exemplars(
    exemplars: &[SeriesExemplars],
    spans: &[SpanData],
) -> HashMap<(String, String), (f64, String)> {
    let mut slowest: HashMap<(String, String), (f64, String)> = HashMap::new();
    for series in exemplars {
        let (rpc, scale) = match series.metric.as_str() {
            "http_server_request_duration_seconds" => (false, 1000.0),
            "rpc_server_call_duration_seconds" => (true, 1000.0),
            _ => continue,
        };
        // Exemplar labels are Prometheus names: `http.route` is `http_route`.
        let route = route_of(rpc, |k| {
            let k = k.replace('.', "_");
            series
                .labels
                .iter()
                .find(|(name, _)| *name == k)
                .map(|(_, v)| v.clone())
        });
        for e in &series.exemplars {
            let Some(span) = spans.iter().find(|s| s.span_context.span_id() == e.span_id) else {
                continue;
            };
            let upper = e.upper_bound * scale;
            let entry = slowest
                .entry((service_of(span), route.clone()))
                .or_insert((f64::NEG_INFINITY, String::new()));
            if upper > entry.0 {
                *entry = (upper, e.trace_id.to_string());
            }
        }
    }
    slowest
}

/// Prints rate (count), errors and p50/p90/p99 per service and route, from the servers'
/// duration histograms; under each route, the trace of the exemplar in its slowest bucket
/// (`exemplars`, as [`tower_telemetry_metrics::kept_exemplars`] reads them), to find that
/// request's waterfall among `spans`.
///
/// # Errors
///
/// When writing fails.
pub fn render_red_table(
    metrics: &HashMap<&'static str, Vec<ResourceMetrics>>,
    exemplars: &[SeriesExemplars],
    spans: &[SpanData],
    out: &mut impl Write,
    style: Style,
) -> io::Result<()> {
    let slowest = slowest_exemplars(exemplars, spans);
    writeln!(
        out,
        "{}",
        style.bold("RED per service and route (server side)")
    )?;
    writeln!(
        out,
        "{}",
        style.dim(&format!(
            "{:<8} {:<27} {:>6} {:>7} {:>8} {:>8} {:>8}",
            "service", "route", "count", "errors", "p50", "p90", "p99"
        ))
    )?;
    for service in ["frontend", "backend", "greeter"] {
        let Some(exports) = metrics.get(service) else {
            continue;
        };
        let Some(last) = exports.last() else { continue };
        let mut rows: BTreeMap<String, Row> = BTreeMap::new();
        for metric in last.scope_metrics().flat_map(|s| s.metrics()) {
            let (name, scale) = match metric.name() {
                "http.server.request.duration" | "rpc.server.call.duration" => {
                    (metric.name(), 1000.0)
                }
                _ => continue,
            };
            let AggregatedMetrics::F64(MetricData::Histogram(histogram)) = metric.data() else {
                continue;
            };
            for point in histogram.data_points() {
                let attr = |k: &str| {
                    point
                        .attributes()
                        .find(|kv| kv.key.as_str() == k)
                        .map(|kv| kv.value.to_string())
                };
                let route = route_of(name.starts_with("rpc"), attr);
                let row = rows.entry(route).or_default();
                row.count += point.count();
                if attr("error.type").is_some() {
                    row.errors += point.count();
                }
                let bounds: Vec<f64> = point.bounds().map(|b| b * scale).collect();
                let buckets: Vec<u64> = point.bucket_counts().collect();
                if row.buckets.is_empty() {
                    row.bounds = bounds;
                    row.buckets = buckets;
                } else {
                    for (total, add) in row.buckets.iter_mut().zip(buckets) {
                        *total += add;
                    }
                }
            }
        }
        for (route, row) in rows {
            let q = |q: f64| {
                quantile(&row.bounds, &row.buckets, q)
                    .map_or("-".to_owned(), |v| format!("{v:.1}ms"))
            };
            let errors = format!(
                "{:.0}%",
                100.0 * row.errors as f64 / row.count.max(1) as f64
            );
            writeln!(
                out,
                "{} {} {:>6} {:>7} {:>8} {:>8} {:>8}",
                style.service(service, &fit(service, SERVICE)),
                fit(&route, NAME),
                row.count,
                if row.errors > 0 {
                    style.red(&format!("{errors:>7}"))
                } else {
                    format!("{errors:>7}")
                },
                q(0.5),
                q(0.9),
                q(0.99),
            )?;
            if let Some((upper, trace)) = slowest.get(&(service.to_owned(), route)) {
                let bucket = if upper.is_finite() {
                    format!("<= {upper}ms")
                } else {
                    "+Inf".to_owned()
                };
                writeln!(
                    out,
                    "{}",
                    style.dim(&format!("{:9}slowest bucket {bucket}: trace {trace}", ""))
                )?;
            }
        }
    }
    writeln!(
        out,
        "{}",
        style.dim("Quantiles are interpolated inside the semconv buckets (5 ms, 10 ms, 25 ms, …).")
    )?;
    writeln!(
        out,
        "{}",
        style.dim("Each trace named is an exemplar: Prometheus shows it on the bucket's line.")
    )?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantiles_interpolate_inside_buckets() {
        let bounds = [10.0, 20.0, 40.0];
        assert_eq!(quantile(&bounds, &[0, 0, 0, 0], 0.5), None);
        assert_eq!(quantile(&bounds, &[2, 0, 0, 0], 0.5), Some(5.0));
        assert_eq!(quantile(&bounds, &[0, 4, 0, 0], 0.5), Some(15.0));
        assert_eq!(quantile(&bounds, &[1, 1, 2, 0], 1.0), Some(40.0));
        assert_eq!(
            quantile(&bounds, &[0, 0, 0, 3], 0.99),
            Some(40.0),
            "+Inf bucket: the last bound"
        );
    }

    #[test]
    fn fit_truncates_to_width() {
        assert_eq!(fit("abc", 5), "abc  ");
        assert_eq!(fit("abcdefgh", 5), "abcd…");
    }
}
