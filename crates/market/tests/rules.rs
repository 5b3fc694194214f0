//! The access and uniqueness rules of vendors and sellers, on the real service
//! over `testkit::memory::MemoryStore`: no database, no HTTP.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use domain::ports::ChatStore;
use domain::*;
use market::MarketService;
use market::inputs::{
    ExchangeRatesInput, OffersQuery, ProductInput, ProductPatchInput, SellerInput, SellerListQuery,
    SellerPatchInput, VendorInput, VendorPatchInput,
};
use std::sync::Arc;
use testkit::memory::MemoryStore;

/// A small cap, so the limit is cheap to reach.
const CAP: i32 = 3;

use testkit::assert_err;

struct World {
    store: Arc<MemoryStore>,
    market: MarketService,
    /// Owns `session`.
    ann: Actor,
    bob: Actor,
    agent: Actor,
    admin: Actor,
    session: ChatSessionId,
}

fn world() -> World {
    let store = Arc::new(MemoryStore::new());
    let market = MarketService::new(store.clone(), store.clone(), CAP);
    let ann = actor(&store, "ann", Role::User);
    let session = store
        .create_chat_session(ChatSessionId::new(), ann.user_id, "Chairs")
        .unwrap()
        .id;
    World {
        bob: actor(&store, "bob", Role::User),
        agent: actor(&store, "carl", Role::Agent),
        admin: actor(&store, "ada", Role::Admin),
        store,
        market,
        ann,
        session,
    }
}

fn actor(store: &MemoryStore, name: &str, role: Role) -> Actor {
    store.signed_in(name, role).unwrap()
}

fn vendor(name: &str) -> VendorInput {
    VendorInput {
        name: Some(name.to_owned()),
        ..VendorInput::default()
    }
}

fn seller(name: &str, product: &str, price: i64) -> SellerInput {
    SellerInput {
        name: Some(name.to_owned()),
        product: Some(ProductInput {
            name: Some(product.to_owned()),
            price_minor: Some(price),
            currency: Some("EUR".to_owned()),
            ..ProductInput::default()
        }),
        ..SellerInput::default()
    }
}

fn bad_seller() -> SellerInput {
    SellerInput {
        name: Some(String::new()),
        ..SellerInput::default()
    }
}

fn bad_vendor_patch() -> VendorPatchInput {
    VendorPatchInput {
        website: Some(Some("ftp://example.com".into())),
        ..VendorPatchInput::default()
    }
}

fn rename_seller(name: &str) -> SellerPatchInput {
    SellerPatchInput {
        name: Some(Some(name.to_owned())),
        ..SellerPatchInput::default()
    }
}

fn sorted(w: &World, sort: &str) -> Vec<SellerId> {
    w.market
        .sellers(
            &w.ann,
            w.session,
            SellerListQuery {
                sort: Some(sort.into()),
            },
        )
        .unwrap()
        .iter()
        .map(|s| s.id)
        .collect()
}

// ------------------------------------------------------------ vendors

#[test]
fn a_user_cannot_see_or_touch_another_users_vendor() {
    let w = world();
    let v = w
        .market
        .create_vendor(&w.ann, w.session, vendor("Shop"))
        .unwrap();
    assert_err!(
        w.market.vendor_of_session(&w.bob, w.session),
        DomainError::NotFound(_)
    );
    assert_err!(w.market.vendor(&w.bob, v.id), DomainError::NotFound(_));
    assert_err!(
        w.market
            .update_vendor(&w.bob, v.id, VendorPatchInput::default()),
        DomainError::NotFound(_)
    );
    assert_err!(
        w.market.delete_vendor(&w.bob, v.id),
        DomainError::NotFound(_)
    );
    assert_err!(
        w.market.create_vendor(&w.bob, w.session, vendor("Mine")),
        DomainError::NotFound(_)
    );
}

#[test]
fn an_agent_reads_the_vendor_but_cannot_change_it() {
    let w = world();
    let v = w
        .market
        .create_vendor(&w.ann, w.session, vendor("Shop"))
        .unwrap();
    assert_eq!(w.market.vendor(&w.agent, v.id).unwrap().id, v.id);
    assert_eq!(
        w.market.vendor_of_session(&w.agent, w.session).unwrap().id,
        v.id
    );
    assert_err!(
        w.market
            .update_vendor(&w.agent, v.id, VendorPatchInput::default()),
        DomainError::Forbidden
    );
    assert_err!(
        w.market.delete_vendor(&w.agent, v.id),
        DomainError::Forbidden
    );
    let other = w
        .store
        .create_chat_session(ChatSessionId::new(), w.ann.user_id, "Desks")
        .unwrap()
        .id;
    assert_err!(
        w.market.create_vendor(&w.agent, other, vendor("Agent's")),
        DomainError::Forbidden
    );
}

