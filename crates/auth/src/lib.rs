#![warn(missing_docs)]
#![doc = include_str!("../README.md")]

pub mod inputs;
mod passwords;
mod secret;
mod tokens;

use passwords::{HashPool, hash_password, verify_password};
pub use secret::Secret;
use tokens::TokenKeys;

use domain::ports::{AuthStore, NewLoginSession, NewUser};
use domain::*;
use inputs::{
    ChangePasswordInput, LoginInput, PASSWORD_MAX_BYTES, RefreshInput, RegisterInput, Registration,
};
use serde::Serialize;
use std::sync::Arc;
use std::time::Duration;
use time::OffsetDateTime;

/// Settings of the auth context.
#[derive(Clone, Debug)]
pub struct AuthSettings {
    /// Signs and checks access tokens (HS256).
    pub jwt_secret: Secret,
    /// Lifetime of an access token.
    pub access_token_ttl: Duration,
    /// Lifetime of a login session's refresh token, from login (rotation never extends it).
    pub refresh_token_ttl: Duration,
    /// bcrypt's cost factor for new password hashes.
    pub bcrypt_cost: u32,
    /// How many threads run bcrypt (0: one per core).
    pub hash_concurrency: usize,
    /// Their nice value, 0 to 19: 19, the lowest priority, lets any other
    /// work preempt a hash (logins take the idle cycles, and nearly stop while
    /// the machine is saturated); 0 shares the cores evenly with requests.
    pub hash_nice: i32,
}

/// Where a login comes from, recorded on its login session.
#[derive(Clone, Debug, Default)]
pub struct ClientInfo {
    /// The client's `User-Agent`.
    pub user_agent: Option<String>,
    /// The client's IP address.
    pub ip_address: Option<String>,
}

/// The token pair a client holds.
#[derive(Clone, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct Tokens {
    /// An HS256 JWT for `Authorization: Bearer`.
    pub access_token: String,
    /// Exchanges for a new pair once, at `POST /auth/refresh`.
    pub refresh_token: String,
    /// Always `Bearer`.
    #[cfg_attr(feature = "openapi", schema(value_type = String, example = "Bearer"))]
    pub token_type: &'static str,
    /// Seconds until the access token expires.
    pub expires_in: u64,
}

impl std::fmt::Debug for Tokens {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Tokens")
            .field("expires_in", &self.expires_in)
            .finish_non_exhaustive()
    }
}

/// An access token whose signature and claims checked out; whether its login
/// session is still live is [`AuthService::caller`]'s question.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct VerifiedToken {
    /// The token's user (`sub`).
    pub user: UserId,
    /// The token's login session (`sid`).
    pub session: LoginSessionId,
    /// When the token expires (`exp`, Unix seconds): a caller that keeps a
    /// verified token (a live-events stream) checks it against the clock.
    pub expires_at: i64,
}

/// What register and login answer.
#[derive(Clone, Debug, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct SignedIn {
    /// The user, as they are now.
    pub user: User,
    /// Their new token pair.
    pub tokens: Tokens,
    /// The login session the tokens belong to.
    pub login_session: LoginSession,
}

/// Registration, login, tokens and login sessions. Blocking: bcrypt and the database.
pub struct AuthService {
    store: Arc<dyn AuthStore>,
    settings: AuthSettings,
    keys: TokenKeys,
    /// A hash to verify against when the email is unknown, so that the answer
    /// takes as long as for a known one.
    dummy_hash: String,
    hashing: HashPool,
    /// Live login sessions this instance has checked recently.
    callers: Arc<CallerCache>,
    /// Access tokens verified lately (signature and claims), by their text.
    verified: tokens::VerifiedTokens,
}

