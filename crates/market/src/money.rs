//! Money in exact decimals (contract 3.7b): the ISO 4217 currencies and their
//! minor units, exchange rates, and conversions between currencies.
//!
//! Nothing here is ever a float. Amounts and rates are [`Decimal`]s; the one
//! step decimals cannot take exactly, a division (a cross rate, a price per
//! unit), is kept as an exact fraction ([`Ratio`]) and rounded by long
//! division on integers, its last digit decided by the exact remainder. So
//! converting 0.10 EUR ten times and adding gives exactly the conversion of
//! 1.00 EUR, and a rounding half-way case is only ever a true one.

use domain::ExchangeRates;
use rust_decimal::Decimal;
use std::cmp::Ordering;

/// The ISO 4217 currency codes (List One, the published list: national
/// currencies, funds codes, precious metals, SDR and the special codes),
/// sorted. Their minor units are 2 but for the lists below.
pub const ISO_4217: &[&str] = &[
    "AED", "AFN", "ALL", "AMD", "ANG", "AOA", "ARS", "AUD", "AWG", "AZN", "BAM", "BBD", "BDT",
    "BGN", "BHD", "BIF", "BMD", "BND", "BOB", "BOV", "BRL", "BSD", "BTN", "BWP", "BYN", "BZD",
    "CAD", "CDF", "CHE", "CHF", "CHW", "CLF", "CLP", "CNY", "COP", "COU", "CRC", "CUC", "CUP",
    "CVE", "CZK", "DJF", "DKK", "DOP", "DZD", "EGP", "ERN", "ETB", "EUR", "FJD", "FKP", "GBP",
    "GEL", "GHS", "GIP", "GMD", "GNF", "GTQ", "GYD", "HKD", "HNL", "HTG", "HUF", "IDR", "ILS",
    "INR", "IQD", "IRR", "ISK", "JMD", "JOD", "JPY", "KES", "KGS", "KHR", "KMF", "KPW", "KRW",
    "KWD", "KYD", "KZT", "LAK", "LBP", "LKR", "LRD", "LSL", "LYD", "MAD", "MDL", "MGA", "MKD",
    "MMK", "MNT", "MOP", "MRU", "MUR", "MVR", "MWK", "MXN", "MXV", "MYR", "MZN", "NAD", "NGN",
    "NIO", "NOK", "NPR", "NZD", "OMR", "PAB", "PEN", "PGK", "PHP", "PKR", "PLN", "PYG", "QAR",
    "RON", "RSD", "RUB", "RWF", "SAR", "SBD", "SCR", "SDG", "SEK", "SGD", "SHP", "SLE", "SOS",
    "SRD", "SSP", "STN", "SVC", "SYP", "SZL", "THB", "TJS", "TMT", "TND", "TOP", "TRY", "TTD",
    "TWD", "TZS", "UAH", "UGX", "USD", "USN", "UYI", "UYU", "UYW", "UZS", "VED", "VES", "VND",
    "VUV", "WST", "XAF", "XAG", "XAU", "XBA", "XBB", "XBC", "XBD", "XCD", "XCG", "XDR", "XOF",
    "XPD", "XPF", "XPT", "XSU", "XTS", "XUA", "XXX", "YER", "ZAR", "ZMW", "ZWG",
];

/// ISO 4217's minor unit 0: amounts are whole units.
const NO_DECIMALS: &[&str] = &[
    "BIF", "CLP", "DJF", "GNF", "ISK", "JPY", "KMF", "KRW", "PYG", "RWF", "UGX", "UYI", "VND",
    "VUV", "XAF", "XOF", "XPF",
];
/// ISO 4217's minor unit 3.
const THREE_DECIMALS: &[&str] = &["BHD", "IQD", "JOD", "KWD", "LYD", "OMR", "TND"];
/// ISO 4217's minor unit 4.
const FOUR_DECIMALS: &[&str] = &["CLF", "UYW"];
/// ISO 4217's "N.A." (precious metals, SDR, the bond-market units, the test
/// and no-currency codes): Dealroom counts them in whole units.
const NOT_APPLICABLE: &[&str] = &[
    "XAG", "XAU", "XBA", "XBB", "XBC", "XBD", "XDR", "XPD", "XPT", "XSU", "XTS", "XUA", "XXX",
];

