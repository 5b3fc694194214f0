#![warn(missing_docs)]
#![doc = include_str!("../README.md")]

use std::sync::Arc;
use std::time::{Duration, Instant};

pub use accounts::{self, AccountService};
pub use auth::{self, AuthService, Secret};
pub use chat::{self, ChatService};
pub use domain::{self, Actor, DomainError, Role, Via};
pub use market::{self, MarketService};
pub use media::{self, MediaService};
pub use store::{self, PgStore, PoolSettings};

use domain::media::MediaUrls;
use domain::page::Cursors;
use domain::ports::{AuthStore, HealthStore};

/// Every knob of the services, with the server's defaults
/// (`config/default.toml`). Change what you need and keep the rest:
///
/// ```
/// let options = dealroom::Options {
///     max_sellers_per_session: 50,
///     ..dealroom::Options::default()
/// };
/// assert_eq!(options.pool.max_size, 16);
/// ```
#[derive(Clone, Debug)]
pub struct Options {
    /// The connection pool's size and checkout timeout ([`Dealroom::connect`]
    /// and [`Dealroom::connect_with`]; [`Dealroom::from_store`] keeps the
    /// store's own pool).
    pub pool: PoolSettings,
    /// Signs access tokens, page cursors and media links. Give the server's
    /// `JWT_SECRET` if tokens or cursors made here must be good there (and
    /// back). Default: a random secret of this process.
    pub jwt_secret: Secret,
    /// Lifetime of an access token (`JWT_EXPIRES_IN`).
    pub access_token_ttl: Duration,
    /// Lifetime of a login session's refresh token (`REFRESH_TOKEN_TTL`).
    pub refresh_token_ttl: Duration,
    /// bcrypt's cost (`BCRYPT_ROUNDS`).
    pub bcrypt_cost: u32,
    /// bcrypt's threads (`BCRYPT_CONCURRENCY`); 0: one per core.
    pub hash_concurrency: usize,
    /// Their nice value (`BCRYPT_NICE`), 0 to 19.
    pub hash_nice: i32,
    /// Sellers one chat session may hold (`MAX_SELLERS_PER_SESSION`).
    pub max_sellers_per_session: i32,
    /// Largest upload, in bytes (`MEDIA_MAX_BYTES`).
    pub media_max_bytes: u64,
    /// Lifetime of a medium's signed link (`MEDIA_URL_TTL`).
    pub media_url_ttl: Duration,
    /// An upload no message carries is collected after this long
    /// (`MEDIA_ORPHAN_TTL`).
    pub media_orphan_ttl: Duration,
    /// The text search configuration of message search (`SEARCH_LANGUAGE`);
    /// it must be the one the migrations built the index with.
    pub search_language: String,
}

impl Default for Options {
    fn default() -> Self {
        Self {
            pool: PoolSettings::default(),
            jwt_secret: Secret::new(format!(
                "{}{}",
                uuid::Uuid::new_v4().simple(),
                uuid::Uuid::new_v4().simple()
            )),
            access_token_ttl: Duration::from_secs(24 * 3600),
            refresh_token_ttl: Duration::from_secs(30 * 24 * 3600),
            bcrypt_cost: 10,
            hash_concurrency: 0,
            hash_nice: 19,
            max_sellers_per_session: 500,
            media_max_bytes: 10 * 1024 * 1024,
            media_url_ttl: Duration::from_secs(15 * 60),
            media_orphan_ttl: Duration::from_secs(24 * 3600),
            search_language: store::DEFAULT_SEARCH_LANGUAGE.to_owned(),
        }
    }
}

/// Why [`Dealroom::connect`] could not open the store.
#[derive(Debug, thiserror::Error)]
pub enum ConnectError {
    /// The database did not answer (wrong URL, server down, pool timeout).
    #[error("cannot reach the database: {0}")]
    Unreachable(String),
    /// The database answers, but its schema is not at this version's
    /// migrations: run [`Dealroom::migrate`] (or `dealroom migrate`) first.
    #[error("the database is not migrated to this version of Dealroom (run its migrations)")]
    NotMigrated,
    /// A service could not be built.
    #[error("cannot build the services: {0}")]
    Services(#[from] DomainError),
}

/// Every service of Dealroom on one PostgreSQL store: what the HTTP server
/// runs, for a Rust program to call directly with the same rules.
///
/// The services are blocking (Diesel, bcrypt): call them from ordinary
/// threads, or from an async runtime's blocking pool.
pub struct Dealroom {
    /// Registration, login, tokens and login sessions.
    pub auth: AuthService,
    /// Profiles, user administration, and [`AccountService::act_as`].
    pub accounts: AccountService,
    /// Chat sessions, messages and search.
    pub chat: ChatService,
    /// Vendors and sellers' offers.
    pub market: MarketService,
    /// Uploads' rows, access and signed links (the bytes are the `blobs`
    /// crate's, which this facade does not open).
    pub media: MediaService,
    /// The store the services share (its pool's state, closing it).
    pub store: PgStore,
}

impl Dealroom {
    /// Opens a pool on `url` with [`Options::default`], checks that the
    /// database answers (within the pool's checkout timeout, 3 s by default)
    /// and is migrated, and builds every service.
    pub fn connect(url: &str) -> Result<Self, ConnectError> {
        Self::connect_with(url, Options::default())
    }

