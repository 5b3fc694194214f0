//! Normalising client text before it is validated.

/// Trims surrounding whitespace in place.
pub fn trim(s: &mut String) {
    let t = s.trim();
    if t.len() != s.len() {
        *s = t.to_owned();
    }
}

/// Trims an optional text; whitespace-only becomes `None`.
pub fn trim_opt(s: &mut Option<String>) {
    if let Some(v) = s {
        trim(v);
        if v.is_empty() {
            *s = None;
        }
    }
}

/// Normalises an email: trimmed and lower-cased.
pub fn normalize_email(s: &mut String) {
    *s = s.trim().to_lowercase();
}
