//! The `data` of each success envelope. Handlers answer with these types and the
//! OpenAPI document is generated from the same types, so the two cannot drift.

use auth::Tokens;
use domain::{ChatSession, ExchangeRates, LoginSession, Media, Message, Seller, User, Vendor};
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

/// `{exchangeRates}`: one day of rates.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ExchangeRatesData {
    pub exchange_rates: ExchangeRates,
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
#[serde(rename_all = "camelCase")]
pub struct Readiness {
    #[schema(example = "ok")]
    pub database: &'static str,
    #[schema(example = "applied")]
    pub migrations: &'static str,
    /// Where uploads' bytes are (`MEDIA_STORAGE`): `disk` is this instance's
    /// own directory, so several instances need `s3` or one shared `MEDIA_DIR`.
    #[schema(example = "s3")]
    pub media_storage: &'static str,
    /// The read replica (`DATABASE_REPLICA_URL`); absent without one. Its
    /// trouble never makes the instance unready: its reads go to the primary.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub replica: Option<ReplicaReadiness>,
}

/// The read replica's state in `GET /ready`.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ReplicaReadiness {
    /// `ok`: reads go to it; `lagging`: more than `REPLICA_MAX_LAG` behind;
    /// `down`: it did not answer its last check. Reads go to the primary then.
    #[schema(example = "ok")]
    pub status: &'static str,
    /// How far behind the primary it was at its last check, in seconds;
    /// absent while it is down.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(example = 0.004)]
    pub lag_seconds: Option<f64>,
}

data! {
    /// `{webhook}`.
    WebhookData { webhook: domain::webhooks::Webhook }
    /// `{delivery}`.
    DeliveryData { delivery: domain::webhooks::Delivery }
    /// Every webhook endpoint, oldest first.
    WebhookList { items: Vec<domain::webhooks::Webhook> }
}
