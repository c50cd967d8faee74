//! Personal data and secrets never reach the logs: the real binary (`gateway sandbox`, every
//! log target at `trace`) registers a signer with canary identity data, has it found
//! invalid, resubmits, verifies, uploads and signs a document, refuses a bad request, and
//! buys pulsa for the same person's number; then its whole output is searched for the
//! canaries in clear, base64 and hex.

use std::net::TcpListener;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use gateway::auth::SignedHeaders;
use serde_json::{Value, json};

const DEMO_SECRET: &str = "demo-sandbox-secret-0001";

// A woman born 4 September 1985 in Bandung (32 73 01, day 04 + 40).
const NIK: &str = "3273014409850007";
const NAME: &str = "Canaria Zyxwvutsrq";
const EMAIL: &str = "canaria.zyxw@example.com";
const PHONE: &str = "+6281299887766";
const BIRTH_DATE: &str = "1985-09-04";
const IMAGE_MARK: &[u8] = b"CANARY-KTP-IMAGE-BYTES-7f3a";
const PDF_MARK: &[u8] = b"CANARY-PDF-CONTENT-91bd";

/// Secrets the simulated PrivyID and the gateway share (config/sandbox.toml). The demo
/// client's secret is not among them: the sandbox prints it on purpose for the person
/// trying it.
const SECRETS: [&str; 7] = [
    "dev-digiflazz-sandbox-key-0001",
    "digiflazz-sandbox-webhook-secret",
    "privyid-sandbox-password",
    "privyid-sandbox-merchant-key",
    "privyid-sandbox-enterprise-token",
    "privyid-sandbox-callback-token-0001",
    // The data key (base64) as configured.
    "c2FuZGJveC1lc2lnbi1kYXRhLWtleS1uZXZlci0wMDA",
];

struct Sandbox {
    child: Child,
    log: std::path::PathBuf,
}

impl Drop for Sandbox {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

fn start(port: u16) -> Sandbox {
    let dir = std::env::temp_dir().join("gateway-log-canary");
    let _ = std::fs::create_dir_all(&dir);
    let id = format!("{}-{port}", std::process::id());
    let log = dir.join(format!("{id}.log"));
    let file = std::fs::File::create(&log).expect("log file");
    let child = Command::new(env!("CARGO_BIN_EXE_gateway"))
        .current_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/.."))
        .args([
            "sandbox",
            "--listen",
            &format!("127.0.0.1:{port}"),
            "--database-url",
            &format!(
                "sqlite://{}?mode=rwc",
                dir.join(format!("{id}.db")).display()
            ),
        ])
        .env("GATEWAY_LOG", "trace")
        .stdout(Stdio::from(file.try_clone().expect("clone")))
        .stderr(Stdio::from(file))
        .spawn()
        .expect("gateway sandbox starts");
    Sandbox { child, log }
}

struct Client {
    http: reqwest::Client,
    base: String,
}

impl Client {
    async fn signed(&self, method: &str, path: &str, body: Option<&Value>) -> (u16, Value) {
        let text = body.map(Value::to_string).unwrap_or_default();
        let headers = SignedHeaders::new(
            "demo",
            DEMO_SECRET.as_bytes(),
            method,
            path,
            text.as_bytes(),
        );
        let mut request = self.http.request(
            method.parse().expect("method"),
            format!("{}{path}", self.base),
        );
        for (name, value) in headers.pairs() {
            request = request.header(name, value);
        }
        let response = request
            .header("content-type", "application/json")
            .body(text)
            .send()
            .await
            .expect("send");
        let status = response.status().as_u16();
        (status, response.json().await.unwrap_or(Value::Null))
    }

    async fn sandbox(&self, path: &str, body: Value) -> u16 {
        self.http
            .post(format!("{}{path}", self.base))
            .json(&body)
            .send()
            .await
            .expect("send")
            .status()
            .as_u16()
    }

