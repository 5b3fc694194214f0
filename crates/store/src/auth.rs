//! Users' credentials and login sessions.

use crate::PgStore;
use crate::rows::sql::lower_text;
use crate::rows::*;
use crate::schema::{login_sessions, users};
use diesel::dsl::now;
use diesel::prelude::*;
use domain::ports::{AuthStore, Credentials, NewLoginSession, NewUser, StoreResult};
use domain::*;
use time::OffsetDateTime;

#[derive(Queryable, Selectable)]
#[diesel(table_name = users, check_for_backend(diesel::pg::Pg))]
struct CredentialsRow {
    #[diesel(embed)]
    user: UserRow,
    password_hash: String,
}

impl CredentialsRow {
    fn into_domain(self) -> QueryResult<Credentials> {
        Ok(Credentials {
            user: self.user.into_domain()?,
            password_hash: self.password_hash,
        })
    }
}

/// Live: not revoked and not expired.
macro_rules! live_sessions {
    () => {
        login_sessions::revoked_at
            .is_null()
            .and(login_sessions::expires_at.gt(now))
    };
}

impl AuthStore for PgStore {
    fn register(
        &self,
        user: &NewUser,
        session: &NewLoginSession,
    ) -> StoreResult<(User, LoginSession)> {
        self.tx(|c| {
            let u = diesel::insert_into(users::table)
                .values(NewUserRow::from(user))
                .returning(UserRow::as_returning())
                .get_result(c)?
                .into_domain()?;
            let s = diesel::insert_into(login_sessions::table)
                .values(NewLoginSessionRow::new(u.id, session))
                .returning(LoginSessionRow::as_returning())
                .get_result(c)?
                .into_domain();
            Ok((u, s))
        })
    }

    fn credentials_by_email(&self, email: &str) -> StoreResult<Option<Credentials>> {
        self.run(|c| {
            users::table
                .filter(lower_text(users::email).eq(email))
                .select(CredentialsRow::as_select())
                .first(c)
                .optional()?
                .map(CredentialsRow::into_domain)
                .transpose()
        })
    }

    fn credentials_by_id(&self, id: UserId) -> StoreResult<Option<Credentials>> {
        self.run(|c| {
            users::table
                .find(id.0)
                .select(CredentialsRow::as_select())
                .first(c)
                .optional()?
                .map(CredentialsRow::into_domain)
                .transpose()
        })
    }

    fn open_login_session(
        &self,
        user: UserId,
        session: &NewLoginSession,
    ) -> StoreResult<(User, LoginSession)> {
        self.tx(|c| {
            let s = diesel::insert_into(login_sessions::table)
                .values(NewLoginSessionRow::new(user, session))
                .returning(LoginSessionRow::as_returning())
                .get_result(c)?
                .into_domain();
            let u = diesel::update(users::table.find(user.0))
                .set(users::last_login_at.eq(s.created_at))
                .returning(UserRow::as_returning())
                .get_result(c)?
                .into_domain()?;
            Ok((u, s))
        })
    }

    fn actor(&self, user: UserId, session: LoginSessionId) -> StoreResult<Option<LiveActor>> {
        self.run(|c| {
            let found: Option<(String, OffsetDateTime)> = login_sessions::table
                .inner_join(users::table)
                .filter(login_sessions::id.eq(session.0))
                .filter(login_sessions::user_id.eq(user.0))
                .filter(live_sessions!())
                .filter(users::is_active)
                .select((users::role, login_sessions::expires_at))
                .first(c)
                .optional()?;
            found
                .map(|(r, expires_at)| {
                    Ok(LiveActor {
                        actor: Actor::__from_store(user, session, r.parse().map_err(bad_value)?),
                        session_expires_at: expires_at,
                    })
                })
                .transpose()
        })
    }

