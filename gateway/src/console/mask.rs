//! Personal data masked for the console's pages: the provider payloads, event bodies and
//! resource fields an operator reads.
//!
//! A value is masked when its key names personal data (names, phones, e-mails, NIK/KTP,
//! birth dates, addresses, customer numbers, serials that carry them), compared in lower
//! case with `_`, `-` and spaces removed, or when the value itself looks like an
//! Indonesian phone number, an e-mail address or a 16-digit NIK, whatever its key. `to` and
//! `from` are masked when they hold a phone number (8 digits or more). A masked string
//! keeps its first and last two characters when it has 8 or more (`Bu********so`) and is
//! all `*` when shorter; a masked number becomes `"***"`.

use serde_json::{Map, Value};

/// Keys that name personal data, normalized (lower case; no `_`, `-` or spaces).
const PERSONAL_KEYS: &[&str] = &[
    // Names.
    "name",
    "fullname",
    "firstname",
    "lastname",
    "middlename",
    "nickname",
    "customername",
    "custname",
    "accountname",
    "accountholder",
    "accountholdername",
    "holdername",
    "cardholdername",
    "ownername",
    "payername",
    "signername",
    "vaname",
    "virtualaccountname",
    "billingnm",
    "billingname",
    "nama",
    "namapelanggan",
    "namalengkap",
    // Phones and messaging addresses.
    "phone",
    "msisdn",
    "hp",
    "nohp",
    "mobile",
    "mobilenumber",
    "handphone",
    "telp",
    "telepon",
    "telephone",
    "waid",
    "recipient",
    "recipientid",
    // E-mail.
    "email",
    "mail",
    // Identity documents and birth.
    "nik",
    "ktp",
    "noktp",
    "nomorktp",
    "idnumber",
    "identity",
    "identitynumber",
    "idcard",
    "nationalid",
    "dob",
    "tanggallahir",
    "tgllahir",
    "tempatlahir",
    // Where the customer lives.
    "address",
    "alamat",
    // Numbers that name one customer at a biller or a card scheme.
    "customerno",
    "customernumber",
    "idpel",
    "idpelanggan",
    "nomorpelanggan",
    "meterno",
    "subscriberid",
    "customerpan",
    // Biller serials: a PLN token's `sn` is the token and the customer's name.
    "sn",
    "serialnumber",
    "token",
];

/// Keys ending in `name` or `nm` that name no person.
const IMPERSONAL_NAMES: &[&str] = &[
    "productname",
    "goodsnm",
    "goodsname",
    "templatename",
    "bankname",
    "brandname",
    "categoryname",
    "sellername",
    "billername",
    "merchantname",
    "providername",
    "issuername",
    "acquirername",
    "eventname",
    "filename",
    "hostname",
    "servicename",
    "channelname",
    "itemname",
    "packagename",
    "planname",
    "storename",
    "shopname",
    "typename",
];

/// How the values under a key are treated.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Under {
    /// Masked only when the value itself looks personal.
    Plain,
    /// A key naming personal data: every string and number is masked.
    Personal,
    /// `to` / `from`: masked when the value is a phone number of 8 digits or more.
    Address,
}

/// `value` with every personal string or number masked, at any depth.
pub fn json(value: &Value) -> Value {
    walk(value, Under::Plain)
}

/// A form-encoded body (`a=1&b=2`) with personal values masked, encoded again.
pub fn form(text: &str) -> String {
    let mut out = url::form_urlencoded::Serializer::new(String::new());
    for (key, value) in url::form_urlencoded::parse(text.as_bytes()) {
        let shown = match under_key(&key, Under::Plain) {
            Under::Personal => masked(&value),
            Under::Address if phone_like(&value) => masked(&value),
            _ if looks_personal(&value) => masked(&value),
            _ => value.into_owned(),
        };
        out.append_pair(&key, &shown);
    }
    out.finish()
}

