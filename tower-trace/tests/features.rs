//! The `tracing` bridge is opt-in: without its feature no `tracing` crate is compiled into the
//! library, and the `tracing` feature alone does not bring in `tracing-subscriber`. Checked on
//! the dependency graph `cargo tree` resolves for this package alone (the same command works
//! by hand: `cargo tree -p tower-telemetry-trace -e normal --no-default-features`).

use std::process::Command;

/// The names of the normal (non-dev, non-build) dependencies of this crate, transitively, with
/// no default features and `features`.
fn normal_dependencies(features: &str) -> Vec<String> {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned());
    let mut tree = Command::new(cargo);
    tree.current_dir(env!("CARGO_MANIFEST_DIR")).args([
        "tree",
        "--package",
        "tower-telemetry-trace",
        "--edges",
        "normal",
        "--prefix",
        "none",
        "--format",
        "{p}",
        "--no-default-features",
    ]);
    if !features.is_empty() {
        tree.args(["--features", features]);
    }
    let output = tree.output().expect("run cargo tree");
    assert!(
        output.status.success(),
        "cargo tree failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout)
        .expect("UTF-8")
        .lines()
        .filter_map(|line| line.split_whitespace().next())
        .map(str::to_owned)
        .collect()
}

#[test]
fn without_the_feature_no_tracing_crate_is_compiled_in() {
    let off = normal_dependencies("");
    assert!(
        off.iter().any(|d| d == "opentelemetry"),
        "the tree was read: {off:?}"
    );
    for krate in ["tracing", "tracing-core", "tracing-subscriber"] {
        assert!(!off.iter().any(|d| d == krate), "{krate} in {off:?}");
    }

    let bridge = normal_dependencies("tracing");
    assert!(bridge.iter().any(|d| d == "tracing"), "{bridge:?}");
    assert!(
        !bridge.iter().any(|d| d == "tracing-subscriber"),
        "the spans need no subscriber crate: {bridge:?}"
    );

    let formats = normal_dependencies("tracing-subscriber");
    assert!(
        formats.iter().any(|d| d == "tracing-subscriber"),
        "{formats:?}"
    );
}
