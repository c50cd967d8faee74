use serde_json::{Value, json};

use super::*;
use crate::faults::{Fault, FaultRule};
use crate::test_support::{Catcher, post_json};

const IMID: &str = "IONPAYTEST";
const KEY: &str =
    "33F49GnCMS1mFYlGXisbUDzVf2ATWCl9k3R++d5hDd3Frmuos/XLx8XhXpe+LDYAbpGKZYSwtlyyLOtS/8aD7A==";

fn simulator() -> NicepaySimulator {
    NicepaySimulator::new(NicepayConfig::new(IMID, KEY))
}

fn stamp() -> String {
    wib::stamp(wib::now())
}

fn text(value: &Value) -> String {
    match value {
        Value::String(text) => text.clone(),
        other => other.to_string(),
    }
}

/// Sets `merchantToken` from the body's own fields; `subject` is `referenceNo` or `tXid`.
fn signed(mut body: Value, subject: &str) -> Value {
    let token = request_token(
        &text(&body["timeStamp"]),
        IMID,
        &text(&body[subject]),
        &text(&body["amt"]),
        KEY,
    );
    body["merchantToken"] = json!(token);
    body
}

fn registration(reference: &str, amt: Value) -> Value {
    let tomorrow = wib::now() + time::Duration::days(1);
    signed(
        json!({
            "timeStamp": stamp(),
            "iMid": IMID,
            "payMethod": "02",
            "currency": "IDR",
            "amt": amt,
            "referenceNo": reference,
            "goodsNm": "Test Transaction Nicepay",
            "billingNm": "Budi",
            "billingPhone": "08123456789",
            "billingEmail": "budi@example.com",
            "billingAddr": "Jl. Sudirman",
            "billingCity": "Jakarta",
            "billingState": "DKI Jakarta",
            "billingPostCd": "10210",
            "billingCountry": "Indonesia",
            "cartData": "{}",
            "dbProcessUrl": "http://127.0.0.1:9/notify",
            "bankCd": "CENA",
            "vacctValidDt": wib::date(tomorrow),
            "vacctValidTm": wib::time_of_day(tomorrow),
            "merFixAcctId": "",
        }),
        "referenceNo",
    )
}

fn inquiry_body(t_xid: &str, reference: &str, amt: &str) -> Value {
    let body = json!({
        "timeStamp": stamp(),
        "tXid": t_xid,
        "iMid": IMID,
        "referenceNo": reference,
        "amt": amt,
    });
    signed(body, "referenceNo")
}

fn cancel_body(t_xid: &str, amt: &str, cancel_type: &str) -> Value {
    let body = json!({
        "timeStamp": stamp(),
        "tXid": t_xid,
        "iMid": IMID,
        "payMethod": "02",
        "cancelType": cancel_type,
        "amt": amt,
        "cancelMsg": "customer changed their mind",
    });
    signed(body, "tXid")
}

fn with(mut body: Value, key: &str, value: Value) -> Value {
    body[key] = value;
    body
}

fn without(mut body: Value, key: &str) -> Value {
    if let Some(fields) = body.as_object_mut() {
        fields.remove(key);
    }
    body
}

async fn call(sim: &NicepaySimulator, path: &str, body: &Value) -> Value {
    let (status, answer) = post_json(
        sim.router(),
        path,
        Some("application/json"),
        body.to_string(),
    )
    .await;
    assert_eq!(status, 200);
    assert!(
        answer.is_object(),
        "every answer is a JSON object: {answer}"
    );
    assert!(
        answer["resultCd"].is_string() && answer["resultMsg"].is_string(),
        "{answer}"
    );
    answer
}

async fn result_of(sim: &NicepaySimulator, path: &str, body: &Value) -> String {
    text(&call(sim, path, body).await["resultCd"])
}

async fn register(sim: &NicepaySimulator, reference: &str) -> Value {
    let answer = call(
        sim,
        REGISTRATION_PATH,
        &registration(reference, json!("10000")),
    )
    .await;
    assert_eq!(answer["resultCd"], "0000", "{answer}");
    answer
}

