//! The rule: an `Actor` held across calls of the facade acts with its user's
//! rights as the database holds them at each call, as an HTTP client's token
//! does on each request. Demoting, deactivating or deleting the user (or
//! ending a login session) takes effect on the next call; a deleted user is
//! `NotFound("User")`, never `Internal`.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use dealroom::{
    Actor, AdminUserInput, ClientInfo, Dealroom, DomainError, NewSessionInput, Options,
    RegisterInput, Role, SessionListQuery, User, UserListQuery, Via,
};
use testkit::{TestDb, assert_err};

fn register(email: &str) -> RegisterInput {
    RegisterInput {
        email: Some(email.into()),
        password: Some("a long password".into()),
        name: Some("Someone".into()),
        device_name: None,
    }
}

/// A database, the facade on it, and an admin acting as `boss`.
fn world() -> (TestDb, Dealroom, Actor) {
    let db = TestDb::new();
    let dr = Dealroom::connect_with(db.url(), Options::for_tests()).unwrap();
    let boss = dr.auth.create_admin(register("boss@example.com")).unwrap();
    let boss = dr.act_as(boss.id, "test-boss").unwrap();
    (db, dr, boss)
}

fn admin(dr: &Dealroom, email: &str) -> User {
    dr.auth.create_admin(register(email)).unwrap()
}

fn titled(title: &str) -> NewSessionInput {
    NewSessionInput {
        title: Some(title.into()),
    }
}

fn change(role: Option<Role>, is_active: Option<bool>) -> AdminUserInput {
    AdminUserInput {
        name: None,
        role,
        is_active,
    }
}

#[test]
fn a_held_program_actor_loses_admin_rights_when_its_user_is_demoted() {
    let (_db, dr, boss) = world();
    let ops = admin(&dr, "ops@example.com");
    let job = dr.act_as(ops.id, "nightly-report").unwrap();
    assert_eq!(
        dr.accounts
            .list_users(&job, UserListQuery::default())
            .unwrap()
            .items
            .len(),
        2
    );

    dr.accounts
        .update_user(&boss, ops.id, change(Some(Role::User), None))
        .unwrap();

    // The same actor value, kept by the job: the next call has a user's rights.
    assert_eq!(job.role(), Role::Admin);
    assert_err!(
        dr.accounts.list_users(&job, UserListQuery::default()),
        DomainError::Forbidden
    );
    assert_err!(
        dr.accounts
            .update_user(&job, boss.user_id, change(None, Some(false))),
        DomainError::Forbidden
    );
    // What a user may do, it still may.
    let own = dr.chat.create_session(&job, titled("Own")).unwrap();
    assert_eq!(own.user_id, ops.id);
    let now = dr.current(&job).unwrap();
    assert_eq!(
        (now.role(), now.via()),
        (Role::User, Via::Service("nightly-report"))
    );

    // Promoted again, the held actor is an admin again.
    dr.accounts
        .update_user(&boss, ops.id, change(Some(Role::Admin), None))
        .unwrap();
    assert_eq!(
        dr.accounts
            .list_users(&job, UserListQuery::default())
            .unwrap()
            .items
            .len(),
        2
    );
}

#[test]
fn a_held_program_actor_is_refused_once_its_user_is_deactivated() {
    let (_db, dr, boss) = world();
    let ops = admin(&dr, "ops@example.com");
    let job = dr.act_as(ops.id, "import-offers").unwrap();
    let session = dr.chat.create_session(&job, titled("Chairs")).unwrap();

    dr.accounts
        .update_user(&boss, ops.id, change(None, Some(false)))
        .unwrap();

    assert_err!(
        dr.chat.create_session(&job, titled("More")),
        DomainError::Forbidden
    );
    assert_err!(dr.chat.session(&job, session.id), DomainError::Forbidden);
    assert_err!(dr.accounts.me(&job), DomainError::Forbidden);
    assert_err!(dr.current(&job), DomainError::Forbidden);
    assert_err!(dr.act_as(ops.id, "import-offers"), DomainError::Forbidden);
    // Nothing was created by the refused call.
    let sessions = dr
        .chat
        .list_sessions(
            &boss,
            SessionListQuery {
                user_id: Some(ops.id),
                ..SessionListQuery::default()
            },
        )
        .unwrap();
    assert_eq!(sessions.items.len(), 1);
}

#[test]
fn a_held_program_actor_of_a_deleted_user_is_not_found_never_internal() {
    let (_db, dr, boss) = world();
    let gone = dr
        .auth
        .register(register("gone@example.com"), ClientInfo::default())
        .unwrap();
    let job = dr.act_as(gone.user.id, "cleanup").unwrap();
    let session = dr.chat.create_session(&job, titled("Mine")).unwrap();

    dr.accounts.delete_user(&boss, gone.user.id).unwrap();

    // Creating a row for a user who is gone was a foreign-key failure (500).
    assert_err!(
        dr.chat.create_session(&job, titled("After")),
        DomainError::NotFound("User")
    );
    assert_err!(
        dr.chat.session(&job, session.id),
        DomainError::NotFound("User")
    );
    assert_err!(
        dr.chat.list_sessions(&job, SessionListQuery::default()),
        DomainError::NotFound("User")
    );
    assert_err!(dr.accounts.me(&job), DomainError::NotFound("User"));
    assert_err!(dr.auth.logout_all(&job), DomainError::NotFound("User"));
}

#[test]
fn a_held_login_actor_is_refused_once_its_login_session_ends_or_its_user_is_demoted() {
    let (_db, dr, boss) = world();
    let carl = dr
        .auth
        .register(register("carl@example.com"), ClientInfo::default())
        .unwrap();
    dr.accounts
        .update_user(&boss, carl.user.id, change(Some(Role::Agent), None))
        .unwrap();
    // What the HTTP path checks on each request: the token's login session.
    let login = dr.auth.authenticate(&carl.tokens.access_token).unwrap();
    assert_eq!(login.role(), Role::Agent);
    let boss_session = dr.chat.create_session(&boss, titled("Boss's")).unwrap();
    assert_eq!(
        dr.chat.session(&login, boss_session.id).unwrap().id,
        boss_session.id
    );

    // An agent reads anyone's chat session; demoted to a user, not any more.
    dr.accounts
        .update_user(&boss, carl.user.id, change(Some(Role::User), None))
        .unwrap();
    assert_err!(
        dr.chat.session(&login, boss_session.id),
        DomainError::NotFound("Chat session")
    );

    // Ending the login session ends the actor of that login.
    assert_eq!(
        dr.accounts.end_login_sessions(&boss, carl.user.id).unwrap(),
        1
    );
    assert_err!(
        dr.chat.create_session(&login, titled("Late")),
        DomainError::SessionRevoked
    );
    assert_err!(dr.current(&login), DomainError::SessionRevoked);
}