    /// [`Dealroom::connect`] with options of your own.
    pub fn connect_with(url: &str, options: Options) -> Result<Self, ConnectError> {
        let store = PgStore::connect(url, &options.pool);
        // A readiness check waits at most 800 ms for a connection: try again
        // until the pool's own checkout timeout has passed.
        let deadline = Instant::now() + options.pool.connection_timeout;
        loop {
            match store.ready() {
                Ok(true) => break,
                Ok(false) => return Err(ConnectError::NotMigrated),
                Err(e) if Instant::now() >= deadline => {
                    return Err(ConnectError::Unreachable(e.to_string()));
                }
                Err(_) => {}
            }
        }
        Ok(Self::from_store(store, &options)?)
    }

    /// The services on a store opened by the caller; checks nothing and
    /// connects nothing (the pool connects on demand). The HTTP server builds
    /// its services with this.
    pub fn from_store(store: PgStore, options: &Options) -> Result<Self, DomainError> {
        let store = store.with_search_language(&options.search_language);
        let shared = Arc::new(store.clone());
        let secret = options.jwt_secret.expose().as_bytes();
        let cursors = Cursors::new(secret);
        let media_urls = MediaUrls::new(secret, options.media_url_ttl);
        let auth = AuthService::new(
            shared.clone(),
            auth::AuthSettings {
                jwt_secret: options.jwt_secret.clone(),
                access_token_ttl: options.access_token_ttl,
                refresh_token_ttl: options.refresh_token_ttl,
                bcrypt_cost: options.bcrypt_cost,
                hash_concurrency: options.hash_concurrency,
                hash_nice: options.hash_nice,
            },
        )?;
        Ok(Self {
            auth,
            accounts: AccountService::new(shared.clone(), cursors.clone()),
            chat: ChatService::new(shared.clone(), cursors).with_media_urls(media_urls.clone()),
            market: MarketService::new(
                shared.clone(),
                shared.clone(),
                options.max_sellers_per_session,
            ),
            media: MediaService::new(
                shared,
                media_urls,
                options.media_max_bytes,
                options.media_orphan_ttl,
            ),
            store,
        })
    }

    /// Applies the migrations this version embeds that `url` lacks; their names.
    pub fn migrate(url: &str) -> Result<Vec<String>, ConnectError> {
        store::migrations::run_pending_at(url).map_err(|e| ConnectError::Unreachable(e.to_string()))
    }

    /// Acts as the user with this id, without a login:
    /// [`AccountService::act_as`] (the role is the user's row's; unknown is
    /// `NotFound`, inactive `Forbidden`; logged on the `security` target).
    pub fn act_as(
        &self,
        user: domain::UserId,
        purpose: &'static str,
    ) -> Result<Actor, DomainError> {
        self.accounts.act_as(user, purpose)
    }

    /// [`Dealroom::act_as`] the user with this email (case-insensitively);
    /// an unknown email is `NotFound("User")`.
    pub fn act_as_email(&self, email: &str, purpose: &'static str) -> Result<Actor, DomainError> {
        let mut normalized = email.to_owned();
        domain::text::normalize_email(&mut normalized);
        let user = self
            .store
            .credentials_by_email(&normalized)?
            .ok_or(DomainError::NotFound("User"))?
            .user;
        self.accounts.act_as(user.id, purpose)
    }

    /// Drops the services and waits, at most `within`, until the pool has
    /// closed every connection; true if it has. Call it before the program
    /// exits (see [`store::Closing::wait`]).
    pub fn close(self, within: Duration) -> bool {
        let closing = self.store.closing();
        drop(self);
        closing.wait(within)
    }
}
