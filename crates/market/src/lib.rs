#![warn(missing_docs)]
#![doc = include_str!("../README.md")]

pub mod inputs;
pub mod money;
pub mod offers;
pub mod rate_files;

use domain::policy::{can_change_chat, can_read_chat};
use domain::ports::{ChatStore, MarketStore, SellerAdded};
use domain::*;
use inputs::{
    ExchangeRatesInput, ExchangeRatesQuery, OffersQuery, SellerInput, SellerListQuery,
    SellerPatchInput, VendorInput, VendorPatchInput,
};
use offers::OfferList;
use std::sync::Arc;
use std::time::Duration;

const SESSION: &str = "Chat session";
const VENDOR: &str = "Vendor";
const SELLER: &str = "Seller";
const RATES: &str = "Exchange rates";

/// How old rates may be before a comparison calls them stale (`RATES_MAX_AGE`).
pub const DEFAULT_RATES_MAX_AGE: Duration = Duration::from_secs(7 * 86_400);

const VENDOR_TAKEN: &str = "This chat session already has a vendor";
const OFFER_TAKEN: &str = "This seller already offers this product in this chat session";

/// Vendors and sellers' offers, with the access of their chat session.
pub struct MarketService {
    store: Arc<dyn MarketStore>,
    /// The chat context's port, for who owns a chat session (what access to its
    /// vendor and sellers follows).
    chats: Arc<dyn ChatStore>,
    max_sellers_per_session: i32,
    rates_max_age: Duration,
}

/// What `dealroom import-rates` stored.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RatesImported {
    /// Days of rates.
    pub dates: usize,
    /// Rates, over all those days.
    pub rates: usize,
}

impl MarketService {
    /// The service on its port and the chat port (for sessions' owners), with the per-session seller cap.
    pub fn new(
        store: Arc<dyn MarketStore>,
        chats: Arc<dyn ChatStore>,
        max_sellers_per_session: i32,
    ) -> Self {
        Self {
            store,
            chats,
            max_sellers_per_session,
            rates_max_age: DEFAULT_RATES_MAX_AGE,
        }
    }

    /// Rates older than `max_age` before the compared date are stale
    /// (`RATES_MAX_AGE`; default [`DEFAULT_RATES_MAX_AGE`]).
    #[must_use]
    pub fn with_rates_max_age(mut self, max_age: Duration) -> Self {
        self.rates_max_age = max_age;
        self
    }

    // ------------------------------------------------------------ vendors

    /// `POST /sessions/{id}/vendor`: one per session; a second one is a conflict,
    /// also when two registrations race.
    pub fn create_vendor(
        &self,
        actor: &Actor,
        session: ChatSessionId,
        input: VendorInput,
    ) -> Result<Vendor, DomainError> {
        self.session_to_change(actor, session)?;
        let fields = input.parse()?;
        self.store
            .create_vendor(VendorId::new(), session, &fields)
            .map_err(|e| match e {
                StoreError::Conflict(Conflict::VendorExists) => DomainError::Conflict(VENDOR_TAKEN),
                StoreError::NotFound | StoreError::MissingParent(Entity::ChatSession) => {
                    DomainError::NotFound(SESSION)
                }
                e => e.into(),
            })
    }

    /// `GET /sessions/{id}/vendor`.
    pub fn vendor_of_session(
        &self,
        actor: &Actor,
        session: ChatSessionId,
    ) -> Result<Vendor, DomainError> {
        self.session_to_read(actor, session)?;
        self.store
            .vendor_of_session(session)?
            .ok_or(DomainError::NotFound(VENDOR))
    }

    /// `GET /vendors/{id}`.
    pub fn vendor(&self, actor: &Actor, id: VendorId) -> Result<Vendor, DomainError> {
        access(self.store.vendor(id)?, actor, readable, VENDOR)
    }

