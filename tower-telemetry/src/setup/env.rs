//! The variables this setup reads itself (the SDK and `opentelemetry-otlp` read theirs), with
//! the [OpenTelemetry environment-variable rules]: an empty value is unset, a value that cannot
//! be used gets one warning naming the variable and the default is used; in strict mode it is
//! an error instead. `OTEL_PROPAGATORS` is read in `propagators`, the certificate files in
//! `tls`, the OTLP protocol in `exporters`.
//!
//! [OpenTelemetry environment-variable rules]: https://opentelemetry.io/docs/specs/otel/configuration/sdk-environment-variables/#parsing-empty-value

use std::fmt;

use opentelemetry_sdk::Resource;
use opentelemetry_sdk::trace::Sampler;
use tower_telemetry_metrics::ExemplarFilter;
use tower_telemetry_trace::RpcConventions;

use super::report::Diagnostics;

/// A variable that could not be used (strict mode), or an exporter that failed to build.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SetupError {
    variable: String,
    value: String,
    reason: String,
}

impl SetupError {
    pub(crate) fn new(variable: &str, value: &str, reason: impl Into<String>) -> Self {
        SetupError {
            variable: variable.to_owned(),
            value: value.to_owned(),
            reason: reason.into(),
        }
    }

    /// The variable at fault (or the component, for an exporter that failed to build).
    pub fn variable(&self) -> &str {
        &self.variable
    }
}

impl fmt::Display for SetupError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}={:?}: {}", self.variable, self.value, self.reason)
    }
}

impl std::error::Error for SetupError {}

pub(crate) type Vars = Box<dyn Fn(&str) -> Option<String>>;

/// Reads variables, warning (or failing, when strict) on values that cannot be used.
pub(crate) struct Env<'a> {
    pub(crate) vars: &'a Vars,
    pub(crate) strict: bool,
    pub(crate) diagnostics: &'a Diagnostics,
    /// The warnings given so far: a variable read for each signal (the general
    /// `OTEL_EXPORTER_OTLP_CERTIFICATE` for traces and for metrics) is reported once.
    pub(crate) warned: std::cell::RefCell<Vec<String>>,
}

impl<'a> Env<'a> {
    /// Reads `vars`; warns to `diagnostics`, or fails when `strict`.
    pub(crate) fn new(vars: &'a Vars, strict: bool, diagnostics: &'a Diagnostics) -> Self {
        Env {
            vars,
            strict,
            diagnostics,
            warned: Default::default(),
        }
    }

    /// The value, trimmed; empty is unset.
    pub(crate) fn get(&self, name: &str) -> Option<String> {
        (self.vars)(name)
            .map(|v| v.trim().to_owned())
            .filter(|v| !v.is_empty())
    }

    /// The name of the OTLP exporter variable `what` for `signal` (`TRACES`, `METRICS`):
    /// `OTEL_EXPORTER_OTLP_{signal}_{what}` when it is set, else the general
    /// `OTEL_EXPORTER_OTLP_{what}` (the signal's wins, as the OTLP exporter spec says).
    pub(crate) fn otlp_variable(&self, signal: &str, what: &str) -> String {
        let specific = format!("OTEL_EXPORTER_OTLP_{signal}_{what}");
        if self.get(&specific).is_some() {
            specific
        } else {
            format!("OTEL_EXPORTER_OTLP_{what}")
        }
    }

    /// A value that cannot be used: an error when strict, else one warning and `default`.
    pub(crate) fn reject<T>(
        &self,
        name: &str,
        value: &str,
        reason: &str,
        default: T,
        default_text: &str,
    ) -> Result<T, SetupError> {
        if self.strict {
            return Err(SetupError::new(name, value, reason));
        }
        self.warn_once(format!(
            "{name}={value:?} ignored: {reason}; using {default_text}"
        ));
        Ok(default)
    }

    /// `message`, unless it was given already.
    fn warn_once(&self, message: String) {
        let mut warned = self.warned.borrow_mut();
        if !warned.contains(&message) {
            self.diagnostics.warn(&message);
            warned.push(message);
        }
    }

    /// One of `allowed` (case-insensitive), else `default`.
    pub(crate) fn choice(
        &self,
        name: &str,
        allowed: &[&'static str],
        default: &'static str,
    ) -> Result<&'static str, SetupError> {
        let Some(value) = self.get(name) else {
            return Ok(default);
        };
        match allowed.iter().find(|a| a.eq_ignore_ascii_case(&value)) {
            Some(v) => Ok(v),
            None => self.reject(
                name,
                &value,
                &format!("expected one of {}", allowed.join(", ")),
                default,
                &format!("the default ({default})"),
            ),
        }
    }