#[test]
fn an_admin_manages_any_sessions_vendor() {
    let w = world();
    let v = w
        .market
        .create_vendor(&w.admin, w.session, vendor("Shop"))
        .unwrap();
    let v = w
        .market
        .update_vendor(
            &w.admin,
            v.id,
            VendorPatchInput {
                notes: Some(Some("checked".into())),
                ..VendorPatchInput::default()
            },
        )
        .unwrap();
    assert_eq!(v.notes.as_deref(), Some("checked"));
    w.market.delete_vendor(&w.admin, v.id).unwrap();
    assert_err!(
        w.market.vendor_of_session(&w.ann, w.session),
        DomainError::NotFound(_)
    );
}

#[test]
fn a_session_has_one_vendor() {
    let w = world();
    w.market
        .create_vendor(&w.ann, w.session, vendor("Shop"))
        .unwrap();
    assert_err!(
        w.market.create_vendor(&w.ann, w.session, vendor("Another")),
        DomainError::Conflict(_)
    );
    assert_err!(
        w.market
            .create_vendor(&w.admin, w.session, vendor("Another")),
        DomainError::Conflict(_)
    );
}

#[test]
fn a_vendor_on_a_missing_session_is_not_found() {
    let w = world();
    for a in [w.ann, w.admin] {
        assert_err!(
            w.market
                .create_vendor(&a, ChatSessionId::new(), vendor("Shop")),
            DomainError::NotFound("Chat session")
        );
    }
}

#[test]
fn a_session_without_a_vendor_answers_not_found_for_its_vendor() {
    let w = world();
    assert_err!(
        w.market.vendor_of_session(&w.ann, w.session),
        DomainError::NotFound("Vendor")
    );
}

// ------------------------------------------------------------ validation order

#[test]
fn a_bad_body_on_someone_elses_session_is_not_found_not_invalid() {
    let w = world();
    let v = w
        .market
        .create_vendor(&w.ann, w.session, vendor("Shop"))
        .unwrap();
    let s = w
        .market
        .add_seller(&w.ann, w.session, seller("Acme", "Chair", 100))
        .unwrap();
    assert_err!(
        w.market.create_vendor(&w.bob, w.session, vendor("")),
        DomainError::NotFound(_)
    );
    assert_err!(
        w.market.add_seller(&w.bob, w.session, bad_seller()),
        DomainError::NotFound(_)
    );
    assert_err!(
        w.market.update_vendor(&w.bob, v.id, bad_vendor_patch()),
        DomainError::NotFound(_)
    );
    assert_err!(
        w.market.update_seller(&w.bob, s.id, rename_seller("")),
        DomainError::NotFound(_)
    );
    assert_err!(
        w.market.sellers(
            &w.bob,
            w.session,
            SellerListQuery {
                sort: Some("cheapest".into())
            }
        ),
        DomainError::NotFound(_)
    );
}

#[test]
fn a_bad_body_from_an_agent_is_forbidden_not_invalid() {
    let w = world();
    let v = w
        .market
        .create_vendor(&w.ann, w.session, vendor("Shop"))
        .unwrap();
    assert_err!(
        w.market.add_seller(&w.agent, w.session, bad_seller()),
        DomainError::Forbidden
    );
    assert_err!(
        w.market.update_vendor(&w.agent, v.id, bad_vendor_patch()),
        DomainError::Forbidden
    );
}

#[test]
fn a_bad_body_on_ones_own_session_is_a_validation_error() {
    let w = world();
    let v = w
        .market
        .create_vendor(&w.ann, w.session, vendor("Shop"))
        .unwrap();
    assert_err!(
        w.market.add_seller(&w.ann, w.session, bad_seller()),
        DomainError::Validation(_)
    );
    assert_err!(
        w.market.update_vendor(&w.ann, v.id, bad_vendor_patch()),
        DomainError::Validation(_)
    );
    assert_err!(
        w.market.sellers(
            &w.ann,
            w.session,
            SellerListQuery {
                sort: Some("cheapest".into())
            }
        ),
        DomainError::Validation(_)
    );
}

// ------------------------------------------------------------ sellers

#[test]
fn a_user_cannot_see_or_touch_another_users_sellers() {
    let w = world();
    let s = w
        .market
        .add_seller(&w.ann, w.session, seller("Acme", "Chair", 100))
        .unwrap();
    assert_err!(w.market.seller(&w.bob, s.id), DomainError::NotFound(_));
    assert_err!(
        w.market
            .sellers(&w.bob, w.session, SellerListQuery::default()),
        DomainError::NotFound(_)
    );
    assert_err!(
        w.market.update_seller(&w.bob, s.id, rename_seller("Mine")),
        DomainError::NotFound(_)
    );
    assert_err!(
        w.market.delete_seller(&w.bob, s.id),
        DomainError::NotFound(_)
    );
    assert_err!(
        w.market
            .add_seller(&w.bob, w.session, seller("Bob", "Chair", 1)),
        DomainError::NotFound(_)
    );
}

