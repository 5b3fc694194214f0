//! Profiles and user administration: [`AccountService`]. Every method takes the
//! acting [`Actor`]; the role rules of the contract live here.

use domain::inputs::{AdminUserInput, ProfileInput, UserListQuery};
use domain::page::{decode_cursor, encode_cursor, page_from};
use domain::ports::{AccountStore, UserFilter, UserPatch};
use domain::validation::validate;
use domain::*;
use std::sync::Arc;

const CURSOR_KIND: &str = "users";

pub struct AccountService {
    store: Arc<dyn AccountStore>,
}

impl AccountService {
    pub fn new(store: Arc<dyn AccountStore>) -> Self {
        Self { store }
    }

    /// `GET /users/me`, `GET /auth/me`.
    pub fn me(&self, actor: &Actor) -> Result<User, DomainError> {
        self.store
            .user(actor.user_id)?
            .ok_or(DomainError::SessionRevoked)
    }

    /// `PATCH /users/me`: a user may change their name, nothing else.
    pub fn update_me(&self, actor: &Actor, mut input: ProfileInput) -> Result<User, DomainError> {
        input.normalize();
        validate(&input)?;
        let patch = UserPatch {
            name: input.name,
            ..UserPatch::default()
        };
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
        validate(&query)?;
        let page = PageRequest::new(query.limit, query.cursor)?;
        let after = match &page.cursor {
            Some(c) => Some(
                decode_cursor(c, CURSOR_KIND, "")?
                    .parse::<UserId>()
                    .map_err(|_| {
                        DomainError::invalid("cursor", "is not a valid cursor for this list")
                    })?,
            ),
            None => None,
        };
        let filter = UserFilter {
            role: query.role,
            q: query
                .q
                .map(|q| q.trim().to_owned())
                .filter(|q| !q.is_empty()),
        };
        let rows = self.store.list_users(&filter, after, page.limit + 1)?;
        Ok(page_from(rows, page.limit, |u| {
            encode_cursor(CURSOR_KIND, "", &u.id.to_string())
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
        mut input: AdminUserInput,
    ) -> Result<User, DomainError> {
        require_admin(actor)?;
        input.normalize();
        validate(&input)?;
        if id == actor.user_id {
            if input.role.is_some_and(|r| r != Role::Admin) {
                return Err(DomainError::Conflict("An admin cannot demote themself"));
            }
            if input.is_active == Some(false) {
                return Err(DomainError::Conflict("An admin cannot deactivate themself"));
            }
        }
        let patch = UserPatch {
            name: input.name,
            role: input.role,
            is_active: input.is_active,
        };
        self.store
            .update_user(id, &patch)?
            .ok_or(DomainError::NotFound("User"))
    }

    /// `DELETE /users/{id}`: admins only, never themself; everything the user owns goes too.
    pub fn delete_user(&self, actor: &Actor, id: UserId) -> Result<(), DomainError> {
        require_admin(actor)?;
        if id == actor.user_id {
            return Err(DomainError::Conflict("An admin cannot delete themself"));
        }
        if self.store.delete_user(id)? {
            Ok(())
        } else {
            Err(DomainError::NotFound("User"))
        }
    }

    /// `DELETE /users/{id}/sessions`: admins only; how many login sessions ended.
    pub fn end_login_sessions(&self, actor: &Actor, id: UserId) -> Result<u64, DomainError> {
        require_admin(actor)?;
        self.store
            .end_login_sessions(id)?
            .ok_or(DomainError::NotFound("User"))
    }
}

fn require_admin(actor: &Actor) -> Result<(), DomainError> {
    if actor.is_admin() {
        Ok(())
    } else {
        Err(DomainError::Forbidden)
    }
}
