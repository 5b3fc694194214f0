//! The facade's services: every call that takes an [`Actor`] checks it
//! against the database first, then runs the service's own method.

use crate::{
    AccountService, Actor, AdminUserInput, AuthService, ChangePasswordInput, ChatService,
    ChatSession, ChatSessionId, ClientInfo, CompleteInput, Completed, DeltaInput, DomainError,
    ExchangeRates, ExchangeRatesInput, ExchangeRatesQuery, LoginInput, LoginSession,
    LoginSessionId, MarketService, Media, MediaId, MediaService, Message, MessageId,
    MessageListQuery, MessageSearchQuery, NewSessionInput, OfferList, OffersQuery, Page, PgStore,
    PostMessageInput, Posted, ProfileInput, RatesImported, RefreshInput, RegisterInput,
    RenameSessionInput, SearchPage, Seller, SellerId, SellerInput, SellerListQuery,
    SellerPatchInput, SessionListQuery, SignedIn, Tokens, User, UserId, UserListQuery, Vendor,
    VendorId, VendorInput, VendorPatchInput, Via,
};
use domain::ports::{AccountStore, AuthStore};

/// One of [`Dealroom`](crate::Dealroom)'s services: each of its methods that
/// takes an [`Actor`] first checks the actor against the database, as the
/// HTTP server checks its caller on every request, then calls the service's
/// method of the same name with the actor as it is now
/// ([`Dealroom::current`](crate::Dealroom::current)):
///
/// - a program's actor (`Via::Service`, from `act_as`): the user's row is read
///   again; a deleted user is `NotFound("User")`, a deactivated one
///   `Forbidden`, and a changed role applies to this call;
/// - a login's actor (`Via::Login`, from `AuthService::authenticate`): its
///   login session must still be live and its user active
///   (`SessionRevoked` otherwise), with the user's current role.
///
/// The check is one indexed query per call. The signatures are the
/// services' own, so the services' documentation tells each method's rules.
pub struct Checked<S> {
    service: S,
    actors: Actors,
}

impl<S> Checked<S> {
    pub(crate) fn new(service: S, store: PgStore) -> Self {
        Self {
            service,
            actors: Actors { store },
        }
    }

    /// `actor` as the database holds it now.
    fn current(&self, actor: &Actor) -> Result<Actor, DomainError> {
        self.actors.current(actor)
    }
}

/// Reads an actor's user (and login session) again.
pub(crate) struct Actors {
    store: PgStore,
}

impl Actors {
    pub(crate) fn new(store: PgStore) -> Self {
        Self { store }
    }

    /// See [`crate::Dealroom::current`].
    pub(crate) fn current(&self, actor: &Actor) -> Result<Actor, DomainError> {
        match actor.via() {
            Via::Service(purpose) => {
                let user = actor.user_id;
                let Some(row) = AccountStore::user(&self.store, user)? else {
                    log::warn!(target: "security", "{actor} refused: the user was deleted");
                    return Err(DomainError::NotFound("User"));
                };
                Actor::__from_user_row(&row, purpose).inspect_err(|_| {
                    log::warn!(target: "security", "{actor} refused: the user is inactive");
                })
            }
            Via::Login(session) => AuthStore::actor(&self.store, actor.user_id, session)?
                .map(|live| live.actor)
                .ok_or(DomainError::SessionRevoked),
        }
    }
}

/// The methods of `Checked<$service>` that take an actor: check it, then
/// delegate with the actor as it is now.
macro_rules! checked {
    (
        $service:ident {
            $(
                $(#[doc = $doc:literal])*
                fn $name:ident(&self, actor: &Actor $(, $arg:ident: $ty:ty)* $(,)?) -> $ret:ty;
            )*
        }
    ) => {
        impl Checked<$service> {
            $(
                $(#[doc = $doc])*
                #[doc = ""]
                #[doc = concat!(
                    "Checks `actor` again, then calls `", stringify!($service), "::",
                    stringify!($name), "`."
                )]
                pub fn $name(&self, actor: &Actor $(, $arg: $ty)*) -> Result<$ret, DomainError> {
                    let actor = self.current(actor)?;
                    self.service.$name(&actor $(, $arg)*)
                }
            )*
        }
    };
}

impl Checked<AuthService> {
    /// `POST /auth/register`: `AuthService::register`.
    pub fn register(
        &self,
        input: RegisterInput,
        client: ClientInfo,
    ) -> Result<SignedIn, DomainError> {
        self.service.register(input, client)
    }

    /// `POST /auth/login`: `AuthService::login`.
    pub fn login(&self, input: LoginInput, client: ClientInfo) -> Result<SignedIn, DomainError> {
        self.service.login(input, client)
    }