/// True for an ISO 4217 code, written in upper case.
pub fn is_currency(code: &str) -> bool {
    ISO_4217.binary_search(&code).is_ok()
}

/// The decimals of a currency's amounts (its ISO 4217 minor unit; 0 where
/// ISO gives none); `None` for anything that is not an upper-case ISO 4217 code.
///
/// ```
/// use market::money::minor_unit;
/// assert_eq!(minor_unit("JPY"), Some(0));
/// assert_eq!(minor_unit("EUR"), Some(2));
/// assert_eq!(minor_unit("KWD"), Some(3));
/// assert_eq!(minor_unit("eur"), None);
/// ```
pub fn minor_unit(code: &str) -> Option<u32> {
    if !is_currency(code) {
        return None;
    }
    let listed = |list: &[&str]| list.contains(&code);
    Some(if listed(NO_DECIMALS) || listed(NOT_APPLICABLE) {
        0
    } else if listed(THREE_DECIMALS) {
        3
    } else if listed(FOUR_DECIMALS) {
        4
    } else {
        2
    })
}

/// An amount in `minor` units of a currency with `decimals` decimals, as a
/// decimal with exactly that many decimals (`123450`, 2 → `1234.50`).
pub fn amount(minor: i64, decimals: u32) -> Option<Decimal> {
    Decimal::try_from_i128_with_scale(i128::from(minor), decimals).ok()
}

// ---------------------------------------------------------------- rates

/// The most rates one day may hold.
pub const MAX_RATES: usize = 200;
/// The most significant digits a rate may have.
pub const RATE_DIGITS: u32 = 10;

/// Why a rate's text is refused.
pub const RATE_MALFORMED: &str = "must be a positive decimal number written like 1.0812";
/// Why a rate of zero is refused.
pub const RATE_NOT_POSITIVE: &str = "must be positive";
/// Why a rate with too many digits is refused.
pub const RATE_TOO_PRECISE: &str = "must have at most 10 significant digits";
/// Why a currency code is refused.
pub const NOT_A_CURRENCY: &str = "must be an upper-case ISO 4217 currency code";

/// A rate as the contract writes it: digits with at most one decimal point
/// between digits (no sign, exponent or spaces), positive, with at most
/// [`RATE_DIGITS`] significant digits (leading zeros and a fraction's
/// trailing zeros do not count). Normalised: `"1.08120"` is `1.0812`.
///
/// ```
/// use market::money::parse_rate;
/// assert_eq!(parse_rate("157.120").map(|r| r.to_string()), Ok("157.12".into()));
/// assert!(parse_rate("1.23456789012").is_err());
/// assert!(parse_rate("0").is_err());
/// assert!(parse_rate("1e3").is_err());
/// ```
pub fn parse_rate(text: &str) -> Result<Decimal, &'static str> {
    let (whole, fraction) = text.split_once('.').unwrap_or((text, ""));
    let digits = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
    if whole.is_empty() || !digits(whole) || !digits(fraction) || text.ends_with('.') {
        return Err(RATE_MALFORMED);
    }
    let significant = format!("{whole}{}", fraction.trim_end_matches('0'));
    let significant = significant.trim_start_matches('0');
    if significant.is_empty() {
        return Err(RATE_NOT_POSITIVE);
    }
    if significant.len() > RATE_DIGITS as usize {
        return Err(RATE_TOO_PRECISE);
    }
    // Ten digits fit a decimal; only a fraction past 28 places does not.
    Decimal::from_str_exact(text)
        .map(|r| r.normalize())
        .map_err(|_| RATE_MALFORMED)
}

/// Units of `code` per one unit of the day's base: 1 for the base itself,
/// `None` when the day has no rate for it.
pub fn rate_of(rates: &ExchangeRates, code: &str) -> Option<Decimal> {
    if code == rates.base {
        Some(Decimal::ONE)
    } else {
        rates.rates.get(code).copied()
    }
}

// ---------------------------------------------------------------- conversion

