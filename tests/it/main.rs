//! End-to-end tests of the `itsm` binary as an operator uses it: a configuration file, `migrate`,
//! `token issue`, `serve`, HTTP commands, `events` with hash-chain verification, shutdown.
//! Real PostgreSQL, a fresh database per test.

mod access;
mod audit;
mod binary;
mod cli;
mod cmdb;
mod crash;
mod invariants;
mod pool;
mod read_side;
mod sla;
mod ui;

use std::path::PathBuf;
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use event_store::crypto::MasterKey;
use event_store::testing::TestDatabase;
use serde_json::Value;

/// A fresh database with an `itsm.toml` pointing at it.
#[derive(Debug)]
pub struct Installation {
    pub db: TestDatabase,
    pub config: PathBuf,
    pub port: u16,
    /// NATS subject prefix and JetStream stream of its own (removed on drop).
    pub subject_prefix: String,
    pub stream: String,
    _dir: TempDir,
}

impl Installation {
    pub async fn new() -> Installation {
        let db = TestDatabase::create().await;
        let dir = TempDir::create();
        let port = free_port();
        let config = dir.path.join("itsm.toml");
        let unique = uuid::Uuid::new_v4().simple().to_string();
        let (subject_prefix, stream) = (format!("t{unique}"), format!("T{unique}"));
        let text = format!(
            "[server]\nlisten = \"127.0.0.1:{port}\"\n\n[database]\nurl = \"{}\"\nowner_url = \"{}\"\n\n\
             [nats]\nurl = \"{}\"\nsubject_prefix = \"{subject_prefix}\"\nstream = \"{stream}\"\nmax_age_days = 1\n\n\
             [projector]\nlease_ttl_ms = 500\npoll_interval_ms = 20\n\n[crypto]\nmaster_key = \"{}\"\n",
            db.app_url,
            db.owner_url,
            nats_url(),
            MasterKey::generate().to_base64()
        );
        std::fs::write(&config, text).expect("write config");
        Installation {
            db,
            config,
            port,
            subject_prefix,
            stream,
            _dir: dir,
        }
    }

    /// `itsm --config <file> args…`, run to completion.
    pub fn itsm(&self, args: &[&str]) -> Output {
        itsm_command(args, Some(&self.config))
            .output()
            .expect("run itsm")
    }

    pub fn base_url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// A new token for `user` with `role` (`itsm token issue`).
    pub fn token(&self, user: &str, role: &str) -> String {
        stdout(&self.itsm(&["token", "issue", "--user", user, "--role", role]))
            .trim()
            .to_owned()
    }
}

/// How long `itsm serve` may take to become ready.
const STARTUP_WAIT: Duration = Duration::from_secs(30);

/// An `itsm serve` of an installation, killed on drop.
#[derive(Debug)]
pub struct Server(Child);

impl Server {
    /// Starts the all-in-one server and waits until `/readyz` answers 200.
    pub async fn start(installation: &Installation) -> Server {
        let child = itsm_command(&["serve"], Some(&installation.config))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let server = Server(child);
        let deadline = Instant::now() + STARTUP_WAIT;
        let ready = format!("{}/readyz", installation.base_url());
        while reqwest::get(&ready)
            .await
            .map(|response| !response.status().is_success())
            .unwrap_or(true)
        {
            assert!(Instant::now() < deadline, "itsm serve did not become ready");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        server
    }

    /// SIGTERM, then wait for a clean exit.
    pub fn stop(mut self) -> std::process::ExitStatus {
        let pid = self.0.id().to_string();
        std::process::Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .unwrap();
        self.0.wait().unwrap()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// How long a test waits for the asynchronous projections to catch up with a command.
const CATCH_UP_WAIT: Duration = Duration::from_secs(20);

/// `GET url` as `token`: the JSON answer.
pub async fn get_json(client: &reqwest::Client, url: &str, token: &str) -> Value {
    client
        .get(url)
        .bearer_auth(token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

/// `POST url` of `body` as `token`: the JSON answer.
pub async fn post_json(client: &reqwest::Client, url: &str, token: &str, body: &Value) -> Value {
    client
        .post(url)
        .bearer_auth(token)
        .json(body)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

/// Reads `GET url` as `token` until `done` holds for the JSON answer (the projections are
/// asynchronous and trail the command).
pub async fn until(
    client: &reqwest::Client,
    url: &str,
    token: &str,
    done: impl Fn(&Value) -> bool,
) -> Value {
    let deadline = Instant::now() + CATCH_UP_WAIT;
    loop {
        let body = get_json(client, url, token).await;
        if done(&body) {
            return body;
        }
        assert!(Instant::now() < deadline, "{url} never got there: {body}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// `PUT /api/v1/config/{path}` of `definition` as `token`: the status and the answer's text.
pub async fn put_config(
    client: &reqwest::Client,
    base: &str,
    token: &str,
    path: &str,
    definition: &Value,
) -> (reqwest::StatusCode, String) {
    let reply = client
        .put(format!("{base}/api/v1/config/{path}"))
        .bearer_auth(token)
        .json(definition)
        .send()
        .await
        .unwrap();
    (reply.status(), reply.text().await.unwrap())
}

/// The NATS server the README's commands start.
pub fn nats_url() -> String {
    std::env::var("ITSM_NATS__URL").unwrap_or_else(|_| "nats://127.0.0.1:4222".to_owned())
}

impl Drop for Installation {
    /// Deletes the test's JetStream stream (on a thread of its own, like the database).
    fn drop(&mut self) {
        let stream = self.stream.clone();
        let _ = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .ok()?;
            runtime.block_on(async {
                let client = async_nats::connect(nats_url()).await.ok()?;
                let _ = async_nats::jetstream::new(client)
                    .delete_stream(&stream)
                    .await;
                Some(())
            })
        })
        .join();
    }
}

/// The `itsm` binary built for these tests, without inheriting configuration from the checkout.
pub fn itsm_command(args: &[&str], config: Option<&PathBuf>) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_itsm"));
    command.env_remove("ITSM_CONFIG").env("RUST_LOG", "warn");
    for (key, _) in std::env::vars() {
        if key.starts_with("ITSM_") {
            command.env_remove(key);
        }
    }
    if let Some(config) = config {
        command.arg("--config").arg(config);
    }
    command.args(args);
    command
}

pub fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

pub fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .expect("bind")
        .local_addr()
        .expect("address")
        .port()
}

/// A directory removed on drop.
#[derive(Debug)]
pub struct TempDir {
    pub path: PathBuf,
}

impl TempDir {
    pub fn create() -> TempDir {
        let path =
            std::env::temp_dir().join(format!("itsm-test-{}", uuid::Uuid::new_v4().simple()));
        std::fs::create_dir_all(&path).expect("create temp dir");
        TempDir { path }
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.path);
    }
}
