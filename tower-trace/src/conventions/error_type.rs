//! Low-cardinality `error.type` values for errors that have no status code (the conventions'
//! "error.type" attribute: a low-cardinality type, `_OTHER` when nothing better is known).

use crate::outcome::ErrorRef;

/// `error.type` for a request the other side gave up on before the response ended.
pub(crate) const CANCELLED: &str = "cancelled";
/// `error.type` for a handler that panicked below the layer.
pub(crate) const PANIC: &str = "panic";
/// `error.type` for a timeout.
pub(crate) const TIMEOUT: &str = "timeout";
/// `error.type` for a connection that could not be made.
pub(crate) const CONNECT: &str = "connect";

/// A low-cardinality `error.type` for `error`: a well-known kind (`timeout`, …) when one can
/// be recognised, else the error's type name (static, no allocation), else `_OTHER` for
/// type-erased errors.
pub(crate) fn of(error: &ErrorRef<'_>) -> &'static str {
    if let Some(io) = error.downcast_ref::<std::io::Error>() {
        return io_kind(io);
    }
    if let Some(boxed) = error.boxed() {
        let mut source: Option<&(dyn std::error::Error + 'static)> = Some(boxed);
        while let Some(err) = source {
            if let Some(io) = err.downcast_ref::<std::io::Error>() {
                return io_kind(io);
            }
            // tower's `Elapsed` and friends say so in their message; matching it avoids
            // depending on every crate that has a timeout error.
            if err.to_string().contains("timed out") {
                return TIMEOUT;
            }
            source = err.source();
        }
        return super::attributes::OTHER;
    }
    error.type_name()
}

/// [`of`] for a client's transport error: also recognises connection failures and timeouts
/// from what the error says of itself (hyper-util's `client error (Connect)`, tower's
/// `request timed out`), so no client crate is a dependency.
pub(crate) fn of_client(error: &ErrorRef<'_>) -> &'static str {
    #[cfg(feature = "reqwest")]
    if let Some(kind) = reqwest_kind(error) {
        return kind;
    }
    match of(error) {
        TIMEOUT => TIMEOUT,
        "connection_refused" | CONNECT => CONNECT,
        other => {
            let message = error.to_string().to_ascii_lowercase();
            if message.contains("timed out") || message.contains("timeout") {
                TIMEOUT
            } else if message.contains("connect") {
                CONNECT
            } else {
                other
            }
        }
    }
}

fn io_kind(error: &std::io::Error) -> &'static str {
    use std::io::ErrorKind::*;
    match error.kind() {
        TimedOut => TIMEOUT,
        ConnectionRefused => "connection_refused",
        ConnectionReset => "connection_reset",
        ConnectionAborted => "connection_aborted",
        BrokenPipe => "broken_pipe",
        _ => "std::io::Error",
    }
}

/// `error.type` for reqwest's errors, which say what they are.
#[cfg(feature = "reqwest")]
fn reqwest_kind(error: &ErrorRef<'_>) -> Option<&'static str> {
    let reqwest_error = match error.downcast_ref::<reqwest_middleware::Error>()? {
        reqwest_middleware::Error::Reqwest(e) => e,
        reqwest_middleware::Error::Middleware(_) => return None,
    };
    Some(if reqwest_error.is_timeout() {
        TIMEOUT
    } else if reqwest_error.is_connect() {
        CONNECT
    } else {
        "reqwest::Error"
    })
}
