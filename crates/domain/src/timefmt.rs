//! Timestamps as the contract writes them: RFC 3339, UTC, milliseconds, `Z`.

use serde::Serializer;
use time::OffsetDateTime;
use time::macros::format_description;

/// A point in time; serialised as RFC 3339 in UTC with milliseconds.
pub type Timestamp = OffsetDateTime;

/// `2026-11-24T00:13:22.123Z`.
pub fn format(t: &OffsetDateTime) -> String {
    let fmt =
        format_description!("[year]-[month]-[day]T[hour]:[minute]:[second].[subsecond digits:3]Z");
    t.to_offset(time::UtcOffset::UTC)
        .format(&fmt)
        .unwrap_or_else(|_| t.unix_timestamp().to_string())
}

/// serde `serialize_with` for a timestamp.
pub fn serialize<S: Serializer>(t: &OffsetDateTime, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&format(t))
}

/// serde `serialize_with` for an optional timestamp.
pub mod option {
    use super::*;

    /// Writes `Some` as a timestamp text and `None` as `null`.
    pub fn serialize<S: Serializer>(t: &Option<OffsetDateTime>, s: S) -> Result<S::Ok, S::Error> {
        match t {
            Some(t) => s.serialize_str(&format(t)),
            None => s.serialize_none(),
        }
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn formats_with_millis_in_utc() {
        let t = time::macros::datetime!(2026-11-24 00:13:22.123456 +02:00);
        assert_eq!(super::format(&t), "2026-11-23T22:13:22.123Z");
    }
}