/// A price converted into another currency.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Conversion {
    /// The converted amount, rounded half to even to the target's minor unit.
    pub amount: Decimal,
    /// The effective rate (target units per source unit), rounded half to
    /// even to 10 significant digits and normalised; for display only.
    pub rate: Decimal,
    /// The converted amount before any rounding.
    pub exact: Ratio,
}

/// `price_minor` minor units of `from` in `to`, through the day's base when
/// neither is the base (cross rate): `None` when the day has no rate for
/// either currency, or one is not an ISO 4217 code. The amount is computed
/// from the exact rate, never from the rounded one shown.
pub fn convert(
    price_minor: i64,
    from: &str,
    to: &str,
    rates: &ExchangeRates,
) -> Option<Conversion> {
    let from_decimals = minor_unit(from)?;
    let to_decimals = minor_unit(to)?;
    let rate = Ratio::of(rate_of(rates, to)?)?.over(Ratio::of(rate_of(rates, from)?)?)?;
    let exact = Ratio::of(amount(price_minor, from_decimals)?)?.times(rate)?;
    Some(Conversion {
        amount: exact.round(to_decimals as i32)?,
        rate: rate.round_significant(RATE_DIGITS)?.normalize(),
        exact,
    })
}

// ---------------------------------------------------------------- exact fractions

/// A non-negative number held exactly as `num / den × 10^exp`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Ratio {
    num: u128,
    den: u128,
    exp: i32,
}

impl Ratio {
    /// A non-negative decimal, exactly; `None` for a negative one.
    pub fn of(d: Decimal) -> Option<Self> {
        if d.is_sign_negative() && !d.is_zero() {
            return None;
        }
        Some(Self {
            num: d.mantissa().unsigned_abs(),
            den: 1,
            exp: -i32::try_from(d.scale()).ok()?,
        })
    }

    /// The product, exactly; `None` if it outgrows 128 bits (never for a
    /// price, a rate and a unit factor).
    pub fn times(self, o: Self) -> Option<Self> {
        Self {
            num: self.num.checked_mul(o.num)?,
            den: self.den.checked_mul(o.den)?,
            exp: self.exp.checked_add(o.exp)?,
        }
        .reduced()
    }

    /// The quotient, exactly; `None` for a zero divisor or if it outgrows 128 bits.
    pub fn over(self, o: Self) -> Option<Self> {
        if o.num == 0 {
            return None;
        }
        Self {
            num: self.num.checked_mul(o.den)?,
            den: self.den.checked_mul(o.num)?,
            exp: self.exp.checked_sub(o.exp)?,
        }
        .reduced()
    }

    fn reduced(self) -> Option<Self> {
        let g = gcd(self.num, self.den);
        if g == 0 {
            return None;
        }
        Some(Self {
            num: self.num / g,
            den: self.den / g,
            exp: self.exp,
        })
    }

    /// Rounded half to even to `decimals` decimals (negative: to tens,
    /// hundreds, ...): exact, decided by the remainder of a long division.
    /// `None` if the result does not fit a [`Decimal`].
    pub fn round(self, decimals: i32) -> Option<Decimal> {
        // The integer nearest num / den × 10^shift.
        let shift = self.exp.checked_add(decimals)?;
        let (mut q, r, den) = (self.num / self.den, self.num % self.den, self.den);
        let up = if shift >= 0 {
            // Long division, one decimal digit of the quotient at a time: the
            // remainder stays below `den`, so nothing here outgrows 128 bits.
            let mut r = r;
            if den > u128::MAX / 10 {
                return None;
            }
            for _ in 0..shift {
                let r10 = r * 10;
                q = q.checked_mul(10)?.checked_add(r10 / den)?;
                r = r10 % den;
                if q > MAX_MANTISSA {
                    return None;
                }
            }
            // The rest is r / den: compare it with one half.
            match r.cmp(&(den - r)) {
                Ordering::Less => false,
                Ordering::Greater => true,
                Ordering::Equal => q % 2 == 1,
            }
        } else {
            // Cut `drop` digits off the integer quotient; the rest is
            // low + r / den out of 10^drop.
            let drop = shift.unsigned_abs();
            match 10u128.checked_pow(drop) {
                // 10^drop is past any quotient: the rest is below one half.
                None => {
                    q = 0;
                    false
                }
                Some(p) => {
                    let low = q % p;
                    q /= p;
                    let half = p / 2;
                    match low.cmp(&half) {
                        Ordering::Less => false,
                        Ordering::Greater => true,
                        Ordering::Equal if r > 0 => true,
                        Ordering::Equal => q % 2 == 1,
                    }
                }
            }
        };
        let q = if up { q.checked_add(1)? } else { q };
        if decimals >= 0 {
            let scale = u32::try_from(decimals).ok()?;
            Decimal::try_from_i128_with_scale(i128::try_from(q).ok()?, scale).ok()
        } else {
            let p = 10u128.checked_pow(decimals.unsigned_abs())?;
            let whole = i128::try_from(q.checked_mul(p)?).ok()?;
            Decimal::try_from_i128_with_scale(whole, 0).ok()
        }
    }

