//! The role rules of user administration, on the real service over
//! `testkit::memory::MemoryStore`: no database, no HTTP.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use accounts::AccountService;
use accounts::inputs::{AdminUserInput, ProfileInput, UserListQuery};
use domain::page::Cursors;
use domain::ports::{AuthStore, ChatStore};
use domain::*;
use std::sync::Arc;
use testkit::memory::MemoryStore;

const SECRET: &[u8] = b"test secret";

use testkit::assert_err;

struct World {
    store: Arc<MemoryStore>,
    accounts: AccountService,
    user: Actor,
    agent: Actor,
    admin: Actor,
}

fn world() -> World {
    let store = Arc::new(MemoryStore::new());
    let accounts = AccountService::new(store.clone(), Cursors::new(SECRET));
    let user = actor(&store, "ann", Role::User);
    let agent = actor(&store, "carl", Role::Agent);
    let admin = actor(&store, "ada", Role::Admin);
    World {
        store,
        accounts,
        user,
        agent,
        admin,
    }
}

fn actor(store: &MemoryStore, name: &str, role: Role) -> Actor {
    store.signed_in(name, role).unwrap()
}

fn patch(role: Option<Role>, is_active: Option<bool>) -> AdminUserInput {
    AdminUserInput {
        name: None,
        role,
        is_active,
    }
}

fn list(limit: Option<i64>, cursor: Option<String>) -> UserListQuery {
    UserListQuery {
        limit,
        cursor,
        ..UserListQuery::default()
    }
}

#[test]
fn everyone_reads_and_renames_themself() {
    let w = world();
    for a in [w.user, w.agent, w.admin] {
        assert_eq!(w.accounts.me(&a).unwrap().id, a.user_id);
        let renamed = w
            .accounts
            .update_me(
                &a,
                ProfileInput {
                    name: Some("  New name ".into()),
                },
            )
            .unwrap();
        assert_eq!(renamed.name, "New name");
        assert_eq!(renamed.role, a.role());
    }
}

#[test]
fn a_blank_profile_name_is_a_validation_error() {
    let w = world();
    assert_err!(
        w.accounts.update_me(
            &w.user,
            ProfileInput {
                name: Some("   ".into())
            }
        ),
        DomainError::Validation(_)
    );
}

#[test]
fn only_admins_list_users() {
    let w = world();
    assert_err!(
        w.accounts.list_users(&w.user, UserListQuery::default()),
        DomainError::Forbidden
    );
    assert_err!(
        w.accounts.list_users(&w.agent, UserListQuery::default()),
        DomainError::Forbidden
    );
    let page = w
        .accounts
        .list_users(&w.admin, UserListQuery::default())
        .unwrap();
    assert_eq!(page.items.len(), 3);
}

#[test]
fn a_bad_user_query_from_a_non_admin_is_forbidden_not_invalid() {
    let w = world();
    for a in [w.user, w.agent] {
        assert_err!(
            w.accounts.list_users(&a, list(Some(0), None)),
            DomainError::Forbidden
        );
    }
    assert_err!(
        w.accounts.list_users(&w.admin, list(Some(0), None)),
        DomainError::Validation(_)
    );
}

#[test]
fn only_admins_read_change_delete_and_log_out_other_users() {
    let w = world();
    let target = w.user.user_id;
    for a in [w.user, w.agent] {
        assert_err!(w.accounts.user(&a, target), DomainError::Forbidden);
        assert_err!(
            w.accounts
                .update_user(&a, target, patch(Some(Role::Admin), None)),
            DomainError::Forbidden
        );
        assert_err!(w.accounts.delete_user(&a, target), DomainError::Forbidden);
        assert_err!(
            w.accounts.end_login_sessions(&a, target),
            DomainError::Forbidden
        );
    }
    // Not even on themselves: the user routes are the admin's.
    assert_err!(
        w.accounts.user(&w.user, w.user.user_id),
        DomainError::Forbidden
    );
    assert_eq!(w.accounts.user(&w.admin, target).unwrap().id, target);
}

#[test]
fn an_admin_promotes_and_demotes_others() {
    let w = world();
    let promoted = w
        .accounts
        .update_user(&w.admin, w.agent.user_id, patch(Some(Role::Admin), None))
        .unwrap();
    assert_eq!(promoted.role, Role::Admin);
    let demoted = w
        .accounts
        .update_user(&w.admin, w.agent.user_id, patch(Some(Role::User), None))
        .unwrap();
    assert_eq!(demoted.role, Role::User);
}

#[test]
fn an_admin_cannot_demote_themself() {
    let w = world();
    for role in [Role::User, Role::Agent] {
        assert_err!(
            w.accounts
                .update_user(&w.admin, w.admin.user_id, patch(Some(role), None)),
            DomainError::Conflict(_)
        );
    }
    assert_eq!(w.accounts.me(&w.admin).unwrap().role, Role::Admin);
}