    fn rotate_refresh_token(
        &self,
        session: LoginSessionId,
        current_hash: &[u8],
        next_hash: &[u8],
    ) -> StoreResult<Option<(LoginSession, User)>> {
        self.tx(|c| {
            // One conditional UPDATE: of racing refreshes with one token, the row
            // lock lets the first through and the rest find the hash changed.
            let active_owner = users::table
                .filter(users::id.eq(login_sessions::user_id))
                .filter(users::is_active);
            let rotated = diesel::update(login_sessions::table)
                .filter(login_sessions::id.eq(session.0))
                .filter(login_sessions::refresh_token_hash.eq(current_hash))
                .filter(live_sessions!())
                .filter(diesel::dsl::exists(active_owner))
                .set((
                    login_sessions::refresh_token_hash.eq(next_hash),
                    login_sessions::refresh_generation.eq(login_sessions::refresh_generation + 1),
                    login_sessions::last_used_at.eq(now),
                ))
                .returning(LoginSessionRow::as_returning())
                .get_result(c)
                .optional()?;
            let Some(row) = rotated else { return Ok(None) };
            let user = users::table
                .find(row.user_id)
                .select(UserRow::as_select())
                .first(c)?
                .into_domain()?;
            Ok(Some((row.into_domain(), user)))
        })
    }

    fn login_session(&self, id: LoginSessionId) -> StoreResult<Option<LoginSession>> {
        self.run(|c| {
            Ok(login_sessions::table
                .find(id.0)
                .select(LoginSessionRow::as_select())
                .first(c)
                .optional()?
                .map(LoginSessionRow::into_domain))
        })
    }

    fn active_login_sessions(&self, user: UserId) -> StoreResult<Vec<LoginSession>> {
        self.run(|c| {
            Ok(login_sessions::table
                .filter(login_sessions::user_id.eq(user.0))
                .filter(live_sessions!())
                .order((login_sessions::created_at.desc(), login_sessions::id.desc()))
                .select(LoginSessionRow::as_select())
                .load(c)?
                .into_iter()
                .map(LoginSessionRow::into_domain)
                .collect())
        })
    }

    fn revoke_login_session(&self, user: UserId, session: LoginSessionId) -> StoreResult<bool> {
        self.run(|c| {
            let n = diesel::update(login_sessions::table)
                .filter(login_sessions::id.eq(session.0))
                .filter(login_sessions::user_id.eq(user.0))
                .filter(live_sessions!())
                .set(login_sessions::revoked_at.eq(now))
                .execute(c)?;
            Ok(n > 0)
        })
    }

    fn revoke_login_sessions(
        &self,
        user: UserId,
        keep: Option<LoginSessionId>,
    ) -> StoreResult<u64> {
        self.run(|c| revoke_all(c, user, keep))
    }

    fn upsert_admin(&self, user: &NewUser) -> StoreResult<User> {
        self.tx(|c| {
            let promoted =
                diesel::update(users::table.filter(lower_text(users::email).eq(&user.email)))
                    .set((
                        users::role.eq(Role::Admin.as_str()),
                        users::is_active.eq(true),
                        users::password_hash.eq(&user.password_hash),
                        users::updated_at.eq(now),
                    ))
                    .returning(UserRow::as_returning())
                    .get_result(c)
                    .optional()?;
            let row = match promoted {
                Some(row) => row,
                None => diesel::insert_into(users::table)
                    .values(NewUserRow::from(user))
                    .returning(UserRow::as_returning())
                    .get_result(c)?,
            };
            row.into_domain()
        })
    }

    fn change_password(
        &self,
        user: UserId,
        password_hash: &str,
        keep: LoginSessionId,
    ) -> StoreResult<()> {
        self.tx(|c| {
            diesel::update(users::table.find(user.0))
                .set((
                    users::password_hash.eq(password_hash),
                    users::updated_at.eq(now),
                ))
                .execute(c)?;
            revoke_all(c, user, Some(keep))?;
            Ok(())
        })
    }
}

/// Revokes the user's live login sessions except `keep`.
pub(crate) fn revoke_all(
    c: &mut PgConnection,
    user: UserId,
    keep: Option<LoginSessionId>,
) -> QueryResult<u64> {
    // Live ones only: an expired session is over already, and the count is
    // what `logout-all` reports as ended.
    let target = login_sessions::table
        .filter(login_sessions::user_id.eq(user.0))
        .filter(login_sessions::revoked_at.is_null())
        .filter(login_sessions::expires_at.gt(now));
    let n = match keep {
        Some(k) => diesel::update(target.filter(login_sessions::id.ne(k.0)))
            .set(login_sessions::revoked_at.eq(now))
            .execute(c)?,
        None => diesel::update(target)
            .set(login_sessions::revoked_at.eq(now))
            .execute(c)?,
    };
    Ok(u64::try_from(n).unwrap_or(u64::MAX))
}