/// `text` with all but its last 4 characters replaced by `*` (all of it when it has 4 or
/// fewer): `087800001230` → `********1230`.
pub fn digits(text: &str) -> String {
    let count = text.chars().count();
    if count <= 4 {
        return "*".repeat(count);
    }
    let tail: String = text.chars().skip(count - 4).collect();
    format!("{}{tail}", "*".repeat(count - 4))
}

/// `text` masked: the first and last two characters kept when it has 8 or more, all `*`
/// otherwise.
pub fn masked(text: &str) -> String {
    let chars: Vec<char> = text.chars().collect();
    if chars.len() < 8 {
        return "*".repeat(chars.len());
    }
    let mut out: String = chars[..2].iter().collect();
    out.push_str(&"*".repeat(chars.len() - 4));
    out.extend(&chars[chars.len() - 2..]);
    out
}

/// A stored body as an operator may see it: JSON pretty-printed and masked, a form body
/// masked field by field, anything else only as its size.
pub fn body(text: &str) -> String {
    if let Ok(value) = serde_json::from_str::<Value>(text) {
        return serde_json::to_string_pretty(&json(&value)).unwrap_or_else(|_| not_shown(text));
    }
    if is_form(text) {
        return form(text);
    }
    not_shown(text)
}

fn not_shown(text: &str) -> String {
    format!("({} bytes, not shown)", text.len())
}

/// Whether `text` reads as a form-encoded body: `key=value` pairs joined by `&`, nothing
/// a form encoder would have escaped.
fn is_form(text: &str) -> bool {
    !text.is_empty()
        && !text
            .chars()
            .any(|c| c.is_whitespace() || c.is_control() || c == '{' || c == '<')
        && text
            .split('&')
            .all(|pair| pair.split_once('=').is_some_and(|(key, _)| !key.is_empty()))
}

fn walk(value: &Value, under: Under) -> Value {
    match value {
        Value::Object(fields) => {
            let masked: Map<String, Value> = fields
                .iter()
                .map(|(key, v)| (key.clone(), walk(v, under_key(key, under))))
                .collect();
            Value::Object(masked)
        }
        Value::Array(items) => Value::Array(items.iter().map(|v| walk(v, under)).collect()),
        Value::String(text) => {
            let hide = match under {
                Under::Personal => true,
                Under::Address => phone_like(text) || looks_personal(text),
                Under::Plain => looks_personal(text),
            };
            if hide {
                Value::String(masked(text))
            } else {
                value.clone()
            }
        }
        Value::Number(n) => {
            let text = n.to_string();
            let hide = match under {
                Under::Personal => true,
                Under::Address => phone_like(&text) || looks_personal(&text),
                Under::Plain => looks_personal(&text),
            };
            if hide {
                Value::String("***".to_owned())
            } else {
                value.clone()
            }
        }
        Value::Bool(_) | Value::Null => value.clone(),
    }
}

/// How the value of `key` is treated, inside a value treated as `outer`. Everything under
/// a personal key stays masked; an object under `to`/`from` is judged by its own keys.
fn under_key(key: &str, outer: Under) -> Under {
    if outer == Under::Personal {
        return Under::Personal;
    }
    let segments: Vec<String> = key
        .split(['[', ']', '.'])
        .filter(|s| !s.is_empty())
        .map(normalize)
        .collect();
    if segments.iter().any(|s| personal(s)) {
        Under::Personal
    } else if segments.iter().any(|s| s == "to" || s == "from") {
        Under::Address
    } else {
        Under::Plain
    }
}

fn normalize(key: &str) -> String {
    key.chars()
        .filter(|c| !matches!(c, '_' | '-' | ' '))
        .flat_map(char::to_lowercase)
        .collect()
}

/// Whether a normalized key names personal data.
fn personal(key: &str) -> bool {
    if PERSONAL_KEYS.contains(&key) {
        return true;
    }
    if ["phone", "email", "msisdn", "birth", "lahir"]
        .iter()
        .any(|part| key.contains(part))
    {
        return true;
    }
    if key.ends_with("address") || key.ends_with("alamat") {
        return true;
    }
    (key.ends_with("name") || key.ends_with("nm")) && !IMPERSONAL_NAMES.contains(&key)
}

