//! Media rows, and the bookkeeping that keeps stored objects and rows in step.
//!
//! Every deleted media row leaves its hash in `media_gone` (a trigger, so a
//! cascade counts too). An object is deleted only under the advisory lock of
//! its hash, taken by [`MediaStore::claim_unreferenced`] after checking that
//! no row refers to it; an upload inserts its row under the same lock (a
//! transaction-level one) and stores its object after that commit. So either
//! the upload's row comes first and the collector leaves the object alone, or
//! the collector's delete comes first and the upload stores its object again.

use crate::PgStore;
use crate::chat::MediaRow;
use crate::pool::Manager;
use crate::prepared::Prepared;
use crate::schema::{chat_sessions, media, media_gone, messages};
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Bool, Text, Timestamptz};
use domain::ports::{MediaStore, NewMedia, ObjectClaim, StoreResult};
use domain::timefmt::Timestamp;
use domain::*;
use uuid::Uuid;

impl PgStore {
    /// The advisory lock of a hash (`$1`), held for the transaction: an
    /// upload's row insert. The first key is the media namespace (`medi`).
    pub const LOCK_HASH_XACT_SQL: &'static str =
        "SELECT pg_advisory_xact_lock(1835361385, hashtext($1)) IS NOT NULL AS ok";
    /// The same lock, held by the connection until unlocked: the collector's
    /// delete of an object.
    pub const LOCK_HASH_SQL: &'static str =
        "SELECT pg_advisory_lock(1835361385, hashtext($1)) IS NOT NULL AS ok";
    pub(crate) const UNLOCK_HASH_SQL: &'static str =
        "SELECT pg_advisory_unlock(1835361385, hashtext($1)) AS ok";
    /// Up to `$2` uploads created before `$1` that no message carries;
    /// rows a concurrent post has locked are skipped.
    pub const DELETE_ORPHANS_SQL: &'static str = "\
DELETE FROM media WHERE id IN (\
SELECT md.id FROM media md WHERE md.created_at < $1 \
AND NOT EXISTS (SELECT 1 FROM messages m WHERE m.media_id = md.id) \
ORDER BY md.created_at LIMIT $2 FOR UPDATE SKIP LOCKED)";
}

#[derive(QueryableByName)]
struct Ok_ {
    #[diesel(sql_type = Bool)]
    #[expect(dead_code, reason = "read only to run the statement")]
    ok: bool,
}

fn lock(c: &mut PgConnection, sql: &'static str, sha256: &str) -> QueryResult<()> {
    Prepared::new(sql)
        .bind::<Text, _>(sha256.to_owned())
        .get_result::<Ok_>(c)
        .map(|_| ())
}

#[derive(Insertable)]
#[diesel(table_name = media)]
struct NewMediaRow<'a> {
    id: Uuid,
    owner_id: Uuid,
    mime_type: &'a str,
    size_bytes: i64,
    file_name: Option<&'a str>,
    sha256: &'a str,
}

/// Deletes the rows of `ids` that no message carries.
pub(crate) fn delete_uncarried(c: &mut PgConnection, ids: &[Uuid]) -> QueryResult<usize> {
    if ids.is_empty() {
        return Ok(0);
    }
    let carried = messages::table
        .filter(messages::media_id.eq(media::id.nullable()))
        .select(messages::id);
    diesel::delete(
        media::table
            .filter(media::id.eq_any(ids))
            .filter(diesel::dsl::not(diesel::dsl::exists(carried))),
    )
    .execute(c)
}

/// A hash locked by one pooled connection until released.
struct PgClaim {
    conn: Option<r2d2::PooledConnection<Manager>>,
    sha256: String,
}

impl ObjectClaim for PgClaim {
    fn release(mut self: Box<Self>) -> StoreResult<()> {
        let Some(mut conn) = self.conn.take() else {
            return Ok(());
        };
        let sha = self.sha256.clone();
        let result = diesel::delete(media_gone::table.find(&sha))
            .execute(&mut conn.pg)
            .and_then(|_| lock(&mut conn.pg, PgStore::UNLOCK_HASH_SQL, &sha));
        result.map_err(|e| conn.fail(e))
    }
}

