//! Test support: a fresh PostgreSQL database per test, migrated, with the application role.
//!
//! Connection settings come from the same place as the services' (DESIGN: tests use the
//! PostgreSQL that the README's commands start): `ITSM_DATABASE__OWNER_URL` / `ITSM_DATABASE__URL`,
//! else the `[database]` table of `$ITSM_CONFIG` or the checkout's `itsm.toml`, else the local
//! `postgres` superuser.

use std::path::PathBuf;
use std::str::FromStr;

use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::{Executor, PgPool};
use uuid::Uuid;

const POOL_CONNECTIONS_MAX: u32 = 20;

/// A migrated database of its own for one test, dropped when the value is dropped.
#[derive(Debug)]
pub struct TestDatabase {
    pub name: String,
    /// Connected as the application role (SELECT/INSERT on events only).
    pub app_pool: PgPool,
    /// Connected as the database owner (runs migrations).
    pub owner_pool: PgPool,
    pub app_options: PgConnectOptions,
    pub owner_options: PgConnectOptions,
    /// URL of this database as the application role (for configuration files of spawned binaries).
    pub app_url: String,
    /// URL of this database as the owner role.
    pub owner_url: String,
    /// Set by [`TestDatabase::remove`], so that `Drop` has nothing left to do.
    removed: bool,
}

impl TestDatabase {
    /// Creates `itsm_test_<uuid>`, migrates it and connects both roles.
    pub async fn create() -> TestDatabase {
        let (owner_url, app_url) = urls();
        let owner_base = PgConnectOptions::from_str(&owner_url).expect("owner url");
        let app_base = PgConnectOptions::from_str(&app_url).expect("app url");
        let name = format!("itsm_test_{}", Uuid::new_v4().simple());
        let admin = PgPoolOptions::new()
            .max_connections(1)
            .connect_with(owner_base.clone())
            .await
            .expect("connect as owner");
        ensure_application_role(&admin).await;
        // Identifiers cannot be bound; `name` is generated above from a UUID, never from input.
        admin
            .execute(format!("CREATE DATABASE {name}").as_str())
            .await
            .expect("create test database");
        admin.close().await;
        let owner_options = owner_base.database(&name);
        let app_options = app_base.database(&name);
        let owner_pool = pool(owner_options.clone()).await;
        crate::MIGRATOR
            .run(&owner_pool)
            .await
            .expect("migrate test database");
        let app_pool = pool(app_options.clone()).await;
        TestDatabase {
            app_url: with_database(&app_url, &name),
            owner_url: with_database(&owner_url, &name),
            name,
            app_pool,
            owner_pool,
            app_options,
            owner_options,
            removed: false,
        }
    }
}

impl TestDatabase {
    /// Closes the pools and drops the database, waiting for it (a benchmark's last step, where
    /// `Drop`'s detached thread would be cut short by the process exiting).
    pub async fn remove(mut self) -> Result<(), sqlx::Error> {
        self.removed = true;
        self.app_pool.close().await;
        self.owner_pool.close().await;
        drop_database(&urls().0, &self.name).await
    }
}

async fn drop_database(admin_url: &str, name: &str) -> Result<(), sqlx::Error> {
    let admin = PgPoolOptions::new()
        .max_connections(1)
        .connect_with(PgConnectOptions::from_str(admin_url)?)
        .await?;
    // `name` was generated from a UUID by `create`, never from input.
    admin
        .execute(format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)").as_str())
        .await?;
    admin.close().await;
    Ok(())
}

impl Drop for TestDatabase {
    /// Drops the database (terminating the test's connections) on a detached thread of its own:
    /// the test's runtime may be shutting down, and waiting would add the drop (up to a second)
    /// to every test. A drop cut short by the end of the test process only leaves the database
    /// behind; `deploy/test.sh` removes leftovers before each run.
    fn drop(&mut self) {
        if self.removed {
            return;
        }
        let (admin_url, name) = (urls().0, self.name.clone());
        std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .ok()?;
            runtime.block_on(drop_database(&admin_url, &name)).ok()
        });
    }
}

/// `url` with its database (the last path segment) replaced by `name`.
fn with_database(url: &str, name: &str) -> String {
    let (base, query) = url
        .split_once('?')
        .map_or((url, None), |(base, query)| (base, Some(query)));
    let authority_end = base.find("://").map_or(0, |index| index + 3);
    let host_part = &base[authority_end..];
    let server = host_part
        .split_once('/')
        .map_or(host_part, |(server, _)| server);
    let mut result = format!("{}{server}/{name}", &base[..authority_end]);
    if let Some(query) = query {
        result.push('?');
        result.push_str(query);
    }
    result
}

async fn pool(options: PgConnectOptions) -> PgPool {
    PgPoolOptions::new()
        .max_connections(POOL_CONNECTIONS_MAX)
        .connect_with(options)
        .await
        .expect("connect test database")
}

async fn ensure_application_role(admin: &PgPool) {
    let exists: bool =
        sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = $1)")
            .bind(crate::APPLICATION_ROLE)
            .fetch_one(admin)
            .await
            .expect("query roles");
    if !exists {
        // Tests running in parallel may race here; a duplicate is fine.
        let _ = admin.execute("CREATE ROLE itsm_app LOGIN").await;
    }
}

fn urls() -> (String, String) {
    let from_env = |key: &str| std::env::var(key).ok().filter(|value| !value.is_empty());
    let file = config_file();
    let owner = from_env("ITSM_DATABASE__OWNER_URL")
        .or_else(|| {
            file.as_ref()
                .and_then(|table| table_url(table, "owner_url"))
        })
        .unwrap_or_else(|| "postgres://postgres@127.0.0.1:5432/postgres".to_owned());
    let app = from_env("ITSM_DATABASE__URL")
        .or_else(|| file.as_ref().and_then(|table| table_url(table, "url")))
        .unwrap_or_else(|| "postgres://itsm_app@127.0.0.1:5432/postgres".to_owned());
    (owner, app)
}

fn config_file() -> Option<toml::Table> {
    let path = std::env::var("ITSM_CONFIG")
        .map(PathBuf::from)
        .unwrap_or_else(|_| {
            PathBuf::from(env!("CARGO_MANIFEST_DIR"))
                .join("..")
                .join("itsm.toml")
        });
    let text = std::fs::read_to_string(path).ok()?;
    toml::from_str(&text).ok()
}

fn table_url(table: &toml::Table, key: &str) -> Option<String> {
    table.get("database")?.get(key)?.as_str().map(str::to_owned)
}
