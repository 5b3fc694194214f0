//! Request bodies and queries of the market context (vendors, sellers), with
//! their garde rules. `POST` bodies use `Option` + `required`; `PATCH` bodies use
//! `Option<Option<T>>` read with [`crate::patch::nullable`]: absent stays, `null`
//! clears an optional field and is refused for a required one.

use crate::money::{MAX_RATES, NOT_A_CURRENCY, parse_rate};
use domain::patch::{integer, nullable, nullable_integer};
use domain::ports::{SellerChanges, SellerFields, SellerSort, VendorChanges, VendorFields};
use domain::text::{normalize_email, trim, trim_opt};
use domain::timefmt;
use domain::validation::{Parse, no_nul};
use domain::{DomainError, ExchangeRates, Product};
use rust_decimal::Decimal;
use serde::Deserialize;
use std::collections::BTreeMap;
use time::Date;

/// The largest `priceMinor`: 10^12 minor units.
pub const MAX_PRICE_MINOR: i64 = domain::bounds::price_minor::MAX;
/// The largest `quantity`: 10^9.
pub const MAX_QUANTITY: i64 = domain::bounds::quantity::MAX;

pub use crate::money::{ISO_4217, is_currency};

/// A value a rule looks at, whether the field is `T`, `Option<T>` or a patch's
/// `Option<Option<T>>`.
pub(crate) trait Given<T> {
    fn given(&self) -> Option<&T>;
}

impl<T> Given<T> for Option<T> {
    fn given(&self) -> Option<&T> {
        self.as_ref()
    }
}

impl<T> Given<T> for Option<Option<T>> {
    fn given(&self) -> Option<&T> {
        self.as_ref().and_then(|v| v.as_ref())
    }
}

/// A patch may not set a required field to `null`.
pub(crate) fn not_null<T>(value: &Option<Option<T>>, _: &()) -> garde::Result {
    if matches!(value, Some(None)) {
        return Err(garde::Error::new("must not be null"));
    }
    Ok(())
}

/// `3..32` characters, only digits, spaces and `+-()`.
pub(crate) fn phone_number<V: Given<String>>(value: &V, _: &()) -> garde::Result {
    let Some(v) = value.given() else {
        return Ok(());
    };
    let n = v.chars().count();
    if !(3..=32).contains(&n) {
        return Err(garde::Error::new("must be 3 to 32 characters"));
    }
    if !v
        .chars()
        .all(|c| c.is_ascii_digit() || matches!(c, ' ' | '+' | '-' | '(' | ')'))
    {
        return Err(garde::Error::new(
            "may contain only digits, spaces and + - ( )",
        ));
    }
    Ok(())
}

/// A valid URL whose scheme is `http` or `https`.
pub(crate) fn http_url<V: Given<String>>(value: &V, _: &()) -> garde::Result {
    use garde::rules::url::Url;
    let Some(v) = value.given() else {
        return Ok(());
    };
    if v.validate_url().is_err() {
        return Err(garde::Error::new("must be a valid URL"));
    }
    let lower = v.get(..8).unwrap_or(v).to_ascii_lowercase();
    if !(lower.starts_with("http://") || lower.starts_with("https://")) {
        return Err(garde::Error::new("must be an http or https URL"));
    }
    Ok(())
}

/// A three-letter upper-case ISO 4217 code.
pub(crate) fn currency_code<V: Given<String>>(value: &V, _: &()) -> garde::Result {
    match value.given() {
        Some(v) if !is_currency(v) => Err(garde::Error::new(NOT_A_CURRENCY)),
        _ => Ok(()),
    }
}

/// Trims a patch's text; whitespace-only clears it (like an absent optional value).
fn trim_patch(value: &mut Option<Option<String>>) {
    if let Some(inner) = value {
        trim_opt(inner);
    }
}

/// Trims a patch's required text; whitespace-only stays empty and fails `length`.
fn trim_required_patch(value: &mut Option<Option<String>>) {
    if let Some(Some(v)) = value {
        trim(v);
    }
}

fn normalize_email_opt(value: &mut Option<String>) {
    trim_opt(value);
    if let Some(e) = value {
        normalize_email(e);
    }
}

fn normalize_email_patch(value: &mut Option<Option<String>>) {
    if let Some(inner) = value {
        normalize_email_opt(inner);
    }
}

// ---------------------------------------------------------------- vendors