fn txid_of(answer: &Value) -> String {
    text(&answer["tXid"])
}

#[test]
fn tokens_reproduce_the_published_vectors() {
    let cases = [
        (
            "20180123100505",
            "IONPAYTEST",
            "ORD12345",
            "10000",
            "f9d30f6c972e2b5718751bd087b178534673a91bbac845f8a24e60e8e4abbbc5",
        ),
        (
            "20170822170942",
            "IONPAYTEST",
            "OrdNo2017717942577",
            "1000",
            "b5149659e1a2f1271fb0833f8ea20e174b6fd389db26bc6ad036cc0dae6fa797",
        ),
        (
            "20221012080918",
            "IONPAYTEST",
            "ORDER20221012080918",
            "10000",
            "d8d0968892c568bc6ff5adc17cd755f85334a0b58fce85392682993a9ba653ed",
        ),
        (
            "20221215091222",
            "NORMALTEST",
            "ordNo20221215091214",
            "10000",
            "ea6e691a895f1ccc0602f534205ee60bc552552dde7610062cd048ea6c87965e",
        ),
        (
            "20220623100659",
            "NORMALTEST",
            "NORMALTEST02202212150941111979",
            "10000",
            "94acd9768557df77de675b7b97658d6a743cc0675f4eb681c871c4e1b56c0b0f",
        ),
        (
            "20221219111294",
            "NORMALTEST",
            "NORMALTEST00202212191104443483",
            "10000",
            "63d44f80942cc915f6d736995797470ac2918a9f88b6fb762608541145e65bd8",
        ),
    ];
    for (number, (timestamp, imid, subject, amt, expected)) in cases.into_iter().enumerate() {
        assert_eq!(
            request_token(timestamp, imid, subject, amt, KEY),
            expected,
            "vector {}",
            number + 1
        );
    }
    assert_eq!(
        notification_token("IONPAYTEST", "IONPAYTEST02202212141423372834", "10000", KEY),
        "76a7ea699351eef2ffd1ade233547ed7f3b44aea5859aee7c2250bff1bae7dc9",
        "vector 7"
    );
    assert_eq!(
        merchant_token(&["FIXOPEN001", "10021198"], KEY),
        "c31fec3c0e66c9d8703f9f8221f7c450950d7d26822abe037ce33c12f462c785",
        "vector 8"
    );
}

#[tokio::test]
async fn registration_answers_every_va_field() {
    let sim = simulator();
    let answer = register(&sim, "ORD-1").await;
    let t_xid = txid_of(&answer);
    assert_eq!(t_xid.len(), 30, "{t_xid}");
    assert!(t_xid.starts_with("IONPAYTEST02"));
    assert!(t_xid[12..].bytes().all(|b| b.is_ascii_digit()));
    assert_eq!(answer["resultMsg"], "SUCCESS");
    assert_eq!(answer["referenceNo"], "ORD-1");
    assert_eq!(answer["amt"], "10000");
    assert_eq!(answer["payMethod"], "02");
    assert_eq!(answer["bankCd"], "CENA");
    let vacct_no = text(&answer["vacctNo"]);
    assert_eq!(vacct_no.len(), 16);
    assert!(vacct_no.starts_with("1076"), "{vacct_no}");
    for key in [
        "transDt",
        "transTm",
        "vacctValidDt",
        "vacctValidTm",
        "currency",
        "goodsNm",
        "billingNm",
    ] {
        assert!(answer[key].is_string(), "{key}");
    }
    for key in ["mitraCd", "payNo", "payValidDt", "payValidTm"] {
        assert_eq!(answer[key], Value::Null, "{key}");
    }
    assert_eq!(sim.calls("registration"), 1);
    let view = sim.transaction("ORD-1").expect("kept");
    assert_eq!((view.t_xid.as_str(), view.status), (t_xid.as_str(), "3"));
}