    /// `PATCH /vendors/{id}`: absent fields stay, `null` clears an optional one.
    pub fn update_vendor(
        &self,
        actor: &Actor,
        id: VendorId,
        input: VendorPatchInput,
    ) -> Result<Vendor, DomainError> {
        access(self.store.vendor(id)?, actor, changeable, VENDOR)?;
        let changes = input.parse()?;
        self.store
            .update_vendor(id, &changes)?
            .ok_or(DomainError::NotFound(VENDOR))
    }

    /// `DELETE /vendors/{id}`.
    pub fn delete_vendor(&self, actor: &Actor, id: VendorId) -> Result<(), DomainError> {
        access(self.store.vendor(id)?, actor, changeable, VENDOR)?;
        found(self.store.delete_vendor(id)?, VENDOR)
    }

    // ------------------------------------------------------------ sellers

    /// `POST /sessions/{id}/sellers`: a duplicate offer is a conflict; past the
    /// per-session cap, `LimitReached`, also when inserts race.
    pub fn add_seller(
        &self,
        actor: &Actor,
        session: ChatSessionId,
        input: SellerInput,
    ) -> Result<Seller, DomainError> {
        self.session_to_change(actor, session)?;
        let fields = input.parse()?;
        let cap = self.max_sellers_per_session;
        match self
            .store
            .add_seller(SellerId::new(), session, &fields, cap)
            .map_err(seller_error)?
        {
            SellerAdded::Added(seller) => Ok(*seller),
            SellerAdded::CapReached => Err(DomainError::LimitReached(format!(
                "A chat session holds at most {cap} sellers"
            ))),
            SellerAdded::NoSession => Err(DomainError::NotFound(SESSION)),
        }
    }

    /// `GET /sessions/{id}/sellers`: all of them, in the asked order (ties by id).
    pub fn sellers(
        &self,
        actor: &Actor,
        session: ChatSessionId,
        query: SellerListQuery,
    ) -> Result<Vec<Seller>, DomainError> {
        self.session_to_read(actor, session)?;
        let sort = query.parse()?;
        Ok(self.store.sellers(session, sort)?)
    }

    /// `GET /sellers/{id}`.
    pub fn seller(&self, actor: &Actor, id: SellerId) -> Result<Seller, DomainError> {
        access(self.store.seller(id)?, actor, readable, SELLER)
    }

    /// `PATCH /sellers/{id}`: any fields, the product partially; a change that
    /// makes the offer a duplicate is a conflict.
    pub fn update_seller(
        &self,
        actor: &Actor,
        id: SellerId,
        input: SellerPatchInput,
    ) -> Result<Seller, DomainError> {
        access(self.store.seller(id)?, actor, changeable, SELLER)?;
        let changes = input.parse()?;
        self.store
            .update_seller(id, &changes)
            .map_err(seller_error)?
            .ok_or(DomainError::NotFound(SELLER))
    }

    /// `DELETE /sellers/{id}`.
    pub fn delete_seller(&self, actor: &Actor, id: SellerId) -> Result<(), DomainError> {
        access(self.store.seller(id)?, actor, changeable, SELLER)?;
        found(self.store.delete_seller(id)?, SELLER)
    }

    // ------------------------------------------------------------ exchange rates, offers

    /// `PUT /exchange-rates/{date}` (admins): the day's rates, validated
    /// whole and stored in place of what the day held; nothing is stored
    /// unless every rate passes.
    pub fn put_exchange_rates(
        &self,
        actor: &Actor,
        date: &str,
        input: ExchangeRatesInput,
    ) -> Result<ExchangeRates, DomainError> {
        if !actor.is_admin() {
            return Err(DomainError::Forbidden);
        }
        let day = input.parse(date)?;
        self.store
            .replace_exchange_rates(std::slice::from_ref(&day))?;
        Ok(day)
    }

    /// `GET /exchange-rates`: the latest day of rates on or before `date`
    /// (default today, UTC); `NotFound` if there is none.
    pub fn exchange_rates(
        &self,
        _actor: &Actor,
        query: ExchangeRatesQuery,
    ) -> Result<ExchangeRates, DomainError> {
        let date = query.parse()?.unwrap_or_else(today);
        self.store
            .exchange_rates_on(date)?
            .ok_or(DomainError::NotFound(RATES))
    }

