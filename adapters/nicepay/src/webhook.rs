//! Payment notifications NICEPAY posts to `dbProcessUrl` (protocol 1.7): verify, parse,
//! acknowledge.
//!
//! The body is `application/x-www-form-urlencoded` (JSON is accepted too, defensively).
//! The only proof of origin is `merchantToken = SHA256(iMid + tXid + amt + merchantKey)`,
//! recomputed with **our** iMid and key (NICEPAY sends no iMid). It carries no timestamp, so
//! a captured notification can be replayed: NICEPAY "strongly recommends" confirming by
//! inquiry, and the adapter's trust is [`contracts::inbound::Trust::ConfirmByInquiry`].

use contracts::inbound::{
    AckOutcome, EventKind, InboundEvent, InboundRequest, InboundResponse, ResourceRef,
};
use contracts::{ErrorKind, OurReference, ProviderError, ProviderReference};
use secrecy::SecretString;
use serde_json::{Map, Value};

use crate::convert::{parse_amount, wib_date_time};
use crate::signature;
use crate::wire::{CURRENCY, Notification, PAY_METHOD_VA};

/// Notification `status`: a deposit (payment).
const STATUS_DEPOSIT: &str = "0";
/// Notification `status`: a reversal of an earlier deposit.
const STATUS_REVERSAL: &str = "1";

/// Verifies and parses one notification into its event.
pub(crate) fn verify_and_parse(
    imid: &str,
    key: &SecretString,
    request: &InboundRequest,
) -> Result<InboundEvent, ProviderError> {
    let payload = decode(request)?;
    let notification: Notification = serde_json::from_value(Value::Object(payload.clone()))
        .map_err(|_| invalid("notification fields are not text"))?;
    let (t_xid, amt) = verify(imid, key, &notification)?;
    parse(notification, t_xid, amt, Value::Object(payload))
}

/// The acknowledgement. NICEPAY documents none (1.7, 1.15 #1): `200 OK` is the safe answer
/// to a stored notification; a refusal is a 400 in NICEPAY's own `resultCd` shape.
pub(crate) fn acknowledge(outcome: &AckOutcome) -> InboundResponse {
    match outcome {
        AckOutcome::Accepted => InboundResponse::text(200, "OK"),
        AckOutcome::Rejected(err) => {
            let (code, message) = match err.kind {
                ErrorKind::InvalidSignature => ("9010", "Invalid Merchant Token"),
                _ => ("9999", "Notification not accepted"),
            };
            InboundResponse::json(
                400,
                &serde_json::json!({ "resultCd": code, "resultMsg": message }),
            )
        }
        // An outcome added later is not known to be stored: ask NICEPAY to send it again.
        AckOutcome::RetryLater | _ => InboundResponse::text(503, "RETRY"),
    }
}

/// The body's fields as a JSON object: form-encoded as documented, JSON when it says so
/// or looks like it.
fn decode(request: &InboundRequest) -> Result<Map<String, Value>, ProviderError> {
    let body = request.body.as_ref();
    let is_json = request
        .header("content-type")
        .is_some_and(|ct| ct.to_ascii_lowercase().contains("json"))
        || body.iter().find(|b| !b.is_ascii_whitespace()) == Some(&b'{');
    if is_json {
        match serde_json::from_slice::<Value>(body) {
            Ok(Value::Object(map)) => Ok(map),
            _ => Err(invalid("the notification body is not a JSON object")),
        }
    } else {
        let pairs: Vec<(String, String)> = serde_urlencoded::from_bytes(body)
            .map_err(|_| invalid("the notification body is not form-encoded"))?;
        Ok(pairs
            .into_iter()
            .map(|(name, value)| (name, Value::String(value)))
            .collect())
    }
}

