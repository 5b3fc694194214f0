//! Vendors and sellers. Every write takes the chat session's row lock first and
//! bumps its `updated_at` in the same transaction; seller inserts count against
//! the cap under that lock, and a delete gives the place back.

use crate::PgStore;
use crate::events::notify;
use crate::rows::VendorRow;
use crate::rows::sql::lower_text;
use crate::schema::{chat_sessions, exchange_rate_dates, exchange_rates, sellers, vendors};
use diesel::dsl::now;
use diesel::prelude::*;
use domain::events::EventKind;
use domain::ports::*;
use domain::*;
use rust_decimal::Decimal;
use time::{Date, OffsetDateTime};
use uuid::Uuid;

#[derive(Insertable)]
#[diesel(table_name = vendors)]
struct NewVendorRow<'a> {
    id: Uuid,
    session_id: Uuid,
    name: &'a str,
    email: Option<&'a str>,
    phone: Option<&'a str>,
    website: Option<&'a str>,
    address: Option<&'a str>,
    notes: Option<&'a str>,
}

#[derive(AsChangeset)]
#[diesel(table_name = vendors)]
struct VendorChangeset<'a> {
    name: Option<&'a str>,
    email: Option<Option<&'a str>>,
    phone: Option<Option<&'a str>>,
    website: Option<Option<&'a str>>,
    address: Option<Option<&'a str>>,
    notes: Option<Option<&'a str>>,
}

#[derive(Queryable, Selectable)]
#[diesel(table_name = sellers, check_for_backend(diesel::pg::Pg))]
struct SellerRow {
    id: Uuid,
    session_id: Uuid,
    name: String,
    email: Option<String>,
    phone: Option<String>,
    product_name: String,
    product_description: Option<String>,
    price_minor: i64,
    currency: String,
    quantity: Option<i64>,
    unit: Option<String>,
    created_at: OffsetDateTime,
    updated_at: OffsetDateTime,
}

impl SellerRow {
    fn into_domain(self) -> Seller {
        Seller {
            id: SellerId(self.id),
            session_id: ChatSessionId(self.session_id),
            name: self.name,
            email: self.email,
            phone: self.phone,
            product: Product {
                name: self.product_name,
                description: self.product_description,
                price_minor: self.price_minor,
                currency: self.currency,
                quantity: self.quantity,
                unit: self.unit,
            },
            created_at: self.created_at,
            updated_at: self.updated_at,
        }
    }
}

#[derive(Insertable)]
#[diesel(table_name = sellers)]
struct NewSellerRow<'a> {
    id: Uuid,
    session_id: Uuid,
    name: &'a str,
    email: Option<&'a str>,
    phone: Option<&'a str>,
    product_name: &'a str,
    product_description: Option<&'a str>,
    price_minor: i64,
    currency: &'a str,
    quantity: Option<i64>,
    unit: Option<&'a str>,
}

#[derive(AsChangeset)]
#[diesel(table_name = sellers)]
struct SellerChangeset<'a> {
    name: Option<&'a str>,
    email: Option<Option<&'a str>>,
    phone: Option<Option<&'a str>>,
    product_name: Option<&'a str>,
    product_description: Option<Option<&'a str>>,
    price_minor: Option<i64>,
    currency: Option<&'a str>,
    quantity: Option<Option<i64>>,
    unit: Option<Option<&'a str>>,
}

fn opt(v: &Option<String>) -> Option<&str> {
    v.as_deref()
}

/// A vendor by id (a webhook's snapshot of `vendor.changed`).
pub(crate) fn vendor_by_id(c: &mut PgConnection, id: Uuid) -> QueryResult<Option<Vendor>> {
    vendors::table
        .find(id)
        .select(VendorRow::as_select())
        .first(c)
        .optional()
        .map(|v| v.map(VendorRow::into_domain))
}

/// A seller by id (a webhook's snapshot of `seller.changed`).
pub(crate) fn seller_by_id(c: &mut PgConnection, id: Uuid) -> QueryResult<Option<Seller>> {
    sellers::table
        .find(id)
        .select(SellerRow::as_select())
        .first(c)
        .optional()
        .map(|s| s.map(SellerRow::into_domain))
}

fn opt_change(v: &Option<Option<String>>) -> Option<Option<&str>> {
    v.as_ref().map(|inner| inner.as_deref())
}

/// Bumps the session's `updated_at` (taking its row lock); false if it is gone.
fn touch_session(c: &mut PgConnection, session: Uuid) -> QueryResult<bool> {
    let n = diesel::update(chat_sessions::table.find(session))
        .set(chat_sessions::updated_at.eq(now))
        .execute(c)?;
    Ok(n > 0)
}