impl AuthService {
    /// The service on `store`; hashes a dummy password once (at the configured cost) for logins with an unknown email.
    pub fn new(store: Arc<dyn AuthStore>, settings: AuthSettings) -> Result<Self, DomainError> {
        let keys = TokenKeys::new(&settings.jwt_secret);
        let dummy_hash = hash_password("dealroom-dummy-password", settings.bcrypt_cost)?;
        Ok(Self {
            store,
            hashing: HashPool::new(settings.hash_concurrency, settings.hash_nice)?,
            settings,
            keys,
            dummy_hash,
            callers: Arc::new(CallerCache::new(0)),
            verified: tokens::VerifiedTokens::default(),
        })
    }

    /// Answers the per-request check from `cache` when it may (see
    /// [`CallerCache`]), and forgets a user's entries in it whenever this
    /// service revokes one of their login sessions. Share the same cache with
    /// the services that change a user's role or state, and with the instance's
    /// events listener.
    pub fn with_caller_cache(mut self, cache: Arc<CallerCache>) -> Self {
        self.callers = cache;
        self
    }

    /// bcrypt at the configured cost, on the bcrypt threads.
    fn hash(&self, password: &str) -> Result<String, DomainError> {
        let (password, cost) = (password.to_owned(), self.settings.bcrypt_cost);
        self.hashing.run(move || hash_password(&password, cost))?
    }

    /// bcrypt's verify, on the bcrypt threads.
    fn verify(&self, password: &str, hash: &str) -> Result<bool, DomainError> {
        let (password, hash) = (password.to_owned(), hash.to_owned());
        self.hashing.run(move || verify_password(&password, &hash))
    }

    /// `POST /auth/register`: a new `user` and their first login session.
    pub fn register(
        &self,
        input: RegisterInput,
        client: ClientInfo,
    ) -> Result<SignedIn, DomainError> {
        let input = input.parse()?;
        let new_user = self.new_user(&input, Role::User)?;
        let (refresh, session) = self.new_login_session(input.device_name, client)?;
        let (user, login_session) = self.store.register(&new_user, &session).map_err(|e| {
            if e == StoreError::Conflict(Conflict::EmailTaken) {
                DomainError::Conflict("Email is already registered")
            } else {
                e.into()
            }
        })?;
        self.signed_in(user, login_session, refresh)
    }

    /// `POST /auth/login`. Unknown email, wrong password and inactive account are
    /// one answer, and take the same time.
    pub fn login(&self, input: LoginInput, client: ClientInfo) -> Result<SignedIn, DomainError> {
        let input = input.parse()?;
        let found = self.store.credentials_by_email(&input.email)?;
        let hash = found
            .as_ref()
            .map_or(self.dummy_hash.as_str(), |c| c.password_hash.as_str());
        // bcrypt reads 72 bytes: a longer password is never one that was set
        // (setting one is refused), so it is wrong, found out in the same time.
        let password_ok =
            self.verify(&input.password, hash)? && input.password.len() <= PASSWORD_MAX_BYTES;
        let user = match found {
            Some(c) if password_ok && c.user.is_active => c.user,
            _ => return Err(DomainError::InvalidCredentials),
        };
        let (refresh, session) = self.new_login_session(input.device_name, client)?;
        let (user, login_session) = self.store.open_login_session(user.id, &session)?;
        self.signed_in(user, login_session, refresh)
    }

    /// `POST /auth/refresh`: rotates the refresh token. A token that was already
    /// rotated away is reuse, and revokes the whole login session.
    pub fn refresh(&self, input: RefreshInput) -> Result<Tokens, DomainError> {
        let presented = input.parse()?;
        let Some((sid, generation)) = tokens::parse_refresh_token(&presented) else {
            return Err(DomainError::InvalidRefreshToken);
        };
        let next = tokens::new_refresh_token(sid, generation.wrapping_add(1))?;
        let rotated = self.store.rotate_refresh_token(
            sid,
            &tokens::hash_token(&presented),
            &tokens::hash_token(&next),
        )?;
        if let Some((session, user)) = rotated {
            let (access_token, expires_in) =
                self.keys
                    .issue(&user, session.id, self.settings.access_token_ttl)?;
            return Ok(Tokens {
                access_token,
                refresh_token: next,
                token_type: "Bearer",
                expires_in,
            });
        }
        if let Some(session) = self.store.login_session(sid)? {
            let stale = i64::from(generation) < i64::from(session.refresh_generation);
            if stale && session.revoked_at.is_none() {
                self.store.revoke_login_session(session.user_id, sid)?;
                self.callers.forget_user(session.user_id);
                log::warn!(
                    target: "security",
                    "refresh token reuse: login session {sid} of user {} revoked",
                    session.user_id
                );
            }
        }
        Err(DomainError::InvalidRefreshToken)
    }