#[tokio::test]
async fn numeric_amounts_mixed_case_content_type_and_spaced_json_are_accepted() {
    let sim = simulator();
    let body = registration("ORD-1", json!(10000));
    let spaced = serde_json::to_string_pretty(&body)
        .expect("json")
        .replace(':', " : ");
    let (status, answer) = post_json(
        sim.router(),
        REGISTRATION_PATH,
        Some("Application/JSON"),
        spaced,
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(answer["resultCd"], "0000", "{answer}");
    let body = without(
        without(registration("ORD-2", json!("10000")), "billingAddr"),
        "userIP",
    );
    assert_eq!(result_of(&sim, REGISTRATION_PATH, &body).await, "0000");
}

#[tokio::test]
async fn registration_errors_use_nicepay_result_codes() {
    let sim = simulator();
    let base = || registration("ORD-1", json!("10000"));
    let resign = |body: Value| signed(body, "referenceNo");
    let cases = [
        (with(base(), "merchantToken", json!("0".repeat(64))), "9010"),
        (without(base(), "merchantToken"), "9010"),
        (with(base(), "iMid", json!("OTHERMERCH")), "9011"),
        (resign(with(base(), "payMethod", json!("01"))), "9012"),
        (resign(with(base(), "currency", json!("USD"))), "9013"),
        (resign(without(base(), "amt")), "9007"),
        (resign(with(base(), "amt", json!("10000.00"))), "9008"),
        (resign(with(base(), "amt", json!(10000.5))), "9008"),
        (resign(with(base(), "amt", json!("0"))), "9209"),
        (resign(without(base(), "referenceNo")), "9014"),
        (
            resign(with(base(), "referenceNo", json!("R".repeat(41)))),
            "9207",
        ),
        (resign(without(base(), "goodsNm")), "9015"),
        (resign(without(base(), "billingNm")), "9016"),
        (resign(without(base(), "billingPhone")), "9017"),
        (resign(with(base(), "billingEmail", json!(""))), "9018"),
        (resign(without(base(), "dbProcessUrl")), "9020"),
        (resign(without(base(), "billingCity")), "9025"),
        (resign(without(base(), "billingCountry")), "9028"),
        (resign(with(base(), "cartData", json!({}))), "9022"),
        (resign(with(base(), "cartData", json!("{not json"))), "9022"),
        (
            resign(with(base(), "timeStamp", json!("2024010110000"))),
            "9031",
        ),
        (resign(with(base(), "bankCd", json!("XXXX"))), "9237"),
        (resign(without(base(), "bankCd")), "9237"),
        (
            resign(with(base(), "vacctValidDt", json!("2O991231"))),
            "9210",
        ),
        (
            resign(with(base(), "vacctValidDt", json!("20991331"))),
            "9210",
        ),
        (
            resign(with(base(), "vacctValidDt", json!("20200101"))),
            "9210",
        ),
        (resign(with(base(), "vacctValidTm", json!("2359"))), "9211"),
        (resign(without(base(), "vacctValidTm")), "9211"),
    ];
    for (body, expected) in cases {
        assert_eq!(
            result_of(&sim, REGISTRATION_PATH, &body).await,
            expected,
            "{body}"
        );
    }
    assert!(sim.transactions().is_empty());
}

#[tokio::test]
async fn a_body_that_is_not_json_still_gets_a_json_answer() {
    let sim = simulator();
    let body = registration("ORD-1", json!("10000")).to_string();
    for (content_type, body) in [
        (Some("text/plain"), body.clone()),
        (None, body),
        (Some("application/json"), "tXid=1".to_owned()),
    ] {
        let (status, answer) = post_json(sim.router(), REGISTRATION_PATH, content_type, body).await;
        assert_eq!(status, 200);
        assert_eq!(answer["resultCd"], "9001", "{answer}");
    }
}

#[tokio::test]
async fn a_reference_number_registers_once() {
    let sim = simulator();
    register(&sim, "ORD-1").await;
    let again = registration("ORD-1", json!("20000"));
    assert_eq!(result_of(&sim, REGISTRATION_PATH, &again).await, "9009");
    assert_eq!(sim.transactions().len(), 1);
}

#[tokio::test]
async fn empty_expiry_gets_the_default_and_fixed_accounts_use_the_customer_id() {
    let sim = simulator();
    let body = with(
        with(
            registration("ORD-1", json!("10000")),
            "vacctValidDt",
            json!(""),
        ),
        "vacctValidTm",
        json!(""),
    );
    assert_eq!(result_of(&sim, REGISTRATION_PATH, &body).await, "0000");
    let fixed = signed(
        with(
            registration("ORD-2", json!("10000")),
            "merFixAcctId",
            json!("123456789012"),
        ),
        "referenceNo",
    );
    let answer = call(&sim, REGISTRATION_PATH, &fixed).await;
    assert_eq!(answer["vacctNo"], "1076123456789012");
    let too_long = signed(
        with(
            registration("ORD-3", json!("10000")),
            "merFixAcctId",
            json!("1234567890123"),
        ),
        "referenceNo",
    );
    assert_eq!(result_of(&sim, REGISTRATION_PATH, &too_long).await, "9226");
}

#[tokio::test]
async fn inquiry_reports_every_field_and_the_status() {
    let sim = simulator();
    let registered = register(&sim, "ORD-1").await;
    let t_xid = txid_of(&registered);
    let answer = call(&sim, INQUIRY_PATH, &inquiry_body(&t_xid, "ORD-1", "10000")).await;
    assert_eq!(answer["resultCd"], "0000", "{answer}");
    assert_eq!(answer["status"], "3");
    for key in [
        "tXid",
        "iMid",
        "referenceNo",
        "payMethod",
        "amt",
        "reqDt",
        "reqTm",
        "transDt",
        "transTm",
        "currency",
        "goodsNm",
        "billingNm",
        "status",
        "bankCd",
        "vacctNo",
        "vacctValidDt",
        "vacctValidTm",
    ] {
        assert!(answer[key].is_string(), "{key} = {}", answer[key]);
    }
    for key in [
        "cancelAmt",
        "depositDt",
        "depositTm",
        "cardNo",
        "payNo",
        "mitraCd",
        "receiptCode",
    ] {
        assert_eq!(answer[key], Value::Null, "{key}");
    }
    assert_eq!(answer["vacctNo"], registered["vacctNo"]);
    assert_eq!(sim.calls("inquiry"), 1);
}

#[tokio::test]
async fn inquiry_checks_the_token_on_the_reference_and_finds_by_reference_without_txid() {
    let sim = simulator();
    let t_xid = txid_of(&register(&sim, "ORD-1").await);
    register(&sim, "ORD-2").await;
    let by_txid_token = signed(inquiry_body(&t_xid, "ORD-1", "10000"), "tXid");
    assert_eq!(result_of(&sim, INQUIRY_PATH, &by_txid_token).await, "9010");
    let no_txid = signed(
        without(inquiry_body("", "ORD-1", "10000"), "tXid"),
        "referenceNo",
    );
    assert_eq!(
        call(&sim, INQUIRY_PATH, &no_txid).await["tXid"],
        t_xid.as_str()
    );
    assert_eq!(
        result_of(&sim, INQUIRY_PATH, &inquiry_body(&t_xid, "ORD-2", "10000")).await,
        "9228"
    );
    assert_eq!(
        result_of(
            &sim,
            INQUIRY_PATH,
            &inquiry_body("IONPAYTEST02000000000000000", "ORD-1", "10000")
        )
        .await,
        "9228"
    );
    assert_eq!(
        result_of(
            &sim,
            INQUIRY_PATH,
            &inquiry_body(&t_xid, "ORD-404", "10000")
        )
        .await,
        "9228"
    );
    assert_eq!(
        result_of(
            &sim,
            INQUIRY_PATH,
            &with(inquiry_body(&t_xid, "ORD-1", "1"), "iMid", json!("X"))
        )
        .await,
        "9011"
    );

    let strict = NicepaySimulator::new(NicepayConfig {
        inquiry_requires_txid: true,
        ..NicepayConfig::new(IMID, KEY)
    });
    register(&strict, "ORD-1").await;
    assert_eq!(result_of(&strict, INQUIRY_PATH, &no_txid).await, "8004");
}

#[tokio::test]
async fn cancel_closes_an_unpaid_va_once_and_is_reported_as_status_4() {
    let sim = simulator();
    let t_xid = txid_of(&register(&sim, "ORD-1").await);
    let answer = call(&sim, CANCEL_PATH, &cancel_body(&t_xid, "10000", "01")).await;
    assert_eq!(answer["resultCd"], "0000", "{answer}");
    assert_eq!(answer["tXid"], t_xid.as_str());
    assert_eq!(answer["referenceNo"], "ORD-1");
    assert!(answer["canceltXid"].is_string());
    let inquiry = call(&sim, INQUIRY_PATH, &inquiry_body(&t_xid, "ORD-1", "10000")).await;
    assert_eq!(
        (inquiry["status"].clone(), inquiry["cancelAmt"].clone()),
        (json!("4"), json!("10000"))
    );
    assert_eq!(
        sim.transaction(&t_xid).expect("kept").state,
        TransactionState::Cancelled
    );
    assert_eq!(
        result_of(&sim, CANCEL_PATH, &cancel_body(&t_xid, "10000", "1")).await,
        "9318"
    );
    assert!(matches!(
        sim.pay("ORD-1", 10_000).await,
        Err(SimError::NotPayable {
            state: "cancelled",
            ..
        })
    ));
}

#[tokio::test]
async fn cancel_errors_use_nicepay_result_codes() {
    let sim = simulator();
    let t_xid = txid_of(&register(&sim, "ORD-1").await);
    let paid = txid_of(&register(&sim, "ORD-2").await);
    sim.pay_with("ORD-2", 10_000, CallbackOptions::repeated(0, false))
        .await
        .expect("paid");
    let by_reference_token = signed(
        with(
            cancel_body(&t_xid, "10000", "1"),
            "referenceNo",
            json!("ORD-1"),
        ),
        "referenceNo",
    );
    let cases = [
        (cancel_body(&paid, "10000", "1"), "9330"),
        (cancel_body(&t_xid, "10000", "2"), "9327"),
        (cancel_body(&t_xid, "10000", "02"), "9327"),
        (cancel_body(&t_xid, "10000", "3"), "9301"),
        (
            signed(
                without(cancel_body(&t_xid, "10000", "1"), "cancelType"),
                "tXid",
            ),
            "9301",
        ),
        (cancel_body(&t_xid, "20000", "1"), "9319"),
        (
            cancel_body("IONPAYTEST02000000000000000", "10000", "1"),
            "9228",
        ),
        (by_reference_token, "9010"),
        (
            signed(without(cancel_body(&t_xid, "10000", "1"), "amt"), "tXid"),
            "9007",
        ),
    ];
    for (body, expected) in cases {
        assert_eq!(
            result_of(&sim, CANCEL_PATH, &body).await,
            expected,
            "{body}"
        );
    }
    assert_eq!(
        sim.transaction("ORD-1").expect("kept").state,
        TransactionState::Unpaid
    );
    assert_eq!(sim.calls("cancel"), 9);
}

#[tokio::test]
async fn an_expired_va_reports_status_4_and_refuses_payment_and_cancel() {
    let sim = simulator();
    let t_xid = txid_of(&register(&sim, "ORD-1").await);
    sim.expire("ORD-1").expect("exists");
    let inquiry = call(&sim, INQUIRY_PATH, &inquiry_body(&t_xid, "ORD-1", "10000")).await;
    assert_eq!(
        (inquiry["status"].clone(), inquiry["cancelAmt"].clone()),
        (json!("4"), Value::Null)
    );
    assert_eq!(
        result_of(&sim, CANCEL_PATH, &cancel_body(&t_xid, "10000", "1")).await,
        "9318"
    );
    let refused = sim
        .pay_with("ORD-1", 10_000, CallbackOptions::repeated(0, false))
        .await;
    assert!(
        matches!(
            refused,
            Err(SimError::NotPayable {
                state: "expired",
                ..
            })
        ),
        "{refused:?}"
    );
}

fn form(body: &str) -> HashMap<String, String> {
    serde_urlencoded::from_str(body).expect("form-encoded")
}

async fn register_notifying(sim: &NicepaySimulator, reference: &str, url: &str) -> Value {
    let body = signed(
        with(
            registration(reference, json!("10000")),
            "dbProcessUrl",
            json!(url),
        ),
        "referenceNo",
    );
    let answer = call(sim, REGISTRATION_PATH, &body).await;
    assert_eq!(answer["resultCd"], "0000", "{answer}");
    answer
}

#[tokio::test]
async fn pay_posts_the_form_notification_to_db_process_url() {
    let sim = simulator();
    let (catcher, url, _server) = Catcher::spawn("OK").await;
    let registered = register_notifying(&sim, "ORD-1", &url).await;
    let t_xid = txid_of(&registered);
    let outcome = sim
        .pay(&text(&registered["vacctNo"]), 10_000)
        .await
        .expect("paid");
    assert_eq!(
        outcome,
        CallbackOutcome {
            status: 200,
            body: "OK".to_owned()
        }
    );

    let caught = catcher.caught();
    assert_eq!(caught.len(), 1);
    assert_eq!(caught[0].content_type, "application/x-www-form-urlencoded");
    assert_eq!(caught[0].user_agent, "Jakarta Commons-HttpClient/3.1");
    assert!(
        caught[0].body.contains("goodsNm=Test+Transaction+Nicepay"),
        "{}",
        caught[0].body
    );
    let fields = form(&caught[0].body);
    for key in [
        "tXid",
        "merchantToken",
        "referenceNo",
        "payMethod",
        "amt",
        "currency",
        "goodsNm",
        "billingNm",
        "transDt",
        "transTm",
        "matchCl",
        "status",
        "bankCd",
        "vacctNo",
        "vacctValidDt",
        "vacctValidTm",
        "depositDt",
        "depositTm",
    ] {
        assert!(fields.contains_key(key), "{key} missing");
    }
    assert_eq!(fields["tXid"], t_xid);
    assert_eq!(fields["amt"], "10000");
    assert_eq!(
        (fields["status"].as_str(), fields["matchCl"].as_str()),
        ("0", "1")
    );
    assert_eq!(
        fields["merchantToken"],
        notification_token(IMID, &t_xid, "10000", KEY)
    );

    let inquiry = call(&sim, INQUIRY_PATH, &inquiry_body(&t_xid, "ORD-1", "10000")).await;
    assert_eq!(inquiry["status"], "0");
    assert_eq!(inquiry["depositDt"], fields["depositDt"].as_str());
    assert!(matches!(
        sim.pay("ORD-1", 10_000).await,
        Err(SimError::NotPayable { state: "paid", .. })
    ));
}

#[tokio::test]
async fn over_and_under_payments_are_marked_in_match_cl_and_hashed_with_the_paid_amount() {
    let sim = simulator();
    let (catcher, url, _server) = Catcher::spawn("OK").await;
    let over = txid_of(&register_notifying(&sim, "ORD-OVER", &url).await);
    register_notifying(&sim, "ORD-UNDER", &url).await;
    sim.pay("ORD-OVER", 12_000).await.expect("paid");
    sim.pay("ORD-UNDER", 9_000).await.expect("paid");
    let caught = catcher.caught();
    let (first, second) = (form(&caught[0].body), form(&caught[1].body));
    assert_eq!(
        (first["matchCl"].as_str(), first["amt"].as_str()),
        ("2", "12000")
    );
    assert_eq!(
        first["merchantToken"],
        notification_token(IMID, &over, "12000", KEY)
    );
    assert_eq!(second["matchCl"], "3");
    assert_eq!(
        sim.transaction("ORD-UNDER").expect("kept").paid_amount,
        Some(9_000)
    );
}

#[tokio::test]
async fn tampered_and_repeated_notifications() {
    let sim = simulator();
    let (catcher, url, _server) = Catcher::spawn("OK").await;
    for (reference, tamper) in [
        ("A", Tamper::FlipByte),
        ("B", Tamper::WrongKey),
        ("C", Tamper::StaleTimestamp),
    ] {
        register_notifying(&sim, reference, &url).await;
        sim.pay_with(reference, 10_000, CallbackOptions::tampered(tamper))
            .await
            .expect("posted");
    }
    register_notifying(&sim, "D", &url).await;
    let outcomes = sim
        .pay_with("D", 10_000, CallbackOptions::repeated(2, true))
        .await
        .expect("posted");
    assert_eq!(outcomes.len(), 2);
    sim.redeliver_last("D").await.expect("redelivered");

    let caught = catcher.caught();
    let genuine = |body: &str| {
        let fields = form(body);
        fields["merchantToken"] == notification_token(IMID, &fields["tXid"], &fields["amt"], KEY)
    };
    assert!(!genuine(&caught[0].body), "flipped token");
    assert!(!genuine(&caught[1].body), "wrong key");
    assert!(
        genuine(&caught[2].body),
        "a stale timestamp does not apply to NICEPAY"
    );
    assert_eq!(caught.len(), 6);
    assert!(
        caught[3..]
            .iter()
            .all(|c| c.body == caught[3].body && genuine(&c.body))
    );
}

#[tokio::test]
async fn faults_are_per_operation_and_skip_the_business_logic() {
    let sim = simulator();
    sim.faults().push(FaultRule::once("inquiry", Fault::Down));
    sim.faults()
        .push(FaultRule::once("registration", Fault::Malformed));
    let body = registration("ORD-1", json!("10000"));
    let (status, answer) = post_json(
        sim.router(),
        REGISTRATION_PATH,
        Some("application/json"),
        body.to_string(),
    )
    .await;
    assert_eq!(status, 200);
    assert!(answer.is_string(), "malformed: {answer}");
    assert!(sim.transaction("ORD-1").is_none());
    assert_eq!(sim.calls("registration"), 0);
    let t_xid = txid_of(&register(&sim, "ORD-1").await);
    let inquiry = inquiry_body(&t_xid, "ORD-1", "10000").to_string();
    let (status, _) = post_json(
        sim.router(),
        INQUIRY_PATH,
        Some("application/json"),
        inquiry.clone(),
    )
    .await;
    assert_eq!(status, 503);
    assert_eq!(sim.calls("inquiry"), 0);
    let (status, answer) = post_json(
        sim.router(),
        INQUIRY_PATH,
        Some("application/json"),
        inquiry,
    )
    .await;
    assert_eq!(
        (status.as_u16(), answer["resultCd"].clone()),
        (200, json!("0000"))
    );
}

#[tokio::test]
async fn a_hang_after_effect_on_cancel_cancels_before_answering() {
    let sim = simulator();
    let t_xid = txid_of(&register(&sim, "ORD-1").await);
    sim.faults()
        .push(FaultRule::once("cancel", Fault::HangAfterEffect { ms: 20 }));
    let answer = call(&sim, CANCEL_PATH, &cancel_body(&t_xid, "10000", "1")).await;
    assert_eq!(answer["resultCd"], "0000");
    assert_eq!(
        sim.transaction(&t_xid).expect("kept").state,
        TransactionState::Cancelled
    );
}

#[test]
fn config_reads_from_json_and_hides_the_key() {
    let config: NicepayConfig = serde_json::from_str(
        r#"{"imid":"IONPAYTEST","merchant_key":"s3cr3t","bank_prefixes":{"CENA":"39358"}}"#,
    )
    .expect("config");
    assert_eq!(config.prefix("CENA").as_deref(), Some("39358"));
    assert_eq!(config.prefix("BMRI").as_deref(), Some("70014"));
    assert_eq!(config.prefix("XXXX"), None);
    assert_eq!(config.default_expiry_secs, 86_400);
    assert!(!format!("{config:?}").contains("s3cr3t"));
}
