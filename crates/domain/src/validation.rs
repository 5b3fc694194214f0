//! Running garde validation and turning its report into the envelope's `errors[]`.

use crate::error::{DomainError, FieldError};
use garde::i18n::{
    DefaultI18n, I18n, InvalidCreditCard, InvalidEmail, InvalidPhoneNumber, InvalidUrl, IpKind,
    with_i18n,
};
use std::borrow::Cow;
use std::fmt::Display;

/// Validates `value` with its garde rules; on failure, every failing field with a
/// clear English message.
pub fn validate<T: garde::Validate<Context = ()>>(value: &T) -> Result<(), DomainError> {
    Parse::new(value).finish(())
}

/// Parsing a request into the type a service works with: garde's rules, then
/// the required fields taken out of their `Option`s.
///
/// ```
/// # use domain::validation::Parse;
/// # #[derive(garde::Validate)] struct Input { #[garde(required)] name: Option<String> }
/// let input = Input { name: None };
/// let mut p = Parse::new(&input);
/// let name: String = p.required("name", input.name);
/// assert!(p.finish(name).is_err());
/// ```
#[derive(Debug, Default)]
#[must_use = "finish() reports what failed"]
pub struct Parse {
    errors: Vec<FieldError>,
}

impl Parse {
    /// Runs `value`'s garde rules; one message per field, the first rule that
    /// failed (as yup reports).
    pub fn new<T: garde::Validate<Context = ()>>(value: &T) -> Self {
        let mut parse = Self::default();
        if let Err(report) = with_i18n(Messages, || value.validate()) {
            for (path, error) in report.iter() {
                parse.fail(camel_path(&path.to_string()), error.message());
            }
        }
        parse
    }

    /// Records a failure of `field` (the first one per field counts).
    pub fn fail(&mut self, field: impl Into<String>, message: impl Into<String>) {
        let field = field.into();
        if !self.errors.iter().any(|e| e.field == field) {
            self.errors.push(FieldError::new(field, message));
        }
    }

    /// The value of a required field. When it is absent, `is required` is
    /// recorded and a placeholder comes back, which [`Parse::finish`] never
    /// lets out.
    pub fn required<T: Default>(&mut self, field: &str, value: Option<T>) -> T {
        value.unwrap_or_else(|| {
            self.fail(field, "is required");
            T::default()
        })
    }

    /// A value parsed by `f` (`Err` carries the message for `field`); the
    /// placeholder on failure never leaves [`Parse::finish`].
    pub fn parsed<T: Default>(&mut self, field: &str, result: Result<T, &'static str>) -> T {
        result.unwrap_or_else(|message| {
            self.fail(field, message);
            T::default()
        })
    }

    /// `value` if nothing failed; else every failure, as one validation error.
    pub fn finish<T>(self, value: T) -> Result<T, DomainError> {
        if self.errors.is_empty() {
            Ok(value)
        } else {
            Err(DomainError::Validation(self.errors))
        }
    }
}

/// `product.price_minor` → `product.priceMinor`: the contract's field names.
pub fn camel_path(path: &str) -> String {
    let mut out = String::with_capacity(path.len());
    let mut upper = false;
    for c in path.chars() {
        if c == '_' {
            upper = true;
        } else if upper {
            out.extend(c.to_uppercase());
            upper = false;
        } else {
            out.push(c);
        }
    }
    out
}

/// A custom rule for every free-text field: PostgreSQL text cannot hold NUL, and a
/// client sending one gets a 400, not a database error.
pub fn no_nul<T: TextField + ?Sized>(value: &T, _: &()) -> garde::Result {
    if value.text().is_some_and(|v| v.contains('\0')) {
        return Err(garde::Error::new("must not contain NUL characters"));
    }
    Ok(())
}

/// A custom rule: not empty and not only whitespace.
pub fn not_blank<T: TextField + ?Sized>(value: &T, _: &()) -> garde::Result {
    if value.text().is_some_and(|v| v.trim().is_empty()) {
        return Err(garde::Error::new("must not be empty"));
    }
    Ok(())
}

/// A text field, set or not: what the custom rules look at.
pub trait TextField {
    /// The text, if the field is set.
    fn text(&self) -> Option<&str>;
}

impl TextField for str {
    fn text(&self) -> Option<&str> {
        Some(self)
    }
}

impl TextField for String {
    fn text(&self) -> Option<&str> {
        Some(self)
    }
}

impl TextField for Option<String> {
    fn text(&self) -> Option<&str> {
        self.as_deref()
    }
}

impl TextField for Option<Option<String>> {
    fn text(&self) -> Option<&str> {
        self.as_ref().and_then(|v| v.as_deref())
    }
}

struct Messages;

impl I18n for Messages {
    fn length_lower_than(&self, min: usize) -> Cow<'static, str> {
        if min <= 1 {
            Cow::Borrowed("must not be empty")
        } else {
            format!("must be at least {min} characters").into()
        }
    }
    fn length_greater_than(&self, max: usize) -> Cow<'static, str> {
        format!("must be at most {max} characters").into()
    }
    fn range_lower_than(&self, min: &dyn Display) -> Cow<'static, str> {
        format!("must be at least {min}").into()
    }
    fn range_greater_than(&self, max: &dyn Display) -> Cow<'static, str> {
        format!("must be at most {max}").into()
    }
    fn credit_card_invalid(&self, reason: InvalidCreditCard) -> Cow<'static, str> {
        DefaultI18n.credit_card_invalid(reason)
    }
    fn pattern_no_match(&self, _: &dyn Display) -> Cow<'static, str> {
        Cow::Borrowed("has an invalid format")
    }
    fn contains_missing(&self, pattern: &dyn Display) -> Cow<'static, str> {
        DefaultI18n.contains_missing(pattern)
    }
    fn url_invalid(&self, _: InvalidUrl) -> Cow<'static, str> {
        Cow::Borrowed("must be a valid URL")
    }
    fn prefix_missing(&self, pattern: &dyn Display) -> Cow<'static, str> {
        DefaultI18n.prefix_missing(pattern)
    }
    fn suffix_missing(&self, pattern: &dyn Display) -> Cow<'static, str> {
        DefaultI18n.suffix_missing(pattern)
    }
    fn phone_number_invalid(&self, reason: InvalidPhoneNumber) -> Cow<'static, str> {
        DefaultI18n.phone_number_invalid(reason)
    }
    fn ip_invalid(&self, kind: IpKind) -> Cow<'static, str> {
        DefaultI18n.ip_invalid(kind)
    }
    fn matches_field_mismatch(&self, field: &dyn Display) -> Cow<'static, str> {
        DefaultI18n.matches_field_mismatch(field)
    }
    fn email_invalid(&self, _: InvalidEmail) -> Cow<'static, str> {
        Cow::Borrowed("must be a valid email address")
    }
    fn ascii_invalid(&self) -> Cow<'static, str> {
        DefaultI18n.ascii_invalid()
    }
    fn alphanumeric_invalid(&self) -> Cow<'static, str> {
        DefaultI18n.alphanumeric_invalid()
    }
    fn required_not_set(&self) -> Cow<'static, str> {
        Cow::Borrowed("is required")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn snake_paths_become_camel() {
        assert_eq!(camel_path("product.price_minor"), "product.priceMinor");
        assert_eq!(camel_path("current_password"), "currentPassword");
        assert_eq!(camel_path("email"), "email");
    }
}
