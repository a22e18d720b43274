//! Architecture invariants that the manifests must keep (ARCHITECTURE.md, STYLE.md §3).

use std::collections::{BTreeSet, HashMap};

use serde_json::Value;

/// Crates that would mean I/O, async runtimes or infrastructure inside the domain.
const FORBIDDEN_IN_DOMAIN: &[&str] = &[
    "tokio",
    "sqlx",
    "async-nats",
    "axum",
    "hyper",
    "reqwest",
    "tracing-subscriber",
    "cqrs-es",
];

fn metadata() -> Value {
    let output = std::process::Command::new(env!("CARGO"))
        // Only this platform's crates are downloaded by a build; metadata must not need others.
        .args([
            "metadata",
            "--format-version",
            "1",
            "--offline",
            "--locked",
            "--filter-platform",
            host_triple(),
        ])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .expect("run cargo metadata");
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_slice(&output.stdout).expect("metadata is JSON")
}

fn host_triple() -> &'static str {
    if cfg!(all(target_arch = "x86_64", target_os = "linux")) {
        "x86_64-unknown-linux-gnu"
    } else if cfg!(all(target_arch = "aarch64", target_os = "linux")) {
        "aarch64-unknown-linux-gnu"
    } else {
        panic!("add this platform's target triple")
    }
}

/// Names of every crate `package` depends on at run time (normal dependencies, transitively).
fn runtime_dependencies(metadata: &Value, package: &str) -> BTreeSet<String> {
    let names: HashMap<&str, &str> = metadata["packages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|package| {
            (
                package["id"].as_str().unwrap(),
                package["name"].as_str().unwrap(),
            )
        })
        .collect();
    let nodes: HashMap<&str, &Value> = metadata["resolve"]["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|node| (node["id"].as_str().unwrap(), node))
        .collect();
    let root = names
        .iter()
        .find(|(_, name)| **name == package)
        .map(|(id, _)| *id)
        .expect("package exists");
    let (mut seen, mut stack) = (BTreeSet::new(), vec![root]);
    while let Some(id) = stack.pop() {
        for dependency in nodes[id]["deps"].as_array().unwrap() {
            let normal = dependency["dep_kinds"]
                .as_array()
                .unwrap()
                .iter()
                .any(|kind| kind["kind"].is_null());
            let dependency_id = dependency["pkg"].as_str().unwrap();
            if normal && seen.insert(names[dependency_id].to_owned()) {
                stack.push(dependency_id);
            }
        }
    }
    seen
}

#[test]
fn the_domain_depends_on_no_runtime_database_bus_or_web_crate() {
    let dependencies = runtime_dependencies(&metadata(), "domain");
    let found: Vec<_> = FORBIDDEN_IN_DOMAIN
        .iter()
        .filter(|name| dependencies.contains(**name))
        .collect();
    assert!(found.is_empty(), "domain depends on {found:?}");
    assert!(
        dependencies.contains("serde"),
        "the walk must see the domain's real dependencies"
    );
}

#[test]
fn the_workspace_has_one_postgresql_driver_and_one_tls_stack() {
    let dependencies = runtime_dependencies(&metadata(), "itsm");
    assert!(dependencies.contains("sqlx-postgres"));
    for other in [
        "tokio-postgres",
        "postgres",
        "diesel",
        "openssl",
        "native-tls",
        // rustls (through async-nats) is the one TLS stack, with ring as its crypto provider.
        "aws-lc-rs",
        "aws-lc-sys",
    ] {
        assert!(!dependencies.contains(other), "unexpected {other}");
    }
}
