// @generated automatically by Diesel CLI.

pub mod sql_types {
    #[derive(diesel::sql_types::SqlType)]
    #[diesel(postgres_type(name = "tsvector", schema = "pg_catalog"))]
    pub struct Tsvector;
}

diesel::table! {
    chat_sessions (id) {
        id -> Uuid,
        user_id -> Uuid,
        title -> Text,
        created_at -> Timestamptz,
        updated_at -> Timestamptz,
        last_message_at -> Nullable<Timestamptz>,
        message_count -> Int4,
        message_seq -> Int8,
        seller_count -> Int4,
    }
}

diesel::table! {
    exchange_rate_dates (date) {
        date -> Date,
        base -> Text,
    }
}

diesel::table! {
    exchange_rates (date, currency) {
        date -> Date,
        currency -> Text,
        rate -> Numeric,
    }
}

diesel::table! {
    login_sessions (id) {
        id -> Uuid,
        user_id -> Uuid,
        refresh_token_hash -> Bytea,
        refresh_generation -> Int4,
        device_name -> Nullable<Text>,
        user_agent -> Nullable<Text>,
        ip_address -> Nullable<Text>,
        created_at -> Timestamptz,
        last_used_at -> Timestamptz,
        expires_at -> Timestamptz,
        revoked_at -> Nullable<Timestamptz>,
    }
}

diesel::table! {
    media (id) {
        id -> Uuid,
        owner_id -> Nullable<Uuid>,
        mime_type -> Text,
        size_bytes -> Int8,
        file_name -> Nullable<Text>,
        sha256 -> Text,
        created_at -> Timestamptz,
    }
}

diesel::table! {
    media_gone (sha256) {
        sha256 -> Text,
        gone_at -> Timestamptz,
    }
}

diesel::table! {
    message_deltas (message_id, seq) {
        message_id -> Uuid,
        seq -> Int4,
        text -> Text,
    }
}

diesel::table! {
    message_parts (message_id, upto_seq) {
        message_id -> Uuid,
        upto_seq -> Int4,
        text -> Text,
    }
}

diesel::table! {
    message_streams (message_id) {
        message_id -> Uuid,
        session_id -> Uuid,
        sender_id -> Uuid,
        last_seq -> Int4,
        length -> Int4,
        tail -> Text,
        flushed -> Nullable<Text>,
        touched_at -> Timestamptz,
        completed_pos -> Nullable<Int8>,
    }
}

diesel::table! {
    use diesel::sql_types::*;
    use super::sql_types::Tsvector;

    messages (id) {
        id -> Uuid,
        session_id -> Uuid,
        seq -> Int8,
        sender_id -> Nullable<Uuid>,
        role -> Text,
        kind -> Text,
        content -> Nullable<Text>,
        media_id -> Nullable<Uuid>,
        client_message_id -> Nullable<Text>,
        created_at -> Timestamptz,
        search -> Nullable<Tsvector>,
        owner_id -> Uuid,
        status -> Nullable<Text>,
        completed_at -> Nullable<Timestamptz>,
    }
}

diesel::table! {
    sellers (id) {
        id -> Uuid,
        session_id -> Uuid,
        name -> Text,
        email -> Nullable<Text>,
        phone -> Nullable<Text>,
        product_name -> Text,
        product_description -> Nullable<Text>,
        price_minor -> Int8,
        currency -> Text,
        quantity -> Nullable<Int8>,
        unit -> Nullable<Text>,
        created_at -> Timestamptz,
        updated_at -> Timestamptz,
    }
}

diesel::table! {
    users (id) {
        id -> Uuid,
        email -> Text,
        name -> Text,
        password_hash -> Text,
        role -> Text,
        is_active -> Bool,
        created_at -> Timestamptz,
        updated_at -> Timestamptz,
        last_login_at -> Nullable<Timestamptz>,
    }
}

diesel::table! {
    vendors (id) {
        id -> Uuid,
        session_id -> Uuid,
        name -> Text,
        email -> Nullable<Text>,
        phone -> Nullable<Text>,
        website -> Nullable<Text>,
        address -> Nullable<Text>,
        notes -> Nullable<Text>,
        created_at -> Timestamptz,
        updated_at -> Timestamptz,
    }
}

diesel::table! {
    webhook_deliveries (id) {
        id -> Uuid,
        position -> Int8,
        webhook_id -> Uuid,
        event_type -> Text,
        session_id -> Nullable<Uuid>,
        data -> Nullable<Text>,
        message_row -> Nullable<Text>,
        status -> Text,
        attempts -> Int4,
        last_status_code -> Nullable<Int4>,
        last_error -> Nullable<Text>,
        next_attempt_at -> Nullable<Timestamptz>,
        lease_token -> Nullable<Uuid>,
        created_at -> Timestamptz,
        delivered_at -> Nullable<Timestamptz>,
        ended_at -> Nullable<Timestamptz>,
    }
}

diesel::table! {
    webhooks (id) {
        id -> Uuid,
        url -> Text,
        events -> Array<Nullable<Text>>,
        description -> Nullable<Text>,
        enabled -> Bool,
        secret -> Text,
        previous_secret -> Nullable<Text>,
        previous_secret_until -> Nullable<Timestamptz>,
        failing_since -> Nullable<Timestamptz>,
        created_at -> Timestamptz,
        updated_at -> Timestamptz,
    }
}

diesel::joinable!(chat_sessions -> users (user_id));
diesel::joinable!(exchange_rates -> exchange_rate_dates (date));
diesel::joinable!(login_sessions -> users (user_id));
diesel::joinable!(media -> users (owner_id));
diesel::joinable!(message_deltas -> message_streams (message_id));
diesel::joinable!(message_parts -> message_streams (message_id));
diesel::joinable!(message_streams -> messages (message_id));
diesel::joinable!(messages -> chat_sessions (session_id));
diesel::joinable!(messages -> media (media_id));
diesel::joinable!(messages -> users (sender_id));
diesel::joinable!(sellers -> chat_sessions (session_id));
diesel::joinable!(vendors -> chat_sessions (session_id));
diesel::joinable!(webhook_deliveries -> webhooks (webhook_id));

diesel::allow_tables_to_appear_in_same_query!(
    chat_sessions,
    exchange_rate_dates,
    exchange_rates,
    login_sessions,
    media,
    media_gone,
    message_deltas,
    message_parts,
    message_streams,
    messages,
    sellers,
    users,
    vendors,
    webhook_deliveries,
    webhooks,
);
