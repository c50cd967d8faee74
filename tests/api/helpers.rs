//! `TestApp`: the real gateway router on a random port, with a fresh database (SQLite file,
//! or a fresh PostgreSQL database when `TEST_DATABASE_URL` is set), the BNI and NICEPAY
//! simulators, and a product webhook receiver.

use std::net::SocketAddr;
use std::time::Duration;

use gateway::app::App;
use gateway::auth::SignedHeaders;
use gateway::{AppState, Settings};
use mocks::Running;
use mocks::astrapay::{AstraPayConfig, AstraPaySimulator};
use mocks::bni::{BniConfig, BniSimulator};
use mocks::bni_snap::{BniSnapConfig, BniSnapNotify, BniSnapSimulator};
use mocks::digiflazz::{DigiflazzConfig, DigiflazzSimulator};
use mocks::doku::{DokuConfig, DokuSimulator};
use mocks::nicepay::{NicepayConfig, NicepaySimulator};
use mocks::privyid::{PrivyIdConfig, PrivyIdSimulator};
use mocks::server::any_local_port;
use mocks::webhook_receiver::WebhookReceiver;
use mocks::whatsapp::{WhatsAppConfig, WhatsAppSimulator};
use serde_json::{Value, json};
use sqlx::Connection;
use tokio::net::TcpListener;
use tokio::task::JoinHandle;

pub const DEMO_SECRET: &str = "demo-test-secret-000000001";
pub const DEMO2_SECRET: &str = "demo2-test-secret-00000002";
pub const DEMO_WEBHOOK_SECRET: &str = "whsec_dGVzdC13ZWJob29rLXNlY3JldC1mb3ItZGVtby0wMQ==";
pub const DEMO2_WEBHOOK_SECRET: &str = "whsec_dGVzdC13ZWJob29rLXNlY3JldC1mb3ItZGVtbzItMg==";
pub const BNI_CLIENT: &str = "123";
pub const BNI_SECRET: &str = "0123456789abcdef0123456789abcdef";
pub const NICEPAY_IMID: &str = "IONPAYTEST";
pub const NICEPAY_KEY: &str =
    "33F49GnCMS1mFYlGXisbUDzVf2ATWCl9k3R++d5hDd3Frmuos/XLx8XhXpe+LDYAbpGKZYSwtlyyLOtS/8aD7A==";
pub const ASTRAPAY_CLIENT: &str = "ASTRAPAY-TEST-CLIENT";
pub const ASTRAPAY_SECRET: &str = "astrapay-test-client-secret";
pub const ASTRAPAY_NOTIFY_KEY: &str = "GATEWAY-FOR-ASTRAPAY";
pub const ASTRAPAY_NOTIFY_SECRET: &str = "gateway-issued-astrapay-secret";
pub const DOKU_CLIENT: &str = "BRN-0201-1700000000001";
pub const DOKU_SECRET: &str = "SK-doku-test-secret-0001";
pub const BNI_SNAP_KEY: &str = "BNI-SNAP-TEST-CLIENT";
pub const BNI_SNAP_PARTNER: &str = "BNI-SNAP-TEST-PARTNER";
pub const BNI_SNAP_SECRET: &str = "bni-snap-test-client-secret";
pub const BNI_NOTIFY_KEY: &str = "GATEWAY-FOR-BNI";
pub const BNI_NOTIFY_SECRET: &str = "gateway-issued-bni-secret";
/// `partnerServiceId` of the bank-held and the host-to-host BNI SNAP instances.
pub const BNI_SNAP_PREFIX: &str = "8123";
pub const BNI_H2H_PREFIX: &str = "8124";
pub const WA_TOKEN: &str = "whatsapp-test-access-token";
pub const WA_PHONE_ID: &str = "106540352242922";
pub const WA_APP_SECRET: &str = "whatsapp-test-app-secret";
pub const WA_VERIFY_TOKEN: &str = "whatsapp-test-verify-token";
pub const PRIVY_USERNAME: &str = "privyid_test";
pub const PRIVY_PASSWORD: &str = "privyid-test-password";
pub const PRIVY_MERCHANT_KEY: &str = "privyid-test-merchant-key";
pub const PRIVY_MERCHANT_ID: &str = "MR1234";
pub const PRIVY_ENTERPRISE_TOKEN: &str = "privyid-test-enterprise-token";
/// The last segment of the PrivyID callback URL: the only proof a callback carries.
pub const PRIVY_CALLBACK_TOKEN: &str = "privyid-test-callback-token-0123456789";
pub const DIGIFLAZZ_USERNAME: &str = "digiflazz-test";
pub const DIGIFLAZZ_KEY: &str = "dev-digiflazz-test-key-0001";
pub const DIGIFLAZZ_WEBHOOK_SECRET: &str = "digiflazz-test-webhook-secret";
/// base64 of 32 bytes: the e-signature data key.
pub const ESIGN_DATA_KEY: &str = "dGVzdC1lc2lnbi1kYXRhLWtleS0wMTIzNDU2Nzg5YWI=";

