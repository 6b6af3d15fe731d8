//! The services behind the runnable examples in this directory (`cargo run --example <name>`;
//! see `README.md` here for the list). They live in a library so the end-to-end tests in
//! `tests/` run exactly what the examples run.

pub mod validation_server;

pub mod demo;
pub mod grpc;
