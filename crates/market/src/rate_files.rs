//! Rate files for `dealroom import-rates` (contract 3.7b, 7): the European
//! Central Bank's reference-rate XML (the daily file `eurofxref-daily.xml`
//! and the 90-day history `eurofxref-hist-90d.xml`, base `EUR`), and a CSV
//! with the header `date,currency,rate` against a base given apart.
//!
//! Both are read as streams, element by element or record by record, into
//! days of rates checked by the rules of `PUT /exchange-rates/{date}`; the
//! first thing wrong ends the reading with an error that names its line.
//! Nothing is stored here: the caller stores the days in one transaction,
//! so a file that fails half way stores nothing.

use crate::inputs::{parse_date, rate_entry};
use crate::money::{MAX_RATES, NOT_A_CURRENCY, is_currency};
use domain::ExchangeRates;
use domain::timefmt;
use quick_xml::events::{BytesStart, Event};
use rust_decimal::Decimal;
use std::collections::BTreeMap;
use std::collections::btree_map::Entry;
use std::fmt;
use std::io::{BufRead, Read};
use time::Date;

/// The base of the ECB's reference rates.
pub const ECB_BASE: &str = "EUR";

/// Why a rate file cannot be imported: where (`line 12`), and what.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FileError {
    /// Where in the file: `line N`, or the file as a whole.
    pub at: String,
    /// What is wrong there.
    pub message: String,
}

impl FileError {
    fn new(at: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            at: at.into(),
            message: message.into(),
        }
    }

    fn line(line: u64, message: impl Into<String>) -> Self {
        Self::new(format!("line {line}"), message)
    }
}

impl fmt::Display for FileError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.at, self.message)
    }
}

impl std::error::Error for FileError {}

/// The kinds of rate file.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    /// The ECB's reference-rate XML.
    EcbXml,
    /// `date,currency,rate` lines.
    Csv,
}

/// Which kind `input` is, from its first bytes (XML starts with `<`),
/// without consuming them.
pub fn sniff(input: &mut impl BufRead) -> std::io::Result<Format> {
    let head = input.fill_buf()?;
    let head = head.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(head);
    Ok(match head.iter().find(|b| !b.is_ascii_whitespace()) {
        Some(b'<') => Format::EcbXml,
        _ => Format::Csv,
    })
}

// ---------------------------------------------------------------- ECB XML

/// A day being read, with the line it started on.
struct Day {
    date: Date,
    line: u64,
    rates: BTreeMap<String, Decimal>,
}

/// What a `<Cube>` element stands for.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Cube {
    /// The outer `<Cube>`, holding the days.
    Days,
    /// `<Cube time="…">`, one day.
    Day,
    /// `<Cube currency="…" rate="…">`, one rate.
    Rate,
}

/// Reads the ECB's reference-rate XML: `<gesmes:Envelope>` … `<Cube>`
/// `<Cube time="2026-12-04">` `<Cube currency="USD" rate="1.0812"/>` …, one
/// `Cube time` per day (one in the daily file, about 64 in the 90-day one).
pub fn read_ecb_xml(input: impl BufRead) -> Result<Vec<ExchangeRates>, FileError> {
    let mut reader = quick_xml::Reader::from_reader(LineCounter::new(input));
    let mut buf = Vec::new();
    let mut open: Vec<Cube> = Vec::new();
    let mut day: Option<Day> = None;
    let mut days: BTreeMap<Date, ExchangeRates> = BTreeMap::new();
    loop {
        let event = reader.read_event_into(&mut buf);
        let line = reader.get_ref().line();
        let event = event.map_err(|e| FileError::line(line, format!("malformed XML: {e}")))?;
        let empty = matches!(event, Event::Empty(_));
        match event {
            Event::Start(e) | Event::Empty(e) if e.local_name().as_ref() == "Cube" => {
                let cube = cube(&e, line, open.last().copied(), &mut day, &days)?;
                if cube == Cube::Day && empty {
                    return Err(FileError::line(line, "this day holds no rates"));
                }
                if !empty {
                    open.push(cube);
                }
            }
            Event::End(e) if e.local_name().as_ref() == "Cube" => {
                if open.pop() == Some(Cube::Day)
                    && let Some(d) = day.take()
                {
                    finish_day(d, ECB_BASE, &mut days)?;
                }
            }
            Event::Eof => break,
            _ => {}
        }
        buf.clear();
    }
    if !open.is_empty() {
        let line = reader.get_ref().line();
        return Err(FileError::line(
            line,
            "the file ends inside a <Cube> element",
        ));
    }
    if days.is_empty() {
        return Err(FileError::new(
            "the file",
            "holds no <Cube time=\"…\"> day of rates: not an ECB reference-rate file",
        ));
    }
    Ok(days.into_values().collect())
}