/// Which database a test runs on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// Runs a scenario on SQLite and, when `TEST_DATABASE_URL` is set, on PostgreSQL.
#[macro_export]
macro_rules! on_both_backends {
    ($scenario:ident) => {
        mod $scenario {
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() {
                super::$scenario($crate::helpers::Backend::Sqlite).await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres() {
                if std::env::var("TEST_DATABASE_URL").is_err() {
                    eprintln!("TEST_DATABASE_URL not set: PostgreSQL variant not run");
                    return;
                }
                super::$scenario($crate::helpers::Backend::Postgres).await;
            }
        }
    };
}

/// Knobs a test can turn before the app starts.
#[derive(Clone, Debug)]
pub struct Options {
    pub backend: Backend,
    /// demo's VA route.
    pub demo_route: Vec<&'static str>,
    /// BNI billing type (`c` or `i`).
    pub bni_billing_type: &'static str,
    /// Adapter request timeout.
    pub provider_timeout_ms: u64,
    /// Request rate per second for demo.
    pub rate_per_second: u32,
    pub rate_burst: u32,
    /// Outbox retry ladder, seconds.
    pub retry_schedule: Vec<f64>,
    /// Body limit.
    pub body_limit: usize,
    /// BNI `confirm_callbacks`.
    pub bni_confirm: bool,
    /// Whole-request deadline.
    pub request_timeout_ms: u64,
    /// Whether `demo2` may use e-signature.
    pub demo2_esign: bool,
    /// `esign.identity_retention_days`.
    pub identity_retention_days: i64,
    /// `bills.low_balance.digiflazz_main`.
    pub low_balance: i64,
    /// `bills.not_found_after_secs`.
    pub not_found_after_secs: i64,
    /// `console.login_attempts_per_minute`.
    pub console_logins_per_minute: u32,
}

impl Options {
    pub fn new(backend: Backend) -> Self {
        Options {
            backend,
            demo_route: vec![
                "bni_main",
                "nicepay_main",
                "doku_main",
                "bni_snap",
                "bni_h2h",
            ],
            bni_billing_type: "i",
            provider_timeout_ms: 2_000,
            rate_per_second: 10_000,
            rate_burst: 10_000,
            retry_schedule: vec![0.3, 0.3, 0.3, 0.3],
            body_limit: 64 * 1024,
            bni_confirm: false,
            request_timeout_ms: 30_000,
            demo2_esign: true,
            identity_retention_days: 30,
            low_balance: 1_000_000,
            not_found_after_secs: 900,
            console_logins_per_minute: 20,
        }
    }
}

/// A running gateway with its simulators.
pub struct TestApp {
    pub base_url: String,
    pub http: reqwest::Client,
    pub state: AppState,
    pub bni: BniSimulator,
    pub nicepay: NicepaySimulator,
    pub astrapay: AstraPaySimulator,
    pub doku: DokuSimulator,
    /// BNI SNAP, bank-held VAs (`bni_snap`).
    pub bni_snap: BniSnapSimulator,
    /// BNI SNAP, VAs the gateway holds (`bni_h2h`).
    pub bni_h2h: BniSnapSimulator,
    pub whatsapp: WhatsAppSimulator,
    /// PrivyID (`privyid_main`).
    pub privyid: PrivyIdSimulator,
    /// Digiflazz (`digiflazz_main`).
    pub digiflazz: DigiflazzSimulator,
    pub receiver: WebhookReceiver,
    pub receiver2: WebhookReceiver,
    settings_text: String,
    tasks: Vec<JoinHandle<()>>,
    _servers: Vec<Running>,
}

impl Drop for TestApp {
    fn drop(&mut self) {
        for task in &self.tasks {
            task.abort();
        }
    }
}

async fn fresh_database(backend: Backend) -> String {
    match backend {
        Backend::Sqlite => {
            let dir = std::env::temp_dir().join("gateway-tests");
            let _ = std::fs::create_dir_all(&dir);
            let file = dir.join(format!("{}.db", ulid::Ulid::new()));
            format!("sqlite://{}?mode=rwc", file.display())
        }
        Backend::Postgres => {
            let admin = std::env::var("TEST_DATABASE_URL").expect("TEST_DATABASE_URL");
            let name = format!("gw_{}", ulid::Ulid::new().to_string().to_lowercase());
            let mut conn = sqlx::PgConnection::connect(&admin)
                .await
                .expect("connect to TEST_DATABASE_URL");
            sqlx::raw_sql(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
                .execute(&mut conn)
                .await
                .expect("create test database");
            let mut url = url::Url::parse(&admin).expect("TEST_DATABASE_URL is a URL");
            url.set_path(&format!("/{name}"));
            url.to_string()
        }
    }
}

impl TestApp {
    pub async fn spawn(backend: Backend) -> TestApp {
        Self::spawn_with(Options::new(backend)).await
    }

    pub async fn spawn_with(options: Options) -> TestApp {
        let bni = BniSimulator::new(BniConfig::new(BNI_CLIENT, BNI_SECRET));
        let nicepay = NicepaySimulator::new(NicepayConfig::new(NICEPAY_IMID, NICEPAY_KEY));
        let astrapay = AstraPaySimulator::new(AstraPayConfig::new(
            ASTRAPAY_CLIENT,
            ASTRAPAY_SECRET,
            ASTRAPAY_NOTIFY_KEY,
            ASTRAPAY_NOTIFY_SECRET,
        ));
        let doku = DokuSimulator::new(DokuConfig::new(DOKU_CLIENT, DOKU_SECRET));
        let bni_snap = BniSnapSimulator::new(BniSnapConfig::new(
            BNI_SNAP_KEY,
            BNI_SNAP_PARTNER,
            BNI_SNAP_SECRET,
            BniSnapNotify::symmetric(BNI_NOTIFY_KEY, BNI_NOTIFY_SECRET),
        ));
        let bni_h2h = BniSnapSimulator::new(BniSnapConfig::new(
            BNI_SNAP_KEY,
            BNI_SNAP_PARTNER,
            BNI_SNAP_SECRET,
            BniSnapNotify::symmetric(BNI_NOTIFY_KEY, BNI_NOTIFY_SECRET),
        ));
        let whatsapp =
            WhatsAppSimulator::new(WhatsAppConfig::new(WA_TOKEN, WA_PHONE_ID, WA_APP_SECRET));
        let privyid = PrivyIdSimulator::new(PrivyIdConfig::new(
            PRIVY_USERNAME,
            PRIVY_PASSWORD,
            PRIVY_MERCHANT_KEY,
            PRIVY_MERCHANT_ID,
            PRIVY_ENTERPRISE_TOKEN,
        ));
        let mut digiflazz_config =
            DigiflazzConfig::new(DIGIFLAZZ_USERNAME, DIGIFLAZZ_KEY, DIGIFLAZZ_WEBHOOK_SECRET);
        digiflazz_config.pending_after = Duration::ZERO;
        let digiflazz = DigiflazzSimulator::new(digiflazz_config);
        let receiver = WebhookReceiver::try_new(vec![DEMO_WEBHOOK_SECRET.into()]).expect("secret");
        let receiver2 =
            WebhookReceiver::try_new(vec![DEMO2_WEBHOOK_SECRET.into()]).expect("secret");
        let servers = vec![
            bni.spawn(any_local_port()).await.expect("bni"),
            nicepay.spawn(any_local_port()).await.expect("nicepay"),
            receiver.spawn(any_local_port()).await.expect("receiver"),
            receiver2.spawn(any_local_port()).await.expect("receiver2"),
            astrapay.spawn(any_local_port()).await.expect("astrapay"),
            doku.spawn(any_local_port()).await.expect("doku"),
            bni_snap.spawn(any_local_port()).await.expect("bni_snap"),
            whatsapp.spawn(any_local_port()).await.expect("whatsapp"),
            privyid.spawn(any_local_port()).await.expect("privyid"),
            digiflazz.spawn(any_local_port()).await.expect("digiflazz"),
        ];
        let database_url = fresh_database(options.backend).await;
        let listener = TcpListener::bind(any_local_port()).await.expect("bind");
        let addr = listener.local_addr().expect("addr");
        let settings_text = settings_toml(&options, addr, &database_url, &servers);
        bni.set_callback_url(format!("http://{addr}/v1/callbacks/bni_main"));
        let astrapay_root = format!("http://{addr}/v1/callbacks/astrapay_main");
        astrapay.set_urls(
            &format!("{astrapay_root}/v1.0/access-token/b2b"),
            &format!("{astrapay_root}/v1.0/debit/notify"),
            &format!("{astrapay_root}/v1.0/qr/qr-mpm-notify"),
        );
        let doku_root = format!("http://{addr}/v1/callbacks/doku_main");
        doku.set_urls(
            &format!("{doku_root}/authorization/v1/access-token/b2b"),
            &format!("{doku_root}/v1.0/transfer-va/payment"),
            &doku_root,
        );
        whatsapp.set_webhook_url(&format!("http://{addr}/v1/callbacks/wa_main"));
        digiflazz.set_webhook_url(&format!("http://{addr}/v1/callbacks/digiflazz_main"));
        privyid.set_callback_url(&format!(
            "http://{addr}/v1/callbacks/privyid_main/{PRIVY_CALLBACK_TOKEN}"
        ));
        for (sim, instance) in [(&bni_snap, "bni_snap"), (&bni_h2h, "bni_h2h")] {
            let root = format!("http://{addr}/v1/callbacks/{instance}");
            sim.set_urls(
                format!("{root}/v1.0/access-token/b2b"),
                format!("{root}/v1.0/transfer-va/inquiry"),
                format!("{root}/v1.0/transfer-va/payment"),
            );
        }
        let (state, tasks) = start(&settings_text, listener).await;
        TestApp {
            base_url: format!("http://{addr}"),
            http: reqwest::Client::new(),
            state,
            bni,
            nicepay,
            astrapay,
            doku,
            bni_snap,
            bni_h2h,
            whatsapp,
            privyid,
            digiflazz,
            receiver,
            receiver2,
            settings_text,
            tasks,
            _servers: servers,
        }
    }

    /// Stops the gateway (server and workers) as a crash would, and starts it again on the
    /// same database and port.
    pub async fn restart(&mut self) {
        for task in self.tasks.drain(..) {
            task.abort();
            let _ = task.await;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
        let addr: SocketAddr = self
            .base_url
            .trim_start_matches("http://")
            .parse()
            .expect("addr");
        let listener = bind_retrying(addr).await;
        let (state, tasks) = start(&self.settings_text, listener).await;
        self.state = state;
        self.tasks = tasks;
    }

    /// A signed request from `client`.
    pub fn signed(
        &self,
        client: &str,
        method: &str,
        path: &str,
        body: Option<&Value>,
    ) -> reqwest::RequestBuilder {
        let secret = if client == "demo2" {
            DEMO2_SECRET
        } else {
            DEMO_SECRET
        };
        let bytes = body.map(|b| b.to_string()).unwrap_or_default();
        let headers = SignedHeaders::new(client, secret.as_bytes(), method, path, bytes.as_bytes());
        let mut request = self.http.request(
            method.parse().expect("method"),
            format!("{}{path}", self.base_url),
        );
        for (name, value) in headers.pairs() {
            request = request.header(name, value);
        }
        if body.is_some() {
            request = request
                .header("content-type", "application/json")
                .body(bytes);
        }
        request
    }

    pub async fn create_va(&self, client: &str, body: &Value) -> reqwest::Response {
        self.signed(client, "POST", "/v1/virtual-accounts", Some(body))
            .send()
            .await
            .expect("send")
    }

    /// A signed GET from `client`, answered with JSON.
    pub async fn get_json(&self, client: &str, path: &str) -> Value {
        self.signed(client, "GET", path, None)
            .send()
            .await
            .expect("send")
            .json()
            .await
            .expect("json")
    }

    pub async fn get_va(&self, client: &str, id: &str) -> reqwest::Response {
        self.signed(client, "GET", &format!("/v1/virtual-accounts/{id}"), None)
            .send()
            .await
            .expect("send")
    }

    /// Issues a VA for demo and returns its JSON.
    pub async fn issue(&self, reference: &str, amount: i64) -> Value {
        self.issue_body(&va_body(reference, amount)).await
    }

    /// Issues a VA for demo from `body`, asserting 201, and returns its JSON.
    pub async fn issue_body(&self, body: &Value) -> Value {
        let response = self.create_va("demo", body).await;
        assert_eq!(
            response.status(),
            201,
            "issue failed: {}",
            response.text().await.unwrap_or_default()
        );
        response.json().await.expect("json")
    }

    /// Counts rows with a SQL query on the app's database.
    pub async fn count(&self, sql: &'static str, bind: &str) -> i64 {
        sqlx::query_scalar::<_, i64>(sql)
            .bind(bind.to_owned())
            .fetch_one(self.state.db().pool())
            .await
            .expect("count query")
    }

    /// Waits until `check` holds or `timeout` passes; returns whether it held.
    pub async fn eventually<F, Fut>(&self, timeout: Duration, mut check: F) -> bool
    where
        F: FnMut() -> Fut,
        Fut: std::future::Future<Output = bool>,
    {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            if check().await {
                return true;
            }
            if tokio::time::Instant::now() > deadline {
                return false;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

async fn bind_retrying(addr: SocketAddr) -> TcpListener {
    for _ in 0..50 {
        if let Ok(l) = TcpListener::bind(addr).await {
            return l;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("cannot rebind {addr}");
}

async fn start(settings_text: &str, listener: TcpListener) -> (AppState, Vec<JoinHandle<()>>) {
    let settings = Settings::from_toml(settings_text).expect("test settings");
    let app = App::build(settings).await.expect("app builds");
    let state = app.state.clone();
    let mut tasks = app.spawn_workers();
    tasks.push(tokio::spawn(async move {
        let _ = app.serve(listener, std::future::pending()).await;
    }));
    (state, tasks)
}

fn settings_toml(
    options: &Options,
    addr: SocketAddr,
    database_url: &str,
    servers: &[Running],
) -> String {
    let route = options
        .demo_route
        .iter()
        .map(|r| format!("\"{r}\""))
        .collect::<Vec<_>>()
        .join(", ");
    let schedule = options
        .retry_schedule
        .iter()
        .map(|d| d.to_string())
        .collect::<Vec<_>>()
        .join(", ");
    format!(
        r#"
[server]
listen = "{addr}"
public_url = "http://{addr}"
body_limit_bytes = {body_limit}
request_timeout_ms = {request_timeout}

[database]
url = "{database_url}"
max_connections = 8

[outbox]
retry_schedule_secs = [{schedule}]
jitter = 0.0
overload_floor_secs = 0.0
attempt_timeout_ms = 2000
poll_interval_ms = 50

[scheduler]
interval_ms = 100
inquiry_delay_secs = 0.3
stale_issuing_secs = 1.0
payment_poll_secs = 0.3
payment_poll_max_secs = 1.0
payment_expiry_grace_secs = 1.0

[providers.bni_main]
kind = "bni"
base_url = "{bni}"
client_id = "{BNI_CLIENT}"
secret_key = "{BNI_SECRET}"
billing_type = "{billing}"
timeout_ms = {timeout}
confirm_callbacks = {confirm}

[providers.nicepay_main]
kind = "nicepay"
base_url = "{nicepay}"
imid = "{NICEPAY_IMID}"
merchant_key = "{NICEPAY_KEY}"
timeout_ms = {timeout}

[providers.bni_down]
kind = "bni"
base_url = "http://127.0.0.1:9"
client_id = "{BNI_CLIENT}"
secret_key = "{BNI_SECRET}"
timeout_ms = {timeout}

[providers.astrapay_main]
kind = "astrapay"
base_url = "{astrapay}"
client_id = "{ASTRAPAY_CLIENT}"
client_secret = "{ASTRAPAY_SECRET}"
private_key = """{merchant_key}"""
merchant_id = "9653109f-6c3e-4b7a-9d2e-1f0a5b8c7d64"
qris_merchant_id = "210000240"
qris_terminal_id = "A01"
notify_client_key = "{ASTRAPAY_NOTIFY_KEY}"
notify_client_secret = "{ASTRAPAY_NOTIFY_SECRET}"
astrapay_public_key = """{astrapay_key}"""
request_timeout_ms = {timeout}

[providers.astrapay_app]
kind = "astrapay"
base_url = "{astrapay}"
client_id = "{ASTRAPAY_CLIENT}"
client_secret = "{ASTRAPAY_SECRET}"
private_key = """{merchant_key}"""
merchant_id = "9653109f-6c3e-4b7a-9d2e-1f0a5b8c7d64"
in_app = true
notify_client_key = "{ASTRAPAY_NOTIFY_KEY}"
notify_client_secret = "{ASTRAPAY_NOTIFY_SECRET}"
astrapay_public_key = """{astrapay_key}"""
request_timeout_ms = {timeout}

[providers.doku_main]
kind = "doku"
base_url = "{doku}"
client_id = "{DOKU_CLIENT}"
secret_key = "{DOKU_SECRET}"
private_key = """{merchant_key}"""
doku_public_key = """{doku_key}"""
partner_service_id = "8129"
request_timeout_ms = {timeout}

[providers.bni_snap]
kind = "bni"
protocol = "snap"
base_url = "{bni_snap}"
client_key = "{BNI_SNAP_KEY}"
partner_id = "{BNI_SNAP_PARTNER}"
client_secret = "{BNI_SNAP_SECRET}"
private_key = """{merchant_key}"""
partner_service_id = "{BNI_SNAP_PREFIX}"
notify_client_key = "{BNI_NOTIFY_KEY}"
notify_client_secret = "{BNI_NOTIFY_SECRET}"
bank_public_key = """{bni_key}"""
timeout_ms = {timeout}

[providers.bni_h2h]
kind = "bni"
protocol = "snap"
bills = "gateway"
base_url = "{bni_snap}"
client_key = "{BNI_SNAP_KEY}"
partner_id = "{BNI_SNAP_PARTNER}"
client_secret = "{BNI_SNAP_SECRET}"
private_key = """{merchant_key}"""
partner_service_id = "{BNI_H2H_PREFIX}"
notify_client_key = "{BNI_NOTIFY_KEY}"
notify_client_secret = "{BNI_NOTIFY_SECRET}"
bank_public_key = """{bni_key}"""
timeout_ms = {timeout}

[otp]
key = "test-otp-key-0123456789abcdef0123456789"
purposes.login = {{ template = "otp_login", language = "id" }}
purposes.quick = {{ template = "otp_login", max_attempts = 2 }}
purposes.broken = {{ template = "no_such_template" }}
purposes.console_login = {{ template = "otp_login", language = "id" }}

[console]
otp_client = "demo"
secure_cookies = false
login_attempts_per_minute = {console_logins}

[support]
number = "6281100000000"
topics.payment = "Halo, saya {{name}} butuh bantuan tentang pembayaran."

[esign]
data_key = "{ESIGN_DATA_KEY}"
poll_secs = 0.3
poll_max_secs = 1.0
identity_retention_days = {retention}
max_image_bytes = 65536
max_pdf_bytes = 131072
body_limit_bytes = 262144

[providers.privyid_main]
kind = "privyid"
base_url = "{privyid}"
merchant_key = "{PRIVY_MERCHANT_KEY}"
merchant_privy_id = "{PRIVY_MERCHANT_ID}"
enterprise_token = "{PRIVY_ENTERPRISE_TOKEN}"
callback_token = "{PRIVY_CALLBACK_TOKEN}"
auth = {{ scheme = "basic", username = "{PRIVY_USERNAME}", password = "{PRIVY_PASSWORD}" }}
request_timeout_ms = {timeout}

[providers.digiflazz_main]
kind = "digiflazz"
base_url = "{digiflazz}"
username = "{DIGIFLAZZ_USERNAME}"
api_key = "{DIGIFLAZZ_KEY}"
webhook_secret = "{DIGIFLAZZ_WEBHOOK_SECRET}"
testing = true
request_timeout_ms = {timeout}

[bills]
check_secs = 0.3
check_max_secs = 1.0
review_after_secs = 600
not_found_after_secs = {not_found_after}
balance_check_secs = 3600
low_balance = {{ digiflazz_main = {low_balance} }}

[providers.wa_main]
kind = "whatsapp"
base_url = "{whatsapp}"
phone_number_id = "{WA_PHONE_ID}"
access_token = "{WA_TOKEN}"
app_secret = "{WA_APP_SECRET}"
verify_token = "{WA_VERIFY_TOKEN}"
request_timeout_ms = {timeout}

[clients.demo]
secrets = ["{DEMO_SECRET}", "demo-rotating-secret-00000009"]
webhook_url = "{receiver}/"
webhook_secrets = ["{DEMO_WEBHOOK_SECRET}"]
rate_limit = {{ per_second = {rate}, burst = {burst} }}
routes.virtual_accounts = [{route}]
routes.payments = ["astrapay_main", "doku_main", "astrapay_app"]
routes.messages = ["wa_main"]
routes.esign = ["privyid_main"]
routes.bills = ["digiflazz_main"]

[clients.demo2]
secrets = ["{DEMO2_SECRET}"]
webhook_url = "{receiver2}/"
webhook_secrets = ["{DEMO2_WEBHOOK_SECRET}"]
routes.virtual_accounts = ["nicepay_main", "bni_main"]
routes.esign = [{demo2_esign}]
routes.bills = ["digiflazz_main"]
"#,
        demo2_esign = if options.demo2_esign {
            "\"privyid_main\""
        } else {
            ""
        },
        privyid = servers[8].base_url,
        retention = options.identity_retention_days,
        digiflazz = servers[9].base_url,
        low_balance = options.low_balance,
        not_found_after = options.not_found_after_secs,
        console_logins = options.console_logins_per_minute,
        body_limit = options.body_limit,
        request_timeout = options.request_timeout_ms,
        bni = servers[0].base_url,
        nicepay = servers[1].base_url,
        receiver = servers[2].base_url,
        receiver2 = servers[3].base_url,
        astrapay = servers[4].base_url,
        doku = servers[5].base_url,
        bni_snap = servers[6].base_url,
        whatsapp = servers[7].base_url,
        doku_key = mocks::keys::DOKU.public_pem,
        bni_key = mocks::keys::BNI.public_pem,
        merchant_key = mocks::keys::MERCHANT.private_pem,
        astrapay_key = mocks::keys::ASTRAPAY.public_pem,
        billing = options.bni_billing_type,
        confirm = options.bni_confirm,
        timeout = options.provider_timeout_ms,
        rate = options.rate_per_second,
        burst = options.rate_burst,
    )
}

/// A VA request body expiring in a day.
pub fn va_body(reference: &str, amount: i64) -> Value {
    let expires = time::OffsetDateTime::now_utc() + time::Duration::days(1);
    json!({
        "reference": reference,
        "amount": amount,
        "customer": {"name": "Budi Santoso", "phone": "6281234567890", "email": "budi@example.com"},
        "expires_at": expires.format(&time::format_description::well_known::Rfc3339).expect("format"),
    })
}

/// A payment request body for demo.
pub fn payment_body(reference: &str, amount: i64, method: &str) -> Value {
    json!({
        "reference": reference,
        "amount": amount,
        "method": method,
        "customer": {"name": "Budi Santoso", "phone": "6281234567890", "email": "budi@example.com"},
        "return_url": "https://shop.example/return",
        "description": "Order 42",
    })
}

impl TestApp {
    /// A signed POST from `client`: its status and JSON body (`Null` when not JSON).
    pub async fn post(&self, client: &str, path: &str, body: &Value) -> (u16, Value) {
        let response = self
            .signed(client, "POST", path, Some(body))
            .send()
            .await
            .expect("send");
        let status = response.status().as_u16();
        (status, response.json().await.unwrap_or(Value::Null))
    }

    /// Starts a payment for demo, asserting 201, and returns its JSON.
    pub async fn pay_body(&self, body: &Value) -> Value {
        let response = self
            .signed("demo", "POST", "/v1/payments", Some(body))
            .send()
            .await
            .expect("send");
        assert_eq!(
            response.status(),
            201,
            "payment failed: {}",
            response.text().await.unwrap_or_default()
        );
        response.json().await.expect("json")
    }

    /// Waits until demo's payment `id` has `status`; returns its JSON.
    pub async fn payment_reaches(&self, id: &str, status: &str) -> Value {
        let path = format!("/v1/payments/{id}");
        let mut last = Value::Null;
        for _ in 0..200 {
            last = self.get_json("demo", &path).await;
            if last["status"] == status {
                return last;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("payment {id} never reached {status}: {last}");
    }

    /// The types of the events the demo receiver got for resource `id`, in arrival order.
    pub fn event_types_for(&self, id: &str) -> Vec<String> {
        self.receiver
            .received()
            .iter()
            .filter(|e| e.verified && e.body["data"]["id"] == id)
            .map(|e| e.event_type.clone())
            .collect()
    }
}
