//! Offers compared (contract 3.7b): each seller's price converted into one
//! currency, per one canonical unit, and all of them in one total order.
//! Pure rules on what the store read; no database here.

use crate::money::{self, Ratio};
use domain::timefmt;
use domain::{ExchangeRates, Seller};
use rust_decimal::Decimal;
use serde::Serialize;
use std::cmp::Ordering;
use time::Date;

/// `GET /sessions/{id}/offers`: every offer of a chat session, compared in
/// one currency.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct OfferList {
    /// The currency compared in (the query's `currency`).
    #[cfg_attr(feature = "openapi", schema(example = "EUR"))]
    pub currency: String,
    /// The day of the rates used: the latest on or before the query's `date`
    /// (default today, UTC); `null` when there are none.
    #[serde(serialize_with = "timefmt::date::option::serialize")]
    #[cfg_attr(feature = "openapi", schema(required = true, value_type = Option<String>, format = Date, example = "2026-12-04"))]
    pub rates_date: Option<Date>,
    /// True when `ratesDate` is more than `RATES_MAX_AGE` (default 7 days)
    /// before the query's `date`.
    pub rates_stale: bool,
    /// The offers, cheapest first within each unit (see the operation).
    pub items: Vec<Offer>,
}

/// One seller's offer, compared.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct Offer {
    /// The seller, as `GET /sellers/{id}` shows it.
    pub seller: Seller,
    /// The offer's total in its own currency.
    pub price: Price,
    /// The total in the compared currency; `null` when the rates lack either currency.
    #[cfg_attr(feature = "openapi", schema(required = true))]
    pub converted: Option<Converted>,
    /// The converted total per one canonical unit; `null` without a
    /// `quantity` or without `converted`.
    #[cfg_attr(feature = "openapi", schema(required = true))]
    pub unit_price: Option<UnitPrice>,
}

/// An offer's total in its own currency.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Price {
    /// `priceMinor` as a decimal string with the currency's ISO 4217 decimals.
    #[cfg_attr(feature = "openapi", schema(value_type = String, example = "1234.50"))]
    pub amount: Decimal,
    /// The seller's currency.
    #[cfg_attr(feature = "openapi", schema(example = "USD"))]
    pub currency: String,
}

/// An offer's total in the compared currency.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Converted {
    /// Rounded half to even to the currency's ISO 4217 decimals, computed
    /// from the exact rate.
    #[cfg_attr(feature = "openapi", schema(value_type = String, example = "1141.77"))]
    pub amount: Decimal,
    /// The compared currency.
    #[cfg_attr(feature = "openapi", schema(example = "EUR"))]
    pub currency: String,
    /// The effective rate (compared-currency units per unit of the offer's
    /// currency, through the base when neither is the base), rounded half to
    /// even to 10 significant digits.
    #[cfg_attr(feature = "openapi", schema(value_type = String, example = "0.9248982612"))]
    pub rate: Decimal,
}

/// The converted total per one canonical unit.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct UnitPrice {
    /// The exact converted total divided by the quantity in canonical units,
    /// rounded half to even to 4 decimals more than the currency's.
    #[cfg_attr(feature = "openapi", schema(value_type = String, example = "5.000000"))]
    pub amount: Decimal,
    /// The compared currency.
    #[cfg_attr(feature = "openapi", schema(example = "EUR"))]
    pub currency: String,
    /// `kg`, `l`, `m` or `piece`; any other unit's own text, trimmed and
    /// lower-cased.
    #[cfg_attr(feature = "openapi", schema(example = "kg"))]
    pub per: String,
}

// ---------------------------------------------------------------- units

/// The canonical units, in the order their groups are listed.
const CANONICAL: [&str; 4] = ["kg", "l", "m", "piece"];

/// How one of a unit compares: in which canonical unit (or its own text), and
/// how many of that one is.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Measure {
    /// `kg`, `l`, `m`, `piece`, or the unit's own text, trimmed and lower-cased.
    pub per: String,
    /// How many `per` one of the unit is, as an exact decimal.
    pub factor: Decimal,
}

/// `mantissa × 10^-scale`, in a constant.
const fn dec(mantissa: u64, scale: u32) -> Decimal {
    Decimal::from_parts(mantissa as u32, (mantissa >> 32) as u32, 0, false, scale)
}