/// One `<Cube>` start tag, read into the day being built.
fn cube(
    e: &BytesStart<'_>,
    line: u64,
    inside: Option<Cube>,
    day: &mut Option<Day>,
    days: &BTreeMap<Date, ExchangeRates>,
) -> Result<Cube, FileError> {
    let (mut time, mut currency, mut rate) = (None, None, None);
    for attr in e.attributes() {
        let attr = attr.map_err(|e| FileError::line(line, format!("malformed XML: {e}")))?;
        let value = attr
            .normalized_value(quick_xml::XmlVersion::Implicit1_0)
            .map_err(|e| FileError::line(line, format!("malformed XML: {e}")))?
            .into_owned();
        match attr.key.local_name().as_ref() {
            "time" => time = Some(value),
            "currency" => currency = Some(value),
            "rate" => rate = Some(value),
            _ => {}
        }
    }
    match (time, currency, rate) {
        (None, None, None) => Ok(Cube::Days),
        (Some(time), None, None) => {
            if inside != Some(Cube::Days) {
                return Err(FileError::line(
                    line,
                    "a <Cube time> day must be directly inside the outer <Cube>",
                ));
            }
            let date = parse_date(&time)
                .map_err(|m| FileError::line(line, format!("<Cube time=\"{time}\">: {m}")))?;
            if days.contains_key(&date) {
                return Err(FileError::line(
                    line,
                    format!("the day {time} is given twice"),
                ));
            }
            *day = Some(Day {
                date,
                line,
                rates: BTreeMap::new(),
            });
            Ok(Cube::Day)
        }
        (None, Some(code), Some(text)) => {
            let element = format!("<Cube currency=\"{code}\" rate=\"{text}\">");
            let Some(d) = day.as_mut().filter(|_| inside == Some(Cube::Day)) else {
                return Err(FileError::line(
                    line,
                    format!("{element} must be inside a <Cube time> day"),
                ));
            };
            let value = rate_entry(ECB_BASE, &code, &text)
                .map_err(|m| FileError::line(line, format!("{element}: {m}")))?;
            match d.rates.entry(code) {
                Entry::Occupied(_) => Err(FileError::line(
                    line,
                    format!("{element}: this day already has a rate for it"),
                )),
                Entry::Vacant(v) => {
                    v.insert(value);
                    Ok(Cube::Rate)
                }
            }
        }
        _ => Err(FileError::line(
            line,
            "a <Cube> has either a time, or a currency and a rate",
        )),
    }
}

/// A day read whole: at most [`MAX_RATES`] rates, and at least one.
fn finish_day(
    d: Day,
    base: &str,
    days: &mut BTreeMap<Date, ExchangeRates>,
) -> Result<(), FileError> {
    let name = timefmt::date::format(&d.date);
    if d.rates.is_empty() {
        return Err(FileError::line(
            d.line,
            format!("the day {name} holds no rates"),
        ));
    }
    if d.rates.len() > MAX_RATES {
        return Err(FileError::line(
            d.line,
            format!("the day {name} holds more than {MAX_RATES} rates"),
        ));
    }
    days.insert(
        d.date,
        ExchangeRates {
            base: base.to_owned(),
            date: d.date,
            rates: d.rates,
        },
    );
    Ok(())
}