/// Checks `merchantToken` in constant time; returns the verified `tXid` and `amt`.
fn verify(
    imid: &str,
    key: &SecretString,
    notification: &Notification,
) -> Result<(String, String), ProviderError> {
    let (Some(token), Some(t_xid), Some(amt)) = (
        notification.merchantToken.as_deref(),
        notification.tXid.as_deref(),
        notification.amt.as_deref(),
    ) else {
        return Err(invalid("merchantToken, tXid or amt is missing"));
    };
    let expected = signature::notification(imid, t_xid, amt, key);
    if !signature::matches(&expected, token) {
        return Err(invalid("merchantToken does not match"));
    }
    Ok((t_xid.to_owned(), amt.to_owned()))
}

/// Turns a verified notification into the event it reports.
fn parse(
    notification: Notification,
    t_xid: String,
    amt: String,
    payload: Value,
) -> Result<InboundEvent, ProviderError> {
    if notification
        .payMethod
        .as_deref()
        .is_some_and(|m| m != PAY_METHOD_VA)
    {
        return Err(rejected("not a virtual-account notification"));
    }
    if notification
        .currency
        .as_deref()
        .is_some_and(|c| c != CURRENCY)
    {
        return Err(rejected("currency is not IDR"));
    }
    let amount = parse_amount(&amt).map_err(|_| rejected("amt is not whole rupiah"))?;
    let status = notification.status.unwrap_or_default();
    let deposit_dt = notification.depositDt.unwrap_or_default();
    let deposit_tm = notification.depositTm.unwrap_or_default();
    let kind = match status.as_str() {
        STATUS_DEPOSIT => EventKind::VaPayment {
            amount,
            cumulative: None,
            billed: None,
            paid_at: wib_date_time(Some(&deposit_dt), Some(&deposit_tm)),
            payment_reference: Some(t_xid.clone()),
        },
        STATUS_REVERSAL => EventKind::VaReversal { amount },
        _ => return Err(rejected("unknown notification status")),
    };
    let provider_event_id = format!("{t_xid}:{status}:{deposit_dt}{deposit_tm}");
    let resource = ResourceRef::VirtualAccount {
        reference: notification.referenceNo.map(OurReference),
        provider_reference: Some(ProviderReference(t_xid)),
        va_number: notification.vacctNo,
    };
    Ok(InboundEvent::new(
        resource,
        kind,
        provider_event_id,
        payload,
    ))
}

fn invalid(message: &str) -> ProviderError {
    ProviderError::new(ErrorKind::InvalidSignature, message)
}