    /// A boolean: `true` or `false` (case-insensitive).
    pub(crate) fn bool(&self, name: &str, default: bool) -> Result<bool, SetupError> {
        let value = self.choice(
            name,
            &["true", "false"],
            if default { "true" } else { "false" },
        )?;
        Ok(value == "true")
    }

    /// A comma-separated list of names from `allowed`; unknown names get a warning and are
    /// left out (the env spec: unknown values are ignored), or fail when strict; when no name
    /// is left, `default`.
    pub(crate) fn list(
        &self,
        name: &str,
        allowed: &[&'static str],
        default: &[&'static str],
    ) -> Result<Vec<&'static str>, SetupError> {
        let Some(value) = self.get(name) else {
            return Ok(default.to_vec());
        };
        let mut out = Vec::new();
        for item in value.split(',').map(str::trim).filter(|s| !s.is_empty()) {
            match allowed.iter().find(|a| a.eq_ignore_ascii_case(item)) {
                Some(known) => {
                    if !out.contains(known) {
                        out.push(*known);
                    }
                }
                None => {
                    if self.strict {
                        return Err(SetupError::new(
                            name,
                            &value,
                            format!("unknown value {item:?}; expected {}", allowed.join(", ")),
                        ));
                    }
                    self.warn_once(format!(
                        "{name}: unknown value {item:?} ignored (expected {})",
                        allowed.join(", ")
                    ));
                }
            }
        }
        if out.is_empty() {
            // Nothing usable was named: the default, as for an unusable single value.
            return Ok(default.to_vec());
        }
        Ok(out)
    }
}

// === the setup's variables ===

/// `OTEL_TRACES_EXPORTER` (`otlp` by default); none when the SDK is disabled.
pub(crate) fn trace_exporters(
    env: &Env<'_>,
    disabled: bool,
) -> Result<Vec<&'static str>, SetupError> {
    if disabled {
        return Ok(Vec::new());
    }
    env.list(
        "OTEL_TRACES_EXPORTER",
        &["otlp", "console", "none"],
        &["otlp"],
    )
}

/// `OTEL_METRICS_EXPORTER` (`otlp` by default); none when the SDK is disabled. `prometheus`
/// without the `prometheus` feature gets one warning and is left out.
pub(crate) fn metric_exporters(
    env: &Env<'_>,
    disabled: bool,
) -> Result<Vec<&'static str>, SetupError> {
    if disabled {
        return Ok(Vec::new());
    }
    #[cfg_attr(feature = "prometheus", allow(unused_mut))]
    let mut names = env.list(
        "OTEL_METRICS_EXPORTER",
        &["otlp", "prometheus", "console", "none"],
        &["otlp"],
    )?;
    #[cfg(not(feature = "prometheus"))]
    if names.contains(&"prometheus") {
        names.retain(|n| *n != "prometheus");
        let default = names.is_empty();
        env.reject(
            "OTEL_METRICS_EXPORTER",
            "prometheus",
            "the Prometheus exporter needs tower-telemetry's `prometheus` feature",
            (),
            if default {
                "the default (otlp)"
            } else {
                "the other exporters"
            },
        )?;
        if default {
            // Nothing usable was named: the default, as for unknown names.
            names.push("otlp");
        }
    }
    Ok(names)
}

/// Whether `OTEL_EXPORTER_OTLP_METRICS_DEFAULT_HISTOGRAM_AGGREGATION` asks for exponential
/// histograms; refused next to the Prometheus exporter (in `metrics`), since views apply to
/// every reader of a provider and the Prometheus text format needs explicit buckets.
pub(crate) fn exponential_histograms(env: &Env<'_>, metrics: &[&str]) -> Result<bool, SetupError> {
    const NAME: &str = "OTEL_EXPORTER_OTLP_METRICS_DEFAULT_HISTOGRAM_AGGREGATION";
    let exponential = env.choice(
        NAME,
        &[
            "explicit_bucket_histogram",
            "base2_exponential_bucket_histogram",
        ],
        "explicit_bucket_histogram",
    )? == "base2_exponential_bucket_histogram";
    if exponential && metrics.contains(&"prometheus") {
        return env.reject(
            NAME,
            "base2_exponential_bucket_histogram",
            "exponential histograms apply to every reader, and the Prometheus exporter is on",
            false,
            "explicit buckets",
        );
    }
    Ok(exponential)
}