/// Counts the lines a reader has handed out, for messages that name one.
struct LineCounter<R> {
    inner: R,
    newlines: u64,
}

impl<R> LineCounter<R> {
    fn new(inner: R) -> Self {
        Self { inner, newlines: 0 }
    }

    /// The line of the last byte handed out (1 for the first line).
    fn line(&self) -> u64 {
        self.newlines + 1
    }
}

impl<R: BufRead> Read for LineCounter<R> {
    fn read(&mut self, out: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(out)?;
        self.newlines += count_newlines(&out[..n]);
        Ok(n)
    }
}

impl<R: BufRead> BufRead for LineCounter<R> {
    fn fill_buf(&mut self) -> std::io::Result<&[u8]> {
        self.inner.fill_buf()
    }

    fn consume(&mut self, amount: usize) {
        // The buffer is the one the caller just looked at: no I/O happens here.
        if let Ok(buf) = self.inner.fill_buf() {
            self.newlines += count_newlines(&buf[..amount.min(buf.len())]);
        }
        self.inner.consume(amount);
    }
}

fn count_newlines(bytes: &[u8]) -> u64 {
    bytes.iter().filter(|b| **b == b'\n').count() as u64
}

// ---------------------------------------------------------------- CSV

/// The CSV's header line.
pub const CSV_HEADER: [&str; 3] = ["date", "currency", "rate"];

