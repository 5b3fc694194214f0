//! What every handler can reach: the services, built once at startup.

use crate::settings::Settings;
use accounts::AccountService;
use auth::AuthService;
use chat::ChatService;
use domain::blobs::BlobStore;
use domain::media::MediaUrls;
use domain::ports::HealthStore;
use domain::{CallerCache, DomainError};
use events::Hub;
use market::MarketService;
use media::MediaService;
use std::sync::Arc;
use store::PgStore;

pub struct AppState {
    pub auth: AuthService,
    pub accounts: AccountService,
    pub chat: ChatService,
    pub market: MarketService,
    pub media: MediaService,
    /// Webhook endpoints and their deliveries (the dispatcher is `app.rs`'s).
    pub webhooks: webhooks::WebhookService,
    /// Where uploads' bytes are (`MEDIA_STORAGE`).
    pub blobs: Arc<dyn BlobStore>,
    pub health: Arc<dyn HealthStore>,
    /// The store itself, for the pool's state in `/metrics`.
    pub store: PgStore,
    /// The live events of this instance.
    pub events: Arc<Hub>,
    /// The per-request check's cache, kept true by the events listener.
    pub callers: Arc<CallerCache>,
    /// Signs media links (every Message's medium carries one).
    pub media_urls: MediaUrls,
    pub settings: Settings,
}

impl AppState {
    /// Starts this instance's events listener: its own connection, its own
    /// thread; it stops when [`AppState::events`] is closed.
    pub fn listen_for_events(&self) -> std::io::Result<events::Listener> {
        let store = Arc::new(self.store.clone());
        events::Listener::spawn(
            self.events.clone(),
            store.clone(),
            events::Loader {
                chats: store.clone(),
                market: store,
                media_urls: Some(self.media_urls.clone()),
            },
            self.callers.clone(),
            events::ListenerSettings::default(),
        )
    }

    /// The services on one PostgreSQL store, built by the `dealroom` facade
    /// (the wiring lives there, shared with library users).
    pub fn new(settings: Settings, store: PgStore) -> Result<Self, DomainError> {
        let dealroom::Services {
            auth,
            accounts,
            chat,
            market,
            media,
            webhooks,
            store,
        } = dealroom::Services::from_store(
            store,
            &dealroom::Options {
                // Not used: the store's pool is already built.
                pool: store::PoolSettings::default(),
                jwt_secret: settings.jwt_secret.clone(),
                access_token_ttl: settings.jwt_expires_in,
                refresh_token_ttl: settings.refresh_token_ttl,
                bcrypt_cost: settings.bcrypt_rounds,
                hash_concurrency: settings.bcrypt_concurrency,
                hash_nice: settings.bcrypt_nice,
                max_sellers_per_session: settings.max_sellers_per_session,
                media_max_bytes: settings.media_max_bytes,
                media_url_ttl: settings.media_url_ttl,
                media_orphan_ttl: settings.media_orphan_ttl,
                search_language: settings.search_language.clone(),
                webhook_policy: webhooks::address::UrlPolicy {
                    allow_http: settings.webhook_allow_http,
                    allow_private: settings.webhook_allow_private,
                },
            },
        )?;
        let media_urls = media.urls().clone();
        let blobs = crate::media::open_blobs(&settings)?;
        let market = market.with_rates_max_age(settings.rates_max_age);
        // The per-request check's cache: only the server has the listener
        // that keeps it true (a library user's never answers; see CallerCache).
        let callers = Arc::new(CallerCache::new(settings.auth_cache_size));
        Ok(Self {
            auth: auth.with_caller_cache(callers.clone()),
            accounts: accounts.with_caller_cache(callers.clone()),
            chat: chat
                .with_page_max_bytes(settings.page_max_bytes)
                .with_search_rank_window(settings.search_rank_window),
            market,
            media,
            webhooks,
            blobs,
            health: Arc::new(store.clone()),
            store,
            events: Hub::new(settings.events_buffer),
            callers,
            media_urls,
            settings,
        })
    }
}
