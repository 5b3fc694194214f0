//! The authenticated caller every service method takes.

use crate::ids::{LoginSessionId, UserId};
use crate::roles::Role;

/// Who is acting: the user, the login session their token belongs to, and their
/// *current* role as read from the database (never from the token's claim alone).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Actor {
    pub user_id: UserId,
    pub login_session_id: LoginSessionId,
    pub role: Role,
}

impl Actor {
    pub fn is_admin(&self) -> bool {
        self.role == Role::Admin
    }

    /// Agents and admins may read any chat session and its children.
    pub fn reads_any_chat(&self) -> bool {
        matches!(self.role, Role::Agent | Role::Admin)
    }
}