    /// `GET /sessions/{id}/offers`: every offer of the session compared in
    /// `currency`, with the latest rates on or before `date` (default today,
    /// UTC); readable by whoever may read the session.
    pub fn offers(
        &self,
        actor: &Actor,
        session: ChatSessionId,
        query: OffersQuery,
    ) -> Result<OfferList, DomainError> {
        let (currency, date) = match query.parse() {
            Ok(parsed) => parsed,
            // Who may not read the session learns nothing, not even that
            // the query is bad.
            Err(invalid) => {
                self.session_to_read(actor, session)?;
                return Err(invalid);
            }
        };
        let date = date.unwrap_or_else(today);
        let loaded = self
            .store
            .session_offers(session, date)?
            .ok_or(DomainError::NotFound(SESSION))?;
        readable(actor, loaded.owner, SESSION)?;
        Ok(offers::compare(
            loaded.sellers,
            loaded.rates.as_ref(),
            &currency,
            date,
            self.rates_max_age,
        ))
    }

    /// `dealroom import-rates`: stores days read from a rate file
    /// ([`rate_files`]) in one transaction, each replacing what its date
    /// held; storing the same days again changes nothing.
    pub fn import_exchange_rates(
        &self,
        days: &[ExchangeRates],
    ) -> Result<RatesImported, DomainError> {
        self.store.replace_exchange_rates(days)?;
        Ok(RatesImported {
            dates: days.len(),
            rates: days.iter().map(|d| d.rates.len()).sum(),
        })
    }

    // ------------------------------------------------------------ access

    fn session_owner(&self, session: ChatSessionId) -> Result<UserId, DomainError> {
        self.chats
            .chat_session_owner(session)?
            .ok_or(DomainError::NotFound(SESSION))
    }

    fn session_to_read(&self, actor: &Actor, session: ChatSessionId) -> Result<(), DomainError> {
        readable(actor, self.session_owner(session)?, SESSION)
    }

    fn session_to_change(&self, actor: &Actor, session: ChatSessionId) -> Result<(), DomainError> {
        changeable(actor, self.session_owner(session)?, SESSION)
    }
}

/// Today in UTC, the default day of rates.
fn today() -> time::Date {
    time::OffsetDateTime::now_utc().date()
}

/// A vendor or seller as loaded with its session's owner, if the actor passes
/// `check` (`readable` or `changeable`); `NotFound` if it does not exist.
fn access<T>(
    loaded: Option<(T, UserId)>,
    actor: &Actor,
    check: fn(&Actor, UserId, &'static str) -> Result<(), DomainError>,
    what: &'static str,
) -> Result<T, DomainError> {
    let (item, owner) = loaded.ok_or(DomainError::NotFound(what))?;
    check(actor, owner, what)?;
    Ok(item)
}

/// `NotFound` unless the store found the row it was asked to act on.
fn found(acted: bool, what: &'static str) -> Result<(), DomainError> {
    if acted {
        Ok(())
    } else {
        Err(DomainError::NotFound(what))
    }
}

/// Who may not read the session does not learn that the thing exists.
fn readable(actor: &Actor, owner: UserId, what: &'static str) -> Result<(), DomainError> {
    if can_read_chat(actor, owner) {
        Ok(())
    } else {
        Err(DomainError::NotFound(what))
    }
}

/// Readers who may not change the session (agents) are refused openly.
fn changeable(actor: &Actor, owner: UserId, what: &'static str) -> Result<(), DomainError> {
    readable(actor, owner, what)?;
    if can_change_chat(actor, owner) {
        Ok(())
    } else {
        Err(DomainError::Forbidden)
    }
}

fn seller_error(e: StoreError) -> DomainError {
    match e {
        StoreError::Conflict(Conflict::DuplicateOffer) => DomainError::Conflict(OFFER_TAKEN),
        StoreError::MissingParent(Entity::ChatSession) => DomainError::NotFound(SESSION),
        e => e.into(),
    }
}
