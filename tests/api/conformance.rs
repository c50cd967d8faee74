//! The capability conformance suites (`mocks::conformance`) run against every adapter of
//! the capability, each through its own simulator. No gateway, no database: the adapter
//! talks straight to the simulator, and callbacks are captured from the simulator and
//! handed to the adapter as raw requests.

use adapter_bni::Bni;
use adapter_nicepay::Nicepay;
use mocks::astrapay::{AstraPayConfig, AstraPaySimulator};
use mocks::bni::{BniConfig, BniSimulator};
use mocks::bni_snap::{BniSnapConfig, BniSnapNotify, BniSnapSimulator};
use mocks::conformance::{payments, va};
use mocks::doku::{DokuConfig, DokuSimulator};
use mocks::nicepay::{NicepayConfig, NicepaySimulator};
use mocks::server::any_local_port;
use serde_json::json;

use crate::helpers::{
    ASTRAPAY_CLIENT, ASTRAPAY_NOTIFY_KEY, ASTRAPAY_NOTIFY_SECRET, ASTRAPAY_SECRET, BNI_CLIENT,
    BNI_NOTIFY_KEY, BNI_NOTIFY_SECRET, BNI_SECRET, BNI_SNAP_KEY, BNI_SNAP_PARTNER, BNI_SNAP_PREFIX,
    BNI_SNAP_SECRET, DOKU_CLIENT, DOKU_SECRET, NICEPAY_IMID, NICEPAY_KEY,
};

/// Well below `va::HANG_MS`, so a create that hangs after its effect times out quickly.
const TIMEOUT_MS: u64 = 500;

fn http() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("http client")
}

#[tokio::test]
async fn bni_passes_the_virtual_account_conformance_suite() {
    let sim = BniSimulator::new(BniConfig::new(BNI_CLIENT, BNI_SECRET));
    let running = sim.spawn(any_local_port()).await.expect("bni simulator");
    let config = serde_json::from_value(json!({
        "base_url": running.base_url,
        "client_id": BNI_CLIENT,
        "secret_key": BNI_SECRET,
        "timeout_ms": TIMEOUT_MS,
    }))
    .expect("bni config");
    let adapter = Bni::new(config, http()).expect("bni adapter");

    let report = va::run_all(&adapter, &adapter, &sim).await;
    assert!(report.is_success(), "{report}");
}

#[tokio::test]
async fn nicepay_passes_the_virtual_account_conformance_suite() {
    let sim = NicepaySimulator::new(NicepayConfig::new(NICEPAY_IMID, NICEPAY_KEY));
    let running = sim
        .spawn(any_local_port())
        .await
        .expect("nicepay simulator");
    let config = serde_json::from_value(json!({
        "base_url": running.base_url,
        "imid": NICEPAY_IMID,
        "merchant_key": NICEPAY_KEY,
        // Never posted to: the suite captures notifications instead.
        "notification_url": "http://127.0.0.1:9/v1/callbacks/nicepay_main",
        "timeout_ms": TIMEOUT_MS,
    }))
    .expect("nicepay config");
    let adapter = Nicepay::new(config, http()).expect("nicepay adapter");

    let report = va::run_all(&adapter, &adapter, &sim).await;
    assert!(report.is_success(), "{report}");
}

/// Callback URLs of a simulated provider, as the gateway would publish them for `instance`
/// (never posted to: the suites capture notifications and hand them to the adapter).
fn callback_root(instance: &str) -> String {
    format!("http://127.0.0.1:9/v1/callbacks/{instance}")
}

fn doku(base_url: &str) -> adapter_doku::Doku {
    let config = serde_json::from_value(json!({
        "base_url": base_url,
        "client_id": DOKU_CLIENT,
        "secret_key": DOKU_SECRET,
        "private_key": mocks::keys::MERCHANT.private_pem,
        "doku_public_key": mocks::keys::DOKU.public_pem,
        "partner_service_id": "8129",
        "request_timeout_ms": TIMEOUT_MS,
    }))
    .expect("doku config");
    adapter_doku::Doku::new(config, http()).expect("doku adapter")
}