/// Whether a value, whatever its key, is a phone number, an e-mail address or a NIK, or
/// carries one as a word of a longer text.
fn looks_personal(text: &str) -> bool {
    let personal = |word: &str| indonesian_phone(word) || email(word) || nik(word);
    personal(text.trim())
        || text
            .split(|c: char| c.is_whitespace() || ",;/()<>\"'|".contains(c))
            .any(personal)
}

/// The digits of a phone-shaped value (`+`, spaces, `-` and `.` allowed between them).
fn phone_digits(text: &str) -> Option<String> {
    let text = text.trim();
    let rest = text.strip_prefix('+').unwrap_or(text);
    if rest.is_empty()
        || !rest
            .chars()
            .all(|c| c.is_ascii_digit() || matches!(c, ' ' | '-' | '.'))
    {
        return None;
    }
    Some(rest.chars().filter(char::is_ascii_digit).collect())
}

/// `+628…`, `628…` or `08…`, 9 to 13 digits in the national form (`08…`).
fn indonesian_phone(text: &str) -> bool {
    let Some(digits) = phone_digits(text) else {
        return false;
    };
    let national = match digits.strip_prefix("62") {
        Some(rest) => format!("0{rest}"),
        None => digits,
    };
    national.starts_with("08") && (9..=13).contains(&national.len())
}

/// Any phone number of 8 digits or more (for `to` / `from`).
fn phone_like(text: &str) -> bool {
    phone_digits(text).is_some_and(|digits| digits.len() >= 8)
}

fn email(text: &str) -> bool {
    let Some((local, domain)) = text.split_once('@') else {
        return false;
    };
    !local.is_empty()
        && !domain.contains('@')
        && domain.contains('.')
        && !domain.starts_with('.')
        && !domain.ends_with('.')
        && !text.chars().any(char::is_whitespace)
}

