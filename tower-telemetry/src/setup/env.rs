//! The variables this setup reads itself (the SDK and `opentelemetry-otlp` read theirs), with
//! the OpenTelemetry environment-variable rules: an empty value is unset, a value that cannot
//! be used gets one warning naming the variable and the default is used; in strict mode it is
//! an error instead.

use std::fmt;

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

impl Env<'_> {
    /// The value, trimmed; empty is unset.
    pub(crate) fn get(&self, name: &str) -> Option<String> {
        (self.vars)(name)
            .map(|v| v.trim().to_owned())
            .filter(|v| !v.is_empty())
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
