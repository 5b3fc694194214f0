//! The auth context's request bodies, as clients send them (garde rules on the
//! wire types). The service parses each into a type without `Option`s for
//! required fields, checking every rule and answering every broken one at
//! once (`DomainError::Validation`). Unknown fields are refused by serde.

use domain::DomainError;
use domain::text::{normalize_email, trim, trim_opt};
use domain::validation::{Parse, no_nul};
use serde::Deserialize;

/// bcrypt's limit, in bytes of UTF-8.
pub const PASSWORD_MAX_BYTES: usize = 72;

/// bcrypt reads at most 72 bytes; a longer password is refused, never truncated.
pub(crate) fn password_bytes(value: &Option<String>, _: &()) -> garde::Result {
    if value.as_ref().is_some_and(|v| v.len() > PASSWORD_MAX_BYTES) {
        return Err(garde::Error::new("must be at most 72 bytes in UTF-8"));
    }
    no_nul(value, &())
}

#[derive(Clone, Deserialize, garde::Validate)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
/// `POST /auth/register`'s body; also what `create-admin` takes.
pub struct RegisterInput {
    #[garde(required, length(chars, max = domain::bounds::email::MAX), email)]
    #[cfg_attr(feature = "openapi", schema(format = Email, value_type = String, required = true, max_length = 254))]
    /// A valid email, up to 254 characters; trimmed and lower-cased.
    pub email: Option<String>,
    /// 8 to 128 characters, and at most 72 bytes in UTF-8 (bcrypt's limit;
    /// longer is refused, never truncated).
    #[garde(required, length(chars, min = domain::bounds::password::MIN, max = domain::bounds::password::MAX), custom(password_bytes))]
    #[cfg_attr(feature = "openapi", schema(value_type = String, required = true, min_length = 8, max_length = 128))]
    pub password: Option<String>,
    #[garde(required, length(chars, min = domain::bounds::user_name::MIN, max = domain::bounds::user_name::MAX), custom(no_nul))]
    #[cfg_attr(feature = "openapi", schema(value_type = String, required = true, min_length = 1, max_length = 100))]
    /// The display name, 1 to 100 characters (trimmed).
    pub name: Option<String>,
    /// A name for this device, up to 100 characters; blank is the same as absent.
    #[garde(length(chars, min = domain::bounds::device_name::MIN, max = domain::bounds::device_name::MAX), custom(no_nul))]
    #[cfg_attr(feature = "openapi", schema(max_length = 100))]
    pub device_name: Option<String>,
}

/// A registration (or `create-admin`), parsed: email normalised, name trimmed,
/// password within bcrypt's limit.
#[derive(Clone)]
pub(crate) struct Registration {
    pub email: String,
    pub password: String,
    pub name: String,
    pub device_name: Option<String>,
}

impl RegisterInput {
    /// Normalises (email trimmed and lower-cased, name and device trimmed) and
    /// checks every rule.
    pub(crate) fn parse(mut self) -> Result<Registration, DomainError> {
        if let Some(e) = &mut self.email {
            normalize_email(e);
        }
        if let Some(n) = &mut self.name {
            trim(n);
        }
        trim_opt(&mut self.device_name);
        let mut p = Parse::new(&self);
        let parsed = Registration {
            email: p.required("email", self.email),
            password: p.required("password", self.password),
            name: p.required("name", self.name),
            device_name: self.device_name,
        };
        p.finish(parsed)
    }
}

#[derive(Clone, Deserialize, garde::Validate)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
/// `POST /auth/login`'s body.
pub struct LoginInput {
    #[garde(required, length(chars, min = 1, max = 254), custom(no_nul))]
    #[cfg_attr(feature = "openapi", schema(value_type = String, required = true, min_length = 1, max_length = 254))]
    /// The account's email (any case).
    pub email: Option<String>,
    /// Only presence is checked at login: a wrong password is a wrong password.
    #[garde(required, length(min = 1, max = 1024), custom(no_nul))]
    #[cfg_attr(feature = "openapi", schema(value_type = String, required = true, min_length = 1, max_length = 1024))]
    pub password: Option<String>,
    /// A name for this device, up to 100 characters; blank is the same as absent.
    #[garde(length(chars, min = domain::bounds::device_name::MIN, max = domain::bounds::device_name::MAX), custom(no_nul))]
    #[cfg_attr(feature = "openapi", schema(max_length = 100))]
    pub device_name: Option<String>,
}

