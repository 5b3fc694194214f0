//! The `data` of each success envelope. Handlers answer with these types and the
//! OpenAPI document is generated from the same types, so the two cannot drift.

use auth::Tokens;
use domain::{ChatSession, LoginSession, Media, Message, Seller, User, Vendor};
use serde::Serialize;
use utoipa::ToSchema;

macro_rules! data {
    ($($(#[$meta:meta])* $name:ident { $field:ident: $ty:ty })*) => {$(
        $(#[$meta])*
        #[derive(Serialize, ToSchema)]
        pub struct $name {
            pub $field: $ty,
        }
    )*};
}

data! {
    /// `{user}`.
    UserData { user: User }
    /// `{session}`.
    SessionData { session: ChatSession }
    /// `{message}`.
    MessageData { message: Message }
    /// `{media}`.
    MediaData { media: Media }
    /// `{vendor}`.
    VendorData { vendor: Vendor }
    /// `{seller}`.
    SellerData { seller: Seller }
    /// `{tokens}`: a refresh answers only the new token pair.
    TokensData { tokens: Tokens }
    /// `{revoked}`: how many login sessions were ended.
    RevokedData { revoked: u64 }
    /// The caller's active login sessions, newest first.
    LoginSessionList { items: Vec<LoginSession> }
    /// Every seller of a chat session, in the requested order.
    SellerList { items: Vec<Seller> }
}

/// `GET /health`.
#[derive(Serialize, ToSchema)]
pub struct Liveness {
    /// Always `ok` while the process serves.
    #[schema(example = "ok")]
    pub status: &'static str,
}

/// `GET /ready`.
#[derive(Serialize, ToSchema)]
pub struct Readiness {
    #[schema(example = "ok")]
    pub database: &'static str,
    #[schema(example = "applied")]
    pub migrations: &'static str,
}
