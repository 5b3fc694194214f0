//! What `Dealroom::connect` checks before it hands out services.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use dealroom::{ConnectError, Dealroom, Options, PoolSettings};
use diesel::RunQueryDsl;
use std::time::Duration;

fn quick() -> Options {
    Options {
        pool: PoolSettings {
            max_size: 2,
            min_idle: 0,
            connection_timeout: Duration::from_millis(300),
            ..PoolSettings::default()
        },
        bcrypt_cost: 4,
        ..Options::default()
    }
}

#[test]
fn a_database_that_does_not_answer_is_unreachable() {
    // Nothing listens on port 1 of the loopback address.
    let err = Dealroom::connect_with("postgres://nobody@127.0.0.1:1/nothing", quick()).err();
    assert!(matches!(err, Some(ConnectError::Unreachable(_))), "{err:?}");
}

#[test]
fn a_database_without_the_migrations_is_not_migrated() {
    let db = testkit::TestDb::new();
    diesel::sql_query("DROP TABLE __diesel_schema_migrations")
        .execute(&mut db.conn())
        .unwrap();
    let err = Dealroom::connect_with(db.url(), quick()).err();
    assert!(matches!(err, Some(ConnectError::NotMigrated)), "{err:?}");
}

#[test]
fn a_migrated_database_gives_every_service_on_one_pool() {
    let db = testkit::TestDb::new();
    let dr = Dealroom::connect_with(db.url(), quick()).unwrap();
    assert!(dr.store.pool_stats().connections >= 1);
    assert!(dr.close(Duration::from_secs(2)));
}
