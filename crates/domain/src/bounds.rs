//! Every field's bounds, named once. The request types' garde rules and the
//! in-memory store use these constants; the database's `CHECK` constraints
//! and the OpenAPI document (whose attributes take only literals) are held to
//! them by a test (`tests/api/bounds.rs`).
//!
//! Lengths count characters (`char_length`), except where a bound says bytes.

macro_rules! bounds {
    ($($(#[$doc:meta])* $name:ident: $ty:ty = $min:expr, $max:expr;)*) => {$(
        $(#[$doc])*
        pub mod $name {
            /// The least value (or length) allowed.
            pub const MIN: $ty = $min;
            /// The greatest value (or length) allowed.
            pub const MAX: $ty = $max;
        }
    )*};
}

bounds! {
    /// An email address (users, vendors, sellers).
    email: usize = 3, 254;
    /// A user's name, after trimming.
    user_name: usize = 1, 100;
    /// A password, in characters (and at most 72 bytes: bcrypt's limit).
    password: usize = 8, 128;
    /// A login session's device name.
    device_name: usize = 1, 100;
    /// A login session's `User-Agent`, as kept.
    user_agent: usize = 0, 512;
    /// A login session's client IP, as text.
    ip_address: usize = 0, 64;
    /// An upload's file name, once made safe.
    file_name: usize = 1, 255;
    /// A chat session's title, after trimming.
    session_title: usize = 1, 200;
    /// A message's text.
    message_content: usize = 1, 32_000;
    /// A message's idempotency key.
    client_message_id: usize = 1, 100;
    /// A vendor's, a seller's or a product's name.
    name: usize = 1, 200;
    /// A vendor's website.
    website: usize = 0, 2048;
    /// A vendor's address.
    address: usize = 0, 500;
    /// A vendor's notes, a product's description.
    notes: usize = 0, 2000;
    /// A product's price in minor units.
    price_minor: i64 = 0, 1_000_000_000_000;
    /// A product's quantity.
    quantity: i64 = 1, 1_000_000_000;
    /// A product's unit.
    unit: usize = 1, 20;
    /// A webhook endpoint's URL.
    webhook_url: usize = 1, 2048;
    /// A webhook endpoint's description, after trimming (empty is none).
    webhook_description: usize = 1, 500;
}
