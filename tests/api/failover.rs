//! Routing and failover: a primary that is down hands issuance to the next instance; a
//! timeout is never failed over blindly — the adapter inquires by our reference first.

use std::time::Duration;

use mocks::{Fault, FaultRule};
use serde_json::Value;

use crate::helpers::{Backend, Options, TestApp, va_body};
use crate::on_both_backends;

async fn a_primary_that_is_down_fails_over(backend: Backend) {
    let mut options = Options::new(backend);
    options.demo_route = vec!["bni_down", "nicepay_main"];
    let app = TestApp::spawn_with(options).await;
    let va = app.issue("FAIL-1", 10_000).await;
    assert_eq!(
        va["provider"], "nicepay_main",
        "the VA records who issued it"
    );
    // 5xx from a primary fails over too.
    let mut options = Options::new(backend);
    options.demo_route = vec!["bni_main", "nicepay_main"];
    let app = TestApp::spawn_with(options).await;
    app.bni.faults().push(FaultRule::once(
        "createbilling",
        Fault::Status { code: 503 },
    ));
    let va = app.issue("FAIL-2", 10_000).await;
    assert_eq!(va["provider"], "nicepay_main");
    let usage: Value = app.get_json("demo", "/v1/usage").await;
    let lines = usage["data"].as_array().expect("usage lines");
    assert!(
        lines
            .iter()
            .any(|l| l["provider"] == "bni_main" && l["outcome"] == "unavailable"),
        "{usage}"
    );
    assert!(
        lines
            .iter()
            .any(|l| l["provider"] == "nicepay_main" && l["outcome"] == "ok"),
        "{usage}"
    );
}
on_both_backends!(a_primary_that_is_down_fails_over);

async fn a_timeout_after_the_effect_is_resolved_by_inquiry_not_retry(backend: Backend) {
    let mut options = Options::new(backend);
    options.provider_timeout_ms = 500;
    let app = TestApp::spawn_with(options).await;
    app.bni.faults().push(FaultRule::once(
        "createbilling",
        Fault::HangAfterEffect { ms: 1500 },
    ));
    let va = app.issue("TO-1", 10_000).await;
    assert_eq!(va["status"], "active");
    assert_eq!(va["provider"], "bni_main");
    assert_eq!(app.bni.calls("createbilling"), 1, "never created twice");
    assert_eq!(app.bni.calls("inquirybilling"), 1);
    assert_eq!(app.nicepay.calls("registration"), 0, "no blind failover");
    assert_eq!(app.bni.billings().len(), 1, "no orphan");
}
on_both_backends!(a_timeout_after_the_effect_is_resolved_by_inquiry_not_retry);

async fn an_unresolved_timeout_is_a_504_then_settled_by_the_scheduler(backend: Backend) {
    let mut options = Options::new(backend);
    options.provider_timeout_ms = 500;
    let app = TestApp::spawn_with(options).await;
    app.bni.faults().push(FaultRule::once(
        "createbilling",
        Fault::HangAfterEffect { ms: 1500 },
    ));
    app.bni
        .faults()
        .push(FaultRule::once("inquirybilling", Fault::Down));
    let response = app.create_va("demo", &va_body("TO-2", 10_000)).await;
    assert_eq!(response.status(), 504);
    let problem: Value = response.json().await.expect("json");
    assert_eq!(problem["code"], "provider_timeout");
    assert_eq!(problem["status"], 504);
    let id = problem["id"]
        .as_str()
        .expect("the pending VA's id")
        .to_owned();
    assert_eq!(
        app.get_va("demo", &id)
            .await
            .json::<Value>()
            .await
            .expect("json")["status"],
        "pending"
    );
    let resolved = app
        .eventually(Duration::from_secs(10), || async {
            app.get_va("demo", &id)
                .await
                .json::<Value>()
                .await
                .expect("json")["status"]
                == "active"
        })
        .await;
    assert!(resolved, "the scheduler resolved it by inquiry");
    let va: Value = app.get_va("demo", &id).await.json().await.expect("json");
    assert_eq!(
        va["va_number"],
        app.bni.billing(&id).expect("billing").virtual_account
    );
    assert_eq!(app.bni.calls("createbilling"), 1);
    // A retry with the same reference points at the one VA.
    let retry = app.create_va("demo", &va_body("TO-2", 10_000)).await;
    assert_eq!(retry.status(), 409);
}
on_both_backends!(an_unresolved_timeout_is_a_504_then_settled_by_the_scheduler);

async fn a_timeout_before_the_effect_fails_over_after_the_inquiry_finds_nothing(backend: Backend) {
    let mut options = Options::new(backend);
    options.provider_timeout_ms = 500;
    let app = TestApp::spawn_with(options).await;
    app.bni.faults().push(FaultRule::once(
        "createbilling",
        Fault::HangBeforeEffect { ms: 1500 },
    ));
    let va = app.issue("TO-3", 10_000).await;
    assert_eq!(va["provider"], "nicepay_main");
    assert_eq!(
        app.bni.calls("inquirybilling"),
        1,
        "asked before failing over"
    );
    assert!(app.bni.billings().is_empty());
}
on_both_backends!(a_timeout_before_the_effect_fails_over_after_the_inquiry_finds_nothing);

async fn every_provider_down_is_a_503_and_frees_the_reference(backend: Backend) {
    let mut options = Options::new(backend);
    options.demo_route = vec!["bni_down"];
    let app = TestApp::spawn_with(options).await;
    let response = app.create_va("demo", &va_body("DOWN-1", 10_000)).await;
    assert_eq!(response.status(), 503);
    let problem: Value = response.json().await.expect("json");
    assert_eq!(problem["code"], "provider_unavailable");
    assert_eq!(
        app.count(
            "SELECT COUNT(*) FROM virtual_accounts WHERE reference = $1",
            "DOWN-1"
        )
        .await,
        0
    );
}
on_both_backends!(every_provider_down_is_a_503_and_frees_the_reference);

async fn the_request_deadline_answers_a_problem_and_the_va_is_settled_later(backend: Backend) {
    let mut options = Options::new(backend);
    options.request_timeout_ms = 700;
    options.provider_timeout_ms = 5_000;
    let app = TestApp::spawn_with(options).await;
    app.bni.faults().push(FaultRule::once(
        "createbilling",
        Fault::HangAfterEffect { ms: 1500 },
    ));
    let response = app.create_va("demo", &va_body("DEADLINE-1", 10_000)).await;
    assert_eq!(response.status(), 504);
    let problem: Value = response.json().await.expect("json");
    assert_eq!(problem["code"], "request_timeout");
    assert!(problem["request_id"].is_string());
    // The VA was left mid-issuance; the scheduler finds it at the provider.
    let settled = app
        .eventually(Duration::from_secs(15), || async {
            let list: Value = app
                .get_json("demo", "/v1/virtual-accounts?reference=DEADLINE-1")
                .await;
            list["data"][0]["status"] == "active"
        })
        .await;
    assert!(settled, "resolved by inquiry");
    assert_eq!(app.bni.calls("createbilling"), 1);
}
on_both_backends!(the_request_deadline_answers_a_problem_and_the_va_is_settled_later);