/// The RPC conventions `OTEL_SEMCONV_STABILITY_OPT_IN` selects, as the trace crate reads the
/// value ([`RpcConventions::from_opt_in`], the one parser: case-insensitive, `rpc/dup` wins,
/// other categories ignored); the current conventions when it names none. An entry of the
/// `rpc` category that the trace crate doesn't know gets one warning naming the variable.
pub(crate) fn rpc_conventions(env: &Env<'_>) -> Result<RpcConventions, SetupError> {
    const NAME: &str = "OTEL_SEMCONV_STABILITY_OPT_IN";
    let Some(value) = env.get(NAME) else {
        return Ok(RpcConventions::default());
    };
    let rpc = RpcConventions::from_opt_in(&value).unwrap_or_default();
    for entry in value.split(',').map(str::trim) {
        let rpc_category = entry
            .get(..3)
            .is_some_and(|c| c.eq_ignore_ascii_case("rpc"));
        if rpc_category && RpcConventions::from_opt_in(entry).is_none() {
            env.reject(
                NAME,
                entry,
                "unknown RPC entry (expected rpc, rpc/dup or rpc/old)",
                (),
                &format!("RpcConventions::{rpc:?}"),
            )?;
        }
    }
    Ok(rpc)
}

/// `OTEL_METRICS_EXEMPLAR_FILTER` (OpenTelemetry environment variable specification,
/// "Exemplar"): `trace_based` (the default), `always_on` or `always_off`, case-insensitive;
/// which durations the layers keep an exemplar for. The SDK 0.33 reads it for nothing (it
/// collects no exemplars), so the setup does, for the layers it builds.
pub(crate) fn exemplar_filter(env: &Env<'_>) -> Result<ExemplarFilter, SetupError> {
    let name = env.choice(
        "OTEL_METRICS_EXEMPLAR_FILTER",
        &["trace_based", "always_on", "always_off"],
        "trace_based",
    )?;
    Ok(ExemplarFilter::from_name(name).unwrap_or_default())
}

/// Checks `OTEL_TRACES_SAMPLER`, which the SDK reads from the process environment and turns
/// into the sampler itself.
///
/// The SDK replaces a name it doesn't build with its default, `parentbased_always_on`, and
/// warns through its internal logs, which are compiled out unless `opentelemetry`'s
/// `internal-logs` feature is on: the user would never know. A copy of the SDK's list of
/// names would drift from it (it matches case-sensitively and without trimming, and knows
/// names it doesn't build, such as `xray`), so the SDK is asked instead: its default tracer
/// configuration reads the variable as the provider does; when the sampler chosen is the
/// fallback but the variable names another sampler, the name was not built.
pub(crate) fn check_sampler(env: &Env<'_>) -> Result<(), SetupError> {
    let Ok(value) = std::env::var("OTEL_TRACES_SAMPLER") else {
        return Ok(());
    };
    let chosen = format!("{:?}", opentelemetry_sdk::trace::Config::default().sampler);
    check_sampler_choice(env, &value, &chosen)
}

/// The judgement of [`check_sampler`]: `value` made the SDK choose the sampler `chosen`
/// (its `Debug`).
pub(crate) fn check_sampler_choice(
    env: &Env<'_>,
    value: &str,
    chosen: &str,
) -> Result<(), SetupError> {
    /// The default of the SDK environment-variable spec, which the SDK also falls back to.
    const DEFAULT: &str = "parentbased_always_on";
    let fallback = format!("{:?}", Sampler::ParentBased(Box::new(Sampler::AlwaysOn)));
    if value.trim().is_empty() || value == DEFAULT || chosen != fallback {
        return Ok(());
    }
    env.reject(
        "OTEL_TRACES_SAMPLER",
        value,
        "not a sampler the OpenTelemetry SDK builds (names are lower case)",
        (),
        "the SDK's default (parentbased_always_on)",
    )
}

/// The SDK's resource (`OTEL_SERVICE_NAME`, `OTEL_RESOURCE_ATTRIBUTES`, the SDK's own
/// attributes), with `service_name` when the environment names no service.
/// `OTEL_SERVICE_NAME` from the configured variables wins (so `with_vars` can set it).
pub(crate) fn resource(env: &Env<'_>, service_name: &str) -> Resource {
    if let Some(name) = env.get("OTEL_SERVICE_NAME") {
        return Resource::builder().with_service_name(name).build();
    }
    let resource = Resource::builder().build();
    let named = resource
        .get(&opentelemetry::Key::from_static_str("service.name"))
        .is_some_and(|v| !v.as_str().starts_with("unknown_service"));
    if named {
        resource
    } else {
        Resource::builder()
            .with_service_name(service_name.to_owned())
            .build()
    }
}
