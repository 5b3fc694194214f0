//! `PATCH` semantics: an absent field stays, `null` clears, a value sets.

use serde::{Deserialize, Deserializer};

/// serde `deserialize_with` for `Option<Option<T>>` with `#[serde(default)]`:
/// absent → `None`, `null` → `Some(None)`, value → `Some(Some(v))`.
pub fn nullable<'de, D, T>(d: D) -> Result<Option<Option<T>>, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de>,
{
    Option::<T>::deserialize(d).map(Some)
}

/// A JSON integer, also when written with a zero fraction (`220.0`): JSON has
/// one number type, JSON Schema's `integer` admits `220.0`, and JavaScript
/// clients cannot always tell the two apart. `1.5` stays an error.
struct Integral(i64);

impl<'de> Deserialize<'de> for Integral {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Visitor;
        impl serde::de::Visitor<'_> for Visitor {
            type Value = Integral;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("an integer")
            }
            fn visit_i64<E: serde::de::Error>(self, v: i64) -> Result<Integral, E> {
                Ok(Integral(v))
            }
            fn visit_u64<E: serde::de::Error>(self, v: u64) -> Result<Integral, E> {
                i64::try_from(v)
                    .map(Integral)
                    .map_err(|_| E::custom("integer out of range"))
            }
            fn visit_f64<E: serde::de::Error>(self, v: f64) -> Result<Integral, E> {
                // Exact below 2^53, which every bound of ours is.
                const EXACT: f64 = 9_007_199_254_740_992.0;
                if v.fract() == 0.0 && v.abs() <= EXACT {
                    #[expect(clippy::cast_possible_truncation, reason = "integral and in range")]
                    Ok(Integral(v as i64))
                } else {
                    Err(E::invalid_type(serde::de::Unexpected::Float(v), &self))
                }
            }
        }
        d.deserialize_any(Visitor)
    }
}

/// serde `deserialize_with` for an optional integer field (with `#[serde(default)]`).
pub fn integer<'de, D: Deserializer<'de>>(d: D) -> Result<Option<i64>, D::Error> {
    Option::<Integral>::deserialize(d).map(|o| o.map(|i| i.0))
}

/// [`nullable`] for an integer field: absent, `null`, or an [`integer`].
pub fn nullable_integer<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Option<i64>>, D::Error> {
    Option::<Integral>::deserialize(d).map(|o| Some(o.map(|i| i.0)))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[derive(Deserialize, Debug, PartialEq)]
    struct Body {
        #[serde(default, deserialize_with = "integer")]
        n: Option<i64>,
        #[serde(default, deserialize_with = "nullable_integer")]
        m: Option<Option<i64>>,
    }

    fn parse(json: &str) -> Result<Body, String> {
        serde_json::from_str(json).map_err(|e| e.to_string())
    }

    #[test]
    fn integers_may_carry_a_zero_fraction_but_not_a_real_one() {
        assert_eq!(
            parse(r#"{"n": 220.0, "m": 3}"#).unwrap(),
            Body {
                n: Some(220),
                m: Some(Some(3))
            }
        );
        assert_eq!(
            parse(r#"{"n": null, "m": null}"#).unwrap(),
            Body {
                n: None,
                m: Some(None)
            }
        );
        assert_eq!(parse("{}").unwrap(), Body { n: None, m: None });
        assert!(
            parse(r#"{"n": 1.5}"#)
                .unwrap_err()
                .contains("expected an integer")
        );
        assert!(
            parse(r#"{"n": "1"}"#)
                .unwrap_err()
                .contains("expected an integer")
        );
        assert!(
            parse(r#"{"m": 18446744073709551615}"#)
                .unwrap_err()
                .contains("out of range")
        );
    }
}
