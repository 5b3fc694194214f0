//! The accounts context's request bodies and queries, as clients send them
//! (garde rules on the wire types), and what each parses into.

use domain::ports::{UserFilter, UserPatch};
use domain::text::trim;
use domain::validation::{Parse, no_nul, not_blank};
use domain::{DomainError, PageRequest, Role};
use serde::Deserialize;

/// `PATCH /users/me`: a user may change only their name.
///
/// The fields are the wire's (each optional, validated by the service); a
/// Rust caller writes `ProfileInput::rename("Ada L.")`.
#[derive(Clone, Debug, Default, Deserialize, garde::Validate)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct ProfileInput {
    #[garde(length(chars, min = domain::bounds::user_name::MIN, max = domain::bounds::user_name::MAX), custom(no_nul), custom(not_blank))]
    #[cfg_attr(feature = "openapi", schema(min_length = 1, max_length = 100))]
    /// The new display name, 1 to 100 characters (trimmed).
    pub name: Option<String>,
}

impl ProfileInput {
    /// A new display name (1 to 100 characters once trimmed).
    pub fn rename(name: impl Into<String>) -> Self {
        Self {
            name: Some(name.into()),
        }
    }

    /// The change a user may make to their own profile.
    pub(crate) fn parse(mut self) -> Result<UserPatch, DomainError> {
        if let Some(n) = &mut self.name {
            trim(n);
        }
        Parse::new(&self).finish(UserPatch {
            name: self.name,
            ..UserPatch::default()
        })
    }
}

/// `PATCH /users/{id}` by an admin: the fields that are set change.
///
/// The fields are the wire's (each optional); a Rust caller writes one
/// change with a constructor, or several with struct update syntax:
///
/// ```
/// use accounts::inputs::AdminUserInput;
/// use domain::Role;
///
/// let demote = AdminUserInput::set_role(Role::User);
/// let off = AdminUserInput::deactivate();
/// let both = AdminUserInput { is_active: Some(false), ..AdminUserInput::set_role(Role::User) };
/// assert_eq!((demote.role, demote.is_active), (Some(Role::User), None));
/// assert_eq!((off.role, off.is_active), (None, Some(false)));
/// assert_eq!((both.role, both.is_active), (Some(Role::User), Some(false)));
/// ```
#[derive(Clone, Debug, Default, Deserialize, garde::Validate)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct AdminUserInput {
    #[garde(length(chars, min = domain::bounds::user_name::MIN, max = domain::bounds::user_name::MAX), custom(no_nul))]
    #[cfg_attr(feature = "openapi", schema(min_length = 1, max_length = 100))]
    /// A new display name, 1 to 100 characters (trimmed).
    pub name: Option<String>,
    #[garde(skip)]
    /// A new role.
    pub role: Option<Role>,
    #[garde(skip)]
    /// `false` deactivates the user and ends their login sessions; `true` reactivates them.
    pub is_active: Option<bool>,
}

impl AdminUserInput {
    /// Gives the user this role, nothing else.
    pub fn set_role(role: Role) -> Self {
        Self {
            role: Some(role),
            ..Self::default()
        }
    }

    /// Deactivates the user (their login sessions end), nothing else.
    pub fn deactivate() -> Self {
        Self {
            is_active: Some(false),
            ..Self::default()
        }
    }

    /// Reactivates the user, nothing else.
    pub fn reactivate() -> Self {
        Self {
            is_active: Some(true),
            ..Self::default()
        }
    }

    /// Renames the user (1 to 100 characters once trimmed), nothing else.
    pub fn rename(name: impl Into<String>) -> Self {
        Self {
            name: Some(name.into()),
            ..Self::default()
        }
    }

    /// The change an admin makes to a user.
    pub(crate) fn parse(mut self) -> Result<UserPatch, DomainError> {
        if let Some(n) = &mut self.name {
            trim(n);
        }
        Parse::new(&self).finish(UserPatch {
            name: self.name,
            role: self.role,
            is_active: self.is_active,
        })
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
    /// The `nextCursor` of the previous page.
    pub cursor: Option<String>,
    #[garde(skip)]
    /// Only users with this role.
    pub role: Option<Role>,
    #[garde(length(chars, min = 1, max = 200), custom(no_nul))]
    #[cfg_attr(feature = "openapi", param(min_length = 1, max_length = 200))]
    /// Only users whose email or name contains this text (case-insensitively).
    pub q: Option<String>,
}

impl UserListQuery {
    /// The page asked for and the filter; the cursor is checked by the service.
    pub(crate) fn parse(self) -> Result<(PageRequest, UserFilter), DomainError> {
        let mut p = Parse::new(&self);
        let page = p.parsed("limit", PageRequest::new(self.limit, self.cursor));
        let filter = UserFilter {
            role: self.role,
            q: self
                .q
                .map(|q| q.trim().to_owned())
                .filter(|q| !q.is_empty()),
        };
        p.finish((page, filter))
    }
}
