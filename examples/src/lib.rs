#![warn(missing_docs)]
#![doc = include_str!("../README.md")]

use dealroom::{Actor, ChatSessionId, Dealroom, DomainError, ProductInput, Seller, SellerInput};
use std::fmt::Write as _;

pub mod stream;

/// The columns an offers CSV may have, in any order; the first line names them.
/// `seller`, `product`, `price_minor` and `currency` are required by the rules
/// (as over HTTP), the others may be left empty.
pub const COLUMNS: &[&str] = &[
    "seller",
    "email",
    "phone",
    "product",
    "description",
    "price_minor",
    "currency",
    "quantity",
    "unit",
];

/// One data line of the CSV, as the market service takes it.
#[derive(Clone, Debug)]
pub struct OfferLine {
    /// The line's number in the file (the header is line 1).
    pub line: usize,
    /// The offer, or why the line could not be read as one.
    pub offer: Result<SellerInput, String>,
}

/// Reads an offers CSV (RFC 4180, read by the `csv` crate): a header naming
/// some of [`COLUMNS`], then one offer per line. An unknown column is an error
/// of the whole file; a line that cannot be read (a wrong number of fields, a
/// price that is not a whole number) is an [`OfferLine`] with the reason, so
/// the other lines still go in. Blank lines are skipped.
pub fn read_offers(text: &str) -> Result<Vec<OfferLine>, String> {
    let mut reader = csv::ReaderBuilder::new()
        .flexible(true)
        .from_reader(text.as_bytes());
    let header: Vec<String> = reader
        .headers()
        .map_err(|e| format!("line 1: {e}"))?
        .iter()
        .map(str::to_owned)
        .collect();
    if header.iter().all(String::is_empty) {
        return Err("the file is empty".into());
    }
    for name in &header {
        if !COLUMNS.contains(&name.as_str()) {
            return Err(format!(
                "line 1: unknown column {name:?} (known: {COLUMNS:?})"
            ));
        }
    }
    Ok(reader
        .records()
        .map(|record| match record {
            Ok(record) => OfferLine {
                line: record.position().map_or(0, |p| p.line() as usize),
                offer: offer(&header, record.iter().map(str::to_owned).collect()),
            },
            Err(e) => OfferLine {
                line: e.position().map_or(0, |p| p.line() as usize),
                offer: Err(e.to_string()),
            },
        })
        .collect())
}

/// The offer a line's fields make; empty fields are absent.
fn offer(header: &[String], fields: Vec<String>) -> Result<SellerInput, String> {
    if fields.len() != header.len() {
        return Err(format!(
            "{} fields where the header names {}",
            fields.len(),
            header.len()
        ));
    }
    let mut seller = SellerInput::default();
    let mut product = ProductInput::default();
    for (name, value) in header.iter().zip(fields) {
        let value = Some(value.trim().to_owned()).filter(|v| !v.is_empty());
        let number = |v: &Option<String>| {
            v.as_deref()
                .map(str::parse::<i64>)
                .transpose()
                .map_err(|_| format!("{name}: not a whole number"))
        };
        match name.as_str() {
            "seller" => seller.name = value,
            "email" => seller.email = value,
            "phone" => seller.phone = value,
            "product" => product.name = value,
            "description" => product.description = value,
            "price_minor" => product.price_minor = number(&value)?,
            "currency" => product.currency = value,
            "quantity" => product.quantity = number(&value)?,
            "unit" => product.unit = value,
            _ => {}
        }
    }
    seller.product = Some(product);
    Ok(seller)
}

/// What an import did, line by line.
#[derive(Debug, Default)]
pub struct Report {
    /// The offers added, with their line numbers.
    pub added: Vec<(usize, Seller)>,
    /// Lines whose offer the session already holds (the market's conflict
    /// rule: the same seller and product, case-insensitively).
    pub duplicates: Vec<usize>,
    /// Lines refused, with the reason (the rules' validation, or the CSV's).
    pub invalid: Vec<(usize, String)>,
}

/// Adds each offer to the chat session as `actor`, with the market's rules: a
/// duplicate is skipped (so an import can be run again), an invalid line is
/// reported; `out` gets one line per CSV line. An error that is not about one
/// line (the session is not the actor's to change, the actor's user was
/// demoted, deactivated or deleted since the import began: the facade checks
/// the actor on every call; the database is away) stops the import and is
/// returned.
pub fn import(
    dr: &Dealroom,
    actor: &Actor,
    session: ChatSessionId,
    lines: Vec<OfferLine>,
    out: &mut String,
) -> Result<Report, DomainError> {
    let mut report = Report::default();
    for OfferLine { line, offer } in lines {
        let offer = match offer {
            Ok(o) => o,
            Err(reason) => {
                let _ = writeln!(out, "line {line}: invalid: {reason}");
                report.invalid.push((line, reason));
                continue;
            }
        };
        match dr.market.add_seller(actor, session, offer) {
            Ok(s) => {
                let _ = writeln!(
                    out,
                    "line {line}: added {} / {} at {} {} (seller {})",
                    s.name, s.product.name, s.product.price_minor, s.product.currency, s.id
                );
                report.added.push((line, s));
            }
            Err(DomainError::Conflict(why)) => {
                let _ = writeln!(out, "line {line}: duplicate, skipped: {why}");
                report.duplicates.push(line);
            }
            Err(DomainError::Validation(fields)) => {
                let reason = fields
                    .iter()
                    .map(|f| format!("{} {}", f.field, f.message))
                    .collect::<Vec<_>>()
                    .join("; ");
                let _ = writeln!(out, "line {line}: invalid: {reason}");
                report.invalid.push((line, reason));
            }
            Err(other) => return Err(other),
        }
    }
    let _ = writeln!(
        out,
        "{} added, {} duplicate, {} invalid",
        report.added.len(),
        report.duplicates.len(),
        report.invalid.len()
    );
    Ok(report)
}