    /// `POST /auth/refresh`: `AuthService::refresh`.
    pub fn refresh(&self, input: RefreshInput) -> Result<Tokens, DomainError> {
        self.service.refresh(input)
    }

    /// The HTTP path's check of a bearer token and of the login session and
    /// user behind it: `AuthService::authenticate`.
    pub fn authenticate(&self, bearer: &str) -> Result<Actor, DomainError> {
        self.service.authenticate(bearer)
    }

    /// The operator's `dealroom create-admin`: `AuthService::create_admin`.
    pub fn create_admin(&self, input: RegisterInput) -> Result<User, DomainError> {
        self.service.create_admin(input)
    }
}

checked! {
    AuthService {
        /// `POST /auth/logout` (a program has no login to end: `Forbidden`).
        fn logout(&self, actor: &Actor) -> ();
        /// `POST /auth/logout-all`.
        fn logout_all(&self, actor: &Actor) -> u64;
        /// `GET /auth/sessions`.
        fn login_sessions(&self, actor: &Actor) -> Vec<LoginSession>;
        /// `DELETE /auth/sessions/{id}`.
        fn revoke_login_session(&self, actor: &Actor, id: LoginSessionId) -> ();
        /// `PUT /users/me/password` (only at a login: `Forbidden` to a program).
        fn change_password(&self, actor: &Actor, input: ChangePasswordInput) -> ();
    }
}

impl Checked<AccountService> {
    /// Acts as the user with this id, without a login:
    /// `AccountService::act_as`. [`Dealroom::act_as`](crate::Dealroom::act_as) is the same.
    pub fn act_as(&self, user: UserId, purpose: &'static str) -> Result<Actor, DomainError> {
        self.service.act_as(user, purpose)
    }
}

checked! {
    AccountService {
        /// `GET /users/me`.
        fn me(&self, actor: &Actor) -> User;
        /// `PATCH /users/me`.
        fn update_me(&self, actor: &Actor, input: ProfileInput) -> User;
        /// `GET /users`: admins only.
        fn list_users(&self, actor: &Actor, query: UserListQuery) -> Page<User>;
        /// `GET /users/{id}`: admins only.
        fn user(&self, actor: &Actor, id: UserId) -> User;
        /// `PATCH /users/{id}`: admins only.
        fn update_user(&self, actor: &Actor, id: UserId, input: AdminUserInput) -> User;
        /// `DELETE /users/{id}`: admins only.
        fn delete_user(&self, actor: &Actor, id: UserId) -> ();
        /// `DELETE /users/{id}/sessions`: admins only.
        fn end_login_sessions(&self, actor: &Actor, id: UserId) -> u64;
    }
}

checked! {
    ChatService {
        /// `POST /sessions`.
        fn create_session(&self, actor: &Actor, input: NewSessionInput) -> ChatSession;
        /// `GET /sessions`.
        fn list_sessions(&self, actor: &Actor, query: SessionListQuery) -> Page<ChatSession>;
        /// `GET /sessions/{id}`.
        fn session(&self, actor: &Actor, id: ChatSessionId) -> ChatSession;
        /// `PATCH /sessions/{id}`.
        fn rename_session(&self, actor: &Actor, id: ChatSessionId, input: RenameSessionInput) -> ChatSession;
        /// `DELETE /sessions/{id}`.
        fn delete_session(&self, actor: &Actor, id: ChatSessionId) -> ();
        /// `POST /sessions/{id}/messages` (the text: 1 to 32,000 characters).
        fn post_message(&self, actor: &Actor, session: ChatSessionId, input: PostMessageInput) -> Posted;
        /// `GET /sessions/{id}/messages`.
        fn messages(&self, actor: &Actor, session: ChatSessionId, query: MessageListQuery) -> Page<Message>;
        /// `GET /messages/{id}`.
        fn message(&self, actor: &Actor, id: MessageId) -> Message;
        /// `DELETE /messages/{id}`.
        fn delete_message(&self, actor: &Actor, id: MessageId) -> ();
        /// `GET /messages/search`.
        fn search(&self, actor: &Actor, query: MessageSearchQuery) -> SearchPage;
        /// `POST /messages/{id}/deltas`: the next piece of a streamed reply
        /// (posted with `stream: Some(true)`), by its sender.
        fn append_delta(&self, actor: &Actor, id: MessageId, input: DeltaInput) -> Message;
        /// `POST /messages/{id}/complete`: the end of a streamed reply, by its sender.
        fn complete_message(&self, actor: &Actor, id: MessageId, input: CompleteInput) -> Completed;
    }
}

impl Checked<ChatService> {
    /// Ends the streamed replies idle for `idle_for` as `incomplete` (the
    /// server's `STREAM_IDLE_TIMEOUT` job, once): `ChatService::expire_idle_streams`.
    pub fn expire_idle_streams(
        &self,
        idle_for: std::time::Duration,
    ) -> Result<Vec<Message>, DomainError> {
        self.service.expire_idle_streams(idle_for)
    }
}