/// Locks the session row: every vendor and seller write takes it first, so
/// writers of one session queue in one order and never deadlock.
fn lock_session(c: &mut PgConnection, session: Uuid) -> QueryResult<()> {
    chat_sessions::table
        .find(session)
        .select(chat_sessions::id)
        .for_update()
        .first::<Uuid>(c)
        .optional()
        .map(|_| ())
}

/// The session of a vendor, with that session's row locked.
fn vendor_session(c: &mut PgConnection, id: Uuid) -> QueryResult<Option<Uuid>> {
    let session = vendors::table
        .find(id)
        .select(vendors::session_id)
        .first::<Uuid>(c)
        .optional()?;
    if let Some(s) = session {
        lock_session(c, s)?;
    }
    Ok(session)
}

/// The session of a seller, with that session's row locked.
fn seller_session(c: &mut PgConnection, id: Uuid) -> QueryResult<Option<Uuid>> {
    let session = sellers::table
        .find(id)
        .select(sellers::session_id)
        .first::<Uuid>(c)
        .optional()?;
    if let Some(s) = session {
        lock_session(c, s)?;
    }
    Ok(session)
}

#[derive(Insertable)]
#[diesel(table_name = exchange_rates)]
struct NewRateRow<'a> {
    date: Date,
    currency: &'a str,
    rate: Decimal,
}

/// Serialises writers of exchange rates for their transaction (the first
/// key is the rates namespace, `rate`): each compares a day with what it
/// holds, then writes the difference.
const LOCK_RATES_SQL: &str = "SELECT pg_advisory_xact_lock(1918989413, 0)";

/// Replaces what `day.date` held with `day`, writing only what differs: a
/// day stored again as it is writes nothing.
fn replace_day(c: &mut PgConnection, day: &ExchangeRates) -> QueryResult<()> {
    use exchange_rate_dates as d;
    use exchange_rates as r;
    let held = day_of(c, day.date)?;
    match &held {
        None => {
            diesel::insert_into(d::table)
                .values((d::date.eq(day.date), d::base.eq(&day.base)))
                .execute(c)?;
        }
        Some(held) if held.base != day.base => {
            diesel::update(d::table.find(day.date))
                .set(d::base.eq(&day.base))
                .execute(c)?;
        }
        Some(_) => {}
    }
    let held = held.map(|h| h.rates).unwrap_or_default();
    let gone: Vec<&str> = held
        .keys()
        .filter(|c| !day.rates.contains_key(*c))
        .map(String::as_str)
        .collect();
    if !gone.is_empty() {
        diesel::delete(
            r::table
                .filter(r::date.eq(day.date))
                .filter(r::currency.eq_any(&gone)),
        )
        .execute(c)?;
    }
    let mut new = Vec::new();
    for (currency, rate) in &day.rates {
        match held.get(currency) {
            None => new.push(NewRateRow {
                date: day.date,
                currency,
                rate: *rate,
            }),
            Some(was) if was != rate => {
                diesel::update(r::table.find((day.date, currency)))
                    .set(r::rate.eq(rate))
                    .execute(c)?;
            }
            Some(_) => {}
        }
    }
    if !new.is_empty() {
        diesel::insert_into(r::table).values(&new).execute(c)?;
    }
    Ok(())
}

/// The day of rates stored for exactly `date`.
fn day_of(c: &mut PgConnection, date: Date) -> QueryResult<Option<ExchangeRates>> {
    let base: Option<String> = exchange_rate_dates::table
        .find(date)
        .select(exchange_rate_dates::base)
        .first(c)
        .optional()?;
    base.map(|base| with_rates(c, date, base)).transpose()
}

/// The latest day of rates on or before `date`.
fn rates_on(c: &mut PgConnection, date: Date) -> QueryResult<Option<ExchangeRates>> {
    let day: Option<(Date, String)> = exchange_rate_dates::table
        .filter(exchange_rate_dates::date.le(date))
        .order(exchange_rate_dates::date.desc())
        .select((exchange_rate_dates::date, exchange_rate_dates::base))
        .first(c)
        .optional()?;
    day.map(|(date, base)| with_rates(c, date, base))
        .transpose()
}

fn with_rates(c: &mut PgConnection, date: Date, base: String) -> QueryResult<ExchangeRates> {
    let rates: Vec<(String, Decimal)> = exchange_rates::table
        .filter(exchange_rates::date.eq(date))
        .select((exchange_rates::currency, exchange_rates::rate))
        .load(c)?;
    Ok(ExchangeRates {
        base,
        date,
        rates: rates
            .into_iter()
            .map(|(currency, rate)| (currency, rate.normalize()))
            .collect(),
    })
}

/// Runs `f` in a read-only transaction that sees one snapshot throughout.
fn snapshot<T>(
    c: &mut PgConnection,
    f: impl FnOnce(&mut PgConnection) -> QueryResult<T>,
) -> QueryResult<T> {
    c.build_transaction().read_only().repeatable_read().run(f)
}