    async fn until(&self, path: &str, done: impl Fn(&Value) -> bool) -> Value {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let (_, body) = self.signed("GET", path, None).await;
            if done(&body) {
                return body;
            }
            assert!(Instant::now() < deadline, "{path} never got there: {body}");
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }
}

fn image() -> String {
    STANDARD.encode([[0xFF, 0xD8, 0xFF, 0xE0].as_slice(), IMAGE_MARK].concat())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn identity_data_and_secrets_never_reach_the_logs() {
    let port = free_port();
    let sandbox = start(port);
    let client = Client {
        http: reqwest::Client::new(),
        base: format!("http://127.0.0.1:{port}"),
    };
    let deadline = Instant::now() + Duration::from_secs(60);
    while client
        .http
        .get(format!("{}/healthz", client.base))
        .send()
        .await
        .is_err()
    {
        assert!(Instant::now() < deadline, "the sandbox did not start");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }

    let signer = json!({
        "reference": "CANARY-1", "nik": NIK, "name": NAME, "email": EMAIL, "phone": PHONE,
        "birth_date": BIRTH_DATE, "selfie": image(), "ktp_image": image(),
    });
    // Refused input first: the same data with a birth date the NIK contradicts.
    let mut refused = signer.clone();
    refused["birth_date"] = json!("1985-09-05");
    let (status, body) = client
        .signed("POST", "/v1/esign/signers", Some(&refused))
        .await;
    assert_eq!(status, 422, "{body}");
    let (status, body) = client
        .signed("POST", "/v1/esign/signers", Some(&signer))
        .await;
    assert_eq!(status, 201, "{body}");
    let id = body["id"].as_str().expect("id").to_owned();
    let path = format!("/v1/esign/signers/{id}");
    assert_eq!(
        client
            .sandbox(
                &format!("/sandbox/esign/signers/{id}/invalidate"),
                json!({})
            )
            .await,
        200
    );
    client.until(&path, |s| s["status"] == "invalid").await;
    let resubmission = json!({ "ktp_image": image(), "selfie": image() });
    let (status, body) = client
        .signed(
            "POST",
            &format!("{path}/resubmissions"),
            Some(&resubmission),
        )
        .await;
    assert_eq!(status, 202, "{body}");
    assert_eq!(
        client
            .sandbox(&format!("/sandbox/esign/signers/{id}/verify"), json!({}))
            .await,
        200
    );
    client.until(&path, |s| s["status"] == "verified").await;
    let pdf = STANDARD.encode([b"%PDF-1.4\n".as_slice(), PDF_MARK].concat());
    let document = json!({
        "reference": "CANARY-DOC", "title": "Loan agreement", "pdf": pdf,
        "signers": [{"signer_id": id, "page": 1, "x": 10, "y": 10}],
    });
    let (status, body) = client
        .signed("POST", "/v1/esign/documents", Some(&document))
        .await;
    assert_eq!(status, 201, "{body}");
    let doc = body["id"].as_str().expect("id").to_owned();
    assert_eq!(
        client
            .sandbox(&format!("/sandbox/esign/documents/{doc}/sign"), json!({}))
            .await,
        200
    );
    client
        .until(&format!("/v1/esign/documents/{doc}"), |d| {
            d["status"] == "signed"
        })
        .await;

    // A pulsa purchase to the same person's number.
    let national = format!("0{}", &PHONE[3..]);
    let purchase =
        json!({"reference": "CANARY-PULSA", "product_code": "xld10", "customer_no": national});
    let (status, body) = client
        .signed("POST", "/v1/bills/payments", Some(&purchase))
        .await;
    assert_eq!(
        (status, body["status"].as_str()),
        (201, Some("success")),
        "{body}"
    );

    let log_path = sandbox.log.clone();
    drop(sandbox);
    let logs = std::fs::read_to_string(&log_path).expect("read the logs");
    assert!(logs.contains("esign"), "the run logged nothing useful");
    let mut canaries: Vec<String> = vec![
        NIK.into(),
        NAME.into(),
        EMAIL.into(),
        PHONE[1..].into(),
        national,
        BIRTH_DATE.into(),
        String::from_utf8_lossy(IMAGE_MARK).into_owned(),
        String::from_utf8_lossy(PDF_MARK).into_owned(),
        image(),
        hex::encode(IMAGE_MARK),
        STANDARD.encode(NIK),
        hex::encode(NIK),
    ];
    canaries.extend(SECRETS.iter().map(|s| (*s).to_owned()));
    for canary in canaries {
        assert!(
            !logs.contains(&canary),
            "{canary} is in the logs ({})",
            log_path.display()
        );
    }
    let _ = std::fs::remove_file(&log_path);
}