async fn doku_simulator() -> (DokuSimulator, mocks::Running) {
    let sim = DokuSimulator::new(DokuConfig::new(DOKU_CLIENT, DOKU_SECRET));
    let running = sim.spawn(any_local_port()).await.expect("doku simulator");
    let root = callback_root("doku_main");
    sim.set_urls(
        &format!("{root}/authorization/v1/access-token/b2b"),
        &format!("{root}/v1.0/transfer-va/payment"),
        &root,
    );
    (sim, running)
}

#[tokio::test]
async fn doku_passes_the_virtual_account_conformance_suite() {
    let (sim, running) = doku_simulator().await;
    let adapter = doku(&running.base_url);
    let report = va::run_all(&adapter, &adapter, &sim).await;
    assert!(report.is_success(), "{report}");
}

#[tokio::test]
async fn doku_checkout_passes_the_payments_conformance_suite() {
    let (sim, running) = doku_simulator().await;
    let adapter = doku(&running.base_url);
    let report = payments::run_all(&adapter, &adapter, &sim, "doku_checkout").await;
    assert!(report.is_success(), "{report}");
}

#[tokio::test]
async fn bni_snap_passes_the_virtual_account_conformance_suite() {
    let sim = BniSnapSimulator::new(BniSnapConfig::new(
        BNI_SNAP_KEY,
        BNI_SNAP_PARTNER,
        BNI_SNAP_SECRET,
        BniSnapNotify::symmetric(BNI_NOTIFY_KEY, BNI_NOTIFY_SECRET),
    ));
    let running = sim
        .spawn(any_local_port())
        .await
        .expect("bni snap simulator");
    let root = callback_root("bni_snap");
    sim.set_urls(
        format!("{root}/v1.0/access-token/b2b"),
        format!("{root}/v1.0/transfer-va/inquiry"),
        format!("{root}/v1.0/transfer-va/payment"),
    );
    let config = serde_json::from_value(json!({
        "protocol": "snap",
        "base_url": running.base_url,
        "client_key": BNI_SNAP_KEY,
        "partner_id": BNI_SNAP_PARTNER,
        "client_secret": BNI_SNAP_SECRET,
        "private_key": mocks::keys::MERCHANT.private_pem,
        "partner_service_id": BNI_SNAP_PREFIX,
        "notify_client_key": BNI_NOTIFY_KEY,
        "notify_client_secret": BNI_NOTIFY_SECRET,
        "bank_public_key": mocks::keys::BNI.public_pem,
        "timeout_ms": TIMEOUT_MS,
    }))
    .expect("bni snap config");
    let adapter = Bni::new(config, http()).expect("bni snap adapter");
    let report = va::run_all(&adapter, &adapter, &sim).await;
    assert!(report.is_success(), "{report}");
}

#[tokio::test]
async fn astrapay_passes_the_payments_conformance_suite_for_each_method() {
    let sim = AstraPaySimulator::new(AstraPayConfig::new(
        ASTRAPAY_CLIENT,
        ASTRAPAY_SECRET,
        ASTRAPAY_NOTIFY_KEY,
        ASTRAPAY_NOTIFY_SECRET,
    ));
    let running = sim
        .spawn(any_local_port())
        .await
        .expect("astrapay simulator");
    let root = callback_root("astrapay_main");
    sim.set_urls(
        &format!("{root}/v1.0/access-token/b2b"),
        &format!("{root}/v1.0/debit/notify"),
        &format!("{root}/v1.0/qr/qr-mpm-notify"),
    );
    let config = serde_json::from_value(json!({
        "base_url": running.base_url,
        "client_id": ASTRAPAY_CLIENT,
        "client_secret": ASTRAPAY_SECRET,
        "private_key": mocks::keys::MERCHANT.private_pem,
        "merchant_id": sim.config().merchant_id,
        "qris_merchant_id": sim.config().qris_merchant_id,
        "qris_terminal_id": sim.config().qris_terminal_id,
        "notify_client_key": ASTRAPAY_NOTIFY_KEY,
        "notify_client_secret": ASTRAPAY_NOTIFY_SECRET,
        "astrapay_public_key": mocks::keys::ASTRAPAY.public_pem,
        "request_timeout_ms": TIMEOUT_MS,
    }))
    .expect("astrapay config");
    let adapter = adapter_astrapay::AstraPay::new(config, http()).expect("astrapay adapter");
    for method in ["astrapay", "qris"] {
        let report = payments::run_all(&adapter, &adapter, &sim, method).await;
        assert!(report.is_success(), "{report}");
    }
}