#[test]
fn an_agent_reads_sellers_but_cannot_change_them() {
    let w = world();
    let s = w
        .market
        .add_seller(&w.ann, w.session, seller("Acme", "Chair", 100))
        .unwrap();
    assert_eq!(w.market.seller(&w.agent, s.id).unwrap().id, s.id);
    assert_eq!(
        w.market
            .sellers(&w.agent, w.session, SellerListQuery::default())
            .unwrap()
            .len(),
        1
    );
    assert_err!(
        w.market
            .add_seller(&w.agent, w.session, seller("Bolt", "Chair", 1)),
        DomainError::Forbidden
    );
    assert_err!(
        w.market
            .update_seller(&w.agent, s.id, rename_seller("Bolt")),
        DomainError::Forbidden
    );
    assert_err!(
        w.market.delete_seller(&w.agent, s.id),
        DomainError::Forbidden
    );
}

#[test]
fn an_admin_manages_any_sessions_sellers() {
    let w = world();
    let s = w
        .market
        .add_seller(&w.admin, w.session, seller("Acme", "Chair", 100))
        .unwrap();
    let s = w
        .market
        .update_seller(&w.admin, s.id, rename_seller("Acme Ltd"))
        .unwrap();
    assert_eq!(s.name, "Acme Ltd");
    w.market.delete_seller(&w.admin, s.id).unwrap();
    assert_err!(w.market.seller(&w.ann, s.id), DomainError::NotFound(_));
}

#[test]
fn the_same_offer_twice_is_a_conflict_whatever_the_case() {
    let w = world();
    w.market
        .add_seller(&w.ann, w.session, seller("Acme", "Chair", 100))
        .unwrap();
    assert_err!(
        w.market
            .add_seller(&w.ann, w.session, seller("  ACME ", "chair", 90)),
        DomainError::Conflict(_)
    );
    // Another product of the same seller is another offer.
    w.market
        .add_seller(&w.ann, w.session, seller("Acme", "Table", 100))
        .unwrap();
}

#[test]
fn an_update_that_makes_a_duplicate_offer_is_a_conflict() {
    let w = world();
    w.market
        .add_seller(&w.ann, w.session, seller("Acme", "Chair", 100))
        .unwrap();
    let b = w
        .market
        .add_seller(&w.ann, w.session, seller("Bolt", "Chair", 100))
        .unwrap();
    assert_err!(
        w.market.update_seller(&w.ann, b.id, rename_seller("acme")),
        DomainError::Conflict(_)
    );
    let patch = SellerPatchInput {
        product: Some(ProductPatchInput {
            price_minor: Some(Some(80)),
            ..ProductPatchInput::default()
        }),
        ..SellerPatchInput::default()
    };
    assert_eq!(
        w.market
            .update_seller(&w.ann, b.id, patch)
            .unwrap()
            .product
            .price_minor,
        80
    );
}

#[test]
fn a_session_holds_at_most_the_cap_of_sellers() {
    let w = world();
    let ids: Vec<SellerId> = (0..CAP)
        .map(|i| {
            w.market
                .add_seller(&w.ann, w.session, seller(&format!("S{i}"), "Chair", 100))
                .unwrap()
                .id
        })
        .collect();
    assert_err!(
        w.market
            .add_seller(&w.ann, w.session, seller("One more", "Chair", 1)),
        DomainError::LimitReached(_)
    );
    // Past the cap, even a duplicate is refused for the cap.
    assert_err!(
        w.market
            .add_seller(&w.admin, w.session, seller("S0", "Chair", 1)),
        DomainError::LimitReached(_)
    );
    // A delete gives the place back.
    w.market.delete_seller(&w.ann, ids[0]).unwrap();
    w.market
        .add_seller(&w.ann, w.session, seller("One more", "Chair", 1))
        .unwrap();
    assert_eq!(
        w.store
            .chat_session(w.session)
            .unwrap()
            .unwrap()
            .seller_count,
        CAP
    );
}

#[test]
fn sellers_on_a_missing_session_are_not_found() {
    let w = world();
    assert_err!(
        w.market
            .add_seller(&w.admin, ChatSessionId::new(), seller("Acme", "Chair", 1)),
        DomainError::NotFound("Chat session")
    );
    assert_err!(
        w.market
            .sellers(&w.admin, ChatSessionId::new(), SellerListQuery::default()),
        DomainError::NotFound("Chat session")
    );
}