/// `POST /sessions/{id}/vendor`.
#[derive(Clone, Debug, Default, Deserialize, garde::Validate)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct VendorInput {
    #[garde(required, length(chars, min = domain::bounds::name::MIN, max = domain::bounds::name::MAX), custom(no_nul))]
    #[cfg_attr(feature = "openapi", schema(value_type = String, required = true, min_length = 1, max_length = 200))]
    /// The vendor's name, 1 to 200 characters.
    pub name: Option<String>,
    #[garde(length(chars, max = domain::bounds::email::MAX), email, custom(no_nul))]
    #[cfg_attr(feature = "openapi", schema(format = Email, max_length = 254))]
    /// A valid email.
    pub email: Option<String>,
    #[garde(custom(phone_number))]
    /// A phone number, 3 to 32 characters: digits, spaces and `+-()`.
    pub phone: Option<String>,
    #[garde(length(chars, max = domain::bounds::website::MAX), custom(http_url), custom(no_nul))]
    #[cfg_attr(feature = "openapi", schema(max_length = 2048))]
    /// An `http` or `https` URL.
    pub website: Option<String>,
    #[garde(length(chars, max = domain::bounds::address::MAX), custom(no_nul))]
    #[cfg_attr(feature = "openapi", schema(max_length = 500))]
    /// A postal address.
    pub address: Option<String>,
    #[garde(length(chars, max = domain::bounds::notes::MAX), custom(no_nul))]
    #[cfg_attr(feature = "openapi", schema(max_length = 2000))]
    /// Free notes.
    pub notes: Option<String>,
}

impl VendorInput {
    /// Trimmed (blank optional fields become absent), email lower-cased.
    pub(crate) fn parse(mut self) -> Result<VendorFields, DomainError> {
        if let Some(n) = &mut self.name {
            trim(n);
        }
        normalize_email_opt(&mut self.email);
        trim_opt(&mut self.phone);
        trim_opt(&mut self.website);
        trim_opt(&mut self.address);
        trim_opt(&mut self.notes);
        let mut p = Parse::new(&self);
        let fields = VendorFields {
            name: p.required("name", self.name),
            email: self.email,
            phone: self.phone,
            website: self.website,
            address: self.address,
            notes: self.notes,
        };
        p.finish(fields)
    }
}

/// `PATCH /vendors/{id}`: absent stays, `null` clears (never `name`).
#[derive(Clone, Debug, Default, Deserialize, garde::Validate)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct VendorPatchInput {
    #[serde(default, deserialize_with = "nullable")]
    #[garde(custom(not_null), length(chars, min = domain::bounds::name::MIN, max = domain::bounds::name::MAX), custom(no_nul))]
    #[cfg_attr(feature = "openapi", schema(min_length = 1, max_length = 200))]
    /// A new name (not `null`).
    pub name: Option<Option<String>>,
    #[serde(default, deserialize_with = "nullable")]
    #[garde(length(chars, max = domain::bounds::email::MAX), email, custom(no_nul))]
    #[cfg_attr(feature = "openapi", schema(format = Email, max_length = 254))]
    /// A new email; `null` clears it.
    pub email: Option<Option<String>>,
    #[serde(default, deserialize_with = "nullable")]
    #[garde(custom(phone_number))]
    /// A new phone number; `null` clears it.
    pub phone: Option<Option<String>>,
    #[serde(default, deserialize_with = "nullable")]
    #[garde(length(chars, max = domain::bounds::website::MAX), custom(http_url), custom(no_nul))]
    #[cfg_attr(feature = "openapi", schema(max_length = 2048))]
    /// A new website; `null` clears it.
    pub website: Option<Option<String>>,
    #[serde(default, deserialize_with = "nullable")]
    #[garde(length(chars, max = domain::bounds::address::MAX), custom(no_nul))]
    #[cfg_attr(feature = "openapi", schema(max_length = 500))]
    /// A new address; `null` clears it.
    pub address: Option<Option<String>>,
    #[serde(default, deserialize_with = "nullable")]
    #[garde(length(chars, max = domain::bounds::notes::MAX), custom(no_nul))]
    #[cfg_attr(feature = "openapi", schema(max_length = 2000))]
    /// New notes; `null` clears them.
    pub notes: Option<Option<String>>,
}

