//! Request and response bodies of NICEPAY V2 direct, fields spelled exactly as NICEPAY
//! spells them (protocol 1.4–1.7), hence the non-snake-case names.
//!
//! Requests carry every value as a JSON string, as the docs print them (`"amt":"10000"`).
//! Responses are read leniently: NICEPAY documents strings but its own SDKs send numbers
//! for some fields (1.2), and unused fields come back as `null` (1.5), so every response
//! field is an optional "text" that accepts a string, a number or `null`.
#![allow(non_snake_case)]

use serde::{Deserialize, Deserializer, Serialize};

/// `payMethod` of a virtual account (1.2).
pub(crate) const PAY_METHOD_VA: &str = "02";
/// The only currency NICEPAY takes.
pub(crate) const CURRENCY: &str = "IDR";
/// `resultCd` of success.
pub(crate) const RESULT_OK: &str = "0000";
/// `cancelType` of a full cancel (1.6).
pub(crate) const CANCEL_FULL: &str = "1";

/// `POST /nicepay/direct/v2/registration` for a VA (`payMethod` `02`).
#[derive(Clone, Serialize)]
pub(crate) struct RegistrationRequest {
    pub timeStamp: String,
    pub iMid: String,
    pub payMethod: &'static str,
    pub currency: &'static str,
    pub amt: String,
    pub referenceNo: String,
    pub goodsNm: String,
    pub billingNm: String,
    pub billingPhone: String,
    pub billingEmail: String,
    pub billingAddr: String,
    pub billingCity: String,
    pub billingState: String,
    pub billingPostCd: String,
    pub billingCountry: String,
    /// A JSON document inside a JSON string: `"{}"` (1.2).
    pub cartData: &'static str,
    pub dbProcessUrl: String,
    pub merchantToken: String,
    pub bankCd: String,
    pub vacctValidDt: String,
    pub vacctValidTm: String,
    /// Only for fixed VAs; `""` for a one-time VA (1.4).
    pub merFixAcctId: &'static str,
}

/// `POST /nicepay/direct/v2/inquiry`.
#[derive(Clone, Serialize)]
pub(crate) struct InquiryRequest {
    pub timeStamp: String,
    pub tXid: String,
    pub iMid: String,
    pub referenceNo: String,
    pub amt: String,
    pub merchantToken: String,
}

/// `POST /nicepay/direct/v2/cancel`.
#[derive(Clone, Serialize)]
pub(crate) struct CancelRequest {
    pub timeStamp: String,
    pub tXid: String,
    pub iMid: String,
    pub payMethod: &'static str,
    pub cancelType: &'static str,
    pub amt: String,
    pub merchantToken: String,
}

/// The part every answer shares, read before the rest to classify it.
#[derive(Clone, Debug, Default, Deserialize)]
pub(crate) struct Envelope {
    #[serde(default, deserialize_with = "text")]
    pub resultCd: Option<String>,
    #[serde(default, deserialize_with = "text")]
    pub resultMsg: Option<String>,
}

/// The answer to a registration (1.4).
#[derive(Clone, Debug, Default, Deserialize)]
pub(crate) struct RegistrationResponse {
    #[serde(default, deserialize_with = "text")]
    pub tXid: Option<String>,
    #[serde(default, deserialize_with = "text")]
    pub referenceNo: Option<String>,
    #[serde(default, deserialize_with = "text")]
    pub amt: Option<String>,
    #[serde(default, deserialize_with = "text")]
    pub bankCd: Option<String>,
    #[serde(default, deserialize_with = "text")]
    pub vacctNo: Option<String>,
}

/// The answer to a status inquiry (1.5). `status` is the payment state (1.8).
#[derive(Clone, Debug, Default, Deserialize)]
pub(crate) struct InquiryResponse {
    #[serde(default, deserialize_with = "text")]
    pub tXid: Option<String>,
    #[serde(default, deserialize_with = "text")]
    pub referenceNo: Option<String>,
    #[serde(default, deserialize_with = "text")]
    pub payMethod: Option<String>,
    #[serde(default, deserialize_with = "text")]
    pub amt: Option<String>,
    #[serde(default, deserialize_with = "text")]
    pub status: Option<String>,
    #[serde(default, deserialize_with = "text")]
    pub vacctNo: Option<String>,
    #[serde(default, deserialize_with = "text")]
    pub depositDt: Option<String>,
    #[serde(default, deserialize_with = "text")]
    pub depositTm: Option<String>,
}

/// The answer to a cancel (1.6).
#[derive(Clone, Debug, Default, Deserialize)]
pub(crate) struct CancelResponse {
    #[serde(default, deserialize_with = "text")]
    pub tXid: Option<String>,
}

/// A payment notification posted to `dbProcessUrl` (1.7), form-encoded (or JSON).
/// NICEPAY sends no `iMid`: the token binds ours implicitly.
#[derive(Clone, Debug, Default, Deserialize)]
pub(crate) struct Notification {
    #[serde(default, deserialize_with = "text")]
    pub tXid: Option<String>,
    #[serde(default, deserialize_with = "text")]
    pub merchantToken: Option<String>,
    #[serde(default, deserialize_with = "text")]
    pub referenceNo: Option<String>,
    #[serde(default, deserialize_with = "text")]
    pub payMethod: Option<String>,
    #[serde(default, deserialize_with = "text")]
    pub amt: Option<String>,
    #[serde(default, deserialize_with = "text")]
    pub currency: Option<String>,
    #[serde(default, deserialize_with = "text")]
    pub status: Option<String>,
    #[serde(default, deserialize_with = "text")]
    pub vacctNo: Option<String>,
    #[serde(default, deserialize_with = "text")]
    pub depositDt: Option<String>,
    #[serde(default, deserialize_with = "text")]
    pub depositTm: Option<String>,
}

/// A field NICEPAY may send as a string, a number or `null`; an empty string counts as absent.
fn text<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Option<String>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Text {
        Str(String),
        Int(u64),
        Float(f64),
        Bool(bool),
    }
    let value = Option::<Text>::deserialize(deserializer)?;
    Ok(match value {
        None => None,
        Some(Text::Str(s)) if s.is_empty() => None,
        Some(Text::Str(s)) => Some(s),
        Some(Text::Int(n)) => Some(n.to_string()),
        Some(Text::Float(f)) => Some(f.to_string()),
        Some(Text::Bool(b)) => Some(b.to_string()),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn response_fields_accept_strings_numbers_and_nulls() {
        let body = r#"{"resultCd":"0000","resultMsg":"SUCCESS","tXid":"T1","amt":10000,
            "vacctNo":"8625","bankCd":null,"referenceNo":""}"#;
        let answer: RegistrationResponse = serde_json::from_str(body).expect("parses");
        assert_eq!(answer.amt.as_deref(), Some("10000"));
        assert_eq!(answer.bankCd, None);
        assert_eq!(answer.referenceNo, None);
        let envelope: Envelope = serde_json::from_str(body).expect("parses");
        assert_eq!(envelope.resultCd.as_deref(), Some("0000"));
    }
}
