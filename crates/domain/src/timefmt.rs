//! Timestamps as the contract writes them: RFC 3339, UTC, milliseconds, `Z`.

use serde::Serializer;
use time::OffsetDateTime;
use time::macros::format_description;

/// A point in time; serialised as RFC 3339 in UTC with milliseconds.
pub type Timestamp = OffsetDateTime;

/// `2026-11-24T00:13:22.123Z`.
pub fn format(t: &OffsetDateTime) -> String {
    let mut buf = [0u8; 24];
    String::from_utf8_lossy(write(t, &mut buf)).into_owned()
}

/// Appends `t` as [`format()`] writes it to `out` (for JSON written by hand).
pub fn append(t: &OffsetDateTime, out: &mut Vec<u8>) {
    let mut buf = [0u8; 24];
    out.extend_from_slice(write(t, &mut buf));
}

/// Writes `t` as [`format`] does into `buf`, and returns the bytes written:
/// by hand, without a format description to interpret (every timestamp of a
/// page of messages goes through here). A year outside 0..=9999, which the
/// database never stores, falls back to the `time` crate's formatting.
fn write<'b>(t: &OffsetDateTime, buf: &'b mut [u8; 24]) -> &'b [u8] {
    let t = t.to_offset(time::UtcOffset::UTC);
    let Ok(year) = u16::try_from(t.year()) else {
        return fallback(&t, buf);
    };
    if year > 9999 {
        return fallback(&t, buf);
    }
    let two = |out: &mut [u8], v: u8| {
        out[0] = b'0' + v / 10;
        out[1] = b'0' + v % 10;
    };
    two(&mut buf[0..2], (year / 100) as u8);
    two(&mut buf[2..4], (year % 100) as u8);
    buf[4] = b'-';
    two(&mut buf[5..7], u8::from(t.month()));
    buf[7] = b'-';
    two(&mut buf[8..10], t.day());
    buf[10] = b'T';
    two(&mut buf[11..13], t.hour());
    buf[13] = b':';
    two(&mut buf[14..16], t.minute());
    buf[16] = b':';
    two(&mut buf[17..19], t.second());
    buf[19] = b'.';
    let ms = t.millisecond();
    buf[20] = b'0' + (ms / 100) as u8;
    two(&mut buf[21..23], (ms % 100) as u8);
    buf[23] = b'Z';
    &buf[..]
}

fn fallback<'b>(t: &OffsetDateTime, buf: &'b mut [u8; 24]) -> &'b [u8] {
    let fmt =
        format_description!("[year]-[month]-[day]T[hour]:[minute]:[second].[subsecond digits:3]Z");
    let text = t
        .format(&fmt)
        .unwrap_or_else(|_| t.unix_timestamp().to_string());
    let n = text.len().min(buf.len());
    buf[..n].copy_from_slice(&text.as_bytes()[..n]);
    &buf[..n]
}

fn serialize_with<S: Serializer>(t: &OffsetDateTime, s: S) -> Result<S::Ok, S::Error> {
    let mut buf = [0u8; 24];
    // Only ASCII digits and separators are written.
    match std::str::from_utf8(write(t, &mut buf)) {
        Ok(text) => s.serialize_str(text),
        Err(_) => s.serialize_str(&format(t)),
    }
}

/// serde `serialize_with` for a timestamp.
pub fn serialize<S: Serializer>(t: &OffsetDateTime, s: S) -> Result<S::Ok, S::Error> {
    serialize_with(t, s)
}

/// serde `serialize_with` for an optional timestamp.
pub mod option {
    use super::*;

    /// Writes `Some` as a timestamp text and `None` as `null`.
    pub fn serialize<S: Serializer>(t: &Option<OffsetDateTime>, s: S) -> Result<S::Ok, S::Error> {
        match t {
            Some(t) => serialize_with(t, s),
            None => s.serialize_none(),
        }
    }
}

/// Calendar dates as the contract writes them: `YYYY-MM-DD` (exchange rates' days).
pub mod date {
    use serde::Serializer;
    use time::Date;
    use time::macros::format_description;

    /// `2026-12-04`, for years 0 to 9999 (the only ones [`parse`] accepts).
    pub fn format(d: &Date) -> String {
        format!("{:04}-{:02}-{:02}", d.year(), u8::from(d.month()), d.day())
    }

    /// A `YYYY-MM-DD` date: exactly four, two and two digits, a real day.
    pub fn parse(text: &str) -> Option<Date> {
        let b = text.as_bytes();
        let shape = b.len() == 10
            && b[4] == b'-'
            && b[7] == b'-'
            && b.iter()
                .enumerate()
                .all(|(i, c)| i == 4 || i == 7 || c.is_ascii_digit());
        if !shape {
            return None;
        }
        Date::parse(text, format_description!("[year]-[month]-[day]")).ok()
    }

    /// serde `serialize_with` for a date.
    pub fn serialize<S: Serializer>(d: &Date, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&format(d))
    }

    /// serde `serialize_with` for an optional date.
    pub mod option {
        use super::*;

        /// Writes `Some` as `YYYY-MM-DD` and `None` as `null`.
        pub fn serialize<S: Serializer>(d: &Option<Date>, s: S) -> Result<S::Ok, S::Error> {
            match d {
                Some(d) => super::serialize(d, s),
                None => s.serialize_none(),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn dates_are_four_two_and_two_digits_and_real_days() {
        use super::date::{format, parse};
        let d = time::macros::date!(2026 - 12 - 04);
        assert_eq!(parse("2026-12-04"), Some(d));
        assert_eq!(format(&d), "2026-12-04");
        assert_eq!(format(&time::macros::date!(0099 - 01 - 02)), "0099-01-02");
        for bad in [
            "2026-2-04",
            "2026-02-30",
            "+2026-12-04",
            "2026-12-04T00:00:00Z",
            "2026/12/04",
            "",
            "２０２６-12-04",
        ] {
            assert_eq!(parse(bad), None, "{bad}");
        }
    }

    #[test]
    fn formats_with_millis_in_utc() {
        let t = time::macros::datetime!(2026-11-24 00:13:22.123456 +02:00);
        assert_eq!(super::format(&t), "2026-11-23T22:13:22.123Z");
    }

    #[test]
    fn the_hand_written_format_agrees_with_the_format_description() {
        use time::macros::format_description;
        let fmt = format_description!(
            "[year]-[month]-[day]T[hour]:[minute]:[second].[subsecond digits:3]Z"
        );
        for t in [
            time::macros::datetime!(0001-01-01 00:00:00.000 UTC),
            time::macros::datetime!(1999-12-31 23:59:59.999999 UTC),
            time::macros::datetime!(2026-02-28 09:05:07.010 -03:30),
            time::macros::datetime!(9999-12-31 23:59:59.999 UTC),
        ] {
            let want = t.to_offset(time::UtcOffset::UTC).format(&fmt).ok();
            assert_eq!(Some(super::format(&t)), want);
        }
    }
}