/// A login attempt, parsed. The password is as sent: a password over
/// bcrypt's limit is a wrong password, found out in the same time as any.
#[derive(Clone)]
pub(crate) struct Login {
    pub email: String,
    pub password: String,
    pub device_name: Option<String>,
}

impl LoginInput {
    pub(crate) fn parse(mut self) -> Result<Login, DomainError> {
        if let Some(e) = &mut self.email {
            normalize_email(e);
        }
        trim_opt(&mut self.device_name);
        let mut p = Parse::new(&self);
        let parsed = Login {
            email: p.required("email", self.email),
            password: p.required("password", self.password),
            device_name: self.device_name,
        };
        p.finish(parsed)
    }
}

#[derive(Clone, Deserialize, garde::Validate)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
/// `POST /auth/refresh`'s body.
pub struct RefreshInput {
    #[garde(required, length(min = 1, max = 512), custom(no_nul))]
    #[cfg_attr(feature = "openapi", schema(value_type = String, required = true, min_length = 1, max_length = 512))]
    /// The refresh token of the last pair issued.
    pub refresh_token: Option<String>,
}

impl RefreshInput {
    /// The refresh token as presented.
    pub(crate) fn parse(self) -> Result<String, DomainError> {
        let mut p = Parse::new(&self);
        let token = p.required("refreshToken", self.refresh_token);
        p.finish(token)
    }
}

#[derive(Clone, Deserialize, garde::Validate)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
/// `PUT /users/me/password`'s body.
pub struct ChangePasswordInput {
    #[garde(required, length(min = 1, max = 1024), custom(no_nul))]
    #[cfg_attr(feature = "openapi", schema(value_type = String, required = true, min_length = 1, max_length = 1024))]
    /// The password now.
    pub current_password: Option<String>,
    /// 8 to 128 characters, and at most 72 bytes in UTF-8 (bcrypt's limit).
    #[garde(required, length(chars, min = domain::bounds::password::MIN, max = domain::bounds::password::MAX), custom(password_bytes))]
    #[cfg_attr(feature = "openapi", schema(value_type = String, required = true, min_length = 8, max_length = 128))]
    pub new_password: Option<String>,
}

/// A password change, parsed.
#[derive(Clone)]
pub(crate) struct PasswordChange {
    pub current: String,
    pub new: String,
}

impl ChangePasswordInput {
    pub(crate) fn parse(self) -> Result<PasswordChange, DomainError> {
        let mut p = Parse::new(&self);
        let parsed = PasswordChange {
            current: p.required("currentPassword", self.current_password),
            new: p.required("newPassword", self.new_password),
        };
        p.finish(parsed)
    }
}

impl std::fmt::Debug for Registration {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Registration")
            .field("email", &self.email)
            .field("name", &self.name)
            .finish_non_exhaustive()
    }
}

// ---------------------------------------------------------------- for Rust callers

impl RegisterInput {
    /// A registration with its required fields (the device name left out).
    ///
    /// ```
    /// let input = auth::inputs::RegisterInput::new("ann@example.com", "correct horse", "Ann");
    /// assert_eq!(input.name.as_deref(), Some("Ann"));
    /// ```
    pub fn new(
        email: impl Into<String>,
        password: impl Into<String>,
        name: impl Into<String>,
    ) -> Self {
        Self {
            email: Some(email.into()),
            password: Some(password.into()),
            name: Some(name.into()),
            device_name: None,
        }
    }
}

impl LoginInput {
    /// A login with its required fields (the device name left out).
    pub fn new(email: impl Into<String>, password: impl Into<String>) -> Self {
        Self {
            email: Some(email.into()),
            password: Some(password.into()),
            device_name: None,
        }
    }
}