/// The units of each dimension and their legal factors (3.7b).
const UNITS: &[(&str, &str, Decimal)] = &[
    ("g", "kg", dec(1, 3)),
    ("kg", "kg", Decimal::ONE),
    ("t", "kg", Decimal::ONE_THOUSAND),
    ("lb", "kg", dec(45_359_237, 8)),
    ("oz", "kg", dec(28_349_523_125, 12)),
    ("ml", "l", dec(1, 3)),
    ("cl", "l", dec(1, 2)),
    ("l", "l", Decimal::ONE),
    ("m3", "l", Decimal::ONE_THOUSAND),
    ("gal", "l", dec(3_785_411_784, 9)),
    ("mm", "m", dec(1, 3)),
    ("cm", "m", dec(1, 2)),
    ("m", "m", Decimal::ONE),
    ("km", "m", Decimal::ONE_THOUSAND),
    ("in", "m", dec(254, 4)),
    ("ft", "m", dec(3048, 4)),
    ("pc", "piece", Decimal::ONE),
    ("piece", "piece", Decimal::ONE),
    ("pieces", "piece", Decimal::ONE),
    ("unit", "piece", Decimal::ONE),
    ("units", "piece", Decimal::ONE),
    ("ea", "piece", Decimal::ONE),
    ("each", "piece", Decimal::ONE),
    ("dozen", "piece", dec(12, 0)),
];

/// What one of `unit` is: a known unit in its canonical one (case-insensitive,
/// surrounding spaces ignored), any other text as itself (trimmed,
/// lower-cased), and no unit as a piece (a bare quantity counts things).
pub fn measure(unit: Option<&str>) -> Measure {
    let text = unit.map(|u| u.trim().to_lowercase()).unwrap_or_default();
    if text.is_empty() {
        return Measure {
            per: "piece".into(),
            factor: Decimal::ONE,
        };
    }
    match UNITS.iter().find(|(name, _, _)| *name == text) {
        Some((_, per, factor)) => Measure {
            per: (*per).into(),
            factor: *factor,
        },
        None => Measure {
            per: text,
            factor: Decimal::ONE,
        },
    }
}

// ---------------------------------------------------------------- comparing

/// Compares `sellers` in `currency` with the day of `rates` (the latest on
/// or before `date`): converts each total, divides it by its quantity in
/// canonical units, and sorts them in the contract's total order. `currency`
/// is an ISO 4217 code (the query checked it).
pub fn compare(
    sellers: Vec<Seller>,
    rates: Option<&ExchangeRates>,
    currency: &str,
    date: Date,
    max_age: std::time::Duration,
) -> OfferList {
    let decimals = money::minor_unit(currency).unwrap_or(0);
    let mut offers: Vec<Offer> = sellers
        .into_iter()
        .map(|seller| offer(seller, rates, currency, decimals))
        .collect();
    offers.sort_by(order);
    let rates_stale = rates.is_some_and(|r| {
        let age = date - r.date;
        time::Duration::try_from(max_age).is_ok_and(|max| age > max)
    });
    OfferList {
        currency: currency.to_owned(),
        rates_date: rates.map(|r| r.date),
        rates_stale,
        items: offers,
    }
}

fn offer(seller: Seller, rates: Option<&ExchangeRates>, currency: &str, decimals: u32) -> Offer {
    let p = &seller.product;
    // A code no longer in the table (only a row written around the API)
    // shows its minor units as they are, and converts to nothing.
    let own = money::minor_unit(&p.currency);
    let price = Price {
        amount: money::amount(p.price_minor, own.unwrap_or(0)).unwrap_or_default(),
        currency: p.currency.clone(),
    };
    let conversion = rates.and_then(|r| money::convert(p.price_minor, &p.currency, currency, r));
    let unit_price = conversion.and_then(|c| {
        let quantity = p.quantity?;
        let m = measure(p.unit.as_deref());
        let units = Ratio::of(Decimal::from(quantity))?.times(Ratio::of(m.factor)?)?;
        let amount = c
            .exact
            .over(units)?
            .round(i32::try_from(decimals + 4).ok()?)?;
        Some(UnitPrice {
            amount,
            currency: currency.to_owned(),
            per: m.per,
        })
    });
    Offer {
        converted: conversion.map(|c| Converted {
            amount: c.amount,
            currency: currency.to_owned(),
            rate: c.rate,
        }),
        unit_price,
        price,
        seller,
    }
}