fn nik(text: &str) -> bool {
    text.len() == 16 && text.bytes().all(|b| b.is_ascii_digit())
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    /// Every string and number of a JSON value, flattened into one text.
    fn text_of(value: &Value) -> String {
        value.to_string()
    }

    #[test]
    fn long_strings_keep_two_characters_at_each_end_and_short_ones_none() {
        assert_eq!(masked("Budi Santoso"), "Bu********so");
        assert_eq!(masked("12345678"), "12****78");
        assert_eq!(masked("Budi"), "****");
        assert_eq!(masked("1234567"), "*******");
        assert_eq!(masked(""), "");
        assert_eq!(masked("Józef Ñandú"), "Jó*******dú");
    }

    #[test]
    fn digits_keep_the_last_four() {
        assert_eq!(digits("087800001230"), "********1230");
        assert_eq!(digits("12345"), "*2345");
        assert_eq!(digits("1234"), "****");
        assert_eq!(digits(""), "");
    }

    #[test]
    fn personal_keys_are_masked_whatever_their_spelling() {
        let masked = json(&json!({
            "name": "Budi Santoso",
            "customer_name": "Budi Santoso",
            "CustomerName": "Budi Santoso",
            "virtualAccountName": "Budi Santoso",
            "billingNm": "Budi Santoso",
            "nama": "Budi Santoso",
            "phone": "021-555-0101",
            "customer-phone": "021 555 0101",
            "msisdn": "12025550101",
            "wa_id": "12025550101",
            "email": "someone at example",
            "nik": "ABCD",
            "tanggal_lahir": "1990-01-01",
            "birth_date": "1990-01-01",
            "alamat": "JL. MERDEKA NO. 10",
            "customer_no": "530000000001",
            "sn": "1234-5678-9012-3456-7890/BUDI SANTOSO/R1/1300VA/14.5KWH",
        }));
        for (key, value) in masked.as_object().expect("object") {
            let text = value.as_str().expect("a string");
            assert!(
                text.chars().filter(|c| *c == '*').count() >= text.chars().count() / 2,
                "{key} masked: {text}"
            );
        }
        let all = text_of(&masked);
        for secret in ["Budi", "Santoso", "555", "MERDEKA", "1990", "BUDI"] {
            assert!(!all.contains(secret), "{secret} in {all}");
        }
    }

    #[test]
    fn ordinary_keys_are_left_alone() {
        let value = json!({
            "status": "paid",
            "type": "virtual_account.paid",
            "event": "payment",
            "kind": "va",
            "amount": 150000,
            "product_name": "XL Data 10GB",
            "productName": "XL Data 10GB",
            "buyer_sku_code": "xld10",
            "provider": "bni_main",
            "bank": "BNI",
            "reference": "INV-100",
            "id": "va_01jabcdefghjkmnpqrstvwxyz0",
            "goodsNm": "Invoice 100",
            "created_at": "2024-05-01T10:00:00+07:00",
            "trx_amount": "150000",
            "payment_ntb": "233171",
            "to": "ops",
            "from": "gateway",
        });
        assert_eq!(json(&value), value);
    }

    #[test]
    fn numbers_under_personal_keys_become_stars() {
        let masked = json(&json!({"phone": 6281234567890_i64, "nik": 12, "amount": 5}));
        assert_eq!(masked, json!({"phone": "***", "nik": "***", "amount": 5}));
    }

    #[test]
    fn values_that_look_personal_are_masked_under_any_key() {
        let masked = json(&json!({
            "reference": "081234567890",
            "note": "+62 812-3456-7890",
            "x": "6281234567890",
            "contact": "budi@example.com",
            "id_no": "3171234567890001",
            "n": 6281234567890_i64,
            "message": "sent to 6281234567890 today",
        }));
        let all = text_of(&masked);
        for secret in [
            "81234567890",
            "3456",
            "budi@",
            "example.com",
            "3171234567890001",
        ] {
            assert!(!all.contains(secret), "{secret} in {all}");
        }
        assert_eq!(masked["n"], "***");
        assert_eq!(masked["reference"], "08********90");
    }

    #[test]
    fn numbers_that_are_not_phones_stay() {
        let value = json!({"a": "0812", "b": "20221214", "c": "12345678901234567", "d": "081234567890123456"});
        assert_eq!(json(&value), value);
    }

    #[test]
    fn to_and_from_are_masked_only_when_they_hold_a_phone() {
        let masked = json(&json!({
            "to": "+1 202 555 0101",
            "from": "12025550101",
            "messages": [{"to": "ops-team", "from": "gateway"}],
        }));
        assert_eq!(masked["to"], "+1***********01");
        assert_eq!(masked["from"], "12*******01");
        assert_eq!(
            masked["messages"],
            json!([{"to": "ops-team", "from": "gateway"}])
        );
    }

    #[test]
    fn nested_objects_and_arrays_are_masked_at_every_depth() {
        let masked = json(&json!({
            "data": {"customer": {"name": "Budi Santoso", "id": "c-1"}, "items": [
                {"name": "Siti Aminah"},
                ["Budi", {"email": "x"}],
            ]},
            "customer": {"name": "Siti Aminah", "phone": "6281234567890"},
            "identity": {"number": "ABC123", "issued": ["Jakarta", 2020]},
        }));
        let all = text_of(&masked);
        for secret in [
            "Budi Santoso",
            "Siti",
            "Aminah",
            "6281234567890",
            "ABC123",
            "Jakarta",
            "2020",
        ] {
            assert!(!all.contains(secret), "{secret} in {all}");
        }
        assert_eq!(masked["data"]["customer"]["id"], "c-1");
        assert_eq!(
            masked["data"]["items"][1][0], "Budi",
            "not under a personal key"
        );
        assert_eq!(masked["data"]["items"][1][1]["email"], "*");
        assert_eq!(masked["identity"]["issued"], json!(["*******", "***"]));
    }

    #[test]
    fn form_bodies_are_masked_field_by_field() {
        let shown = form(
            "tXid=IONPAYTEST02&amt=150000&billingNm=Budi+Santoso&billingPhone=081234567890&goodsNm=Invoice+100&customer%5Bemail%5D=budi%40example.com&to=6281234567890",
        );
        assert!(shown.contains("tXid=IONPAYTEST02"), "{shown}");
        assert!(shown.contains("amt=150000"), "{shown}");
        assert!(shown.contains("goodsNm=Invoice+100"), "{shown}");
        for secret in ["Budi", "Santoso", "81234567890", "budi%40", "example.com"] {
            assert!(!shown.contains(secret), "{secret} in {shown}");
        }
        assert!(shown.contains("billingNm=Bu********so"), "{shown}");
    }

    #[test]
    fn bodies_are_json_form_or_only_their_size() {
        assert_eq!(
            body(r#"{"name":"Budi Santoso","status":"paid"}"#),
            "{\n  \"name\": \"Bu********so\",\n  \"status\": \"paid\"\n}"
        );
        assert_eq!(body("a=1&phone=081234567890"), "a=1&phone=08********90");
        assert_eq!(body("Budi Santoso paid"), "(17 bytes, not shown)");
        assert_eq!(body("<xml>Budi</xml>"), "(15 bytes, not shown)");
        assert_eq!(body(""), "(0 bytes, not shown)");
    }

    /// What the gateway stores of a BNI eCollection payment callback: the decrypted
    /// `data` (A.5).
    #[test]
    fn a_bni_callback_shows_no_customer() {
        let masked = json(&json!({
            "trx_id": "va_01jabcdefghjkmnpqrstvwxyz0",
            "virtual_account": "9881234500000001",
            "customer_name": "Budi Santoso",
            "trx_amount": "150000",
            "payment_amount": "150000",
            "cumulative_payment_amount": "150000",
            "payment_ntb": "233171",
            "datetime_payment": "2023-11-15 10:00:00",
            "datetime_payment_iso8601": "2023-11-15T10:00:00+07:00",
        }));
        assert_eq!(masked["customer_name"], "Bu********so");
        assert_eq!(masked["trx_id"], "va_01jabcdefghjkmnpqrstvwxyz0");
        assert_eq!(masked["payment_amount"], "150000");
        assert_eq!(masked["datetime_payment"], "2023-11-15 10:00:00");
    }

    /// NICEPAY posts a form (1.7); the adapter stores its fields as a JSON object.
    #[test]
    fn a_nicepay_notification_shows_no_billing_name() {
        let masked = json(&json!({
            "tXid": "IONPAYTEST02202212141425006789",
            "referenceNo": "pay_01jabcdefghjkmnpqrstvwxyz0",
            "payMethod": "02",
            "amt": "150000",
            "currency": "IDR",
            "goodsNm": "Test Transaction Nicepay",
            "billingNm": "Budi Santoso",
            "matchCl": "1",
            "status": "0",
            "bankCd": "BMRI",
            "vacctNo": "7001400002009876",
            "depositDt": "20221214",
            "depositTm": "142500",
            "merchantToken": "e0b4a3f1",
        }));
        assert_eq!(masked["billingNm"], "Bu********so");
        assert_eq!(masked["goodsNm"], "Test Transaction Nicepay");
        assert_eq!(masked["amt"], "150000");
        assert_eq!(masked["status"], "0");
        assert_eq!(masked["depositDt"], "20221214");
    }

    /// DOKU's SNAP VA payment notification (2.11.7) and its Checkout notification (2.8).
    #[test]
    fn doku_notifications_show_no_va_holder_or_customer() {
        let va = json(&json!({
            "partnerServiceId": "   88899",
            "customerNo": "00000000000000000001",
            "virtualAccountNo": "   8889900000000000000000001",
            "virtualAccountName": "Budi Santoso",
            "virtualAccountEmail": "budi@example.com",
            "virtualAccountPhone": "6281234567890",
            "trxId": "va_01jabcdefghjkmnpqrstvwxyz0",
            "paidAmount": {"value": "150000.00", "currency": "IDR"},
            "additionalInfo": {"channel": "VIRTUAL_ACCOUNT_BANK_MANDIRI"},
        }));
        let all = text_of(&va);
        for secret in ["Budi", "budi@", "81234567890"] {
            assert!(!all.contains(secret), "{secret} in {all}");
        }
        assert_eq!(va["paidAmount"]["value"], "150000.00");
        assert_eq!(va["trxId"], "va_01jabcdefghjkmnpqrstvwxyz0");
        let checkout = json(&json!({
            "customer": {"id": "c-1", "name": "Budi Santoso", "email": "budi@example.com", "phone": "6281234567890"},
            "order": {"invoice_number": "pay_01jabc", "amount": 150000},
            "transaction": {"status": "SUCCESS", "date": "2024-05-01T03:00:00Z"},
        }));
        let all = text_of(&checkout);
        for secret in ["Budi", "budi@", "81234567890"] {
            assert!(!all.contains(secret), "{secret} in {all}");
        }
        assert_eq!(checkout["transaction"]["status"], "SUCCESS");
        assert_eq!(checkout["order"]["amount"], 150000);
    }

    /// AstraPay's SNAP payment notification (QRIS).
    #[test]
    fn an_astrapay_notification_shows_no_customer_pan() {
        let masked = json(&json!({
            "originalReferenceNo": "AP0000000001",
            "originalPartnerReferenceNo": "pay_01jabc",
            "latestTransactionStatus": "00",
            "customerNumber": "9360082200000012345",
            "amount": {"value": "150000.00", "currency": "IDR"},
            "additionalInfo": {"customerPan": "9360082200000012345", "channel": "POS"},
        }));
        assert!(!text_of(&masked).contains("9360082200000012345"));
        assert_eq!(masked["latestTransactionStatus"], "00");
        assert_eq!(masked["additionalInfo"]["channel"], "POS");
    }

    /// One `statuses[]` object of a WhatsApp Cloud API webhook, as stored.
    #[test]
    fn a_whatsapp_status_shows_no_recipient() {
        let masked = json(&json!({
            "id": "wamid.HBgNNjI4MTIzNDU2Nzg5MBUCABIYFjNFQjA",
            "status": "delivered",
            "timestamp": "1714540800",
            "recipient_id": "6281234567890",
            "conversation": {"id": "c1", "origin": {"type": "utility"}},
            "pricing": {"billable": true, "category": "utility"},
        }));
        assert_eq!(masked["recipient_id"], "62*********90");
        assert_eq!(masked["status"], "delivered");
        assert_eq!(masked["timestamp"], "1714540800");
        assert_eq!(masked["conversation"]["origin"]["type"], "utility");
    }

    /// PrivyID's callbacks as stored (the adapter already leaves the identity out).
    #[test]
    fn privyid_callbacks_keep_their_tokens_and_statuses() {
        let value = json!({
            "eventName": "register",
            "message": "Registration verified",
            "data": {"userToken": "a1b2c3d4e5", "status": "verified"},
        });
        assert_eq!(json(&value), value);
    }

    /// A Digiflazz transaction callback: the customer number and the PLN serial (token and
    /// name) are masked, the product and status stay.
    #[test]
    fn a_digiflazz_callback_shows_no_customer_number_or_token() {
        let masked = json(&json!({"data": {
            "ref_id": "bill_01jabc",
            "customer_no": "530000000001",
            "buyer_sku_code": "pln20",
            "message": "Transaksi Sukses",
            "status": "Sukses",
            "rc": "00",
            "sn": "1234-5678-9012-3456-7890/BUDI SANTOSO/R1/1300VA/14.5KWH",
            "buyer_last_saldo": 4979700,
            "price": 20300,
            "desc": {"tarif": "R1", "daya": 1300, "alamat": "JL. MERDEKA NO. 10"},
        }}));
        let all = text_of(&masked);
        for secret in ["530000000001", "BUDI", "1234-5678", "MERDEKA"] {
            assert!(!all.contains(secret), "{secret} in {all}");
        }
        assert_eq!(masked["data"]["buyer_sku_code"], "pln20");
        assert_eq!(masked["data"]["status"], "Sukses");
        assert_eq!(masked["data"]["price"], 20300);
        assert_eq!(masked["data"]["desc"]["daya"], 1300);
    }
}