fn rejected(message: &str) -> ProviderError {
    ProviderError::new(ErrorKind::Rejected, message)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::signature::SANDBOX_KEY;
    use bytes::Bytes;
    use contracts::Amount;
    use time::OffsetDateTime;
    use time::macros::datetime;

    const T_XID: &str = "IONPAYTEST02202212141423372834";
    const TOKEN: &str = "76a7ea699351eef2ffd1ade233547ed7f3b44aea5859aee7c2250bff1bae7dc9";

    fn request(content_type: &str, body: String) -> InboundRequest {
        InboundRequest::new(
            "POST",
            "",
            vec![("content-type".to_owned(), content_type.to_owned())],
            Bytes::from(body),
            OffsetDateTime::UNIX_EPOCH,
        )
    }

    /// The published VA notification (protocol 1.3 vector 7, fields of 1.7).
    fn form(amt: &str, token: &str, status: &str) -> String {
        format!(
            "tXid={T_XID}&merchantToken={token}&referenceNo=ORD12345&payMethod=02&amt={amt}\
             &currency=IDR&goodsNm=Test+Transaction+Nicepay&billingNm=Customer+Name\
             &transDt=20221214&transTm=142337&matchCl=1&status={status}&bankCd=BMRI\
             &vacctNo=7001400002009226&vacctValidDt=20221215&vacctValidTm=235959\
             &depositDt=20221214&depositTm=142500&instmntType=&instmntMon="
        )
    }

    fn parse_with_sandbox_key(request: &InboundRequest) -> Result<InboundEvent, ProviderError> {
        verify_and_parse("IONPAYTEST", &SecretString::from(SANDBOX_KEY), request)
    }

    #[test]
    fn the_published_notification_verifies_and_parses() {
        let req = request(
            "application/x-www-form-urlencoded",
            form("10000", TOKEN, "0"),
        );
        let event = parse_with_sandbox_key(&req).expect("verifies");
        assert_eq!(
            event.resource,
            ResourceRef::VirtualAccount {
                reference: Some(OurReference("ORD12345".to_owned())),
                provider_reference: Some(ProviderReference(T_XID.to_owned())),
                va_number: Some("7001400002009226".to_owned()),
            }
        );
        assert_eq!(
            event.kind,
            EventKind::VaPayment {
                amount: Amount::new(10000).expect("amount"),
                cumulative: None,
                billed: None,
                paid_at: Some(datetime!(2022-12-14 14:25:00 +7)),
                payment_reference: Some(T_XID.to_owned()),
            }
        );
        assert_eq!(event.provider_event_id, format!("{T_XID}:0:20221214142500"));
        assert_eq!(event.payload["goodsNm"], "Test Transaction Nicepay");
        assert_eq!(event.payload["matchCl"], "1");
    }

    #[test]
    fn a_flipped_amount_or_token_is_an_invalid_signature() {
        let flipped_amt = request(
            "application/x-www-form-urlencoded",
            form("10001", TOKEN, "0"),
        );
        let err = parse_with_sandbox_key(&flipped_amt).expect_err("must fail");
        assert_eq!(err.kind, ErrorKind::InvalidSignature);

        let mut token = TOKEN.to_owned();
        token.replace_range(0..1, "8");
        let flipped_token = request(
            "application/x-www-form-urlencoded",
            form("10000", &token, "0"),
        );
        let err = parse_with_sandbox_key(&flipped_token).expect_err("must fail");
        assert_eq!(err.kind, ErrorKind::InvalidSignature);

        let other_key = verify_and_parse(
            "IONPAYTEST",
            &SecretString::from("another key"),
            &request(
                "application/x-www-form-urlencoded",
                form("10000", TOKEN, "0"),
            ),
        );
        assert_eq!(
            other_key.expect_err("must fail").kind,
            ErrorKind::InvalidSignature
        );
    }

    #[test]
    fn a_missing_token_is_an_invalid_signature() {
        let req = request(
            "application/x-www-form-urlencoded",
            format!("tXid={T_XID}&amt=10000&status=0"),
        );
        let err = parse_with_sandbox_key(&req).expect_err("must fail");
        assert_eq!(err.kind, ErrorKind::InvalidSignature);
    }

    #[test]
    fn a_json_notification_is_accepted_too() {
        let body = serde_json::json!({
            "tXid": T_XID, "merchantToken": TOKEN, "referenceNo": "ORD12345",
            "amt": 10000, "status": "1", "depositDt": "20221214", "depositTm": "142500",
        });
        let event = parse_with_sandbox_key(&request("application/json", body.to_string()))
            .expect("verifies");
        assert_eq!(
            event.kind,
            EventKind::VaReversal {
                amount: Amount::new(10000).expect("amount")
            }
        );
        assert_eq!(event.provider_event_id, format!("{T_XID}:1:20221214142500"));
    }

    #[test]
    fn a_well_signed_notification_with_an_unknown_status_is_rejected() {
        let req = request(
            "application/x-www-form-urlencoded",
            form("10000", TOKEN, "9"),
        );
        let err = parse_with_sandbox_key(&req).expect_err("must fail");
        assert_eq!(err.kind, ErrorKind::Rejected);
    }

    #[test]
    fn acknowledgements_follow_the_outcome() {
        let ok = acknowledge(&AckOutcome::Accepted);
        assert_eq!((ok.status, ok.body.as_ref()), (200, b"OK".as_ref()));
        let bad = acknowledge(&AckOutcome::Rejected(invalid("x")));
        assert_eq!(bad.status, 400);
        let body: Value = serde_json::from_slice(&bad.body).expect("json");
        assert_eq!(body["resultCd"], "9010");
        assert_eq!(acknowledge(&AckOutcome::RetryLater).status, 503);
    }
}
