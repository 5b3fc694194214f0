//! The caller every service method takes: who acts, with which role, and how
//! they came to act ([`Via`]).

use crate::entities::User;
use crate::error::DomainError;
use crate::ids::{LoginSessionId, UserId};
use crate::roles::Role;
use std::fmt;

/// Who is acting: the user, their *current* role as read from the database
/// (never from a token's claim or a caller's say-so), and how they came to act.
///
/// The fields are readable everywhere; an `Actor` is made only by the
/// constructors below (the struct is `#[non_exhaustive]`): an HTTP caller's by
/// the store from a live login session ([`Actor::login`]), a program's by
/// `AccountService::act_as` from the user's row ([`Actor::service`]). The rules
/// read only `user_id` and `role`, so both kinds get the same checks and the
/// same errors.
///
/// ```
/// use domain::{Actor, Role, User, UserId, Via};
///
/// let row = User {
///     id: UserId::new(),
///     email: "ada@example.com".into(),
///     name: "Ada".into(),
///     role: Role::Admin,
///     is_active: true,
///     created_at: time::OffsetDateTime::now_utc(),
///     updated_at: time::OffsetDateTime::now_utc(),
///     last_login_at: None,
/// };
/// let actor = Actor::service(&row, "import-offers")?;
/// assert!(actor.is_admin());
/// assert_eq!(actor.via, Via::Service("import-offers"));
/// assert_eq!(actor.login_session_id(), None);
/// # Ok::<(), domain::DomainError>(())
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct Actor {
    /// The user the action is done as (and, where it creates something, for).
    pub user_id: UserId,
    /// The user's role as the database holds it now.
    pub role: Role,
    /// How the user came to act: a login session, or a named program.
    pub via: Via,
}

/// How an [`Actor`] came to act. Shown in every log line that names an actor
/// (`Actor`'s `Display`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Via {
    /// An HTTP client, through the login session its access token belongs to.
    Login(LoginSessionId),
    /// A program linking Dealroom (a back-office job, a bot), acting for the
    /// user without a login; the text names the program in logs.
    Service(&'static str),
}

impl Actor {
    /// The caller behind a live login session. For `AuthStore` implementations,
    /// which read `role` from the user's row in the same query that checks the
    /// session.
    pub fn login(user_id: UserId, login_session_id: LoginSessionId, role: Role) -> Self {
        Self {
            user_id,
            role,
            via: Via::Login(login_session_id),
        }
    }

    /// A program acting as `user`, whose row was just read from the store:
    /// the role is the row's. An inactive user cannot be acted as
    /// ([`DomainError::Forbidden`]), as their tokens stop working too.
    /// `AccountService::act_as` reads the row and calls this; prefer it.
    pub fn service(user: &User, purpose: &'static str) -> Result<Self, DomainError> {
        if !user.is_active {
            return Err(DomainError::Forbidden);
        }
        Ok(Self {
            user_id: user.id,
            role: user.role,
            via: Via::Service(purpose),
        })
    }

    /// The login session the caller acts through; `None` for a program.
    pub fn login_session_id(&self) -> Option<LoginSessionId> {
        match self.via {
            Via::Login(id) => Some(id),
            Via::Service(_) => None,
        }
    }

    /// Whether the caller is an admin now.
    pub fn is_admin(&self) -> bool {
        self.role == Role::Admin
    }

    /// Agents and admins may read any chat session and its children.
    pub fn reads_any_chat(&self) -> bool {
        matches!(self.role, Role::Agent | Role::Admin)
    }
}

/// `user <id> (<role>) via login <session>` or
/// `user <id> (<role>) via service <purpose>`.
impl fmt::Display for Actor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "user {} ({}) via {}", self.user_id, self.role, self.via)
    }
}

impl fmt::Display for Via {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Via::Login(id) => write!(f, "login {id}"),
            Via::Service(purpose) => write!(f, "service {purpose}"),
        }
    }
}
