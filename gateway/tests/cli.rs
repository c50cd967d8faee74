//! The `gateway` binary's commands: `config check`, `sign`, `migrate`.

use std::process::Command;

fn gateway() -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_gateway"));
    command.current_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/.."));
    command.env_remove("GATEWAY__DATABASE__URL");
    command
}

fn key(name: &str) -> String {
    let path = format!("{}/../mocks/keys/{name}.pem", env!("CARGO_MANIFEST_DIR"));
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

/// The production example with its RSA keys given through the environment, as its
/// comments advise.
fn production_example() -> Command {
    let mut command = gateway();
    command.args(["--config", "config/production.example.toml"]);
    let merchant = key("merchant.private");
    for (variable, value) in [
        (
            "GATEWAY__PROVIDERS__DOKU_MAIN__PRIVATE_KEY",
            merchant.clone(),
        ),
        (
            "GATEWAY__PROVIDERS__DOKU_MAIN__DOKU_PUBLIC_KEY",
            key("doku.public"),
        ),
        (
            "GATEWAY__PROVIDERS__ASTRAPAY_MAIN__PRIVATE_KEY",
            merchant.clone(),
        ),
        (
            "GATEWAY__PROVIDERS__ASTRAPAY_MAIN__ASTRAPAY_PUBLIC_KEY",
            key("astrapay.public"),
        ),
        ("GATEWAY__PROVIDERS__BNI_H2H__PRIVATE_KEY", merchant),
        (
            "GATEWAY__ESIGN__DATA_KEY",
            "ZXNpZ24tZGF0YS1rZXktZm9yLXRoZS1jbGktdGVzdHM=".to_owned(),
        ),
        (
            "GATEWAY__PROVIDERS__BNI_H2H__BANK_PUBLIC_KEY",
            key("bni.public"),
        ),
    ] {
        command.env(variable, value);
    }
    command
}

#[test]
fn config_check_prints_the_resolved_configuration_with_secrets_redacted() {
    let output = production_example()
        .args(["config", "check"])
        .env("GATEWAY__PROVIDERS__BNI_MODAL__TIMEOUT_MS", "4321")
        .output()
        .expect("run");
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let printed = String::from_utf8_lossy(&output.stdout);
    assert!(printed.contains("[redacted]"));
    assert!(
        printed.contains("4321"),
        "environment variables override files"
    );
    for secret in [
        "replace-with-the-bni-secret-key",
        "replace-with-the-nicepay-merchant-key",
        "replace-with-a-long-random-secret",
        "replace-with-the-doku-secret-key",
        "replace-with-the-astrapay-client-secret",
        "replace-with-the-secret-we-issue-to-astrapay",
        "replace-with-the-bni-snap-client-secret",
        "replace-with-the-secret-we-issue-to-bni",
        "PRIVATE KEY",
        "whsec_cmVw",
        "ZXNpZ24tZGF0YS1rZXkt",
        "replace-with-the-privyid-merchant-key",
        "replace-with-the-privyid-password",
        "replace-with-the-privyid-enterprise-token",
        "replace-with-32-random-url-safe-characters",
        "replace-with-the-digiflazz-production-key",
        "replace-with-the-digiflazz-webhook-secret",
        "replace-with-a-system-user-access-token",
        "replace-with-the-meta-app-secret",
        "replace-with-a-long-random-otp-key",
        "replace-with-another-long-random-secret",
        "replace-with-a-random-verify-token",
    ] {
        assert!(!printed.contains(secret), "{secret} leaked");
    }
}

#[test]
fn config_check_refuses_an_invalid_configuration() {
    let output = production_example()
        .args(["config", "check"])
        .env("GATEWAY__SERVER__AUTH_WINDOW_SECS", "3600")
        .output()
        .expect("run");
    assert!(!output.status.success());
    assert!(String::from_utf8_lossy(&output.stderr).contains("auth_window_secs"));
}

#[test]
fn sign_prints_headers_that_verify() {
    let output = gateway()
        .args([
            "sign",
            "--client",
            "demo",
            "--secret",
            "demo-sandbox-secret-0001",
            "--method",
            "POST",
            "--path",
            "/v1/virtual-accounts",
            "--body",
            "{}",
        ])
        .output()
        .expect("run");
    assert!(output.status.success());
    let printed = String::from_utf8_lossy(&output.stdout);
    let header = |name: &str| {
        printed
            .lines()
            .find_map(|l| l.strip_prefix(&format!("{name}: ")))
            .map(str::to_owned)
            .unwrap_or_else(|| panic!("{name} missing in {printed}"))
    };
    assert_eq!(header("X-Client-Id"), "demo");
    let ok = gateway::auth::verify(
        &[b"demo-sandbox-secret-0001".to_vec()],
        &header("X-Signature"),
        "POST",
        "/v1/virtual-accounts",
        &header("X-Timestamp"),
        &header("X-Nonce"),
        b"{}",
    );
    assert!(ok);
}

#[test]
fn migrate_creates_the_schema() {
    let file = std::env::temp_dir().join(format!("gateway-cli-{}.db", std::process::id()));
    let url = format!("sqlite://{}?mode=rwc", file.display());
    let output = gateway()
        .args(["migrate", "--database-url", &url])
        .output()
        .expect("run");
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    // One version per migration file.
    let versions = std::fs::read_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/migrations"))
        .expect("migrations")
        .filter(|e| {
            e.as_ref()
                .is_ok_and(|e| e.path().extension().is_some_and(|x| x == "sql"))
        })
        .count();
    let printed = String::from_utf8_lossy(&output.stdout).to_string();
    assert!(
        printed.contains(&format!("schema version {versions}")),
        "{printed}"
    );
    let again = gateway()
        .args(["migrate", "--database-url", &url])
        .output()
        .expect("run");
    assert!(again.status.success());
}

#[test]
fn operator_add_creates_an_account_once_with_a_hashed_password() {
    let db = std::env::temp_dir().join(format!("gateway-cli-operator-{}.db", std::process::id()));
    let url = format!("sqlite://{}?mode=rwc", db.display());
    let add = || {
        gateway()
            .args([
                "operator",
                "add",
                "--username",
                "ops-admin",
                "--role",
                "admin",
                "--phone",
                "+6281100000001",
                "--database-url",
                &url,
            ])
            .env("GATEWAY_OPERATOR_PASSWORD", "a-long-enough-password")
            .output()
            .expect("run")
    };
    let first = add();
    assert!(
        first.status.success(),
        "{}",
        String::from_utf8_lossy(&first.stderr)
    );
    assert!(String::from_utf8_lossy(&first.stdout).contains("operator ops-admin (admin) created"));
    let second = add();
    assert!(!second.status.success(), "the username is taken");
    let stored = std::fs::read(&db).expect("database");
    let text = String::from_utf8_lossy(&stored);
    assert!(
        !text.contains("a-long-enough-password"),
        "only a hash is stored"
    );
    assert!(text.contains("$argon2id$"));
    let weak = gateway()
        .args([
            "operator",
            "add",
            "--username",
            "ops-two",
            "--role",
            "staff",
            "--phone",
            "+6281100000002",
            "--database-url",
            &url,
        ])
        .env("GATEWAY_OPERATOR_PASSWORD", "short")
        .output()
        .expect("run");
    assert!(!weak.status.success());
    assert!(String::from_utf8_lossy(&weak.stderr).contains("at least 12 characters"));
    let _ = std::fs::remove_file(&db);
}
