//! The web UI in a real browser (issue 7 §4): `tests/ui/e2e.mjs` drives Debian's Chromium with
//! Playwright against an `itsm serve` of a fresh installation. `deploy/test.sh` installs
//! Chromium and the two npm packages (`tests/ui/package-lock.json`) before the suite runs.
//! `UPDATE_SCREENSHOTS=1` writes the pages' screenshots to `docs/screenshots/` for the README.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::{stdout, Installation, Server};

fn ui_tests_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/ui")
}

/// What is missing for the browser tests, as the message that says how to get it.
fn missing_tools() -> Option<String> {
    let chromium = std::env::var("CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".to_owned());
    if !Path::new(&chromium).exists() {
        return Some(format!(
            "{chromium} is missing: run the tests with deploy/test.sh (it installs Debian's chromium)"
        ));
    }
    if !ui_tests_dir().join("node_modules/playwright-core").exists() {
        return Some(
            "tests/ui/node_modules is missing: run the tests with deploy/test.sh (it runs npm ci there)"
                .to_owned(),
        );
    }
    None
}

/// The dynamic fields the printer service's form in `e2e.mjs` answers.
const TICKET_FIELDS: &str = r#"
[ticket]
field_definitions = [
  { key = "standort", kind = "text" },
  { key = "geraet", kind = "single_select", options = ["Drucker", "Multifunktionsgerät"] },
  { key = "toner_leer", kind = "boolean" },
  { key = "tonerfarbe", kind = "single_select", options = ["Schwarz", "Cyan", "Magenta", "Gelb"] },
]
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_web_ui_works_end_to_end_in_headless_chromium() {
    if let Some(missing) = missing_tools() {
        panic!("{missing}");
    }
    let installation = Installation::new().await;
    // The catalog form of the tests answers into these dynamic fields of the ticket policy.
    let mut config = std::fs::read_to_string(&installation.config).unwrap();
    config.push_str(TICKET_FIELDS);
    std::fs::write(&installation.config, config).unwrap();
    let admin = installation.token("admin", "admin");
    let _server = Server::start(&installation).await;
    let mut command = Command::new("node");
    command
        .arg("e2e.mjs")
        .current_dir(ui_tests_dir())
        .env("ITSM_BASE_URL", installation.base_url())
        .env("ITSM_ADMIN_TOKEN", &admin);
    if std::env::var_os("UPDATE_SCREENSHOTS").is_some() {
        let screenshots = Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/screenshots");
        command.env("ITSM_SCREENSHOTS", screenshots);
    }
    let output = command.output().expect("run node (Node.js 20 or later)");
    let report = stdout(&output);
    assert!(
        output.status.success(),
        "browser tests failed:\n{report}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(report.contains("all browser tests passed"), "{report}");
}
