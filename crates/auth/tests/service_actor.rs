//! What a program acting without a login (`Via::Service`) may do with the
//! auth context: everything about its user but what belongs to a login.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use auth::inputs::ChangePasswordInput;
use auth::{AuthService, AuthSettings, Secret};
use domain::ports::AccountStore;
use domain::*;
use std::sync::Arc;
use std::time::Duration;
use testkit::assert_err;
use testkit::memory::MemoryStore;

fn service(store: &Arc<MemoryStore>) -> AuthService {
    AuthService::new(
        store.clone(),
        AuthSettings {
            jwt_secret: Secret::new("a test secret of at least thirty-two bytes"),
            access_token_ttl: Duration::from_secs(60),
            refresh_token_ttl: Duration::from_secs(3600),
            bcrypt_cost: 4,
            hash_concurrency: 0,
            hash_nice: 19,
        },
    )
    .unwrap()
}

/// `ann`'s login, and a program acting as her (what `act_as` makes).
fn ann(store: &MemoryStore) -> (Actor, Actor) {
    let login = store.signed_in("ann", Role::User).unwrap();
    let row = store.user(login.user_id).unwrap().unwrap();
    (login, Actor::__from_user_row(&row, "bot").unwrap())
}

#[test]
fn a_program_cannot_log_out_nor_change_the_password_having_no_login() {
    let store = Arc::new(MemoryStore::new());
    let auth = service(&store);
    let (login, job) = ann(&store);
    assert_err!(auth.logout(&job), DomainError::Forbidden);
    let change = ChangePasswordInput {
        current_password: Some("whatever it is".into()),
        new_password: Some("a new long password".into()),
    };
    assert_err!(auth.change_password(&job, change), DomainError::Forbidden);
    // Her login is untouched.
    assert_eq!(auth.login_sessions(&login).unwrap().len(), 1);
}

#[test]
fn a_program_sees_the_users_login_sessions_none_of_them_current() {
    let store = Arc::new(MemoryStore::new());
    let auth = service(&store);
    let (login, job) = ann(&store);
    let seen_by_login = auth.login_sessions(&login).unwrap();
    assert_eq!(seen_by_login.len(), 1);
    assert!(seen_by_login[0].current);
    let seen_by_job = auth.login_sessions(&job).unwrap();
    assert_eq!(seen_by_job.len(), 1);
    assert!(!seen_by_job[0].current);
    // And may end them, as she may.
    assert_eq!(auth.logout_all(&job).unwrap(), 1);
    assert!(auth.login_sessions(&login).unwrap().is_empty());
}