checked! {
    MarketService {
        /// `POST /sessions/{id}/vendor`.
        fn create_vendor(&self, actor: &Actor, session: ChatSessionId, input: VendorInput) -> Vendor;
        /// `GET /sessions/{id}/vendor`.
        fn vendor_of_session(&self, actor: &Actor, session: ChatSessionId) -> Vendor;
        /// `GET /vendors/{id}`.
        fn vendor(&self, actor: &Actor, id: VendorId) -> Vendor;
        /// `PATCH /vendors/{id}`.
        fn update_vendor(&self, actor: &Actor, id: VendorId, input: VendorPatchInput) -> Vendor;
        /// `DELETE /vendors/{id}`.
        fn delete_vendor(&self, actor: &Actor, id: VendorId) -> ();
        /// `POST /sessions/{id}/sellers`.
        fn add_seller(&self, actor: &Actor, session: ChatSessionId, input: SellerInput) -> Seller;
        /// `GET /sessions/{id}/sellers`.
        fn sellers(&self, actor: &Actor, session: ChatSessionId, query: SellerListQuery) -> Vec<Seller>;
        /// `GET /sellers/{id}`.
        fn seller(&self, actor: &Actor, id: SellerId) -> Seller;
        /// `PATCH /sellers/{id}`.
        fn update_seller(&self, actor: &Actor, id: SellerId, input: SellerPatchInput) -> Seller;
        /// `DELETE /sellers/{id}`.
        fn delete_seller(&self, actor: &Actor, id: SellerId) -> ();
        /// `PUT /exchange-rates/{date}` (admins; `date` as `YYYY-MM-DD`).
        fn put_exchange_rates(&self, actor: &Actor, date: &str, input: ExchangeRatesInput) -> ExchangeRates;
        /// `GET /exchange-rates`.
        fn exchange_rates(&self, actor: &Actor, query: ExchangeRatesQuery) -> ExchangeRates;
        /// `GET /sessions/{id}/offers`: the session's offers compared in one
        /// currency.
        fn offers(&self, actor: &Actor, session: ChatSessionId, query: OffersQuery) -> OfferList;
    }
}

impl Checked<MarketService> {
    /// What `dealroom import-rates` stores: days of rates, each replacing
    /// that date's (`MarketService::import_exchange_rates`; an operator's
    /// tool, it takes no actor).
    pub fn import_exchange_rates(
        &self,
        days: &[ExchangeRates],
    ) -> Result<RatesImported, DomainError> {
        self.service.import_exchange_rates(days)
    }
}

impl Checked<MediaService> {
    /// `GET /media/{id}?expires=…&sig=…`, a signed link: `MediaService::get_signed`.
    pub fn get_signed(&self, id: MediaId, expires: i64, sig: &str) -> Result<Media, DomainError> {
        self.service.get_signed(id, expires, sig)
    }

    /// The collector's first step: `MediaService::delete_orphans`.
    pub fn delete_orphans(&self) -> Result<u64, DomainError> {
        self.service.delete_orphans()
    }
}

checked! {
    MediaService {
        /// `GET /media/{id}`: the row and a fresh signed link (uploading
        /// needs the bytes' storage, which the facade does not open).
        fn get(&self, actor: &Actor, id: MediaId) -> Media;
    }
}

use crate::{
    Delivery, DeliveryListQuery, Registered, Webhook, WebhookId, WebhookInput, WebhookPatchInput,
    WebhookService,
};

checked! {
    WebhookService {
        /// `POST /webhooks`: admins only; the secret is shown this once.
        fn create(&self, actor: &Actor, input: WebhookInput) -> Registered;
        /// `GET /webhooks`.
        fn list(&self, actor: &Actor) -> Vec<Webhook>;
        /// `GET /webhooks/{id}`.
        fn get(&self, actor: &Actor, id: WebhookId) -> Webhook;
        /// `PATCH /webhooks/{id}`.
        fn update(&self, actor: &Actor, id: WebhookId, input: WebhookPatchInput) -> Webhook;
        /// `DELETE /webhooks/{id}`: its pending deliveries are dropped.
        fn delete(&self, actor: &Actor, id: WebhookId) -> ();
        /// `POST /webhooks/{id}/rotate-secret`.
        fn rotate_secret(&self, actor: &Actor, id: WebhookId) -> Registered;
        /// `GET /webhooks/{id}/deliveries`: newest first.
        fn deliveries(&self, actor: &Actor, id: WebhookId, query: DeliveryListQuery) -> Page<Delivery>;
        /// `POST /webhooks/{id}/test`: a `webhook.test` delivery.
        fn test(&self, actor: &Actor, id: WebhookId) -> Delivery;
    }
}