impl Drop for PgClaim {
    fn drop(&mut self) {
        // Not released (the delete failed): unlock, and leave the hash listed
        // for the next run.
        if let Some(mut conn) = self.conn.take() {
            let _ = lock(&mut conn.pg, PgStore::UNLOCK_HASH_SQL, &self.sha256);
        }
    }
}

impl MediaStore for PgStore {
    fn media(&self, id: MediaId) -> StoreResult<Option<Media>> {
        self.run(|c| {
            media::table
                .find(id.0)
                .select(MediaRow::as_select())
                .first(c)
                .optional()
                .map(|r| r.map(MediaRow::into_domain))
        })
    }

    fn insert_media(&self, m: &NewMedia) -> StoreResult<Media> {
        self.tx(|c| {
            lock(c, Self::LOCK_HASH_XACT_SQL, &m.sha256)?;
            diesel::insert_into(media::table)
                .values(NewMediaRow {
                    id: m.id.0,
                    owner_id: m.owner_id.0,
                    mime_type: &m.mime_type,
                    size_bytes: m.size_bytes,
                    file_name: m.file_name.as_deref(),
                    sha256: &m.sha256,
                })
                .returning(MediaRow::as_returning())
                .get_result(c)
                .map(MediaRow::into_domain)
        })
    }

    fn delete_media(&self, id: MediaId) -> StoreResult<bool> {
        self.run(|c| Ok(diesel::delete(media::table.find(id.0)).execute(c)? > 0))
    }

    fn media_carried(&self, id: MediaId, session_owner: Option<UserId>) -> StoreResult<bool> {
        self.run(|c| {
            let mut q = messages::table
                .inner_join(chat_sessions::table)
                .filter(messages::media_id.eq(id.0))
                .select(messages::id)
                .into_boxed();
            if let Some(owner) = session_owner {
                q = q.filter(chat_sessions::user_id.eq(owner.0));
            }
            Ok(q.first::<Uuid>(c).optional()?.is_some())
        })
    }

    fn delete_orphan_media(&self, before: Timestamp, limit: i64) -> StoreResult<u64> {
        self.run(|c| {
            let n = Prepared::new(Self::DELETE_ORPHANS_SQL)
                .bind::<Timestamptz, _>(before)
                .bind::<BigInt, _>(limit)
                .execute(c)?;
            Ok(n as u64)
        })
    }

    fn gone_objects(&self, limit: i64) -> StoreResult<Vec<String>> {
        self.run(|c| {
            media_gone::table
                .select(media_gone::sha256)
                .order((media_gone::gone_at.asc(), media_gone::sha256.asc()))
                .limit(limit)
                .load(c)
        })
    }

    fn claim_unreferenced(&self, sha256: &str) -> StoreResult<Option<Box<dyn ObjectClaim>>> {
        // A session-level lock: never through a transaction pooler.
        let pool = self.direct_pool();
        let mut conn = pool
            .get_timeout(pool.connection_timeout())
            .map_err(|e| StoreError::Unavailable(e.to_string()))?;
        let referenced = (|| {
            lock(&mut conn.pg, Self::LOCK_HASH_SQL, sha256)?;
            let referenced = media::table
                .filter(media::sha256.eq(sha256))
                .select(media::id)
                .first::<Uuid>(&mut conn.pg)
                .optional()?
                .is_some();
            if referenced {
                diesel::delete(media_gone::table.find(sha256)).execute(&mut conn.pg)?;
                lock(&mut conn.pg, Self::UNLOCK_HASH_SQL, sha256)?;
            }
            Ok(referenced)
        })();
        let referenced = match referenced {
            Ok(r) => r,
            Err(e) => {
                let err = conn.fail(e);
                // A session lock must not outlive this call on a pooled connection.
                let _ = lock(&mut conn.pg, Self::UNLOCK_HASH_SQL, sha256);
                return Err(err);
            }
        };
        if referenced {
            return Ok(None);
        }
        Ok(Some(Box::new(PgClaim {
            conn: Some(conn),
            sha256: sha256.to_owned(),
        })))
    }
}