impl VendorPatchInput {
    /// Absent stays, `null` clears; `name` may not be `null`.
    pub(crate) fn parse(mut self) -> Result<VendorChanges, DomainError> {
        trim_required_patch(&mut self.name);
        normalize_email_patch(&mut self.email);
        trim_patch(&mut self.phone);
        trim_patch(&mut self.website);
        trim_patch(&mut self.address);
        trim_patch(&mut self.notes);
        Parse::new(&self).finish(VendorChanges {
            name: self.name.flatten(),
            email: self.email,
            phone: self.phone,
            website: self.website,
            address: self.address,
            notes: self.notes,
        })
    }
}

// ---------------------------------------------------------------- sellers

/// The product line of `POST /sessions/{id}/sellers`.
#[derive(Clone, Debug, Default, Deserialize, garde::Validate)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct ProductInput {
    #[garde(required, length(chars, min = domain::bounds::name::MIN, max = domain::bounds::name::MAX), custom(no_nul))]
    #[cfg_attr(feature = "openapi", schema(value_type = String, required = true, min_length = 1, max_length = 200))]
    /// The product's name.
    pub name: Option<String>,
    #[garde(length(chars, max = domain::bounds::notes::MAX), custom(no_nul))]
    #[cfg_attr(feature = "openapi", schema(max_length = 2000))]
    /// A description.
    pub description: Option<String>,
    #[garde(required, range(min = domain::bounds::price_minor::MIN, max = domain::bounds::price_minor::MAX))]
    #[cfg_attr(feature = "openapi", schema(value_type = i64, required = true, minimum = 0, maximum = 1000000000000.0))]
    #[serde(default, deserialize_with = "integer")]
    /// The price in minor units of `currency` (cents for EUR), 0 or more.
    pub price_minor: Option<i64>,
    #[garde(required, custom(currency_code))]
    #[cfg_attr(feature = "openapi", schema(value_type = String, required = true))]
    /// An upper-case ISO 4217 currency code, e.g. `EUR`.
    pub currency: Option<String>,
    #[garde(range(min = domain::bounds::quantity::MIN, max = domain::bounds::quantity::MAX))]
    #[cfg_attr(feature = "openapi", schema(minimum = 1, maximum = 1000000000))]
    #[serde(default, deserialize_with = "integer")]
    /// How many are offered, 1 or more.
    pub quantity: Option<i64>,
    #[garde(length(chars, min = domain::bounds::unit::MIN, max = domain::bounds::unit::MAX), custom(no_nul))]
    #[cfg_attr(feature = "openapi", schema(min_length = 1, max_length = 20))]
    /// What one of `quantity` is (`piece`, `kg`, ...).
    pub unit: Option<String>,
}

/// `POST /sessions/{id}/sellers`.
#[derive(Clone, Debug, Default, Deserialize, garde::Validate)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct SellerInput {
    #[garde(required, length(chars, min = domain::bounds::name::MIN, max = domain::bounds::name::MAX), custom(no_nul))]
    #[cfg_attr(feature = "openapi", schema(value_type = String, required = true, min_length = 1, max_length = 200))]
    /// The seller's name, 1 to 200 characters.
    pub name: Option<String>,
    #[garde(length(chars, max = domain::bounds::email::MAX), email, custom(no_nul))]
    #[cfg_attr(feature = "openapi", schema(format = Email, max_length = 254))]
    /// The seller's email.
    pub email: Option<String>,
    #[garde(custom(phone_number))]
    /// The seller's phone number.
    pub phone: Option<String>,
    #[garde(required, dive)]
    #[cfg_attr(feature = "openapi", schema(value_type = ProductInput, required = true))]
    /// What they offer (required).
    pub product: Option<ProductInput>,
}

impl SellerInput {
    /// Trimmed (blank optional fields become absent), email lower-cased.
    pub(crate) fn parse(mut self) -> Result<SellerFields, DomainError> {
        if let Some(n) = &mut self.name {
            trim(n);
        }
        normalize_email_opt(&mut self.email);
        trim_opt(&mut self.phone);
        if let Some(p) = &mut self.product {
            if let Some(n) = &mut p.name {
                trim(n);
            }
            trim_opt(&mut p.description);
            if let Some(c) = &mut p.currency {
                trim(c);
            }
            trim_opt(&mut p.unit);
        }
        let mut p = Parse::new(&self);
        let name = p.required("name", self.name);
        let product = match self.product {
            Some(product) => Product {
                name: p.required("product.name", product.name),
                description: product.description,
                price_minor: p.required("product.priceMinor", product.price_minor),
                currency: p.required("product.currency", product.currency),
                quantity: product.quantity,
                unit: product.unit,
            },
            None => {
                p.fail("product", "is required");
                Product::default()
            }
        };
        let fields = SellerFields {
            name,
            email: self.email,
            phone: self.phone,
            product,
        };
        p.finish(fields)
    }
}