    /// Rounded half to even to `digits` significant digits.
    pub fn round_significant(self, digits: u32) -> Option<Decimal> {
        if self.num == 0 {
            return Some(Decimal::ZERO);
        }
        // Where the leading digit of num / den is: 10^lead <= num / den < 10^(lead + 1).
        let lead = if self.num >= self.den {
            let whole = self.num / self.den;
            i32::try_from(whole.ilog10()).ok()?
        } else {
            let mut lead = 0i32;
            let mut n = self.num;
            while n < self.den {
                n = n.checked_mul(10)?;
                lead -= 1;
            }
            lead
        };
        let lead = lead.checked_add(self.exp)?;
        let decimals = i32::try_from(digits)
            .ok()?
            .checked_sub(1)?
            .checked_sub(lead)?;
        self.round(decimals)
    }
}

/// The largest mantissa a [`Decimal`] holds (96 bits).
const MAX_MANTISSA: u128 = (1 << 96) - 1;

fn gcd(mut a: u128, mut b: u128) -> u128 {
    while b != 0 {
        (a, b) = (b, a % b);
    }
    a
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;
    use proptest::prelude::*;
    use rust_decimal::RoundingStrategy;
    use std::collections::BTreeMap;
    use std::str::FromStr;

    fn dec(s: &str) -> Decimal {
        Decimal::from_str(s).unwrap()
    }

    fn day(base: &str, rates: &[(&str, &str)]) -> ExchangeRates {
        ExchangeRates {
            base: base.into(),
            date: time::macros::date!(2026 - 12 - 04),
            rates: rates
                .iter()
                .map(|(c, r)| ((*c).to_owned(), parse_rate(r).unwrap()))
                .collect::<BTreeMap<_, _>>(),
        }
    }

    #[test]
    fn the_currency_lists_are_sorted_unique_and_iso_codes() {
        assert!(ISO_4217.windows(2).all(|w| w[0] < w[1]));
        assert!(ISO_4217.iter().all(|c| c.len() == 3));
        for list in [NO_DECIMALS, THREE_DECIMALS, FOUR_DECIMALS, NOT_APPLICABLE] {
            assert!(list.windows(2).all(|w| w[0] < w[1]));
            assert!(list.iter().all(|c| is_currency(c)), "{list:?}");
        }
    }

    #[test]
    fn minor_units_are_iso_4217s_and_unknown_codes_are_refused() {
        for (code, decimals) in [
            ("JPY", Some(0)),
            ("KRW", Some(0)),
            ("EUR", Some(2)),
            ("USD", Some(2)),
            ("KWD", Some(3)),
            ("BHD", Some(3)),
            ("CLF", Some(4)),
            ("XAU", Some(0)),
            ("eur", None),
            ("EURO", None),
            ("XXQ", None),
            ("", None),
        ] {
            assert_eq!(minor_unit(code), decimals, "{code}");
        }
    }

    #[test]
    fn amounts_carry_the_currencys_decimals() {
        assert_eq!(amount(123450, 2).unwrap().to_string(), "1234.50");
        assert_eq!(amount(1500, 0).unwrap().to_string(), "1500");
        assert_eq!(amount(5, 3).unwrap().to_string(), "0.005");
    }

    #[test]
    fn rates_are_positive_plain_decimals_of_at_most_ten_significant_digits() {
        for (text, want) in [
            ("1.0812", Ok("1.0812")),
            ("1.08120", Ok("1.0812")),
            ("157", Ok("157")),
            ("0.000123456789", Ok("0.000123456789")),
            ("1234567890", Ok("1234567890")),
            ("1.234567890", Ok("1.23456789")),
            ("0", Err(RATE_NOT_POSITIVE)),
            ("0.000", Err(RATE_NOT_POSITIVE)),
            ("12345678901", Err(RATE_TOO_PRECISE)),
            ("1.2345678901", Err(RATE_TOO_PRECISE)),
            ("-1", Err(RATE_MALFORMED)),
            ("+1", Err(RATE_MALFORMED)),
            ("1e3", Err(RATE_MALFORMED)),
            (".5", Err(RATE_MALFORMED)),
            ("5.", Err(RATE_MALFORMED)),
            ("1.0.1", Err(RATE_MALFORMED)),
            (" 1", Err(RATE_MALFORMED)),
            ("1,5", Err(RATE_MALFORMED)),
            ("", Err(RATE_MALFORMED)),
            ("NaN", Err(RATE_MALFORMED)),
            ("0.00000000000000000000000000001", Err(RATE_MALFORMED)),
        ] {
            let got = parse_rate(text).map(|r| r.to_string());
            assert_eq!(got, want.map(str::to_owned), "{text:?}");
        }
    }

    #[test]
    fn rounding_is_half_to_even_and_exact_past_28_digits() {
        let third = Ratio::of(dec("1"))
            .unwrap()
            .over(Ratio::of(dec("3")).unwrap())
            .unwrap();
        assert_eq!(third.round(2).unwrap().to_string(), "0.33");
        assert_eq!(
            third.round_significant(10).unwrap().to_string(),
            "0.3333333333"
        );
        let r = |s: &str, dp: i32| Ratio::of(dec(s)).unwrap().round(dp).unwrap().to_string();
        assert_eq!(r("0.125", 2), "0.12");
        assert_eq!(r("0.135", 2), "0.14");
        assert_eq!(r("2.5", 0), "2");
        assert_eq!(r("3.5", 0), "4");
        assert_eq!(r("1250", -2), "1200");
        assert_eq!(r("1350", -2), "1400");
        assert_eq!(r("1250.0001", -2), "1300");
        // 12345678901234.505 + 1 / (3 * 10^20): 35 significant digits, past
        // what a Decimal holds; rounded from the exact remainder, it is above
        // the half way, and the half way itself goes to the even cent.
        let half_way = 12_345_678_901_234_505u128 * 3 * 10u128.pow(20);
        let den = 3 * 10u128.pow(23);
        let above = Ratio {
            num: half_way + 1000,
            den,
            exp: 0,
        };
        assert_eq!(above.round(2).unwrap().to_string(), "12345678901234.51");
        let exactly = Ratio {
            num: half_way,
            den,
            exp: 0,
        };
        assert_eq!(exactly.round(2).unwrap().to_string(), "12345678901234.50");
        let below = Ratio {
            num: half_way - 1000,
            den,
            exp: 0,
        };
        assert_eq!(below.round(2).unwrap().to_string(), "12345678901234.50");
    }

    #[test]
    fn a_cross_rate_goes_through_the_base() {
        // 1 EUR = 157.12 JPY = 0.3312 KWD: 1000 JPY = 1000 * 0.3312 / 157.12 KWD.
        let rates = day(
            "EUR",
            &[("JPY", "157.12"), ("KWD", "0.3312"), ("USD", "1.0812")],
        );
        let c = convert(1000, "JPY", "KWD", &rates).unwrap();
        // 331.2 / 157.12 = 2.10794297352342...
        assert_eq!(c.amount.to_string(), "2.108");
        assert_eq!(c.rate.to_string(), "0.002107942974");
        let c = convert(250, "EUR", "USD", &rates).unwrap();
        assert_eq!(
            (c.amount.to_string(), c.rate.to_string()),
            ("2.70".into(), "1.0812".into())
        );
        let c = convert(1081, "USD", "EUR", &rates).unwrap();
        // 10.81 / 1.0812 = 9.99815...
        assert_eq!(
            (c.amount.to_string(), c.rate.to_string()),
            ("10.00".into(), "0.9248982612".into())
        );
        let c = convert(1999, "EUR", "EUR", &rates).unwrap();
        assert_eq!(
            (c.amount.to_string(), c.rate.to_string()),
            ("19.99".into(), "1".into())
        );
        assert_eq!(convert(100, "GBP", "EUR", &rates), None);
        assert_eq!(convert(100, "EUR", "GBP", &rates), None);
    }

    #[test]
    fn ten_conversions_of_ten_cents_add_up_to_the_conversion_of_a_euro() {
        let rates = day("EUR", &[("USD", "1.0812"), ("JPY", "157.12")]);
        for to in ["USD", "JPY"] {
            let ten_cents = convert(10, "EUR", to, &rates).unwrap().exact;
            let euro = convert(100, "EUR", to, &rates).unwrap().exact;
            // Fractions of one power of ten add as fractions do.
            let mut sum = Ratio {
                num: 0,
                den: 1,
                exp: ten_cents.exp,
            };
            for _ in 0..10 {
                sum = Ratio {
                    num: sum.num * ten_cents.den + ten_cents.num * sum.den,
                    den: sum.den * ten_cents.den,
                    exp: ten_cents.exp,
                }
                .reduced()
                .unwrap();
            }
            assert_eq!(sum, euro, "{to}");
        }
    }

    proptest! {
        /// Rounding a decimal that a Decimal holds exactly agrees with
        /// rust_decimal's own half-to-even rounding.
        #[test]
        fn rounding_agrees_with_rust_decimal_where_it_is_exact(
            mantissa in 0i64..=i64::MAX, scale in 0u32..=18, decimals in 0i32..=18,
        ) {
            // To as many decimals as it has at most: more would not fit.
            let decimals = decimals.min(scale as i32);
            let d = Decimal::new(mantissa, scale);
            let ours = Ratio::of(d).unwrap().round(decimals).unwrap();
            let theirs = d.round_dp_with_strategy(decimals as u32, RoundingStrategy::MidpointNearestEven);
            prop_assert_eq!(ours, theirs);
        }

        /// A quotient rounded here is the integer nearest it, ties to even:
        /// checked by multiplying back, with no division.
        #[test]
        fn a_rounded_quotient_is_within_half_a_unit(
            num in 0u64..=u64::MAX, den in 1u64..=10_000_000_000, decimals in 0i32..=6,
        ) {
            let q = Ratio { num: u128::from(num), den: u128::from(den), exp: 0 };
            let got = q.round(decimals).unwrap();
            let scaled = u128::try_from(got.mantissa()).unwrap();
            prop_assert_eq!(got.scale(), decimals as u32);
            // |num * 10^d - scaled * den| <= den / 2
            let exact = u128::from(num) * 10u128.pow(decimals as u32);
            let back = scaled * u128::from(den);
            let diff = exact.abs_diff(back);
            prop_assert!(2 * diff <= u128::from(den));
            if 2 * diff == u128::from(den) {
                prop_assert_eq!(scaled % 2, 0);
            }
        }

        /// Converting n cents n times equals converting n × n cents, exactly.
        #[test]
        fn conversions_add_up_exactly(cents in 0i64..=1_000_000, times in 1i64..=1000, rate in 1u64..=9_999_999_999, scale in 0u32..=9) {
            let rates = ExchangeRates {
                base: "EUR".into(),
                date: time::macros::date!(2026 - 12 - 04),
                rates: [("USD".to_owned(), Decimal::new(rate as i64, scale))].into(),
            };
            let one = convert(cents, "USD", "EUR", &rates).unwrap().exact;
            let all = convert(cents * times, "USD", "EUR", &rates).unwrap().exact;
            let times = Ratio::of(Decimal::from(times)).unwrap();
            prop_assert_eq!(one.times(times).unwrap(), all);
        }
    }
}
