//! Money: whole rupiah in an `i64`. Adapters format it for their provider
//! (`"150000"`, `"150000.00"`, …); nothing in the gateway uses floating point.

use serde::{Deserialize, Serialize};

/// An amount of Indonesian rupiah, whole units, never negative.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "i64", into = "i64")]
pub struct Amount(i64);

/// Why a number is not an [`Amount`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AmountError {
    /// Amounts are never negative.
    #[error("amount must not be negative")]
    Negative,
    /// Rupiah amounts are whole numbers; decimals other than `.00` are refused.
    #[error("amount must be whole rupiah")]
    Fraction,
    /// Not a number at all.
    #[error("amount is not a number")]
    NotANumber,
    /// More than 14 digits: larger than any provider accepts.
    #[error("amount is too large")]
    TooLarge,
}

impl Amount {
    /// The largest amount any provider we speak to accepts (14 digits).
    pub const MAX: i64 = 99_999_999_999_999;
    /// Zero rupiah.
    pub const ZERO: Amount = Amount(0);

    /// An amount of `rupiah`, checked.
    pub fn new(rupiah: i64) -> Result<Self, AmountError> {
        Self::try_from(rupiah)
    }

    /// The number of whole rupiah.
    pub fn rupiah(self) -> i64 {
        self.0
    }

    /// Formats as SNAP does: `"150000.00"`.
    pub fn to_snap_string(self) -> String {
        format!("{}.00", self.0)
    }

    /// Parses a provider's decimal text: `"150000"`, `"150000.00"` (any number of zero
    /// decimals). A non-zero fraction is refused, never rounded.
    pub fn parse_decimal(text: &str) -> Result<Self, AmountError> {
        let text = text.trim();
        let (whole, frac) = text.split_once('.').unwrap_or((text, ""));
        if whole.is_empty() || !whole.bytes().all(|b| b.is_ascii_digit()) {
            return Err(AmountError::NotANumber);
        }
        if !frac.bytes().all(|b| b.is_ascii_digit()) {
            return Err(AmountError::NotANumber);
        }
        if frac.bytes().any(|b| b != b'0') {
            return Err(AmountError::Fraction);
        }
        if whole.trim_start_matches('0').len() > 14 {
            return Err(AmountError::TooLarge);
        }
        let value: i64 = whole.parse().map_err(|_| AmountError::NotANumber)?;
        Self::new(value)
    }

    /// `self - other`, or zero when `other` is larger.
    pub fn saturating_sub(self, other: Amount) -> Amount {
        Amount((self.0 - other.0).max(0))
    }

    /// `self + other`, capped at [`Amount::MAX`].
    pub fn saturating_add(self, other: Amount) -> Amount {
        Amount(self.0.saturating_add(other.0).min(Self::MAX))
    }
}

impl TryFrom<i64> for Amount {
    type Error = AmountError;
    fn try_from(rupiah: i64) -> Result<Self, Self::Error> {
        if rupiah < 0 {
            Err(AmountError::Negative)
        } else if rupiah > Self::MAX {
            Err(AmountError::TooLarge)
        } else {
            Ok(Amount(rupiah))
        }
    }
}

impl From<Amount> for i64 {
    fn from(a: Amount) -> i64 {
        a.0
    }
}

impl std::fmt::Display for Amount {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_provider_decimal_forms() {
        assert_eq!(
            Amount::parse_decimal("150000").map(Amount::rupiah),
            Ok(150000)
        );
        assert_eq!(
            Amount::parse_decimal("150000.00").map(Amount::rupiah),
            Ok(150000)
        );
        assert_eq!(
            Amount::parse_decimal("150000.50"),
            Err(AmountError::Fraction)
        );
        assert_eq!(Amount::parse_decimal("-1"), Err(AmountError::NotANumber));
        assert_eq!(Amount::parse_decimal("1e5"), Err(AmountError::NotANumber));
        assert_eq!(Amount::parse_decimal(""), Err(AmountError::NotANumber));
        assert_eq!(
            Amount::parse_decimal("123456789012345"),
            Err(AmountError::TooLarge)
        );
    }

    #[test]
    fn refuses_negative_and_formats_snap() {
        assert_eq!(Amount::new(-1), Err(AmountError::Negative));
        assert_eq!(
            Amount::new(10000).map(Amount::to_snap_string),
            Ok("10000.00".to_owned())
        );
    }
}