/// The product part of `PATCH /sellers/{id}`.
#[derive(Clone, Debug, Default, Deserialize, garde::Validate)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct ProductPatchInput {
    #[serde(default, deserialize_with = "nullable")]
    #[garde(custom(not_null), length(chars, min = domain::bounds::name::MIN, max = domain::bounds::name::MAX), custom(no_nul))]
    #[cfg_attr(feature = "openapi", schema(min_length = 1, max_length = 200))]
    /// A new product name (not `null`).
    pub name: Option<Option<String>>,
    #[serde(default, deserialize_with = "nullable")]
    #[garde(length(chars, max = domain::bounds::notes::MAX), custom(no_nul))]
    #[cfg_attr(feature = "openapi", schema(max_length = 2000))]
    /// A new description; `null` clears it.
    pub description: Option<Option<String>>,
    #[serde(default, deserialize_with = "nullable_integer")]
    #[garde(custom(not_null), range(min = domain::bounds::price_minor::MIN, max = domain::bounds::price_minor::MAX))]
    #[cfg_attr(feature = "openapi", schema(minimum = 0, maximum = 1000000000000.0))]
    /// A new price in minor units (not `null`).
    pub price_minor: Option<Option<i64>>,
    #[serde(default, deserialize_with = "nullable")]
    #[garde(custom(not_null), custom(currency_code))]
    /// A new currency (not `null`).
    pub currency: Option<Option<String>>,
    #[serde(default, deserialize_with = "nullable_integer")]
    #[garde(range(min = domain::bounds::quantity::MIN, max = domain::bounds::quantity::MAX))]
    #[cfg_attr(feature = "openapi", schema(minimum = 1, maximum = 1000000000))]
    /// A new quantity; `null` clears it.
    pub quantity: Option<Option<i64>>,
    #[serde(default, deserialize_with = "nullable")]
    #[garde(length(chars, min = domain::bounds::unit::MIN, max = domain::bounds::unit::MAX), custom(no_nul))]
    #[cfg_attr(feature = "openapi", schema(min_length = 1, max_length = 20))]
    /// A new unit; `null` clears it.
    pub unit: Option<Option<String>>,
}

/// `PATCH /sellers/{id}`: any fields, the product partially too.
#[derive(Clone, Debug, Default, Deserialize, garde::Validate)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct SellerPatchInput {
    #[serde(default, deserialize_with = "nullable")]
    #[garde(custom(not_null), length(chars, min = domain::bounds::name::MIN, max = domain::bounds::name::MAX), custom(no_nul))]
    #[cfg_attr(feature = "openapi", schema(min_length = 1, max_length = 200))]
    /// A new seller name (not `null`).
    pub name: Option<Option<String>>,
    #[serde(default, deserialize_with = "nullable")]
    #[garde(length(chars, max = domain::bounds::email::MAX), email, custom(no_nul))]
    #[cfg_attr(feature = "openapi", schema(format = Email, max_length = 254))]
    /// A new email; `null` clears it.
    pub email: Option<Option<String>>,
    #[serde(default, deserialize_with = "nullable")]
    #[garde(custom(phone_number))]
    /// A new phone number; `null` clears it.
    pub phone: Option<Option<String>>,
    #[garde(dive)]
    /// Changes to the product; absent fields stay.
    pub product: Option<ProductPatchInput>,
}

impl SellerPatchInput {
    /// Absent stays, `null` clears; required fields may not be `null`.
    pub(crate) fn parse(mut self) -> Result<SellerChanges, DomainError> {
        trim_required_patch(&mut self.name);
        normalize_email_patch(&mut self.email);
        trim_patch(&mut self.phone);
        if let Some(p) = &mut self.product {
            trim_required_patch(&mut p.name);
            trim_patch(&mut p.description);
            trim_required_patch(&mut p.currency);
            trim_patch(&mut p.unit);
        }
        let p = Parse::new(&self);
        let product = self.product.unwrap_or_default();
        p.finish(SellerChanges {
            name: self.name.flatten(),
            email: self.email,
            phone: self.phone,
            product_name: product.name.flatten(),
            description: product.description,
            price_minor: product.price_minor.flatten(),
            currency: product.currency.flatten(),
            quantity: product.quantity,
            unit: product.unit,
        })
    }
}