#[test]
fn an_admin_cannot_deactivate_themself() {
    let w = world();
    assert_err!(
        w.accounts
            .update_user(&w.admin, w.admin.user_id, patch(None, Some(false))),
        DomainError::Conflict(_)
    );
    assert!(w.accounts.me(&w.admin).unwrap().is_active);
}

#[test]
fn an_admin_cannot_delete_themself() {
    let w = world();
    assert_err!(
        w.accounts.delete_user(&w.admin, w.admin.user_id),
        DomainError::Conflict(_)
    );
    assert!(w.accounts.me(&w.admin).is_ok());
}

#[test]
fn an_admin_may_rename_themself_and_stay_admin_and_active() {
    let w = world();
    let me = w
        .accounts
        .update_user(
            &w.admin,
            w.admin.user_id,
            AdminUserInput {
                name: Some("Ada L.".into()),
                role: Some(Role::Admin),
                is_active: Some(true),
            },
        )
        .unwrap();
    assert_eq!(
        (me.name.as_str(), me.role, me.is_active),
        ("Ada L.", Role::Admin, true)
    );
}

#[test]
fn deactivating_a_user_ends_their_login_sessions_at_once() {
    let w = world();
    let u = w.user;
    assert!(
        w.store
            .actor(u.user_id, u.login_session_id().unwrap())
            .unwrap()
            .is_some()
    );
    let user = w
        .accounts
        .update_user(&w.admin, u.user_id, patch(None, Some(false)))
        .unwrap();
    assert!(!user.is_active);
    assert_eq!(
        w.store
            .actor(u.user_id, u.login_session_id().unwrap())
            .unwrap(),
        None
    );
    assert!(w.store.active_login_sessions(u.user_id).unwrap().is_empty());
}

#[test]
fn a_role_change_applies_to_the_login_session_already_open() {
    let w = world();
    let u = w.user;
    w.accounts
        .update_user(&w.admin, u.user_id, patch(Some(Role::Agent), None))
        .unwrap();
    let now = w
        .store
        .actor(u.user_id, u.login_session_id().unwrap())
        .unwrap()
        .unwrap();
    assert_eq!(now.actor.role(), Role::Agent);
}

#[test]
fn ending_a_users_login_sessions_counts_them() {
    let w = world();
    assert_eq!(
        w.accounts
            .end_login_sessions(&w.admin, w.user.user_id)
            .unwrap(),
        1
    );
    assert_eq!(
        w.accounts
            .end_login_sessions(&w.admin, w.user.user_id)
            .unwrap(),
        0
    );
}

#[test]
fn deleting_a_user_deletes_what_they_own() {
    let w = world();
    let session = w
        .store
        .create_chat_session(ChatSessionId::new(), w.user.user_id, "Mine")
        .unwrap();
    w.accounts.delete_user(&w.admin, w.user.user_id).unwrap();
    assert_eq!(w.store.chat_session(session.id).unwrap(), None);
    assert_eq!(
        w.store
            .login_session(w.user.login_session_id().unwrap())
            .unwrap(),
        None
    );
    assert_err!(
        w.accounts.user(&w.admin, w.user.user_id),
        DomainError::NotFound(_)
    );
}

#[test]
fn an_unknown_user_is_not_found_for_an_admin() {
    let w = world();
    let nobody = UserId::new();
    assert_err!(w.accounts.user(&w.admin, nobody), DomainError::NotFound(_));
    assert_err!(
        w.accounts
            .update_user(&w.admin, nobody, patch(None, Some(true))),
        DomainError::NotFound(_)
    );
    assert_err!(
        w.accounts.delete_user(&w.admin, nobody),
        DomainError::NotFound(_)
    );
    assert_err!(
        w.accounts.end_login_sessions(&w.admin, nobody),
        DomainError::NotFound(_)
    );
}

#[test]
fn users_page_newest_first_without_gaps_or_repeats() {
    let w = world();
    let more: Vec<UserId> = (0..3)
        .map(|i| actor(&w.store, &format!("u{i}"), Role::User).user_id)
        .collect();
    let mut seen = Vec::new();
    let mut cursor = None;
    loop {
        let page = w
            .accounts
            .list_users(&w.admin, list(Some(2), cursor))
            .unwrap();
        seen.extend(page.items.iter().map(|u| u.id));
        match page.next_cursor {
            Some(c) => cursor = Some(c),
            None => break,
        }
    }
    let mut expected = vec![w.user.user_id, w.agent.user_id, w.admin.user_id];
    expected.extend(more);
    expected.reverse();
    assert_eq!(seen, expected);
}

