//! Profiles and user administration.

use crate::PgStore;
use crate::auth::revoke_all;
use crate::rows::*;
use crate::schema::users;
use diesel::dsl::now;
use diesel::prelude::*;
use domain::ports::{AccountStore, StoreResult, UserFilter, UserPatch};
use domain::*;

#[derive(AsChangeset)]
#[diesel(table_name = users)]
struct UserChanges<'a> {
    name: Option<&'a str>,
    role: Option<&'a str>,
    is_active: Option<bool>,
}

/// `%`, `_` and `\` in a search text match themselves.
pub(crate) fn like_pattern(q: &str) -> String {
    let mut p = String::with_capacity(q.len() + 2);
    p.push('%');
    for ch in q.chars() {
        if matches!(ch, '%' | '_' | '\\') {
            p.push('\\');
        }
        p.push(ch);
    }
    p.push('%');
    p
}

impl AccountStore for PgStore {
    fn user(&self, id: UserId) -> StoreResult<Option<User>> {
        self.run(|c| {
            users::table
                .find(id.0)
                .select(UserRow::as_select())
                .first(c)
                .optional()?
                .map(UserRow::into_domain)
                .transpose()
        })
    }

    fn update_user(&self, id: UserId, patch: &UserPatch) -> StoreResult<Option<User>> {
        self.tx(|c| {
            let changes = UserChanges {
                name: patch.name.as_deref(),
                role: patch.role.map(Role::as_str),
                is_active: patch.is_active,
            };
            let user = diesel::update(users::table.find(id.0))
                .set((changes, users::updated_at.eq(now)))
                .returning(UserRow::as_returning())
                .get_result(c)
                .optional()?;
            if user.is_some() && patch.is_active == Some(false) {
                revoke_all(c, id, None)?;
            }
            user.map(UserRow::into_domain).transpose()
        })
    }

    /// In one transaction: the user's chat sessions (with their messages),
    /// then their uploads that no message carries any more, then the user. An
    /// upload that a message in someone else's session carries stays with that
    /// message, unowned; no other session loses a message.
    fn delete_user(&self, id: UserId) -> StoreResult<bool> {
        use crate::schema::{chat_sessions, media};
        self.tx(|c| {
            let sessions: Vec<uuid::Uuid> =
                diesel::delete(chat_sessions::table.filter(chat_sessions::user_id.eq(id.0)))
                    .returning(chat_sessions::id)
                    .get_results(c)?;
            // Their webhook deliveries (§3.11), in this transaction.
            for session in sessions {
                crate::webhooks::enqueue_event(
                    c,
                    domain::webhooks::EventType::SessionDeleted,
                    session,
                    session,
                )?;
            }
            let owned: Vec<uuid::Uuid> = media::table
                .filter(media::owner_id.eq(id.0))
                .select(media::id)
                .load(c)?;
            crate::media::delete_uncarried(c, &owned)?;
            Ok(diesel::delete(users::table.find(id.0)).execute(c)? > 0)
        })
    }

    fn list_users(
        &self,
        filter: &UserFilter,
        after: Option<UserId>,
        limit: i64,
    ) -> StoreResult<Vec<User>> {
        self.run(|c| {
            let mut q = users::table
                .select(UserRow::as_select())
                .order(users::id.desc())
                .limit(limit)
                .into_boxed();
            if let Some(role) = filter.role {
                q = q.filter(users::role.eq(role.as_str()));
            }
            if let Some(text) = filter.q.as_deref() {
                let p = like_pattern(text);
                q = q.filter(users::email.ilike(p.clone()).or(users::name.ilike(p)));
            }
            if let Some(after) = after {
                q = q.filter(users::id.lt(after.0));
            }
            q.load(c)?.into_iter().map(UserRow::into_domain).collect()
        })
    }

    fn end_login_sessions(&self, id: UserId) -> StoreResult<Option<u64>> {
        self.tx(|c| {
            let exists: Option<uuid::Uuid> = users::table
                .find(id.0)
                .select(users::id)
                .for_update()
                .first(c)
                .optional()?;
            match exists {
                Some(_) => Ok(Some(revoke_all(c, id, None)?)),
                None => Ok(None),
            }
        })
    }
}
