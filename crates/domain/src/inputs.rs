//! Request bodies and queries as the contexts accept them, with their garde rules.
//! Required fields are `Option` with `required`, so a missing field is reported
//! like any other invalid one; unknown fields are refused by serde.

use crate::roles::Role;
use crate::text::{normalize_email, trim, trim_opt};
use crate::validation::{no_nul, not_blank};
use serde::Deserialize;

/// bcrypt reads at most 72 bytes; a longer password is refused, never truncated.
pub fn password_bytes(value: &Option<String>, _: &()) -> garde::Result {
    if value.as_ref().is_some_and(|v| v.len() > 72) {
        return Err(garde::Error::new("must be at most 72 bytes in UTF-8"));
    }
    no_nul(value, &())
}

#[derive(Clone, Deserialize, garde::Validate)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct RegisterInput {
    #[garde(required, length(chars, max = 254), email)]
    #[cfg_attr(feature = "openapi", schema(format = Email, value_type = String, required = true, max_length = 254))]
    pub email: Option<String>,
    /// 8 to 128 characters, and at most 72 bytes in UTF-8 (bcrypt's limit;
    /// longer is refused, never truncated).
    #[garde(required, length(chars, min = 8, max = 128), custom(password_bytes))]
    #[cfg_attr(feature = "openapi", schema(value_type = String, required = true, min_length = 8, max_length = 128))]
    pub password: Option<String>,
    #[garde(required, length(chars, min = 1, max = 100), custom(no_nul))]
    #[cfg_attr(feature = "openapi", schema(value_type = String, required = true, min_length = 1, max_length = 100))]
    pub name: Option<String>,
    /// A name for this device, up to 100 characters; blank is the same as absent.
    #[garde(length(chars, min = 1, max = 100), custom(no_nul))]
    #[cfg_attr(feature = "openapi", schema(max_length = 100))]
    pub device_name: Option<String>,
}

impl RegisterInput {
    pub fn normalize(&mut self) {
        if let Some(e) = &mut self.email {
            normalize_email(e);
        }
        if let Some(n) = &mut self.name {
            trim(n);
        }
        trim_opt(&mut self.device_name);
    }
}

#[derive(Clone, Deserialize, garde::Validate)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct LoginInput {
    #[garde(required, length(chars, min = 1, max = 254), custom(no_nul))]
    #[cfg_attr(feature = "openapi", schema(value_type = String, required = true, min_length = 1, max_length = 254))]
    pub email: Option<String>,
    /// Only presence is checked at login: a wrong password is a wrong password.
    #[garde(required, length(min = 1, max = 1024), custom(no_nul))]
    #[cfg_attr(feature = "openapi", schema(value_type = String, required = true, min_length = 1, max_length = 1024))]
    pub password: Option<String>,
    /// A name for this device, up to 100 characters; blank is the same as absent.
    #[garde(length(chars, min = 1, max = 100), custom(no_nul))]
    #[cfg_attr(feature = "openapi", schema(max_length = 100))]
    pub device_name: Option<String>,
}

impl LoginInput {
    pub fn normalize(&mut self) {
        if let Some(e) = &mut self.email {
            normalize_email(e);
        }
        trim_opt(&mut self.device_name);
    }
}

#[derive(Clone, Deserialize, garde::Validate)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct RefreshInput {
    #[garde(required, length(min = 1, max = 512), custom(no_nul))]
    #[cfg_attr(feature = "openapi", schema(value_type = String, required = true, min_length = 1, max_length = 512))]
    pub refresh_token: Option<String>,
}

#[derive(Clone, Deserialize, garde::Validate)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct ChangePasswordInput {
    #[garde(required, length(min = 1, max = 1024), custom(no_nul))]
    #[cfg_attr(feature = "openapi", schema(value_type = String, required = true, min_length = 1, max_length = 1024))]
    pub current_password: Option<String>,
    /// 8 to 128 characters, and at most 72 bytes in UTF-8 (bcrypt's limit).
    #[garde(required, length(chars, min = 8, max = 128), custom(password_bytes))]
    #[cfg_attr(feature = "openapi", schema(value_type = String, required = true, min_length = 8, max_length = 128))]
    pub new_password: Option<String>,
}

/// `PATCH /users/me`: a user may change only their name.
#[derive(Clone, Deserialize, garde::Validate)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct ProfileInput {
    #[garde(length(chars, min = 1, max = 100), custom(no_nul), custom(not_blank))]
    #[cfg_attr(feature = "openapi", schema(min_length = 1, max_length = 100))]
    pub name: Option<String>,
}

impl ProfileInput {
    pub fn normalize(&mut self) {
        if let Some(n) = &mut self.name {
            trim(n);
        }
    }
}

/// `PATCH /users/{id}` by an admin.
#[derive(Clone, Deserialize, garde::Validate)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct AdminUserInput {
    #[garde(length(chars, min = 1, max = 100), custom(no_nul))]
    #[cfg_attr(feature = "openapi", schema(min_length = 1, max_length = 100))]
    pub name: Option<String>,
    #[garde(skip)]
    pub role: Option<Role>,
    #[garde(skip)]
    pub is_active: Option<bool>,
}

impl AdminUserInput {
    pub fn normalize(&mut self) {
        if let Some(n) = &mut self.name {
            trim(n);
        }
    }
}

/// `GET /users` query.
#[derive(Clone, Debug, Default, Deserialize, garde::Validate)]
#[cfg_attr(feature = "openapi", derive(utoipa::IntoParams), into_params(parameter_in = Query))]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct UserListQuery {
    /// Page size, 1..=200 (default 50).
    #[garde(skip)]
    #[cfg_attr(feature = "openapi", param(minimum = 1, maximum = 200))]
    pub limit: Option<i64>,
    #[garde(length(max = 512), custom(no_nul))]
    #[cfg_attr(feature = "openapi", param(max_length = 512))]
    pub cursor: Option<String>,
    #[garde(skip)]
    pub role: Option<Role>,
    #[garde(length(chars, min = 1, max = 200), custom(no_nul))]
    #[cfg_attr(feature = "openapi", param(min_length = 1, max_length = 200))]
    pub q: Option<String>,
}