/// Offers with a unit price first, grouped by `per` (`kg`, `l`, `m`,
/// `piece`, then other units alphabetically), each group by unit price;
/// then those with only a converted total, by it; then the rest by currency
/// code and `priceMinor`; ties by the seller's `createdAt`, then id. Shown
/// (rounded) values are compared, so offers that look equal are ordered by
/// age, the same way on every call.
fn order(a: &Offer, b: &Offer) -> Ordering {
    fn tier(o: &Offer) -> u8 {
        match (&o.unit_price, &o.converted) {
            (Some(_), _) => 0,
            (None, Some(_)) => 1,
            (None, None) => 2,
        }
    }
    fn group(per: &str) -> (usize, &str) {
        match CANONICAL.iter().position(|c| *c == per) {
            Some(i) => (i, ""),
            None => (CANONICAL.len(), per),
        }
    }
    let by_value = match (&a.unit_price, &b.unit_price, &a.converted, &b.converted) {
        (Some(x), Some(y), _, _) => group(&x.per)
            .cmp(&group(&y.per))
            .then(x.amount.cmp(&y.amount)),
        (None, None, Some(x), Some(y)) => x.amount.cmp(&y.amount),
        _ => Ordering::Equal,
    };
    let (sa, sb) = (&a.seller, &b.seller);
    tier(a)
        .cmp(&tier(b))
        .then(by_value)
        .then_with(|| {
            if tier(a) == 2 {
                (&sa.product.currency, sa.product.price_minor)
                    .cmp(&(&sb.product.currency, sb.product.price_minor))
            } else {
                Ordering::Equal
            }
        })
        .then(sa.created_at.cmp(&sb.created_at))
        .then(sa.id.cmp(&sb.id))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;
    use domain::{ChatSessionId, Product, SellerId};
    use proptest::prelude::*;
    use std::str::FromStr;
    use std::time::Duration;
    use time::macros::{date, datetime};

    const WEEK: Duration = Duration::from_secs(7 * 86_400);

    fn seller(
        n: u8,
        price_minor: i64,
        currency: &str,
        quantity: Option<i64>,
        unit: Option<&str>,
    ) -> Seller {
        let at = datetime!(2026-12-01 00:00 UTC) + time::Duration::seconds(i64::from(n));
        Seller {
            id: SellerId(uuid::Uuid::from_u128(u128::from(n))),
            session_id: ChatSessionId(uuid::Uuid::nil()),
            name: format!("seller {n}"),
            email: None,
            phone: None,
            product: Product {
                name: "goods".into(),
                description: None,
                price_minor,
                currency: currency.into(),
                quantity,
                unit: unit.map(str::to_owned),
            },
            created_at: at,
            updated_at: at,
        }
    }

    fn rates(on: Date, list: &[(&str, &str)]) -> ExchangeRates {
        ExchangeRates {
            base: "EUR".into(),
            date: on,
            rates: list
                .iter()
                .map(|(c, r)| ((*c).to_owned(), Decimal::from_str(r).unwrap()))
                .collect(),
        }
    }

    fn names(list: &OfferList) -> Vec<String> {
        list.items.iter().map(|o| o.seller.name.clone()).collect()
    }

    #[test]
    fn units_are_normalised_with_their_legal_factors() {
        for (unit, per, factor) in [
            (Some(" KG "), "kg", "1"),
            (Some("g"), "kg", "0.001"),
            (Some("t"), "kg", "1000"),
            (Some("Lb"), "kg", "0.45359237"),
            (Some("oz"), "kg", "0.028349523125"),
            (Some("ml"), "l", "0.001"),
            (Some("cl"), "l", "0.01"),
            (Some("m3"), "l", "1000"),
            (Some("gal"), "l", "3.785411784"),
            (Some("mm"), "m", "0.001"),
            (Some("km"), "m", "1000"),
            (Some("in"), "m", "0.0254"),
            (Some("ft"), "m", "0.3048"),
            (Some("Pieces"), "piece", "1"),
            (Some("each"), "piece", "1"),
            (Some("Dozen"), "piece", "12"),
            (None, "piece", "1"),
            (Some("  Crate "), "crate", "1"),
        ] {
            let m = measure(unit);
            assert_eq!(
                (m.per.as_str(), m.factor.to_string()),
                (per, factor.to_owned()),
                "{unit:?}"
            );
        }
    }

    #[test]
    fn ten_kilograms_and_five_hundred_grams_compare_per_kilogram() {
        let list = compare(
            vec![
                seller(1, 5000, "EUR", Some(10), Some("kg")),
                seller(2, 300, "EUR", Some(500), Some("g")),
            ],
            Some(&rates(date!(2026 - 12 - 04), &[("USD", "1.0812")])),
            "EUR",
            date!(2026 - 12 - 04),
            WEEK,
        );
        let per_kg: Vec<(String, String)> = list
            .items
            .iter()
            .map(|o| {
                let u = o.unit_price.as_ref().unwrap();
                (u.amount.to_string(), u.per.clone())
            })
            .collect();
        assert_eq!(
            per_kg,
            [
                ("5.000000".into(), "kg".into()),
                ("6.000000".into(), "kg".into())
            ]
        );
    }

    #[test]
    fn the_order_is_units_then_converted_then_the_rest() {
        let sellers = vec![
            seller(1, 100, "GBP", None, None),              // no rate: rest
            seller(2, 100, "CHF", None, None),              // no rate: rest, CHF < GBP
            seller(3, 50, "GBP", Some(1), None),            // no rate: rest
            seller(4, 900, "EUR", None, None),              // converted only
            seller(5, 800, "EUR", None, None),              // converted only, cheaper
            seller(6, 1200, "EUR", Some(1), Some("dozen")), // 1.00 per piece
            seller(7, 500, "EUR", Some(1), Some("kg")),     // 5.00 per kg
            seller(8, 100, "EUR", Some(1), Some("l")),      // 1.00 per l
            seller(9, 100, "EUR", Some(1), Some("crate")),  // other unit
            seller(10, 100, "EUR", Some(1), Some("box")),   // other unit, box < crate
            seller(11, 400, "EUR", Some(1), Some("kg")),    // 4.00 per kg
            seller(12, 100, "EUR", Some(1), Some("pc")),    // 1.00 per piece, younger than 6
        ];
        let list = compare(
            sellers,
            Some(&rates(date!(2026 - 12 - 04), &[])),
            "EUR",
            date!(2026 - 12 - 04),
            WEEK,
        );
        let want: Vec<String> = [11, 7, 8, 6, 12, 10, 9, 5, 4, 2, 3, 1]
            .iter()
            .map(|n| format!("seller {n}"))
            .collect();
        assert_eq!(names(&list), want);
    }

    #[test]
    fn without_rates_nothing_is_converted_and_there_is_no_rates_date() {
        let list = compare(
            vec![seller(1, 100, "EUR", Some(1), Some("kg"))],
            None,
            "EUR",
            date!(2026 - 12 - 04),
            WEEK,
        );
        assert_eq!(list.rates_date, None);
        assert!(!list.rates_stale);
        assert_eq!(list.items[0].converted, None);
        assert_eq!(list.items[0].unit_price, None);
        assert_eq!(list.items[0].price.amount.to_string(), "1.00");
    }

    #[test]
    fn rates_older_than_the_maximum_age_are_stale() {
        let stale = |rates_on: Date| {
            compare(
                vec![],
                Some(&rates(rates_on, &[])),
                "EUR",
                date!(2026 - 12 - 11),
                WEEK,
            )
            .rates_stale
        };
        assert!(!stale(date!(2026 - 12 - 11)));
        assert!(!stale(date!(2026 - 12 - 04)));
        assert!(stale(date!(2026 - 12 - 03)));
    }

    proptest! {
        /// The order is total and does not depend on the order the store
        /// read the sellers in.
        #[test]
        fn the_order_does_not_depend_on_the_input_order(
            offers in proptest::collection::vec(
                (0i64..2000, prop::sample::select(vec!["EUR", "USD", "GBP", "JPY"]),
                 proptest::option::of(1i64..20),
                 proptest::option::of(prop::sample::select(vec!["kg", "g", "l", "dozen", "pc", "box", "Box "]))),
                0..12),
            seed in any::<u64>(),
        ) {
            let sellers: Vec<Seller> = offers
                .iter()
                .enumerate()
                .map(|(i, (p, c, q, u))| seller(i as u8, *p, c, *q, *u))
                .collect();
            let r = rates(date!(2026 - 12 - 04), &[("USD", "1.0812"), ("JPY", "157.12")]);
            let day = date!(2026 - 12 - 04);
            let sorted = names(&compare(sellers.clone(), Some(&r), "USD", day, WEEK));
            let mut shuffled = sellers;
            let n = shuffled.len().max(1);
            shuffled.rotate_left((seed as usize) % n);
            shuffled.reverse();
            prop_assert_eq!(names(&compare(shuffled, Some(&r), "USD", day, WEEK)), sorted);
        }

        /// Ten offers of a tenth compare equal per piece to one offer of the whole.
        #[test]
        fn a_tenth_ten_times_is_the_whole_per_piece(cents in 1i64..=100_000_000, rate in 1i64..=9_999_999_999i64, scale in 0u32..=9) {
            let r = ExchangeRates {
                base: "EUR".into(),
                date: date!(2026 - 12 - 04),
                rates: [("USD".to_owned(), Decimal::new(rate, scale))].into(),
            };
            let list = compare(
                vec![seller(1, cents, "EUR", Some(1), Some("pc")), seller(2, cents * 10, "EUR", Some(10), Some("pc"))],
                Some(&r),
                "USD",
                date!(2026 - 12 - 04),
                WEEK,
            );
            let unit = |i: usize| list.items[i].unit_price.as_ref().map(|u| u.amount);
            prop_assert_eq!(unit(0), unit(1));
            prop_assert_eq!(names(&list), vec!["seller 1".to_owned(), "seller 2".to_owned()]);
        }
    }
}
