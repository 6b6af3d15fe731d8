//! How a request ended, and the errors the lifecycle saw: what the conventions' rules judge and
//! every observer reads.

use std::any::Any;
use std::fmt;

/// How a request ended. See the table in the [lifecycle](crate::lifecycle) docs.
#[derive(Debug, Clone, Copy)]
#[non_exhaustive]
pub enum Outcome<'a> {
    /// The response was delivered to its end.
    Complete,
    /// The inner service failed; there is no response.
    ServiceError(ErrorRef<'a>),
    /// The response body failed after the head was sent.
    BodyError(ErrorRef<'a>),
    /// The response future or body was dropped before the end: on a server the client went
    /// away, on a client the caller gave up.
    Cancelled,
    /// As `Cancelled`, while a panic was unwinding (a handler panicked below this layer).
    Panicked,
}

/// An error seen by the lifecycle, borrowed for the duration of
/// [`Record::finish`](crate::lifecycle::Record::finish).
///
/// Records can read its message, its type name (a low-cardinality `error.type`), or downcast
/// it to a known type (`hyper::Error`, `tonic::Status`, …).
#[derive(Clone, Copy)]
pub struct ErrorRef<'a> {
    error: &'a dyn ObservedError,
    type_name: &'static str,
}

/// The bound the lifecycle puts on errors: `Display` (every `Into<BoxError>` error has it)
/// and `'static`, so it can be downcast.
pub trait ObservedError: fmt::Display + Any {
    /// Upcasts to `Any`.
    fn as_any(&self) -> &dyn Any;
}

impl<E: fmt::Display + Any> ObservedError for E {
    fn as_any(&self) -> &dyn Any {
        self
    }
}

impl<'a> ErrorRef<'a> {
    pub(crate) fn new<E: ObservedError>(error: &'a E) -> Self {
        ErrorRef {
            error,
            type_name: std::any::type_name::<E>(),
        }
    }

    /// The error's type name, e.g. `hyper::error::Error`.
    pub fn type_name(&self) -> &'static str {
        self.type_name
    }

    /// The error as a concrete type, if it is one.
    pub fn downcast_ref<T: Any>(&self) -> Option<&'a T> {
        self.error.as_any().downcast_ref()
    }

    /// A boxed error (`BoxError`) inside, if this is one; errors of layered services usually are.
    pub fn boxed(&self) -> Option<&'a (dyn std::error::Error + Send + Sync + 'static)> {
        self.downcast_ref::<Box<dyn std::error::Error + Send + Sync>>()
            .map(|b| &**b)
    }
}

impl fmt::Debug for ErrorRef<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ErrorRef")
            .field("type", &self.type_name)
            .field("message", &format_args!("{}", self.error))
            .finish()
    }
}

impl fmt::Display for ErrorRef<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self.error, f)
    }
}
