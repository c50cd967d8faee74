//! Inbound payment callbacks (A.5): check the envelope, decrypt, enforce the window both
//! ways, validate every field's shape, and render BNI's acknowledgement.
//!
//! The cipher is no MAC (A.4.4): a message decrypted with a slightly wrong key still looks
//! almost right (TV-2). So a callback counts only when its client id matches, it decrypts
//! to a JSON object stamped within the window, and every field has the shape BNI sends.
//! Neither the secret nor the decrypted payload (it names the customer) is ever logged.

use bytes::Bytes;
use contracts::inbound::{AckOutcome, EventKind, InboundEvent, InboundResponse, ResourceRef};
use contracts::{Amount, ErrorKind, OurReference};
use secrecy::ExposeSecret;
use serde_json::Value;
use time::OffsetDateTime;

use crate::config::Config;
use crate::convert::{is_digits, parse_amount, parse_iso, parse_wib};
use crate::error::CallbackError;
use crate::signature::BniEnc;
use crate::wire;

/// VA numbers are 16 digits (A.3, A.6).
const VA_NUMBER_DIGITS: usize = 16;

/// Verifies and parses one callback body at `now` (Unix seconds).
pub(crate) fn parse_callback(
    config: &Config,
    body: &[u8],
    now: i64,
) -> Result<InboundEvent, CallbackError> {
    let envelope = open_envelope(body, &config.client_id)?;
    let payload = decrypt_payload(config, &envelope.data, now)?;
    let notification: wire::PaymentNotification = serde_json::from_value(payload.clone())
        .map_err(|_| CallbackError::Field("(a value is not a string)"))?;
    to_event(&notification, payload, &config.client_id)
}

/// The outer `{"client_id","data"}`, for our client id (A.4.3: checked before decrypting).
fn open_envelope(body: &[u8], client_id: &str) -> Result<wire::CallbackEnvelope, CallbackError> {
    let envelope: wire::CallbackEnvelope =
        serde_json::from_slice(body).map_err(|_| CallbackError::Envelope)?;
    if envelope.client_id != client_id {
        return Err(CallbackError::ClientId);
    }
    Ok(envelope)
}

/// Decrypts `data`, enforces `|ts - now| <= window`, and parses it as a JSON object.
fn decrypt_payload(config: &Config, data: &str, now: i64) -> Result<Value, CallbackError> {
    let keys = BniEnc::new(&config.client_id, config.secret_key.expose_secret());
    let opened = keys.open(data, now, config.timestamp_window_secs)?;
    match serde_json::from_str::<Value>(&opened.json) {
        Ok(payload @ Value::Object(_)) => Ok(payload),
        _ => Err(CallbackError::Sealed(
            "decrypted data is not a JSON object".to_owned(),
        )),
    }
}

/// The normalized event; every field BNI's callback sample lists must be there and well formed.
fn to_event(
    n: &wire::PaymentNotification,
    payload: Value,
    client_id: &str,
) -> Result<InboundEvent, CallbackError> {
    if n.client_id.as_deref().is_some_and(|c| c != client_id) {
        return Err(CallbackError::ClientId);
    }
    let trx_id = required(n.trx_id.as_deref(), "trx_id").and_then(check_trx_id)?;
    let va_number =
        required(n.virtual_account.as_deref(), "virtual_account").and_then(check_va_number)?;
    let payment_ntb = required(n.payment_ntb.as_deref(), "payment_ntb").and_then(check_ntb)?;
    let kind = payment(n, payment_ntb)?;
    let resource = ResourceRef::VirtualAccount {
        reference: Some(OurReference(trx_id.to_owned())),
        provider_reference: None,
        va_number: Some(va_number.to_owned()),
    };
    // One event per payment: an installment billing gets several callbacks (A.5).
    let event_id = format!("{trx_id}:{payment_ntb}");
    Ok(InboundEvent::new(resource, kind, event_id, payload))
}

