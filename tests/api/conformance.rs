//! The capability conformance suites (`mocks::conformance`) run against every adapter of
//! the capability, each through its own simulator. No gateway, no database: the adapter
//! talks straight to the simulator, and callbacks are captured from the simulator and
//! handed to the adapter as raw requests.

use adapter_bni::Bni;
use adapter_nicepay::Nicepay;
use mocks::bni::{BniConfig, BniSimulator};
use mocks::conformance::va;
use mocks::nicepay::{NicepayConfig, NicepaySimulator};
use mocks::server::any_local_port;
use serde_json::json;

use crate::helpers::{BNI_CLIENT, BNI_SECRET, NICEPAY_IMID, NICEPAY_KEY};

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