#[test]
fn a_cursor_of_another_list_or_tampered_is_a_validation_error() {
    let w = world();
    let other_list = Cursors::new(SECRET).encode("sessions", "", w.user.user_id.0.as_bytes());
    assert_err!(
        w.accounts
            .list_users(&w.admin, list(None, Some(other_list))),
        DomainError::Validation(_)
    );
    let other_secret =
        Cursors::new(b"another secret").encode("users", "", w.user.user_id.0.as_bytes());
    assert_err!(
        w.accounts
            .list_users(&w.admin, list(None, Some(other_secret))),
        DomainError::Validation(_)
    );
    assert_err!(
        w.accounts
            .list_users(&w.admin, list(None, Some("not-a-cursor".into()))),
        DomainError::Validation(_)
    );
}

#[test]
fn users_filter_by_role_and_text() {
    let w = world();
    let query = |role, q: Option<&str>| UserListQuery {
        role,
        q: q.map(str::to_owned),
        ..UserListQuery::default()
    };
    let ids = |q| -> Vec<UserId> {
        w.accounts
            .list_users(&w.admin, q)
            .unwrap()
            .items
            .iter()
            .map(|u| u.id)
            .collect()
    };
    assert_eq!(ids(query(Some(Role::Agent), None)), vec![w.agent.user_id]);
    assert_eq!(ids(query(None, Some("ANN@"))), vec![w.user.user_id]);
    assert_eq!(ids(query(Some(Role::Admin), Some("ann"))), vec![]);
}

// ------------------------------------------------------------ act_as

#[test]
fn a_program_acts_as_a_user_with_the_role_their_row_holds() {
    let w = world();
    let job = w.accounts.act_as(w.admin.user_id, "import-offers").unwrap();
    assert_eq!(job.user_id, w.admin.user_id);
    assert_eq!(job.role(), Role::Admin);
    assert_eq!(job.via(), Via::Service("import-offers"));
    assert_eq!(job.login_session_id(), None);
    assert_eq!(
        job.to_string(),
        format!("user {} (admin) via service import-offers", w.admin.user_id)
    );
    // The same admin rules as the admin's login.
    assert_eq!(
        w.accounts
            .list_users(&job, list(None, None))
            .unwrap()
            .items
            .len(),
        3
    );
    assert_err!(
        w.accounts.delete_user(&job, w.admin.user_id),
        DomainError::Conflict("An admin cannot delete themself")
    );
}

#[test]
fn a_program_acting_as_a_plain_user_gets_the_plain_users_forbidden() {
    let w = world();
    let job = w.accounts.act_as(w.user.user_id, "bot").unwrap();
    assert_eq!(job.role(), Role::User);
    assert_err!(
        w.accounts.list_users(&job, list(None, None)),
        DomainError::Forbidden
    );
    assert_err!(
        w.accounts.user(&job, w.admin.user_id),
        DomainError::Forbidden
    );
}

#[test]
fn acting_as_follows_a_role_change_and_refuses_an_unknown_or_inactive_user() {
    let w = world();
    w.accounts
        .update_user(&w.admin, w.agent.user_id, patch(Some(Role::User), None))
        .unwrap();
    assert_eq!(
        w.accounts.act_as(w.agent.user_id, "bot").unwrap().role(),
        Role::User
    );
    assert_err!(
        w.accounts.act_as(UserId::new(), "bot"),
        DomainError::NotFound("User")
    );
    w.accounts
        .update_user(&w.admin, w.user.user_id, patch(None, Some(false)))
        .unwrap();
    assert_err!(
        w.accounts.act_as(w.user.user_id, "bot"),
        DomainError::Forbidden
    );
}

#[test]
fn the_inputs_constructors_change_only_what_they_name() {
    let w = world();
    let carl = w.agent.user_id;
    let before = w.accounts.user(&w.admin, carl).unwrap();

    let renamed = w
        .accounts
        .update_user(&w.admin, carl, AdminUserInput::rename("  Carl B.  "))
        .unwrap();
    assert_eq!(
        (renamed.name.as_str(), renamed.role, renamed.is_active),
        ("Carl B.", Role::Agent, true)
    );
    let demoted = w
        .accounts
        .update_user(&w.admin, carl, AdminUserInput::set_role(Role::User))
        .unwrap();
    assert_eq!(
        (demoted.name.as_str(), demoted.role, demoted.is_active),
        ("Carl B.", Role::User, true)
    );
    let off = w
        .accounts
        .update_user(&w.admin, carl, AdminUserInput::deactivate())
        .unwrap();
    assert_eq!((off.role, off.is_active), (Role::User, false));
    let on = w
        .accounts
        .update_user(&w.admin, carl, AdminUserInput::reactivate())
        .unwrap();
    assert_eq!((on.role, on.is_active), (Role::User, true));
    assert_eq!(on.email, before.email);

    let me = w
        .accounts
        .update_me(&w.user, ProfileInput::rename("Ann B."))
        .unwrap();
    assert_eq!(me.name, "Ann B.");
    assert_err!(
        w.accounts.update_me(&w.user, ProfileInput::rename(" ")),
        DomainError::Validation(_)
    );
}