/// The payment itself; the cumulative total includes it, so it can never be smaller.
fn payment(n: &wire::PaymentNotification, ntb: &str) -> Result<EventKind, CallbackError> {
    let paid = payment_amount(n.payment_amount.as_deref())?;
    let cumulative = amount(
        n.cumulative_payment_amount.as_deref(),
        "cumulative_payment_amount",
    )?;
    if cumulative < paid {
        return Err(CallbackError::Field("cumulative_payment_amount"));
    }
    Ok(EventKind::VaPayment {
        amount: paid,
        cumulative: Some(cumulative),
        billed: Some(amount(n.trx_amount.as_deref(), "trx_amount")?),
        paid_at: Some(paid_at(
            n.datetime_payment_iso8601.as_deref(),
            n.datetime_payment.as_deref(),
        )?),
        payment_reference: Some(ntb.to_owned()),
    })
}

fn required<'a>(value: Option<&'a str>, field: &'static str) -> Result<&'a str, CallbackError> {
    value
        .filter(|v| !v.is_empty())
        .ok_or(CallbackError::Field(field))
}

/// Our own reference, as we sent it: printable ASCII without spaces.
fn check_trx_id(trx_id: &str) -> Result<&str, CallbackError> {
    if !trx_id.bytes().all(|b| b.is_ascii_graphic()) {
        return Err(CallbackError::Field("trx_id"));
    }
    Ok(trx_id)
}

fn check_va_number(va: &str) -> Result<&str, CallbackError> {
    if !is_digits(va) || va.len() != VA_NUMBER_DIGITS {
        return Err(CallbackError::Field("virtual_account"));
    }
    Ok(va)
}

/// BNI's journal number: seen as digits; letters are tolerated, punctuation is not.
fn check_ntb(ntb: &str) -> Result<&str, CallbackError> {
    if !ntb.bytes().all(|b| b.is_ascii_alphanumeric()) || ntb.len() > 64 {
        return Err(CallbackError::Field("payment_ntb"));
    }
    Ok(ntb)
}

fn amount(text: Option<&str>, field: &'static str) -> Result<Amount, CallbackError> {
    text.and_then(parse_amount)
        .ok_or(CallbackError::Field(field))
}

/// A payment of nothing is not a payment.
fn payment_amount(text: Option<&str>) -> Result<Amount, CallbackError> {
    let paid = amount(text, "payment_amount")?;
    if paid == Amount::ZERO {
        return Err(CallbackError::Field("payment_amount"));
    }
    Ok(paid)
}

/// `datetime_payment_iso8601` when present, else the WIB `datetime_payment`; whichever is
/// used must parse.
fn paid_at(iso: Option<&str>, wib: Option<&str>) -> Result<OffsetDateTime, CallbackError> {
    match (iso, wib) {
        (Some(iso), _) => parse_iso(iso).ok_or(CallbackError::Field("datetime_payment_iso8601")),
        (None, Some(wib)) => parse_wib(wib).ok_or(CallbackError::Field("datetime_payment")),
        (None, None) => Err(CallbackError::Field("datetime_payment")),
    }
}

/// `{"status":"000"}`: BNI's expected answer to a callback it should stop sending (A.5).
const ACCEPTED: &[u8] = br#"{"status":"000"}"#;
/// BNI's own sample answer when decryption or the time check fails (A.4.2 step 4).
const BAD_SIGNATURE: &[u8] =
    br#"{"status":"999","message":"waktu server tidak sesuai NTP atau secret key salah."}"#;
/// Our answer to a callback that decrypted but cannot be used.
const BAD_CONTENT: &[u8] = br#"{"status":"999","message":"invalid payment notification"}"#;
/// A.7 `997`, for "try again later".
const RETRY_LATER: &[u8] = br#"{"status":"997","message":"System is temporarily offline"}"#;

/// The answer BNI expects for `outcome`.
pub(crate) fn acknowledge(outcome: &AckOutcome) -> InboundResponse {
    match outcome {
        AckOutcome::Accepted => json(200, ACCEPTED),
        AckOutcome::Rejected(error) if error.kind == ErrorKind::InvalidSignature => {
            json(400, BAD_SIGNATURE)
        }
        AckOutcome::Rejected(_) => json(400, BAD_CONTENT),
        AckOutcome::RetryLater => json(503, RETRY_LATER),
        // Any outcome added later: ask BNI to come back rather than drop the payment.
        _ => json(503, RETRY_LATER),
    }
}