    /// Checks a bearer token and the login session and user behind it (one
    /// query): the caller as they are now.
    pub fn authenticate(&self, bearer: &str) -> Result<Actor, DomainError> {
        let token = self.verify_token(bearer)?;
        self.caller(token)
    }

    /// The first half of [`AuthService::authenticate`], without the database:
    /// signature, algorithm, expiry and claims. Cheap enough to run on a
    /// request thread, so a bad token is refused before anything else; a
    /// token this service verified lately is answered from memory, its
    /// expiry checked again.
    pub fn verify_token(&self, bearer: &str) -> Result<VerifiedToken, DomainError> {
        let now = OffsetDateTime::now_utc().unix_timestamp();
        if let Some(verified) = self.verified.get(bearer, now) {
            return Ok(verified);
        }
        let claims = self.keys.verify(bearer)?;
        match (
            claims.sub.parse::<UserId>(),
            claims.sid.parse::<LoginSessionId>(),
        ) {
            (Ok(user), Ok(session)) => {
                let verified = VerifiedToken {
                    user,
                    session,
                    expires_at: claims.exp,
                };
                self.verified.put(bearer, verified);
                Ok(verified)
            }
            _ => Err(DomainError::Unauthenticated),
        }
    }

    /// The second half: the token's login session must be live and its user
    /// active (one query, unless the cache may answer); the caller with their
    /// current role.
    pub fn caller(&self, token: VerifiedToken) -> Result<Actor, DomainError> {
        if let Some(actor) = self.cached_caller(token) {
            return Ok(actor);
        }
        let ticket = self.callers.ticket();
        let live = self
            .store
            .actor(token.user, token.session)?
            .ok_or(DomainError::SessionRevoked)?;
        self.callers.put(ticket, &live);
        Ok(live.actor)
    }

    /// The second half from memory only, without blocking: `Some` when the
    /// cache may answer and knows the login session as live.
    pub fn cached_caller(&self, token: VerifiedToken) -> Option<Actor> {
        self.callers.get(token.user, token.session)
    }

    /// `POST /auth/logout`: ends the caller's login session. A program acting
    /// without a login ([`Via::Service`]) has none to end: `Forbidden`.
    pub fn logout(&self, actor: &Actor) -> Result<(), DomainError> {
        let session = actor.login_session_id().ok_or(DomainError::Forbidden)?;
        self.store.revoke_login_session(actor.user_id, session)?;
        self.callers.forget_user(actor.user_id);
        Ok(())
    }

    /// `POST /auth/logout-all`: ends every login session of the caller.
    pub fn logout_all(&self, actor: &Actor) -> Result<u64, DomainError> {
        let ended = self.store.revoke_login_sessions(actor.user_id, None)?;
        self.callers.forget_user(actor.user_id);
        Ok(ended)
    }

    /// `GET /auth/sessions`: the caller's live login sessions, newest first
    /// (for a program acting without a login, none is `current`).
    pub fn login_sessions(&self, actor: &Actor) -> Result<Vec<LoginSession>, DomainError> {
        let mut list = self.store.active_login_sessions(actor.user_id)?;
        let current = actor.login_session_id();
        for s in &mut list {
            s.current = Some(s.id) == current;
        }
        Ok(list)
    }

