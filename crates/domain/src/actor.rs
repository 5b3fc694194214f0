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
/// # Where an `Actor` comes from
///
/// An `Actor` is the database's word that this user, with this role, may act
/// now. The services trust it: they check `role` and `user_id` against their
/// rules and never read the user's row again. So there are only two ways to
/// get one, and both read the database:
///
/// - an HTTP client's, from its access token: `AuthService::authenticate`
///   (or `verify_token` then `caller`), which checks on every request that the
///   token's login session is live and its user active, and reads the role;
/// - a program's (a back-office job, a bot), from `Dealroom::act_as` or
///   `AccountService::act_as`, which read the user's row (unknown is
///   `NotFound("User")`, inactive `Forbidden`) and log the act on the
///   `security` target.
///
/// An `Actor` cannot be written by hand: the struct is `#[non_exhaustive]`,
/// `role` and `via` are private (read them with [`Actor::role`] and
/// [`Actor::via`]), and there is no public constructor. One made up by the
/// caller (any user id with `Role::Admin`) would skip every check above, and
/// the log line that says who acted. The constructors that the store and the
/// accounts service use are hidden, named with a leading `__`, and not part
/// of the API: they may change in any release.
///
/// ```compile_fail,E0451
/// // Refused by the compiler: an actor cannot be written by hand…
/// let forged = domain::Actor {
///     user_id: domain::UserId::new(),
///     role: domain::Role::Admin,
///     via: domain::Via::Service("forged"),
/// };
/// ```
///
/// ```compile_fail,E0616
/// # use domain::{Actor, LoginSessionId, Role, UserId};
/// # let mut actor = Actor::__from_store(UserId::new(), LoginSessionId::new(), Role::User);
/// // … nor given another role.
/// actor.role = Role::Admin;
/// ```
///
/// # An `Actor` is a snapshot
///
/// It holds the role and state read when it was made. The HTTP server makes a
/// new one for every request. A program that keeps one across calls should go
/// through the `dealroom` facade, whose services check the actor against the
/// database again on every call (`Dealroom::current`): demoting,
/// deactivating or deleting the user, or ending the login session, takes
/// effect on the next call.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct Actor {
    /// The user the action is done as (and, where it creates something, for).
    pub user_id: UserId,
    /// The user's role as the database held it when the actor was made.
    role: Role,
    /// How the user came to act: a login session, or a named program.
    via: Via,
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
    /// Not part of the API (see "Where an `Actor` comes from"): the caller
    /// behind a live login session, for `AuthStore` implementations, which
    /// read `role` from the user's row in the same query that checks the
    /// session.
    #[doc(hidden)]
    pub fn __from_store(user_id: UserId, login_session_id: LoginSessionId, role: Role) -> Self {
        Self {
            user_id,
            role,
            via: Via::Login(login_session_id),
        }
    }

    /// Not part of the API (see "Where an `Actor` comes from"): a program
    /// acting as `user`, whose row was just read from the store; the role is
    /// the row's. An inactive user cannot be acted as
    /// ([`DomainError::Forbidden`]), as their tokens stop working too.
    /// `AccountService::act_as` reads the row and calls this.
    #[doc(hidden)]
    pub fn __from_user_row(user: &User, purpose: &'static str) -> Result<Self, DomainError> {
        if !user.is_active {
            return Err(DomainError::Forbidden);
        }
        Ok(Self {
            user_id: user.id,
            role: user.role,
            via: Via::Service(purpose),
        })
    }

    /// The user's role as the database held it when this actor was made.
    pub fn role(&self) -> Role {
        self.role
    }

    /// How the user came to act: a login session, or a named program.
    pub fn via(&self) -> Via {
        self.via
    }

    /// The login session the caller acts through; `None` for a program.
    pub fn login_session_id(&self) -> Option<LoginSessionId> {
        match self.via {
            Via::Login(id) => Some(id),
            Via::Service(_) => None,
        }
    }

    /// Whether the caller is an admin.
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

#[cfg(test)]
mod tests {
    use super::*;
    use time::OffsetDateTime;

    fn row(role: Role, is_active: bool) -> User {
        User {
            id: UserId::new(),
            email: "ada@example.com".into(),
            name: "Ada".into(),
            role,
            is_active,
            created_at: OffsetDateTime::now_utc(),
            updated_at: OffsetDateTime::now_utc(),
            last_login_at: None,
        }
    }

    #[test]
    fn a_programs_actor_takes_the_rows_role_and_names_its_purpose() {
        let ada = row(Role::Admin, true);
        let actor = Actor::__from_user_row(&ada, "import-offers").unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(actor.user_id, ada.id);
        assert_eq!(actor.role(), Role::Admin);
        assert_eq!(actor.via(), Via::Service("import-offers"));
        assert_eq!(actor.login_session_id(), None);
        assert_eq!(
            actor.to_string(),
            format!("user {} (admin) via service import-offers", ada.id)
        );
    }

    #[test]
    fn an_inactive_user_cannot_be_acted_as() {
        let gone = row(Role::Admin, false);
        assert!(matches!(
            Actor::__from_user_row(&gone, "import-offers"),
            Err(DomainError::Forbidden)
        ));
    }
}