/// `GET /sessions/{id}/sellers` query.
#[derive(Clone, Debug, Default, Deserialize, garde::Validate)]
#[cfg_attr(feature = "openapi", derive(utoipa::IntoParams), into_params(parameter_in = Query))]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct SellerListQuery {
    #[garde(length(max = 20), custom(no_nul))]
    #[cfg_attr(feature = "openapi", param(max_length = 20))]
    /// `createdAt` (default), `price`, `-price` or `name`. `price` sorts by
    /// currency code, then `priceMinor` within a currency (`-price`: dearest
    /// first within each currency): amounts in different currencies are not
    /// compared; `GET /sessions/{id}/offers` compares them in one currency.
    pub sort: Option<String>,
}

impl SellerListQuery {
    /// `createdAt` (default), `price`, `-price` or `name`.
    pub(crate) fn parse(self) -> Result<SellerSort, DomainError> {
        let mut p = Parse::new(&self);
        let sort = p.parsed(
            "sort",
            match self.sort.as_deref() {
                None | Some("createdAt") => Ok(SellerSort::CreatedAt),
                Some("price") => Ok(SellerSort::PriceAsc),
                Some("-price") => Ok(SellerSort::PriceDesc),
                Some("name") => Ok(SellerSort::Name),
                Some(_) => Err("must be one of createdAt, price, -price, name"),
            },
        );
        p.finish(sort)
    }
}

// ---------------------------------------------------------------- exchange rates, offers

/// `PUT /exchange-rates/{date}`: the day's rates, replacing what it held.
#[derive(Clone, Debug, Default, Deserialize, garde::Validate)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct ExchangeRatesInput {
    #[garde(required, custom(currency_code))]
    #[cfg_attr(feature = "openapi", schema(value_type = String, required = true, example = "EUR"))]
    /// The ISO 4217 code the rates are against.
    pub base: Option<String>,
    #[garde(skip)]
    #[cfg_attr(feature = "openapi", schema(value_type = BTreeMap<String, String>, required = true))]
    /// Units of each currency per 1 unit of `base`, by upper-case ISO 4217
    /// code: positive decimal strings of at most 10 significant digits
    /// (`{"USD": "1.0812", "JPY": "157.12"}`), at most 200, the base not among them.
    pub rates: Option<BTreeMap<String, String>>,
}

impl ExchangeRatesInput {
    /// The day, validated whole: every failing rate is reported, and none is
    /// kept unless all pass.
    pub(crate) fn parse(self, date: &str) -> Result<ExchangeRates, DomainError> {
        let mut p = Parse::new(&self);
        let date = date_field(&mut p, "date", date);
        let base = p.required("base", self.base);
        let rates = p.required("rates", self.rates);
        let mut day = ExchangeRates {
            base,
            date,
            rates: BTreeMap::new(),
        };
        if rates.len() > MAX_RATES {
            p.fail("rates", format!("must hold at most {MAX_RATES} rates"));
            return p.finish(day);
        }
        for (code, text) in rates {
            let field = format!("rates.{code}");
            match rate_entry(&day.base, &code, &text) {
                Ok(rate) => {
                    day.rates.insert(code, rate);
                }
                Err(message) => p.fail(field, message),
            }
        }
        p.finish(day)
    }
}

/// One rate of a day against `base`: the code, then the rate, checked.
pub(crate) fn rate_entry(base: &str, code: &str, rate: &str) -> Result<Decimal, &'static str> {
    if !is_currency(code) {
        return Err(NOT_A_CURRENCY);
    }
    if code == base {
        return Err("must not be the base currency, whose rate is 1");
    }
    parse_rate(rate)
}

/// A `YYYY-MM-DD` date.
pub(crate) fn parse_date(text: &str) -> Result<Date, &'static str> {
    timefmt::date::parse(text).ok_or("must be a date written YYYY-MM-DD")
}