    /// `DELETE /auth/sessions/{id}`: ends one of the caller's own login sessions.
    pub fn revoke_login_session(
        &self,
        actor: &Actor,
        id: LoginSessionId,
    ) -> Result<(), DomainError> {
        if self.store.revoke_login_session(actor.user_id, id)? {
            self.callers.forget_user(actor.user_id);
            Ok(())
        } else {
            Err(DomainError::NotFound("Login session"))
        }
    }

    /// `PUT /users/me/password`: ends every other login session. Only at a
    /// login: a program acting without one ([`Via::Service`]) gets `Forbidden`.
    pub fn change_password(
        &self,
        actor: &Actor,
        input: ChangePasswordInput,
    ) -> Result<(), DomainError> {
        let keep = actor.login_session_id().ok_or(DomainError::Forbidden)?;
        let change = input.parse()?;
        let creds = self
            .store
            .credentials_by_id(actor.user_id)?
            .ok_or(DomainError::SessionRevoked)?;
        let current_ok = self.verify(&change.current, &creds.password_hash)?
            && change.current.len() <= PASSWORD_MAX_BYTES;
        if !current_ok {
            return Err(DomainError::invalid("currentPassword", "is incorrect"));
        }
        let hash = self.hash(&change.new)?;
        self.store.change_password(actor.user_id, &hash, keep)?;
        self.callers.forget_user(actor.user_id);
        Ok(())
    }

    /// The operator's `dealroom create-admin`: creates an active admin, or makes
    /// the user with that email one, with the given password. Not reachable over
    /// HTTP; the same rules for email, name and password as registering.
    pub fn create_admin(&self, input: RegisterInput) -> Result<User, DomainError> {
        let user = self.new_user(&input.parse()?, Role::Admin)?;
        let admin = self.store.upsert_admin(&user)?;
        self.callers.forget_user(admin.id);
        Ok(admin)
    }

    /// The user a registration makes, with its password hashed.
    fn new_user(&self, input: &Registration, role: Role) -> Result<NewUser, DomainError> {
        Ok(NewUser {
            id: UserId::new(),
            email: input.email.clone(),
            name: input.name.clone(),
            password_hash: self.hash(&input.password)?,
            role,
        })
    }

    fn new_login_session(
        &self,
        device_name: Option<String>,
        client: ClientInfo,
    ) -> Result<(String, NewLoginSession), DomainError> {
        let id = LoginSessionId::new();
        let refresh = tokens::new_refresh_token(id, 0)?;
        let ttl = time::Duration::try_from(self.settings.refresh_token_ttl)
            .unwrap_or(time::Duration::days(30));
        let session = NewLoginSession {
            id,
            refresh_token_hash: tokens::hash_token(&refresh).to_vec(),
            device_name,
            user_agent: client
                .user_agent
                .map(|ua| truncate(&ua, domain::bounds::user_agent::MAX)),
            ip_address: client
                .ip_address
                .map(|ip| truncate(&ip, domain::bounds::ip_address::MAX)),
            expires_at: OffsetDateTime::now_utc() + ttl,
        };
        Ok((refresh, session))
    }

    fn signed_in(
        &self,
        user: User,
        mut login_session: LoginSession,
        refresh: String,
    ) -> Result<SignedIn, DomainError> {
        let (access_token, expires_in) =
            self.keys
                .issue(&user, login_session.id, self.settings.access_token_ttl)?;
        login_session.current = true;
        Ok(SignedIn {
            user,
            tokens: Tokens {
                access_token,
                refresh_token: refresh,
                token_type: "Bearer",
                expires_in,
            },
            login_session,
        })
    }
}

/// At most `max` characters, without NULs (which PostgreSQL text cannot hold).
fn truncate(s: &str, max: usize) -> String {
    s.chars().filter(|c| *c != '\0').take(max).collect()
}
