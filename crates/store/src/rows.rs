//! Row structs: `Queryable` rows, `Insertable` new rows borrowing `&str`, and
//! conversion to domain types at the store's edge.

use crate::schema::*;
use diesel::prelude::*;
use diesel::result::Error;
use domain::*;
use time::OffsetDateTime;
use uuid::Uuid;

/// SQL functions the DSL lacks.
pub mod sql {
    use diesel::expression::functions::declare_sql_function;
    use diesel::sql_types::Text;

    #[declare_sql_function]
    extern "SQL" {
        #[sql_name = "lower"]
        fn lower_text(x: Text) -> Text;
        fn clock_timestamp() -> Timestamptz;
    }
}

/// A text column read straight into the type it names (a role, a kind), with
/// no `String` in between.
#[derive(Debug)]
pub(crate) struct Parsed<T>(pub T);

impl<T> diesel::deserialize::FromSql<diesel::sql_types::Text, diesel::pg::Pg> for Parsed<T>
where
    T: std::str::FromStr,
{
    fn from_sql(value: diesel::pg::PgValue<'_>) -> diesel::deserialize::Result<Self> {
        let text = std::str::from_utf8(value.as_bytes())?;
        text.parse()
            .map(Parsed)
            .map_err(|_| format!("unexpected value {text:?} in the database").into())
    }
}

/// Column `i` of `row` as SQL type `ST`, `None` for NULL: a row decoded by
/// position by hand, for a hot statement whose rows skip columns they do not
/// need (the message page reads a medium's columns only for a media
/// message).
pub(crate) fn column<'a, ST, T>(
    row: &impl diesel::row::Row<'a, diesel::pg::Pg>,
    i: usize,
) -> diesel::deserialize::Result<Option<T>>
where
    T: diesel::deserialize::FromSql<ST, diesel::pg::Pg>,
{
    use diesel::row::Field;
    let field = row
        .get(i)
        .ok_or_else(|| format!("the row has no column {i}"))?;
    field.value().map(T::from_sql).transpose()
}

/// A message's `status` and `completedAt` from its columns: a message not
/// streamed (`status` NULL) is `complete`, at its `createdAt`.
pub(crate) fn message_status(
    status: Option<MessageStatus>,
    created_at: OffsetDateTime,
    completed_at: Option<OffsetDateTime>,
) -> (MessageStatus, Option<OffsetDateTime>) {
    match status {
        None => (MessageStatus::Complete, Some(created_at)),
        Some(s) => (s, completed_at),
    }
}

pub(crate) fn bad_value(e: impl std::error::Error + Send + Sync + 'static) -> Error {
    Error::DeserializationError(Box::new(e))
}

#[derive(Queryable, Selectable)]
#[diesel(table_name = users, check_for_backend(diesel::pg::Pg))]
pub struct UserRow {
    pub id: Uuid,
    pub email: String,
    pub name: String,
    pub role: String,
    pub is_active: bool,
    pub created_at: OffsetDateTime,
    pub updated_at: OffsetDateTime,
    pub last_login_at: Option<OffsetDateTime>,
}

impl UserRow {
    pub fn into_domain(self) -> QueryResult<User> {
        Ok(User {
            id: UserId(self.id),
            email: self.email,
            name: self.name,
            role: self.role.parse().map_err(bad_value)?,
            is_active: self.is_active,
            created_at: self.created_at,
            updated_at: self.updated_at,
            last_login_at: self.last_login_at,
        })
    }
}

#[derive(Insertable)]
#[diesel(table_name = users)]
pub struct NewUserRow<'a> {
    pub id: Uuid,
    pub email: &'a str,
    pub name: &'a str,
    pub password_hash: &'a str,
    pub role: &'a str,
}

impl<'a> From<&'a ports::NewUser> for NewUserRow<'a> {
    fn from(u: &'a ports::NewUser) -> Self {
        Self {
            id: u.id.0,
            email: &u.email,
            name: &u.name,
            password_hash: &u.password_hash,
            role: u.role.as_str(),
        }
    }
}

#[derive(Queryable, Selectable)]
#[diesel(table_name = login_sessions, check_for_backend(diesel::pg::Pg))]
pub struct LoginSessionRow {
    pub id: Uuid,
    pub user_id: Uuid,
    pub refresh_generation: i32,
    pub device_name: Option<String>,
    pub user_agent: Option<String>,
    pub ip_address: Option<String>,
    pub created_at: OffsetDateTime,
    pub last_used_at: OffsetDateTime,
    pub expires_at: OffsetDateTime,
    pub revoked_at: Option<OffsetDateTime>,
}

impl LoginSessionRow {
    pub fn into_domain(self) -> LoginSession {
        LoginSession {
            id: LoginSessionId(self.id),
            user_id: UserId(self.user_id),
            device_name: self.device_name,
            user_agent: self.user_agent,
            ip_address: self.ip_address,
            created_at: self.created_at,
            last_used_at: self.last_used_at,
            expires_at: self.expires_at,
            revoked_at: self.revoked_at,
            refresh_generation: self.refresh_generation,
            current: false,
        }
    }
}

