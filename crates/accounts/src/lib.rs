#![warn(missing_docs)]
#![doc = include_str!("../README.md")]

pub mod inputs;

use domain::page::{Cursors, bad_cursor, page_from};
use domain::ports::AccountStore;
use domain::*;
use inputs::{AdminUserInput, ProfileInput, UserListQuery};
use std::sync::Arc;

const CURSOR_LIST: &str = "users";

/// Profiles and user administration, and acting as a user without a login
/// ([`AccountService::act_as`]).
pub struct AccountService {
    store: Arc<dyn AccountStore>,
    cursors: Cursors,
    /// Forgotten for a user whose role or state changes, or who is deleted.
    callers: Arc<CallerCache>,
}

impl AccountService {
    /// The service on `store`; `cursors` signs the user list's page cursors.
    pub fn new(store: Arc<dyn AccountStore>, cursors: Cursors) -> Self {
        Self {
            store,
            cursors,
            callers: Arc::new(CallerCache::new(0)),
        }
    }

    /// The cache of the per-request check (the one `AuthService` answers
    /// from): a change of a user's role or state, a deletion and ending their
    /// login sessions forget the user in it at once.
    pub fn with_caller_cache(mut self, cache: Arc<CallerCache>) -> Self {
        self.callers = cache;
        self
    }

    /// The [`Actor`] a program (a back-office job, a bot) acts as, to call any
    /// service without a login: the user's row as the database holds it now
    /// gives the role, so the rules treat the program exactly as they treat that
    /// user over HTTP. An unknown user is `NotFound("User")`; an inactive one
    /// `Forbidden`. Logged at `info` on the `security` target, naming
    /// `purpose`; every log line that shows the actor says `via service <purpose>`.
    ///
    /// Act as the user the work is for; maintenance that needs admin rights
    /// acts as an admin account.
    ///
    /// The actor is a snapshot of the row. The `dealroom` facade's services
    /// check it against the database again on every call
    /// (`Dealroom::current`), so that demoting, deactivating or deleting the
    /// user stops a job that holds it. A program that calls this crate's
    /// services without the facade calls `act_as` again for each unit of work.
    pub fn act_as(&self, user: UserId, purpose: &'static str) -> Result<Actor, DomainError> {
        let Some(row) = self.store.user(user)? else {
            log::warn!(target: "security", "service {purpose} refused: user {user} does not exist");
            return Err(DomainError::NotFound("User"));
        };
        let actor = Actor::__from_user_row(&row, purpose).inspect_err(|_| {
            log::warn!(target: "security", "service {purpose} refused: user {user} is inactive");
        })?;
        log::info!(target: "security", "{actor} acts without a login");
        Ok(actor)
    }

    /// `GET /users/me`, `GET /auth/me`.
    pub fn me(&self, actor: &Actor) -> Result<User, DomainError> {
        self.store
            .user(actor.user_id)?
            .ok_or(DomainError::SessionRevoked)
    }

    /// `PATCH /users/me`: a user may change their name, nothing else.
    pub fn update_me(&self, actor: &Actor, input: ProfileInput) -> Result<User, DomainError> {
        let patch = input.parse()?;
        self.store
            .update_user(actor.user_id, &patch)?
            .ok_or(DomainError::SessionRevoked)
    }

    /// `GET /users`: admins only.
    pub fn list_users(
        &self,
        actor: &Actor,
        query: UserListQuery,
    ) -> Result<Page<User>, DomainError> {
        require_admin(actor)?;
        let (page, filter) = query.parse()?;
        let after = match &page.cursor {
            Some(c) => Some(UserId(
                uuid::Uuid::from_slice(&self.cursors.decode(c, CURSOR_LIST, "")?)
                    .map_err(|_| bad_cursor())?,
            )),
            None => None,
        };
        let rows = self.store.list_users(&filter, after, page.limit + 1)?;
        Ok(page_from(rows, page.limit, |u| {
            self.cursors.encode(CURSOR_LIST, "", u.id.0.as_bytes())
        }))
    }

    /// `GET /users/{id}`: admins only.
    pub fn user(&self, actor: &Actor, id: UserId) -> Result<User, DomainError> {
        require_admin(actor)?;
        self.store.user(id)?.ok_or(DomainError::NotFound("User"))
    }

    /// `PATCH /users/{id}`: admins only; deactivating ends the user's login
    /// sessions; an admin cannot demote or deactivate themself.
    pub fn update_user(
        &self,
        actor: &Actor,
        id: UserId,
        input: AdminUserInput,
    ) -> Result<User, DomainError> {
        require_admin(actor)?;
        let patch = input.parse()?;
        if id == actor.user_id {
            if patch.role.is_some_and(|r| r != Role::Admin) {
                return Err(DomainError::Conflict("An admin cannot demote themself"));
            }
            if patch.is_active == Some(false) {
                return Err(DomainError::Conflict("An admin cannot deactivate themself"));
            }
        }
        let user = self
            .store
            .update_user(id, &patch)?
            .ok_or(DomainError::NotFound("User"))?;
        self.callers.forget_user(id);
        Ok(user)
    }

    /// `DELETE /users/{id}`: admins only, never themself; everything the user owns goes too.
    pub fn delete_user(&self, actor: &Actor, id: UserId) -> Result<(), DomainError> {
        require_admin(actor)?;
        if id == actor.user_id {
            return Err(DomainError::Conflict("An admin cannot delete themself"));
        }
        if self.store.delete_user(id)? {
            self.callers.forget_user(id);
            Ok(())
        } else {
            Err(DomainError::NotFound("User"))
        }
    }

    /// `DELETE /users/{id}/sessions`: admins only; how many login sessions ended.
    pub fn end_login_sessions(&self, actor: &Actor, id: UserId) -> Result<u64, DomainError> {
        require_admin(actor)?;
        let ended = self
            .store
            .end_login_sessions(id)?
            .ok_or(DomainError::NotFound("User"))?;
        self.callers.forget_user(id);
        Ok(ended)
    }
}

fn require_admin(actor: &Actor) -> Result<(), DomainError> {
    if actor.is_admin() {
        Ok(())
    } else {
        Err(DomainError::Forbidden)
    }
}