#[test]
fn sellers_sort_by_price_and_name_with_ties_in_creation_order() {
    let w = world();
    let add = |name: &str, price| {
        w.market
            .add_seller(&w.ann, w.session, seller(name, "Chair", price))
            .unwrap()
            .id
    };
    let (b, a, c) = (add("bolt", 200), add("Acme", 100), add("Cord", 200));
    assert_eq!(sorted(&w, "createdAt"), vec![b, a, c]);
    assert_eq!(sorted(&w, "price"), vec![a, b, c]);
    assert_eq!(sorted(&w, "-price"), vec![b, c, a]);
    assert_eq!(sorted(&w, "name"), vec![a, b, c]);
}

#[test]
fn vendor_and_seller_writes_bump_the_session() {
    let w = world();
    let updated = || w.store.chat_session(w.session).unwrap().unwrap().updated_at;
    let t0 = updated();
    w.market
        .create_vendor(&w.ann, w.session, vendor("Shop"))
        .unwrap();
    let t1 = updated();
    let s = w
        .market
        .add_seller(&w.ann, w.session, seller("Acme", "Chair", 1))
        .unwrap();
    let t2 = updated();
    w.market.delete_seller(&w.ann, s.id).unwrap();
    let t3 = updated();
    assert!(t0 < t1 && t1 < t2 && t2 < t3, "{t0} {t1} {t2} {t3}");
}

#[test]
fn deleting_the_session_takes_its_vendor_and_sellers() {
    let w = world();
    let v = w
        .market
        .create_vendor(&w.ann, w.session, vendor("Shop"))
        .unwrap();
    let s = w
        .market
        .add_seller(&w.ann, w.session, seller("Acme", "Chair", 1))
        .unwrap();
    w.store.delete_chat_session(w.session).unwrap();
    assert_err!(w.market.vendor(&w.admin, v.id), DomainError::NotFound(_));
    assert_err!(w.market.seller(&w.admin, s.id), DomainError::NotFound(_));
}

// ---------------------------------------------------------------- exchange rates, offers

fn rates(base: &str, list: &[(&str, &str)]) -> ExchangeRatesInput {
    ExchangeRatesInput {
        base: Some(base.to_owned()),
        rates: Some(
            list.iter()
                .map(|(c, r)| ((*c).to_owned(), (*r).to_owned()))
                .collect(),
        ),
    }
}

fn in_currency(currency: &str, date: Option<&str>) -> OffersQuery {
    OffersQuery {
        currency: Some(currency.to_owned()),
        date: date.map(str::to_owned),
    }
}

#[test]
fn only_admins_store_rates_and_a_bad_day_stores_nothing() {
    use domain::ports::MarketStore;
    let w = world();
    let day = time::macros::date!(2026 - 12 - 04);
    for who in [&w.ann, &w.agent] {
        // Refused for the role before the body is looked at.
        assert_err!(
            w.market
                .put_exchange_rates(who, "2026-12-04", rates("eur", &[])),
            DomainError::Forbidden
        );
    }
    assert_err!(
        w.market.put_exchange_rates(
            &w.admin,
            "2026-12-04",
            rates("EUR", &[("USD", "1.0812"), ("JPY", "-1")])
        ),
        DomainError::Validation(_)
    );
    assert_eq!(w.store.exchange_rates_on(day).unwrap(), None);
    let stored = w
        .market
        .put_exchange_rates(&w.admin, "2026-12-04", rates("EUR", &[("USD", "1.08120")]))
        .unwrap();
    assert_eq!(stored.rates["USD"].to_string(), "1.0812");
    assert_eq!(w.store.exchange_rates_on(day).unwrap(), Some(stored));
}

#[test]
fn offers_are_compared_by_whoever_may_read_the_session() {
    let w = world();
    w.market
        .add_seller(&w.ann, w.session, seller("Acme", "Chair", 100))
        .unwrap();
    for who in [&w.ann, &w.agent, &w.admin] {
        let list = w
            .market
            .offers(who, w.session, in_currency("USD", None))
            .unwrap();
        assert_eq!(list.items.len(), 1);
        assert_eq!(list.rates_date, None);
    }
    assert_err!(
        w.market.offers(&w.bob, w.session, in_currency("USD", None)),
        DomainError::NotFound("Chat session")
    );
    // A bad query on someone else's session is not found, not invalid.
    assert_err!(
        w.market.offers(&w.bob, w.session, in_currency("usd", None)),
        DomainError::NotFound("Chat session")
    );
    assert_err!(
        w.market
            .offers(&w.ann, w.session, in_currency("USD", Some("yesterday"))),
        DomainError::Validation(_)
    );
    assert_err!(
        w.market
            .offers(&w.ann, ChatSessionId::new(), in_currency("USD", None)),
        DomainError::NotFound("Chat session")
    );
}