impl MarketStore for PgStore {
    fn create_vendor(
        &self,
        id: VendorId,
        session: ChatSessionId,
        fields: &VendorFields,
    ) -> StoreResult<Vendor> {
        self.tx(|c| {
            if !touch_session(c, session.0)? {
                return Err(diesel::result::Error::NotFound);
            }
            let row = NewVendorRow {
                id: id.0,
                session_id: session.0,
                name: &fields.name,
                email: opt(&fields.email),
                phone: opt(&fields.phone),
                website: opt(&fields.website),
                address: opt(&fields.address),
                notes: opt(&fields.notes),
            };
            let vendor = diesel::insert_into(vendors::table)
                .values(row)
                .returning(VendorRow::as_returning())
                .get_result(c)?;
            notify(c, session.0, EventKind::VendorChanged, id.0)?;
            Ok(vendor.into_domain())
        })
    }

    fn vendor_of_session(&self, session: ChatSessionId) -> StoreResult<Option<Vendor>> {
        self.run(|c| {
            vendors::table
                .filter(vendors::session_id.eq(session.0))
                .select(VendorRow::as_select())
                .first(c)
                .optional()
                .map(|v| v.map(VendorRow::into_domain))
        })
    }

    fn vendor(&self, id: VendorId) -> StoreResult<Option<(Vendor, UserId)>> {
        self.run(|c| {
            vendors::table
                .inner_join(chat_sessions::table)
                .filter(vendors::id.eq(id.0))
                .select((VendorRow::as_select(), chat_sessions::user_id))
                .first::<(VendorRow, Uuid)>(c)
                .optional()
                .map(|v| v.map(|(v, owner)| (v.into_domain(), UserId(owner))))
        })
    }

    fn update_vendor(&self, id: VendorId, changes: &VendorChanges) -> StoreResult<Option<Vendor>> {
        self.tx(|c| {
            let Some(session) = vendor_session(c, id.0)? else {
                return Ok(None);
            };
            let set = VendorChangeset {
                name: changes.name.as_deref(),
                email: opt_change(&changes.email),
                phone: opt_change(&changes.phone),
                website: opt_change(&changes.website),
                address: opt_change(&changes.address),
                notes: opt_change(&changes.notes),
            };
            let vendor = diesel::update(vendors::table.find(id.0))
                .set((set, vendors::updated_at.eq(now)))
                .returning(VendorRow::as_returning())
                .get_result(c)
                .optional()?;
            if vendor.is_some() {
                touch_session(c, session)?;
                notify(c, session, EventKind::VendorChanged, id.0)?;
            }
            Ok(vendor.map(VendorRow::into_domain))
        })
    }

    fn delete_vendor(&self, id: VendorId) -> StoreResult<bool> {
        self.tx(|c| {
            let Some(session) = vendor_session(c, id.0)? else {
                return Ok(false);
            };
            let deleted = diesel::delete(vendors::table.find(id.0)).execute(c)? > 0;
            if deleted {
                touch_session(c, session)?;
                notify(c, session, EventKind::VendorChanged, id.0)?;
            }
            Ok(deleted)
        })
    }

    fn add_seller(
        &self,
        id: SellerId,
        session: ChatSessionId,
        fields: &SellerFields,
        cap: i32,
    ) -> StoreResult<SellerAdded> {
        self.tx(|c| {
            // The row lock serialises concurrent inserts; each sees the count the
            // previous one left.
            let counted: Option<Uuid> = diesel::update(
                chat_sessions::table
                    .find(session.0)
                    .filter(chat_sessions::seller_count.lt(cap)),
            )
            .set((
                chat_sessions::seller_count.eq(chat_sessions::seller_count + 1),
                chat_sessions::updated_at.eq(now),
            ))
            .returning(chat_sessions::id)
            .get_result(c)
            .optional()?;
            if counted.is_none() {
                let exists: Option<Uuid> = chat_sessions::table
                    .find(session.0)
                    .select(chat_sessions::id)
                    .first(c)
                    .optional()?;
                return Ok(match exists {
                    Some(_) => SellerAdded::CapReached,
                    None => SellerAdded::NoSession,
                });
            }
            let p = &fields.product;
            let row = NewSellerRow {
                id: id.0,
                session_id: session.0,
                name: &fields.name,
                email: opt(&fields.email),
                phone: opt(&fields.phone),
                product_name: &p.name,
                product_description: opt(&p.description),
                price_minor: p.price_minor,
                currency: &p.currency,
                quantity: p.quantity,
                unit: opt(&p.unit),
            };
            let seller = diesel::insert_into(sellers::table)
                .values(row)
                .returning(SellerRow::as_returning())
                .get_result(c)?;
            notify(c, session.0, EventKind::SellerChanged, id.0)?;
            Ok(SellerAdded::Added(Box::new(seller.into_domain())))
        })
    }

