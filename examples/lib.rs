//! Helpers shared by the examples in this directory. Run an example with
//! `cargo run --example <name>`; see `README.md` in this directory for the list.