/// [`parse_date`] as a field of `p` (a placeholder on failure, which
/// [`Parse::finish`] never lets out).
fn date_field(p: &mut Parse, field: &str, text: &str) -> Date {
    parse_date(text).unwrap_or_else(|message| {
        p.fail(field, message);
        Date::MIN
    })
}

/// `GET /exchange-rates` query.
#[derive(Clone, Debug, Default, Deserialize, garde::Validate)]
#[cfg_attr(feature = "openapi", derive(utoipa::IntoParams), into_params(parameter_in = Query))]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct ExchangeRatesQuery {
    #[garde(skip)]
    #[cfg_attr(feature = "openapi", param(value_type = Option<String>, format = Date, example = "2026-12-04"))]
    /// `YYYY-MM-DD`: the latest rates on or before this day (default today, UTC).
    pub date: Option<String>,
}

impl ExchangeRatesQuery {
    /// The asked day, if one was given.
    pub(crate) fn parse(self) -> Result<Option<Date>, DomainError> {
        let mut p = Parse::new(&self);
        let date = self.date.as_deref().map(|d| date_field(&mut p, "date", d));
        p.finish(date)
    }
}

/// `GET /sessions/{id}/offers` query.
#[derive(Clone, Debug, Default, Deserialize, garde::Validate)]
#[cfg_attr(feature = "openapi", derive(utoipa::IntoParams), into_params(parameter_in = Query))]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct OffersQuery {
    #[garde(required, custom(currency_code))]
    #[cfg_attr(feature = "openapi", param(value_type = String, required = true, example = "EUR"))]
    /// The upper-case ISO 4217 code to compare in (required).
    pub currency: Option<String>,
    #[garde(skip)]
    #[cfg_attr(feature = "openapi", param(value_type = Option<String>, format = Date, example = "2026-12-04"))]
    /// `YYYY-MM-DD`: compare with the latest rates on or before this day
    /// (default today, UTC).
    pub date: Option<String>,
}

impl OffersQuery {
    /// The currency, and the day if one was given.
    pub(crate) fn parse(self) -> Result<(String, Option<Date>), DomainError> {
        let mut p = Parse::new(&self);
        let date = self.date.as_deref().map(|d| date_field(&mut p, "date", d));
        let currency = p.required("currency", self.currency);
        p.finish((currency, date))
    }
}

// ---------------------------------------------------------------- for Rust callers

impl VendorInput {
    /// A vendor named `name`, its other fields empty.
    pub fn named(name: impl Into<String>) -> Self {
        Self {
            name: Some(name.into()),
            ..Self::default()
        }
    }
}

impl ProductInput {
    /// A product line: its name, its price in the currency's minor unit
    /// (cents) and the currency's ISO 4217 code.
    ///
    /// ```
    /// use market::inputs::{ProductInput, SellerInput};
    /// let offer = SellerInput::new("Acme", ProductInput::new("Oak chair", 12_900, "EUR").per(6, "pc"));
    /// assert_eq!(offer.product.and_then(|p| p.quantity), Some(6));
    /// ```
    pub fn new(name: impl Into<String>, price_minor: i64, currency: impl Into<String>) -> Self {
        Self {
            name: Some(name.into()),
            price_minor: Some(price_minor),
            currency: Some(currency.into()),
            ..Self::default()
        }
    }

    /// The same product, its price for `quantity` of `unit` (`kg`, `pc`, …).
    pub fn per(mut self, quantity: i64, unit: impl Into<String>) -> Self {
        self.quantity = Some(quantity);
        self.unit = Some(unit.into());
        self
    }
}

impl SellerInput {
    /// A seller named `name` offering `product`.
    pub fn new(name: impl Into<String>, product: ProductInput) -> Self {
        Self {
            name: Some(name.into()),
            product: Some(product),
            ..Self::default()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sort_names_map_to_orders() {
        let sort = |s: Option<&str>| {
            SellerListQuery {
                sort: s.map(str::to_owned),
            }
            .parse()
            .ok()
        };
        assert_eq!(sort(None), Some(SellerSort::CreatedAt));
        assert_eq!(sort(Some("-price")), Some(SellerSort::PriceDesc));
        assert_eq!(sort(Some("price,name")), None);
    }

    #[test]
    fn currencies_are_upper_case_iso_codes() {
        assert!(is_currency("USD"));
        assert!(is_currency("EUR"));
        assert!(!is_currency("usd"));
        assert!(!is_currency("XXQ"));
    }
}