    fn sellers(&self, session: ChatSessionId, sort: SellerSort) -> StoreResult<Vec<Seller>> {
        self.run(|c| {
            let q = sellers::table
                .filter(sellers::session_id.eq(session.0))
                .select(SellerRow::as_select())
                .into_boxed();
            let q = match sort {
                SellerSort::CreatedAt => q.order((sellers::created_at.asc(), sellers::id.asc())),
                // Amounts of different currencies are not compared: by
                // currency, then price within it (the offers route converts).
                SellerSort::PriceAsc => q.order((
                    sellers::currency.asc(),
                    sellers::price_minor.asc(),
                    sellers::id.asc(),
                )),
                SellerSort::PriceDesc => q.order((
                    sellers::currency.asc(),
                    sellers::price_minor.desc(),
                    sellers::id.asc(),
                )),
                SellerSort::Name => q.order((lower_text(sellers::name).asc(), sellers::id.asc())),
            };
            Ok(q.load(c)?.into_iter().map(SellerRow::into_domain).collect())
        })
    }

    fn seller(&self, id: SellerId) -> StoreResult<Option<(Seller, UserId)>> {
        self.run(|c| {
            sellers::table
                .inner_join(chat_sessions::table)
                .filter(sellers::id.eq(id.0))
                .select((SellerRow::as_select(), chat_sessions::user_id))
                .first::<(SellerRow, Uuid)>(c)
                .optional()
                .map(|s| s.map(|(s, owner)| (s.into_domain(), UserId(owner))))
        })
    }

    fn update_seller(&self, id: SellerId, changes: &SellerChanges) -> StoreResult<Option<Seller>> {
        self.tx(|c| {
            let Some(session) = seller_session(c, id.0)? else {
                return Ok(None);
            };
            let set = SellerChangeset {
                name: changes.name.as_deref(),
                email: opt_change(&changes.email),
                phone: opt_change(&changes.phone),
                product_name: changes.product_name.as_deref(),
                product_description: opt_change(&changes.description),
                price_minor: changes.price_minor,
                currency: changes.currency.as_deref(),
                quantity: changes.quantity,
                unit: opt_change(&changes.unit),
            };
            let seller = diesel::update(sellers::table.find(id.0))
                .set((set, sellers::updated_at.eq(now)))
                .returning(SellerRow::as_returning())
                .get_result(c)
                .optional()?;
            if seller.is_some() {
                touch_session(c, session)?;
                notify(c, session, EventKind::SellerChanged, id.0)?;
            }
            Ok(seller.map(SellerRow::into_domain))
        })
    }

    fn delete_seller(&self, id: SellerId) -> StoreResult<bool> {
        self.tx(|c| {
            let Some(session) = seller_session(c, id.0)? else {
                return Ok(false);
            };
            let deleted = diesel::delete(sellers::table.find(id.0)).execute(c)? > 0;
            if deleted {
                diesel::update(chat_sessions::table.find(session))
                    .set((
                        chat_sessions::seller_count.eq(chat_sessions::seller_count - 1),
                        chat_sessions::updated_at.eq(now),
                    ))
                    .execute(c)?;
                notify(c, session, EventKind::SellerDeleted, id.0)?;
            }
            Ok(deleted)
        })
    }

    fn replace_exchange_rates(&self, days: &[ExchangeRates]) -> StoreResult<()> {
        self.tx(|c| {
            diesel::sql_query(LOCK_RATES_SQL).execute(c)?;
            days.iter().try_for_each(|day| replace_day(c, day))
        })
    }

    fn exchange_rates_on(&self, date: Date) -> StoreResult<Option<ExchangeRates>> {
        self.run(|c| snapshot(c, |c| rates_on(c, date)))
    }

    fn session_offers(
        &self,
        session: ChatSessionId,
        date: Date,
    ) -> StoreResult<Option<SessionOffers>> {
        // One snapshot for the owner, the sellers and the rates.
        self.run(|c| {
            snapshot(c, |c| {
                let owner: Option<Uuid> = chat_sessions::table
                    .find(session.0)
                    .select(chat_sessions::user_id)
                    .first(c)
                    .optional()?;
                let Some(owner) = owner else {
                    return Ok(None);
                };
                let sellers = sellers::table
                    .filter(sellers::session_id.eq(session.0))
                    .order((sellers::created_at.asc(), sellers::id.asc()))
                    .select(SellerRow::as_select())
                    .load(c)?
                    .into_iter()
                    .map(SellerRow::into_domain)
                    .collect();
                Ok(Some(SessionOffers {
                    owner: UserId(owner),
                    sellers,
                    rates: rates_on(c, date)?,
                }))
            })
        })
    }
}
