#![warn(missing_docs)]
#![doc = include_str!("../README.md")]

mod checked;

use std::sync::Arc;
use std::time::{Duration, Instant};

use checked::Actors;
pub use checked::Checked;

// The crates, for what the facade does not name itself.
pub use accounts;
pub use auth;
pub use chat;
pub use domain;
pub use market;
pub use media;
pub use store;
pub use webhook_dispatch;
pub use webhooks;

// The services, as the crates build them (without the facade's per-call
// check: see `Services`). Their pages are their crates'.
#[doc(no_inline)]
pub use accounts::AccountService;
#[doc(no_inline)]
pub use auth::AuthService;
#[doc(no_inline)]
pub use chat::ChatService;
#[doc(no_inline)]
pub use market::MarketService;
#[doc(no_inline)]
pub use media::MediaService;
#[doc(no_inline)]
pub use store::PgStore;
#[doc(no_inline)]
pub use webhooks::WebhookService;

// Every type the facade's methods take or give, so that a program needs no
// other crate, and each is documented here. `tests/names.rs` names each as
// `dealroom::Name`.
#[doc(inline)]
pub use accounts::inputs::{AdminUserInput, ProfileInput, UserListQuery};
#[doc(inline)]
pub use auth::inputs::{ChangePasswordInput, LoginInput, RefreshInput, RegisterInput};
#[doc(inline)]
pub use auth::{ClientInfo, Secret, SignedIn, Tokens};
#[doc(inline)]
pub use chat::Completed;
#[doc(inline)]
pub use chat::inputs::{
    CompleteInput, DeltaInput, MessageListQuery, MessageSearchQuery, NewSessionInput,
    PostMessageInput, RenameSessionInput, SessionListQuery,
};
#[doc(inline)]
pub use domain::ports::Posted;
#[doc(inline)]
pub use domain::timefmt::Timestamp;
#[doc(inline)]
pub use domain::webhooks::{Delivery, DeliveryStatus, Webhook, WebhookSecret};
#[doc(inline)]
pub use domain::{
    Actor, ChatSession, ChatSessionId, DomainError, ExchangeRates, FieldError, LoginSession,
    LoginSessionId, Media, MediaId, Message, MessageId, MessageKind, MessageRole, MessageStatus,
    Page, Product, Role, SearchHit, SearchPage, Seller, SellerId, User, UserId, Vendor, VendorId,
    Via,
};
#[doc(inline)]
pub use domain::{DeliveryId, WebhookId};
#[doc(inline)]
pub use market::RatesImported;
#[doc(inline)]
pub use market::inputs::{
    ExchangeRatesInput, ExchangeRatesQuery, OffersQuery, ProductInput, ProductPatchInput,
    SellerInput, SellerListQuery, SellerPatchInput, VendorInput, VendorPatchInput,
};
#[doc(inline)]
pub use market::offers::{Offer, OfferList};
#[doc(inline)]
pub use store::PoolSettings;
#[doc(inline)]
pub use webhook_dispatch::Dispatcher;
#[doc(inline)]
pub use webhooks::Registered;
#[doc(inline)]
pub use webhooks::address::UrlPolicy;
#[doc(inline)]
pub use webhooks::inputs::{DeliveryListQuery, WebhookInput, WebhookPatchInput};

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
    /// What a webhook endpoint's URL may be (`WEBHOOK_ALLOW_HTTP`,
    /// `WEBHOOK_ALLOW_PRIVATE`): by default `https://` to public addresses only.
    pub webhook_policy: UrlPolicy,
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
            webhook_policy: UrlPolicy::default(),
        }
    }
}

impl Options {
    /// [`Options::default`] for tests: bcrypt at its lowest cost (4: a
    /// 64th of the work of the default 10 per registration, login or
    /// password change), bcrypt's threads at normal priority, and a
    /// small pool that opens no connection before it is asked (many test
    /// databases share one PostgreSQL server, 400 connections in testkit's).
    /// Never for a real database: cost 4 is cheap to brute-force.
    ///
    /// ```
    /// let options = dealroom::Options::for_tests();
    /// assert_eq!((options.bcrypt_cost, options.hash_nice), (4, 0));
    /// assert_eq!((options.pool.max_size, options.pool.min_idle), (4, 0));
    /// ```
    pub fn for_tests() -> Self {
        Self {
            pool: PoolSettings {
                max_size: 4,
                min_idle: 0,
                ..PoolSettings::default()
            },
            bcrypt_cost: 4,
            hash_nice: 0,
            ..Self::default()
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

/// Every service of Dealroom on one PostgreSQL store, as the crates build
/// them: without the facade's per-call check of the actor. For a host that
/// makes a fresh [`Actor`] for every call itself, as the HTTP server does for
/// every request (`AuthService::authenticate`); a program that holds an
/// actor across calls uses [`Dealroom`] ([`Dealroom::from_services`] wraps
/// these).
pub struct Services {
    /// Registration, login, tokens and login sessions.
    pub auth: AuthService,
    /// Profiles, user administration, and `act_as`.
    pub accounts: AccountService,
    /// Chat sessions, messages and search.
    pub chat: ChatService,
    /// Vendors and sellers' offers.
    pub market: MarketService,
    /// Uploads' rows, access and signed links.
    pub media: MediaService,
    /// Webhook endpoints and their deliveries.
    pub webhooks: WebhookService,
    /// The store the services share.
    pub store: PgStore,
}

impl Services {
    /// The services on a store opened by the caller; checks nothing and
    /// connects nothing (the pool connects on demand). The HTTP server builds
    /// its services with this, so the wiring lives in one place.
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
            webhooks: WebhookService::new(shared.clone(), Cursors::new(secret))
                .with_policy(options.webhook_policy),
            media: MediaService::new(
                shared,
                media_urls,
                options.media_max_bytes,
                options.media_orphan_ttl,
            ),
            store,
        })
    }
}

