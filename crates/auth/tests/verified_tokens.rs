//! `verify_token` answers a token it verified lately from memory: that must
//! change none of its answers. An altered token is still refused, an
//! expired one is still `TokenExpired`, and another key's service knows
//! nothing of this one's tokens.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use auth::inputs::RegisterInput;
use auth::{AuthService, AuthSettings, ClientInfo, Secret};
use domain::DomainError;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};
use testkit::assert_err;
use testkit::memory::MemoryStore;

fn service(store: &Arc<MemoryStore>, secret: &str, ttl: Duration) -> AuthService {
    AuthService::new(
        store.clone(),
        AuthSettings {
            jwt_secret: Secret::new(secret),
            access_token_ttl: ttl,
            refresh_token_ttl: Duration::from_secs(3600),
            bcrypt_cost: 4,
            hash_concurrency: 0,
            hash_nice: 19,
        },
    )
    .unwrap()
}

const SECRET: &str = "a test secret of at least thirty-two bytes";

/// A registered user's access token.
fn access_token(auth: &AuthService) -> String {
    let input = RegisterInput {
        email: Some("ann@example.com".into()),
        password: Some("correct horse battery".into()),
        name: Some("Ann".into()),
        device_name: None,
    };
    auth.register(input, ClientInfo::default())
        .unwrap()
        .tokens
        .access_token
}

/// `token` with the first character of its `part`th dot-separated part
/// replaced by another base64url character.
fn altered(token: &str, part: usize) -> String {
    let mut parts: Vec<String> = token.split('.').map(str::to_owned).collect();
    let first = parts[part].remove(0);
    let other = if first == 'A' { 'B' } else { 'A' };
    parts[part].insert(0, other);
    parts.join(".")
}

#[test]
fn a_token_verified_before_is_refused_once_any_part_of_it_is_altered() {
    let store = Arc::new(MemoryStore::new());
    let auth = service(&store, SECRET, Duration::from_secs(60));
    let token = access_token(&auth);
    let first = auth.verify_token(&token).unwrap();
    assert_eq!(auth.verify_token(&token).unwrap(), first, "answered again");
    for part in 0..3 {
        let bad = altered(&token, part);
        assert_ne!(bad, token);
        assert_err!(auth.verify_token(&bad), DomainError::Unauthenticated);
    }
    assert_err!(
        auth.verify_token(&format!("{token}x")),
        DomainError::Unauthenticated
    );
    assert_err!(
        auth.verify_token(&token[..token.len() - 1]),
        DomainError::Unauthenticated
    );
    assert_eq!(auth.verify_token(&token).unwrap(), first, "still verified");
}

#[test]
fn a_service_with_another_key_refuses_a_token_this_one_verified() {
    let store = Arc::new(MemoryStore::new());
    let ours = service(&store, SECRET, Duration::from_secs(60));
    let token = access_token(&ours);
    ours.verify_token(&token).unwrap();
    let theirs = service(
        &store,
        "another secret of at least thirty-two bytes",
        Duration::from_secs(60),
    );
    assert_err!(theirs.verify_token(&token), DomainError::Unauthenticated);
}

#[test]
fn a_token_verified_while_valid_is_token_expired_once_its_second_has_passed() {
    let store = Arc::new(MemoryStore::new());
    let auth = service(&store, SECRET, Duration::from_secs(1));
    let token = access_token(&auth);
    let verified = auth.verify_token(&token).unwrap();
    // Valid through its `exp` second; wait for the next one to begin.
    loop {
        let now = SystemTime::now().duration_since(UNIX_EPOCH).unwrap();
        if i64::try_from(now.as_secs()).unwrap() > verified.expires_at {
            break;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    assert_err!(auth.verify_token(&token), DomainError::TokenExpired);
}
