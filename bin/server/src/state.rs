//! What every handler can reach: the services, built once at startup.

use crate::settings::Settings;
use accounts::AccountService;
use auth::{AuthService, AuthSettings};
use chat::ChatService;
use domain::blobs::BlobStore;
use domain::media::MediaUrls;
use domain::page::Cursors;
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

    /// The services on one PostgreSQL store.
    pub fn new(settings: Settings, store: PgStore) -> Result<Self, DomainError> {
        let store = store.with_search_language(&settings.search_language);
        let shared = store.clone();
        let cursors = Cursors::new(settings.jwt_secret.expose().as_bytes());
        let media_urls = MediaUrls::new(
            settings.jwt_secret.expose().as_bytes(),
            settings.media_url_ttl,
        );
        let blobs = crate::media::open_blobs(&settings)?;
        let store = Arc::new(store);
        let callers = Arc::new(CallerCache::new(settings.auth_cache_size));
        let auth = AuthService::new(
            store.clone(),
            AuthSettings {
                jwt_secret: settings.jwt_secret.clone(),
                access_token_ttl: settings.jwt_expires_in,
                refresh_token_ttl: settings.refresh_token_ttl,
                bcrypt_cost: settings.bcrypt_rounds,
                hash_concurrency: settings.bcrypt_concurrency,
            },
        )?
        .with_caller_cache(callers.clone());
        Ok(Self {
            auth,
            accounts: AccountService::new(store.clone(), cursors.clone())
                .with_caller_cache(callers.clone()),
            chat: ChatService::new(store.clone(), cursors).with_media_urls(media_urls.clone()),
            media: MediaService::new(
                store.clone(),
                media_urls.clone(),
                settings.media_max_bytes,
                settings.media_orphan_ttl,
            ),
            blobs,
            market: MarketService::new(
                store.clone(),
                store.clone(),
                settings.max_sellers_per_session,
            ),
            health: store,
            store: shared,
            events: Hub::new(settings.events_buffer),
            callers,
            media_urls,
            settings,
        })
    }
}