/// Every service of Dealroom on one PostgreSQL store: what the HTTP server
/// runs, for a Rust program to call directly with the same rules.
///
/// Each service checks the acting [`Actor`] against the database on every
/// call ([`Checked`], [`Dealroom::current`]), as the HTTP server checks its
/// caller on every request: an actor held across calls never acts with
/// rights its user has lost.
///
/// The services are blocking (Diesel, bcrypt): call them from ordinary
/// threads, or from an async runtime's blocking pool.
pub struct Dealroom {
    /// Registration, login, tokens and login sessions.
    pub auth: Checked<AuthService>,
    /// Profiles, user administration, and [`Dealroom::act_as`].
    pub accounts: Checked<AccountService>,
    /// Chat sessions, messages and search.
    pub chat: Checked<ChatService>,
    /// Vendors and sellers' offers.
    pub market: Checked<MarketService>,
    /// Reading uploads (their rows and fresh signed links) and collecting
    /// orphans. Uploading is not here: the bytes are the `blobs` crate's,
    /// which this facade does not open (`Services` has the whole service).
    pub media: Checked<MediaService>,
    /// Webhook endpoints and their deliveries (admins); the deliveries are
    /// sent by a dispatcher ([`Dealroom::dispatch_webhooks`]).
    pub webhooks: Checked<WebhookService>,
    /// The store the services share (its pool's state, closing it).
    pub store: PgStore,
    actors: Actors,
    /// Signs media links in the bodies of message events.
    media_urls: MediaUrls,
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
    /// connects nothing (the pool connects on demand).
    pub fn from_store(store: PgStore, options: &Options) -> Result<Self, DomainError> {
        Services::from_store(store, options).map(Self::from_services)
    }

    /// The facade over services built (and perhaps configured) by the caller.
    pub fn from_services(services: Services) -> Self {
        let Services {
            auth,
            accounts,
            chat,
            market,
            media,
            webhooks,
            store,
        } = services;
        Self {
            auth: Checked::new(auth, store.clone()),
            accounts: Checked::new(accounts, store.clone()),
            chat: Checked::new(chat, store.clone()),
            market: Checked::new(market, store.clone()),
            media_urls: media.urls().clone(),
            media: Checked::new(media, store.clone()),
            webhooks: Checked::new(webhooks, store.clone()),
            actors: Actors::new(store.clone()),
            store,
        }
    }

    /// Starts a webhook dispatcher on this store (the server runs one per
    /// instance; a program that sends the deliveries instead runs this):
    /// it sends every delivery the writes record, with `settings`'
    /// timeout, retries and policy, until [`Dispatcher::stop`].
    pub fn dispatch_webhooks(
        &self,
        settings: webhook_dispatch::Settings,
    ) -> std::io::Result<Dispatcher> {
        Dispatcher::spawn(
            Arc::new(self.store.clone()),
            settings,
            Some(self.media_urls.clone()),
            Arc::new(domain::webhooks::SystemResolver),
        )
    }

    /// Applies the migrations this version embeds that `url` lacks; their names.
    pub fn migrate(url: &str) -> Result<Vec<String>, ConnectError> {
        store::migrations::run_pending_at(url).map_err(|e| ConnectError::Unreachable(e.to_string()))
    }

    /// Acts as the user with this id, without a login: the role is the user's
    /// row's; unknown is `NotFound("User")`, inactive `Forbidden`; logged at
    /// `info` on the `security` target (`AccountService::act_as`).
    ///
    /// Keep the actor for as long as the job runs: every call of the
    /// facade's services checks it again ([`Dealroom::current`]), so
    /// demoting, deactivating or deleting the user stops the job at its next
    /// call.
    pub fn act_as(
        &self,
        user: domain::UserId,
        purpose: &'static str,
    ) -> Result<Actor, DomainError> {
        self.accounts.act_as(user, purpose)
    }

    /// `actor` as the database holds it now; the facade's services call this
    /// before each call that takes an actor.
    ///
    /// - A program's actor (`Via::Service`): the user's row is read again. A
    ///   deleted user is `NotFound("User")`, a deactivated one `Forbidden`
    ///   (both logged at `warn` on the `security` target); otherwise the
    ///   actor with the row's role now.
    /// - A login's actor (`Via::Login`): the login session must be live and
    ///   its user active, else `SessionRevoked` (the HTTP server's check on
    ///   every request); otherwise the actor with the user's role now.
    pub fn current(&self, actor: &Actor) -> Result<Actor, DomainError> {
        self.actors.current(actor)
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
        self.act_as(user.id, purpose)
    }

    /// Drops the services and waits, at most `within`, until the pool has
    /// closed every connection; true if it has. Call it before the program
    /// exits (see `store::Closing::wait`).
    pub fn close(self, within: Duration) -> bool {
        let closing = self.store.closing();
        drop(self);
        closing.wait(within)
    }
}