#[tokio::test]
async fn privyid_passes_the_esign_conformance_suite() {
    use crate::helpers::{
        PRIVY_CALLBACK_TOKEN, PRIVY_ENTERPRISE_TOKEN, PRIVY_MERCHANT_ID, PRIVY_MERCHANT_KEY,
        PRIVY_PASSWORD, PRIVY_USERNAME,
    };
    use mocks::privyid::{PrivyIdConfig, PrivyIdSimulator};

    let sim = PrivyIdSimulator::new(PrivyIdConfig::new(
        PRIVY_USERNAME,
        PRIVY_PASSWORD,
        PRIVY_MERCHANT_KEY,
        PRIVY_MERCHANT_ID,
        PRIVY_ENTERPRISE_TOKEN,
    ));
    let running = sim
        .spawn(any_local_port())
        .await
        .expect("privyid simulator");
    sim.set_callback_url(&format!(
        "{}/{PRIVY_CALLBACK_TOKEN}",
        callback_root("privyid_main")
    ));
    let config = serde_json::from_value(json!({
        "base_url": running.base_url,
        "merchant_key": PRIVY_MERCHANT_KEY,
        "merchant_privy_id": PRIVY_MERCHANT_ID,
        "enterprise_token": PRIVY_ENTERPRISE_TOKEN,
        "callback_token": PRIVY_CALLBACK_TOKEN,
        "auth": {"scheme": "basic", "username": PRIVY_USERNAME, "password": PRIVY_PASSWORD},
        "request_timeout_ms": TIMEOUT_MS,
    }))
    .expect("privyid config");
    let adapter = adapter_privyid::PrivyId::new(config, http()).expect("privyid adapter");

    let report = mocks::conformance::esign::run_all(&adapter, &adapter, &sim).await;
    assert!(report.is_success(), "{report}");
}

#[tokio::test]
async fn digiflazz_passes_the_biller_conformance_suite() {
    use crate::helpers::{DIGIFLAZZ_KEY, DIGIFLAZZ_USERNAME, DIGIFLAZZ_WEBHOOK_SECRET};
    use mocks::digiflazz::{DigiflazzConfig, DigiflazzSimulator};

    let mut config =
        DigiflazzConfig::new(DIGIFLAZZ_USERNAME, DIGIFLAZZ_KEY, DIGIFLAZZ_WEBHOOK_SECRET);
    config.pending_after = std::time::Duration::ZERO;
    let sim = DigiflazzSimulator::new(config);
    let running = sim
        .spawn(any_local_port())
        .await
        .expect("digiflazz simulator");
    sim.set_webhook_url(&callback_root("digiflazz_main"));
    let config = serde_json::from_value(json!({
        "base_url": running.base_url,
        "username": DIGIFLAZZ_USERNAME,
        "api_key": DIGIFLAZZ_KEY,
        "webhook_secret": DIGIFLAZZ_WEBHOOK_SECRET,
        "testing": true,
        "request_timeout_ms": TIMEOUT_MS,
    }))
    .expect("digiflazz config");
    let adapter = adapter_digiflazz::Digiflazz::new(config, http()).expect("digiflazz adapter");

    let report = mocks::conformance::biller::run_all(&adapter, &adapter, &sim).await;
    assert!(report.is_success(), "{report}");
}