/// Reads `date,currency,rate` lines (after that header) against `base`; a
/// day's lines may be anywhere in the file. Fields are trimmed; a UTF-8 BOM
/// is skipped.
pub fn read_csv(input: impl Read, base: &str) -> Result<Vec<ExchangeRates>, FileError> {
    if !is_currency(base) {
        return Err(FileError::new(
            "--base",
            format!("{base:?} {NOT_A_CURRENCY}"),
        ));
    }
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .trim(csv::Trim::All)
        .from_reader(input);
    let mut record = csv::StringRecord::new();
    let mut header = true;
    let mut days: BTreeMap<Date, Day> = BTreeMap::new();
    loop {
        let more = reader.read_record(&mut record).map_err(|e| {
            let line = e.position().map_or(0, csv::Position::line);
            FileError::line(line, format!("malformed CSV: {e}"))
        })?;
        if !more {
            break;
        }
        let line = record.position().map_or(0, csv::Position::line);
        let fields: Vec<&str> = record.iter().collect();
        if header {
            if fields != CSV_HEADER {
                return Err(FileError::line(
                    line,
                    format!(
                        "the header must be {}, not {}",
                        CSV_HEADER.join(","),
                        fields.join(",")
                    ),
                ));
            }
            header = false;
            continue;
        }
        let [date, code, text] = fields[..] else {
            return Err(FileError::line(
                line,
                format!(
                    "expected 3 fields (date,currency,rate), found {}",
                    fields.len()
                ),
            ));
        };
        let at = format!("{date},{code},{text}");
        let date =
            parse_date(date).map_err(|m| FileError::line(line, format!("{at}: date {m}")))?;
        let value = rate_entry(base, code, text)
            .map_err(|m| FileError::line(line, format!("{at}: {code} {m}")))?;
        let day = days.entry(date).or_insert_with(|| Day {
            date,
            line,
            rates: BTreeMap::new(),
        });
        match day.rates.entry(code.to_owned()) {
            Entry::Occupied(_) => {
                return Err(FileError::line(
                    line,
                    format!("{at}: {code} is given twice for this date"),
                ));
            }
            Entry::Vacant(v) => {
                v.insert(value);
            }
        }
    }
    if header {
        return Err(FileError::new(
            "the file",
            format!(
                "is empty: a CSV starts with the header {}",
                CSV_HEADER.join(",")
            ),
        ));
    }
    let mut out = BTreeMap::new();
    for d in days.into_values() {
        finish_day(d, base, &mut out)?;
    }
    if out.is_empty() {
        return Err(FileError::new(
            "the file",
            "holds no rates after its header",
        ));
    }
    Ok(out.into_values().collect())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;

    const DAILY: &str = r#"<?xml version="1.0" encoding="UTF-8"?>
<gesmes:Envelope xmlns:gesmes="http://www.gesmes.org/xml/2002-08-01" xmlns="http://www.ecb.int/vocabulary/2002-08-01/eurofxref">
	<gesmes:subject>Reference rates</gesmes:subject>
	<gesmes:Sender>
		<gesmes:name>European Central Bank</gesmes:name>
	</gesmes:Sender>
	<Cube>
		<Cube time='2026-12-04'>
			<Cube currency='USD' rate='1.0812'/>
			<Cube currency='JPY' rate='157.12'/>
			<Cube currency='GBP' rate='0.85830'/>
		</Cube>
	</Cube>
</gesmes:Envelope>
"#;

    fn xml(cubes: &str) -> String {
        format!(
            "<?xml version=\"1.0\"?>\n<gesmes:Envelope xmlns:gesmes=\"g\" xmlns=\"e\">\n<Cube>\n{cubes}\n</Cube>\n</gesmes:Envelope>\n"
        )
    }

    /// A day as `(base, date, [(code, rate)])`, all text.
    type Text = (String, String, Vec<(String, String)>);

    fn text(days: &[ExchangeRates]) -> Vec<Text> {
        days.iter()
            .map(|d| {
                (
                    d.base.clone(),
                    timefmt::date::format(&d.date),
                    d.rates
                        .iter()
                        .map(|(c, r)| (c.clone(), r.to_string()))
                        .collect(),
                )
            })
            .collect()
    }

    #[test]
    fn the_daily_file_is_one_day_against_the_euro() {
        let days = read_ecb_xml(DAILY.as_bytes()).unwrap();
        assert_eq!(
            text(&days),
            [(
                "EUR".into(),
                "2026-12-04".into(),
                vec![
                    ("GBP".into(), "0.8583".into()),
                    ("JPY".into(), "157.12".into()),
                    ("USD".into(), "1.0812".into())
                ]
            )]
        );
    }

    #[test]
    fn the_history_file_is_one_day_per_cube_time() {
        let file = xml(
            "<Cube time=\"2026-12-04\"><Cube currency=\"USD\" rate=\"1.0812\"/></Cube>\n\
             <Cube time=\"2026-12-03\">\n<Cube currency=\"USD\" rate=\"1.0799\"></Cube>\n</Cube>",
        );
        let days = read_ecb_xml(file.as_bytes()).unwrap();
        let dates: Vec<String> = text(&days).into_iter().map(|d| d.1).collect();
        assert_eq!(dates, ["2026-12-03", "2026-12-04"]);
    }

    #[test]
    fn a_bad_element_is_named_with_its_line() {
        for (cubes, want) in [
            (
                "<Cube time=\"2026-12-04\">\n<Cube currency=\"usd\" rate=\"1.08\"/>\n</Cube>",
                "line 5: <Cube currency=\"usd\" rate=\"1.08\">: must be an upper-case ISO 4217 currency code",
            ),
            (
                "<Cube time=\"2026-12-04\">\n<Cube currency=\"USD\" rate=\"-1\"/>\n</Cube>",
                "line 5: <Cube currency=\"USD\" rate=\"-1\">: must be a positive decimal number written like 1.0812",
            ),
            (
                "<Cube time=\"2026-12-04\">\n<Cube currency=\"EUR\" rate=\"1\"/>\n</Cube>",
                "line 5: <Cube currency=\"EUR\" rate=\"1\">: must not be the base currency, whose rate is 1",
            ),
            (
                "<Cube time=\"2026-13-04\">\n<Cube currency=\"USD\" rate=\"1\"/>\n</Cube>",
                "line 4: <Cube time=\"2026-13-04\">: must be a date written YYYY-MM-DD",
            ),
            (
                "<Cube time=\"2026-12-04\">\n<Cube currency=\"USD\" rate=\"1\"/>\n<Cube currency=\"USD\" rate=\"2\"/>\n</Cube>",
                "line 6: <Cube currency=\"USD\" rate=\"2\">: this day already has a rate for it",
            ),
            (
                "<Cube time=\"2026-12-04\"></Cube>",
                "line 4: the day 2026-12-04 holds no rates",
            ),
            (
                "<Cube currency=\"USD\" rate=\"1\"/>",
                "line 4: <Cube currency=\"USD\" rate=\"1\"> must be inside a <Cube time> day",
            ),
            (
                "<Cube time=\"2026-12-04\"><Cube currency=\"USD\" rate=\"1\"/></Cube>\n<Cube time=\"2026-12-04\">",
                "line 5: the day 2026-12-04 is given twice",
            ),
        ] {
            let err = read_ecb_xml(xml(cubes).as_bytes()).unwrap_err();
            assert_eq!(err.to_string(), want, "{cubes}");
        }
        let err = read_ecb_xml(&b"<a>\n<b></a>"[..]).unwrap_err();
        assert!(
            err.to_string().starts_with("line 2: malformed XML"),
            "{err}"
        );
        let err = read_ecb_xml(&b"<html><body/></html>"[..]).unwrap_err();
        assert_eq!(
            err.to_string(),
            "the file: holds no <Cube time=\"…\"> day of rates: not an ECB reference-rate file"
        );
    }

    #[test]
    fn a_csv_groups_its_lines_by_date() {
        let file = "\u{feff}date,currency,rate\n2026-12-04,USD,1.0812\n2026-12-03, USD ,1.0799\n\n2026-12-04,JPY,157.12\n";
        let days = read_csv(file.as_bytes(), "EUR").unwrap();
        assert_eq!(
            text(&days),
            [
                (
                    "EUR".into(),
                    "2026-12-03".into(),
                    vec![("USD".into(), "1.0799".into())]
                ),
                (
                    "EUR".into(),
                    "2026-12-04".into(),
                    vec![
                        ("JPY".into(), "157.12".into()),
                        ("USD".into(), "1.0812".into())
                    ]
                ),
            ]
        );
    }

    #[test]
    fn a_bad_csv_line_is_named() {
        for (body, want) in [
            (
                "day,code,value\n",
                "line 1: the header must be date,currency,rate, not day,code,value",
            ),
            (
                "",
                "the file: is empty: a CSV starts with the header date,currency,rate",
            ),
            (
                "date,currency,rate\n",
                "the file: holds no rates after its header",
            ),
            (
                "date,currency,rate\n2026-12-04,USD\n",
                "line 2: expected 3 fields (date,currency,rate), found 2",
            ),
            (
                "date,currency,rate\n2026-12-04,USD,1.5\n04/12/2026,JPY,157\n",
                "line 3: 04/12/2026,JPY,157: date must be a date written YYYY-MM-DD",
            ),
            (
                "date,currency,rate\n2026-12-04,USD,1.23456789012\n",
                "line 2: 2026-12-04,USD,1.23456789012: USD must have at most 10 significant digits",
            ),
            (
                "date,currency,rate\n2026-12-04,USD,1\n2026-12-04,USD,1\n",
                "line 3: 2026-12-04,USD,1: USD is given twice for this date",
            ),
        ] {
            let err = read_csv(body.as_bytes(), "EUR").unwrap_err();
            assert_eq!(err.to_string(), want, "{body}");
        }
        let err = read_csv("date,currency,rate\n".as_bytes(), "eur").unwrap_err();
        assert_eq!(
            err.to_string(),
            "--base: \"eur\" must be an upper-case ISO 4217 currency code"
        );
    }

    #[test]
    fn the_format_is_told_by_the_first_bytes() {
        assert_eq!(sniff(&mut DAILY.as_bytes()).unwrap(), Format::EcbXml);
        assert_eq!(
            sniff(&mut "\u{feff}  <x/>".as_bytes()).unwrap(),
            Format::EcbXml
        );
        assert_eq!(
            sniff(&mut "date,currency,rate".as_bytes()).unwrap(),
            Format::Csv
        );
    }
}
