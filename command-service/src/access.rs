//! The caller's rights per queue for one request (issue 6 §3): teams and organisation units come
//! from the configuration (`domain::access::Directory`), cached per service for
//! [`DIRECTORY_TTL_MS`] so a request costs no extra query; `domain::access::scope` decides.
//! Used by the command handlers (before deciding) and by every ticket read of the query service
//! (worklist, view, history, SLA, search and the live feed). The configuration the directory is
//! built from is cached with it, for the other per-request reads of it (a ticket's service).

use std::sync::Arc;
use std::time::{Duration, Instant};

use domain::access::{scope, Directory, Scope};
use sqlx::PgPool;
use tokio::sync::Mutex;

use crate::auth::Actor;
use crate::config::Configuration;
use crate::error::ApiError;

/// How long a loaded directory serves requests: a team change reaches every caller within this.
pub const DIRECTORY_TTL_MS: u64 = 1_000;

/// The directory of one service, reloaded from the configuration when older than the TTL or
/// after this service changed the configuration ([`DirectoryCache::invalidate`]).
#[derive(Debug)]
pub struct DirectoryCache {
    pool: PgPool,
    loaded: Mutex<Option<Loaded>>,
}

/// One load of the configuration and the directory built from it.
#[derive(Debug)]
struct Loaded {
    at: Instant,
    configuration: Arc<Configuration>,
    directory: Arc<Directory>,
}

impl DirectoryCache {
    pub fn new(pool: PgPool) -> DirectoryCache {
        DirectoryCache {
            pool,
            loaded: Mutex::new(None),
        }
    }

    /// The current directory (at most [`DIRECTORY_TTL_MS`] old).
    pub async fn directory(&self) -> Result<Arc<Directory>, ApiError> {
        self.current(|loaded| loaded.directory.clone()).await
    }

    /// The configuration the current directory was built from (at most [`DIRECTORY_TTL_MS`]
    /// old, and never older than this service's own last change of it).
    pub async fn configuration(&self) -> Result<Arc<Configuration>, ApiError> {
        self.current(|loaded| loaded.configuration.clone()).await
    }

    /// Forgets the loaded configuration: a change this service made is seen by its next request.
    pub async fn invalidate(&self) {
        *self.loaded.lock().await = None;
    }

    async fn current<T>(&self, part: impl FnOnce(&Loaded) -> T) -> Result<T, ApiError> {
        let mut loaded = self.loaded.lock().await;
        if let Some(current) = loaded.as_ref() {
            if current.at.elapsed() < Duration::from_millis(DIRECTORY_TTL_MS) {
                return Ok(part(current));
            }
        }
        let configuration = crate::config::load(&self.pool).await?;
        let directory =
            Directory::from_definitions(configuration.items.values().filter_map(|stored| {
                stored
                    .item
                    .definition
                    .as_ref()
                    .filter(|_| stored.item.is_active())
                    .map(|definition| (stored.kind, stored.name.as_str(), definition))
            }))
            .map_err(ApiError::Config)?;
        let current = loaded.insert(Loaded {
            at: Instant::now(),
            configuration: Arc::new(configuration),
            directory: Arc::new(directory),
        });
        Ok(part(current))
    }

    /// What `actor` may do per queue.
    pub async fn scope_of(&self, actor: &Actor) -> Result<Arc<Scope>, ApiError> {
        let directory = self.directory().await?;
        Ok(Arc::new(scope(&directory, &actor.user, &actor.roles)))
    }
}
