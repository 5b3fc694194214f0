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

#[cfg(test)]
mod tests {
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
