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