#[derive(Insertable)]
#[diesel(table_name = login_sessions)]
pub struct NewLoginSessionRow<'a> {
    pub id: Uuid,
    pub user_id: Uuid,
    pub refresh_token_hash: &'a [u8],
    pub device_name: Option<&'a str>,
    pub user_agent: Option<&'a str>,
    pub ip_address: Option<&'a str>,
    pub expires_at: OffsetDateTime,
}

impl<'a> NewLoginSessionRow<'a> {
    pub fn new(user: UserId, s: &'a ports::NewLoginSession) -> Self {
        Self {
            id: s.id.0,
            user_id: user.0,
            refresh_token_hash: &s.refresh_token_hash,
            device_name: s.device_name.as_deref(),
            user_agent: s.user_agent.as_deref(),
            ip_address: s.ip_address.as_deref(),
            expires_at: s.expires_at,
        }
    }
}

/// A `vendors` row: read on its own, and left-joined to its chat session.
#[derive(Queryable, Selectable)]
#[diesel(table_name = vendors, check_for_backend(diesel::pg::Pg))]
pub struct VendorRow {
    pub id: Uuid,
    pub session_id: Uuid,
    pub name: String,
    pub email: Option<String>,
    pub phone: Option<String>,
    pub website: Option<String>,
    pub address: Option<String>,
    pub notes: Option<String>,
    pub created_at: OffsetDateTime,
    pub updated_at: OffsetDateTime,
}

impl VendorRow {
    pub fn into_domain(self) -> Vendor {
        Vendor {
            id: VendorId(self.id),
            session_id: ChatSessionId(self.session_id),
            name: self.name,
            email: self.email,
            phone: self.phone,
            website: self.website,
            address: self.address,
            notes: self.notes,
            created_at: self.created_at,
            updated_at: self.updated_at,
        }
    }
}

/// The SQL types of [`JoinedMedia`]'s columns, in order.
pub(crate) type JoinedMediaColumns = (
    diesel::sql_types::Nullable<diesel::sql_types::Uuid>,
    diesel::sql_types::Nullable<diesel::sql_types::Text>,
    diesel::sql_types::Nullable<diesel::sql_types::BigInt>,
    diesel::sql_types::Nullable<diesel::sql_types::Text>,
    diesel::sql_types::Nullable<diesel::sql_types::Text>,
    diesel::sql_types::Nullable<diesel::sql_types::Timestamptz>,
);

/// The nullable columns of a LEFT JOIN on `media`, as a message page and a
/// search select them (`md.owner_id AS media_owner_id`, … in this order,
/// after the message's own columns); embedded in their rows. The medium's id
/// is the message's `media_id`.
#[derive(Default, Queryable, QueryableByName)]
pub(crate) struct JoinedMedia {
    #[diesel(sql_type = diesel::sql_types::Nullable<diesel::sql_types::Uuid>, column_name = media_owner_id)]
    owner_id: Option<uuid::Uuid>,
    #[diesel(sql_type = diesel::sql_types::Nullable<diesel::sql_types::Text>, column_name = media_mime_type)]
    mime_type: Option<String>,
    #[diesel(sql_type = diesel::sql_types::Nullable<diesel::sql_types::BigInt>, column_name = media_size_bytes)]
    size_bytes: Option<i64>,
    #[diesel(sql_type = diesel::sql_types::Nullable<diesel::sql_types::Text>, column_name = media_file_name)]
    file_name: Option<String>,
    #[diesel(sql_type = diesel::sql_types::Nullable<diesel::sql_types::Text>, column_name = media_sha256)]
    sha256: Option<String>,
    #[diesel(sql_type = diesel::sql_types::Nullable<diesel::sql_types::Timestamptz>, column_name = media_created_at)]
    created_at: Option<time::OffsetDateTime>,
}

impl JoinedMedia {
    /// The six columns from position `first` on, by position (see
    /// [`column`]).
    pub(crate) fn at<'a>(
        row: &impl diesel::row::Row<'a, diesel::pg::Pg>,
        first: usize,
    ) -> diesel::deserialize::Result<Self> {
        use diesel::sql_types::{BigInt, Text, Timestamptz};
        Ok(Self {
            owner_id: column::<diesel::sql_types::Uuid, _>(row, first)?,
            mime_type: column::<Text, _>(row, first + 1)?,
            size_bytes: column::<BigInt, _>(row, first + 2)?,
            file_name: column::<Text, _>(row, first + 3)?,
            sha256: column::<Text, _>(row, first + 4)?,
            created_at: column::<Timestamptz, _>(row, first + 5)?,
        })
    }

    /// The medium `id` (the message's `media_id`), if the row joined one (its
    /// `url` is signed where the message is answered).
    pub(crate) fn into_domain(self, id: Option<uuid::Uuid>) -> Option<domain::Media> {
        match (
            id,
            self.mime_type,
            self.size_bytes,
            self.sha256,
            self.created_at,
        ) {
            (Some(id), Some(mime), Some(size), Some(sha), Some(at)) => Some(domain::Media {
                id: domain::MediaId(id),
                owner_id: self.owner_id.map(domain::UserId),
                mime_type: mime,
                size_bytes: size,
                file_name: self.file_name,
                sha256: sha,
                url: String::new(),
                created_at: at,
            }),
            _ => None,
        }
    }
}