fn json(status: u16, body: &'static [u8]) -> InboundResponse {
    InboundResponse {
        status,
        content_type: "application/json",
        body: Bytes::from_static(body),
        headers: Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use contracts::inbound::{Inbound, InboundNotifications, InboundRequest, Trust};
    use contracts::{Amount, ErrorKind, OurReference, ProviderError};
    use serde_json::{Value, json};
    use time::macros::datetime;

    use super::*;
    use crate::Bni;
    use crate::config::tests::sample;
    use crate::signature::vectors::{OUR_CLIENT_ID, OUR_SECRET, TV7_CIPHER};

    /// TV-7's timestamp: 2023-11-15T03:00:00Z.
    const TV7_TIME: i64 = 1_700_017_200;

    fn adapter() -> Bni {
        Bni::new(sample("http://127.0.0.1:9"), reqwest::Client::new()).expect("config")
    }

    fn request(body: String) -> InboundRequest {
        let received = datetime!(2023-11-15 03:00:00 UTC);
        InboundRequest::new("POST", "", Vec::new(), Bytes::from(body), received)
    }

    fn envelope(client_id: &str, data: &str) -> String {
        json!({"client_id": client_id, "data": data}).to_string()
    }

    fn tv7_payload() -> Value {
        json!({
            "trx_id": "INV-0001", "virtual_account": "8123000000000001", "customer_name": "Budi",
            "trx_amount": "150000", "payment_amount": "150000",
            "cumulative_payment_amount": "150000", "payment_ntb": "233171",
            "datetime_payment": "2023-11-15 10:00:00",
            "datetime_payment_iso8601": "2023-11-15T10:00:00+07:00",
        })
    }

    /// `payload` encrypted with our keys at TV-7's time.
    fn sealed(payload: &Value) -> String {
        let data = BniEnc::new(OUR_CLIENT_ID, OUR_SECRET).encrypt(&payload.to_string(), TV7_TIME);
        envelope(OUR_CLIENT_ID, &data)
    }

    fn verify(body: String, now: i64) -> Result<InboundEvent, ProviderError> {
        match adapter().verify_at(&request(body), now)? {
            Inbound::Events(mut n) if n.events.len() == 1 => Ok(n.events.remove(0)),
            other => panic!("unexpected {other:?}"),
        }
    }

    fn refused(body: String, now: i64) -> ErrorKind {
        verify(body, now).expect_err("refused").kind
    }

    fn rupiah(value: i64) -> Option<Amount> {
        Amount::new(value).ok()
    }

    #[test]
    fn tv7_callback_parses_into_a_va_payment() {
        let event = verify(envelope("123", TV7_CIPHER), TV7_TIME).expect("verified");
        let resource = ResourceRef::VirtualAccount {
            reference: Some(OurReference("INV-0001".to_owned())),
            provider_reference: None,
            va_number: Some("8123000000000001".to_owned()),
        };
        assert_eq!(event.resource, resource);
        let kind = EventKind::VaPayment {
            amount: Amount::new(150_000).expect("amount"),
            cumulative: rupiah(150_000),
            billed: rupiah(150_000),
            paid_at: Some(datetime!(2023-11-15 10:00:00 +07:00)),
            payment_reference: Some("233171".to_owned()),
        };
        assert_eq!(event.kind, kind);
        assert_eq!(event.provider_event_id, "INV-0001:233171");
        assert_eq!(event.payload, tv7_payload());
    }

    #[test]
    fn the_window_applies_both_ways() {
        for skew in [-299, 0, 299, -300, 300] {
            let result = verify(envelope("123", TV7_CIPHER), TV7_TIME + skew);
            assert!(result.is_ok(), "skew {skew}");
        }
        for skew in [-301, 301] {
            let kind = refused(envelope("123", TV7_CIPHER), TV7_TIME + skew);
            assert_eq!(kind, ErrorKind::InvalidSignature, "skew {skew}");
        }
    }

    #[test]
    fn another_client_id_is_refused_before_decrypting() {
        assert_eq!(
            refused(envelope("124", TV7_CIPHER), TV7_TIME),
            ErrorKind::InvalidSignature
        );
        assert_eq!(
            refused(envelope("", TV7_CIPHER), TV7_TIME),
            ErrorKind::InvalidSignature
        );
    }

    #[test]
    fn tampered_data_is_refused() {
        let truncated = &TV7_CIPHER[..TV7_CIPHER.len() - 7];
        let mut not_base64 = TV7_CIPHER.to_owned();
        not_base64.replace_range(40..41, "!");
        let no_brace = shift_plaintext_byte(TV7_CIPHER, 11, 1);
        let far_timestamp = shift_plaintext_byte(TV7_CIPHER, 3, 1);
        let cases = [
            truncated,
            &not_base64,
            &no_brace,
            &far_timestamp,
            "",
            "AAAA",
        ];
        for data in cases {
            let kind = refused(envelope("123", data), TV7_TIME);
            assert_eq!(kind, ErrorKind::InvalidSignature, "{data}");
        }
    }

    /// A.4.4: the cipher is additive, so anyone who can guess the plaintext layout can
    /// shift bytes of it without the key. Here `payment_amount` and
    /// `cumulative_payment_amount` turn from 150000 into 950000 and everything still
    /// verifies: only the gateway's amount check against the billing, or
    /// `confirm_callbacks` (inquiry first), catches this.
    #[test]
    fn the_cipher_is_malleable_so_a_known_layout_can_be_altered() {
        let keys = BniEnc::new(OUR_CLIENT_ID, OUR_SECRET);
        let plain = keys.decrypt_bytes(TV7_CIPHER).expect("ok");
        let mut forged = TV7_CIPHER.to_owned();
        for field in [
            &b"\"payment_amount\":\""[..],
            b"\"cumulative_payment_amount\":\"",
        ] {
            forged = shift_plaintext_byte(&forged, find(&plain, field) + field.len(), 8);
        }
        let event = verify(envelope("123", &forged), TV7_TIME).expect("still verifies");
        let EventKind::VaPayment {
            amount, cumulative, ..
        } = event.kind
        else {
            panic!("not a payment");
        };
        assert_eq!(
            (amount.rupiah(), cumulative.map(Amount::rupiah)),
            (950_000, Some(950_000))
        );
    }

    /// Adds `delta` to plaintext byte `at` by editing only the ciphertext.
    fn shift_plaintext_byte(data: &str, at: usize, delta: u8) -> String {
        use base64::Engine as _;
        use base64::engine::general_purpose::URL_SAFE_NO_PAD;
        let mut raw = URL_SAFE_NO_PAD.decode(data).expect("base64");
        raw[at] = (raw[at] + delta) % 128;
        URL_SAFE_NO_PAD.encode(raw)
    }

    fn find(haystack: &[u8], needle: &[u8]) -> usize {
        haystack
            .windows(needle.len())
            .position(|w| w == needle)
            .expect("present")
    }

    #[test]
    fn a_slightly_wrong_secret_does_not_pass() {
        let wrong = BniEnc::new(OUR_CLIENT_ID, "0123456789abcdef0123456789abcdeg");
        let data = wrong.encrypt(&tv7_payload().to_string(), TV7_TIME);
        let kind = refused(envelope("123", &data), TV7_TIME);
        assert_eq!(kind, ErrorKind::InvalidSignature);
    }

    #[test]
    fn bad_envelopes_are_rejected() {
        for body in [
            "",
            "not json",
            r#"{"client_id":"123"}"#,
            r#"{"client_id":123,"data":"x"}"#,
        ] {
            assert_eq!(
                refused(body.to_owned(), TV7_TIME),
                ErrorKind::Rejected,
                "{body}"
            );
        }
        let mut get = request(envelope("123", TV7_CIPHER));
        get.method = "GET".to_owned();
        assert!(adapter().verify_at(&get, TV7_TIME).is_err());
    }

    #[test]
    fn ill_formed_fields_are_rejected() {
        let changes: [(&str, Value); 12] = [
            ("trx_id", Value::Null),
            ("trx_id", json!("")),
            ("virtual_account", json!("81230000000000")),
            ("payment_amount", json!("15O000")),
            ("payment_amount", json!("150000.00")),
            ("payment_amount", json!(150000)),
            ("payment_amount", json!("0")),
            ("cumulative_payment_amount", json!("100000")),
            ("trx_amount", Value::Null),
            ("payment_ntb", json!("23 3171")),
            ("datetime_payment_iso8601", json!("yesterday")),
            ("client_id", json!("999")),
        ];
        for (field, value) in changes {
            let mut payload = tv7_payload();
            payload[field] = value.clone();
            let kind = refused(sealed(&payload), TV7_TIME);
            let expected = if field == "client_id" {
                ErrorKind::InvalidSignature
            } else {
                ErrorKind::Rejected
            };
            assert_eq!(kind, expected, "{field} = {value}");
        }
    }

    #[test]
    fn wib_payment_time_is_used_when_iso_is_absent() {
        let mut payload = tv7_payload();
        payload
            .as_object_mut()
            .map(|o| o.remove("datetime_payment_iso8601"));
        payload["datetime_payment"] = json!("2023-11-15 11:30:00");
        let event = verify(sealed(&payload), TV7_TIME).expect("verified");
        let EventKind::VaPayment { paid_at, .. } = event.kind else {
            panic!("not a payment");
        };
        assert_eq!(paid_at, Some(datetime!(2023-11-15 11:30:00 +07:00)));
    }

    #[test]
    fn installment_payments_get_one_event_id_each() {
        let mut payload = tv7_payload();
        payload["payment_amount"] = json!("50000");
        payload["cumulative_payment_amount"] = json!("100000");
        payload["payment_ntb"] = json!("233172");
        let event = verify(sealed(&payload), TV7_TIME).expect("verified");
        assert_eq!(event.provider_event_id, "INV-0001:233172");
    }

    #[test]
    fn acknowledgements_speak_bni() {
        let bni = adapter();
        let ok = bni.acknowledge(&request(String::new()), &AckOutcome::Accepted);
        assert_eq!(
            (ok.status, ok.body.as_ref()),
            (200, br#"{"status":"000"}"#.as_slice())
        );
        assert_eq!(ok.content_type, "application/json");
        let bad_sig = ProviderError::new(ErrorKind::InvalidSignature, "x");
        let refused = bni.acknowledge(&request(String::new()), &AckOutcome::Rejected(bad_sig));
        assert_eq!(refused.status, 400);
        assert!(refused.body.starts_with(br#"{"status":"999","message":"#));
        let shape = bni.acknowledge(
            &request(String::new()),
            &AckOutcome::Rejected(ProviderError::new(ErrorKind::Rejected, "x")),
        );
        assert_eq!(shape.status, 400);
        assert!(shape.body.starts_with(br#"{"status":"999""#));
        let later = bni.acknowledge(&request(String::new()), &AckOutcome::RetryLater);
        assert_eq!(later.status, 503);
        assert!(later.body.starts_with(br#"{"status":"997""#));
    }

    #[test]
    fn trust_follows_the_configuration() {
        assert_eq!(adapter().trust(), Trust::Strong);
        let mut config = sample("http://127.0.0.1:9");
        config.confirm_callbacks = true;
        let bni = Bni::new(config, reqwest::Client::new()).expect("config");
        assert_eq!(bni.trust(), Trust::ConfirmByInquiry);
    }

    #[test]
    fn errors_never_quote_the_payload_or_the_secret() {
        let mut payload = tv7_payload();
        payload["payment_amount"] = json!("x");
        let error = verify(sealed(&payload), TV7_TIME).expect_err("refused");
        let shown = format!("{error} {error:?}");
        assert!(!shown.contains("Budi") && !shown.contains(OUR_SECRET));
    }
}
