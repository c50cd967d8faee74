//! A small PrivyID client written from the protocol alone, for running the e-signature
//! conformance suite against the simulator in this crate's tests: it proves the suite
//! passes a client that follows the protocol, and catches one that does not.

use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

use contracts::esign::{
    DocumentSigner, DocumentState, DocumentStatus, RegisterSigner, Resubmission, Resubmit,
    SignerState, SignerStatus, SigningState, UploadDocument, Verdict,
};
use contracts::inbound::{
    AckOutcome, EventKind, Inbound, InboundEvent, InboundRequest, InboundResponse, Notification,
    ResourceRef, Trust,
};
use contracts::{ESignature, ErrorKind, InboundNotifications, ProviderError, ProviderReference};
use serde_json::{Value, json};

use super::{KEY, Multipart, PASSWORD, USER};

/// What the `#[async_trait]` methods return, written out (mocks has no async-trait).
type Answer<'a, T> = Pin<Box<dyn Future<Output = Result<T, ProviderError>> + Send + 'a>>;

#[derive(Debug)]
pub(crate) struct Client {
    base_url: String,
    http: reqwest::Client,
    merchant: String,
    enterprise_token: String,
    callback_token: String,
    careless_event_ids: bool,
}

impl Client {
    pub(crate) fn new(
        base_url: &str,
        merchant: &str,
        enterprise_token: &str,
        callback_token: &str,
    ) -> Self {
        let http = reqwest::Client::builder()
            .timeout(Duration::from_millis(500))
            .build()
            .expect("client");
        Self {
            base_url: base_url.to_owned(),
            http,
            merchant: merchant.to_owned(),
            enterprise_token: enterprise_token.to_owned(),
            callback_token: callback_token.to_owned(),
            careless_event_ids: false,
        }
    }

    /// Event ids without the status: every callback about one signer looks the same.
    pub(crate) fn with_careless_event_ids(mut self) -> Self {
        self.careless_event_ids = true;
        self
    }

    /// Sends one request; `effect` says whether it may change something at PrivyID (then a
    /// lost answer is ambiguous, else it is safe to ask again).
    async fn call(
        &self,
        path: &str,
        token: Option<&str>,
        form: Option<Multipart>,
        effect: bool,
    ) -> Result<Value, ProviderError> {
        let url = format!("{}{path}", self.base_url);
        let mut request = match &form {
            Some(_) => self.http.post(url),
            None => self.http.get(url),
        };
        request = request
            .basic_auth(USER, Some(PASSWORD))
            .header("Merchant-Key", KEY);
        if let Some(token) = token {
            request = request.header("Token", token);
        }
        if let Some(form) = form {
            let (content_type, body) = form.finish();
            request = request.header("content-type", content_type).body(body);
        }
        let lost = |err: reqwest::Error| {
            if err.is_connect() || !effect {
                ProviderError::new(ErrorKind::Unavailable, "no answer")
            } else {
                ProviderError::new(ErrorKind::Timeout, "no answer")
            }
        };
        let response = request.send().await.map_err(lost)?;
        let status = response.status().as_u16();
        let body = response.bytes().await.map_err(lost)?;
        let json: Option<Value> = serde_json::from_slice(&body).ok();
        match status {
            200 | 201 => {
                let json = json
                    .ok_or_else(|| ProviderError::new(ErrorKind::Protocol, "unreadable answer"))?;
                if json["code"].as_u64() != Some(u64::from(status)) {
                    return Err(ProviderError::new(ErrorKind::Protocol, "code differs"));
                }
                Ok(json["data"].clone())
            }
            400 | 422 => {
                let first = json
                    .as_ref()
                    .and_then(|j| j["errors"].get(0).cloned())
                    .unwrap_or_default();
                let message = format!(
                    "{}: {}",
                    first["field"].as_str().unwrap_or_default(),
                    first["messages"]
                );
                Err(ProviderError::with_code(
                    ErrorKind::Rejected,
                    status.to_string(),
                    message,
                ))
            }
            401 | 403 => Err(ProviderError::new(ErrorKind::Unauthorized, "refused")),
            404 => Err(ProviderError::new(ErrorKind::NotFound, "not found")),
            502..=504 => Err(ProviderError::new(ErrorKind::Unavailable, "unavailable")),
            _ if effect => Err(ProviderError::new(ErrorKind::Timeout, "server error")),
            _ => Err(ProviderError::new(ErrorKind::Unavailable, "server error")),
        }
    }

    async fn register(&self, request: &RegisterSigner) -> Result<SignerStatus, ProviderError> {
        let phone = format!("0{}", request.phone.trim_start_matches("+62"));
        let identity = json!({
            "nik": request.nik,
            "nama": request.name,
            "tanggalLahir": request.birth_date.to_string(),
        });
        let form = Multipart::new()
            .text("email", &request.email)
            .text("phone", &phone)
            .text("identity", &identity.to_string())
            .file("selfie", "selfie.jpg", Some("image/jpeg"), &request.selfie)
            .file("ktp", "ktp.png", Some("image/png"), &request.ktp_image);
        let data = self
            .call("/v3/merchant/registration", None, Some(form), true)
            .await?;
        let token = text(&data, "userToken")?;
        Ok(SignerStatus::new(
            ProviderReference(token),
            None,
            SignerState::Pending,
            "waiting",
        ))
    }

    async fn resubmit(&self, request: &Resubmission) -> Result<(), ProviderError> {
        let token = request.provider_reference.as_str();
        if let Some(ktp) = &request.ktp_image {
            let form = Multipart::new().file("ktp", "ktp.png", Some("image/png"), ktp);
            self.call(
                "/v3/user/merchant/reregister/ktp",
                Some(token),
                Some(form),
                true,
            )
            .await?;
        }
        if let Some(selfie) = &request.selfie {
            let form = Multipart::new().file("selfie", "selfie.jpg", Some("image/jpeg"), selfie);
            self.call(
                "/v3/user/merchant/reregister/selfie",
                Some(token),
                Some(form),
                true,
            )
            .await?;
        }
        Ok(())
    }

    async fn signer(&self, reference: &ProviderReference) -> Result<SignerStatus, ProviderError> {
        let form = Multipart::new().text("token", reference.as_str());
        let data = self
            .call("/v3/merchant/registration/status", None, Some(form), false)
            .await?;
        let status = text(&data, "status")?;
        let privy_id = data["privyId"].as_str().map(str::to_owned);
        let state = match status.as_str() {
            "waiting" => SignerState::Pending,
            "verified" | "registered" => SignerState::Verified,
            "invalid" => SignerState::Invalid(verdict(&data["reject"], true)),
            "rejected" => SignerState::Rejected(verdict(&data["reject"], false)),
            _ => SignerState::Unknown,
        };
        Ok(SignerStatus::new(
            reference.clone(),
            privy_id,
            state,
            status,
        ))
    }

    async fn upload(&self, request: &UploadDocument) -> Result<DocumentStatus, ProviderError> {
        let recipients: Vec<Value> = request
            .signers
            .iter()
            .map(|s| {
                json!({"privyId": s.signer, "type": "Signer", "enterpriseToken": "",
                       "signPage": s.page, "posX": s.x, "posY": s.y})
            })
            .collect();
        let owner = json!({"privyId": self.merchant, "enterpriseToken": self.enterprise_token});
        let form = Multipart::new()
            .text("documentTitle", &request.title)
            .text(
                "docType",
                if request.in_order {
                    "Serial"
                } else {
                    "Parallel"
                },
            )
            .text("owner", &owner.to_string())
            .text("recipients", &Value::from(recipients).to_string())
            .file(
                "document",
                "document.pdf",
                Some("application/pdf"),
                &request.pdf,
            );
        let data = self
            .call("/v3/merchant/document/upload", None, Some(form), true)
            .await?;
        let signers = data["recipients"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|r| {
                DocumentSigner::new(
                    r["privyId"].as_str().unwrap_or_default().to_owned(),
                    SigningState::Pending,
                    r["magicLink"].as_str().map(str::to_owned),
                )
            })
            .collect();
        Ok(DocumentStatus::new(
            ProviderReference(text(&data, "docToken")?),
            DocumentState::Pending,
            data["urlDocument"].as_str().map(str::to_owned),
            "In Progress",
        )
        .with_signers(signers))
    }

    async fn document(
        &self,
        reference: &ProviderReference,
    ) -> Result<DocumentStatus, ProviderError> {
        let path = format!("/v3/merchant/document/status/{}", reference.as_str());
        let data = self.call(&path, None, None, false).await?;
        let status = text(&data, "documentStatus")?;
        let state = match status.as_str() {
            "In Progress" => DocumentState::Pending,
            "Completed" => DocumentState::Signed,
            "Rejected" => DocumentState::Rejected { reason: None },
            "Expired" => DocumentState::Expired,
            _ => DocumentState::Unknown,
        };
        let signers = data["recipients"]
            .as_array()
            .into_iter()
            .flatten()
            .filter(|r| r["type"] == "Signer")
            .map(|r| {
                let state = match r["signatoryStatus"].as_str() {
                    Some("In Progress") => SigningState::Pending,
                    Some("Completed") => SigningState::Signed,
                    Some("Rejected") => SigningState::Rejected,
                    _ => SigningState::Unknown,
                };
                DocumentSigner::new(
                    r["privyId"].as_str().unwrap_or_default().to_owned(),
                    state,
                    None,
                )
            })
            .collect();
        Ok(DocumentStatus::new(
            reference.clone(),
            state,
            data["urlDocument"].as_str().map(str::to_owned),
            status,
        )
        .with_signers(signers)
        .with_download_url(data["download"]["url"].as_str().map(str::to_owned)))
    }

    fn parse(&self, request: &InboundRequest) -> Result<Inbound, ProviderError> {
        if request.sub_path != self.callback_token {
            return Err(ProviderError::new(
                ErrorKind::InvalidSignature,
                "wrong token",
            ));
        }
        let rejected = || ProviderError::new(ErrorKind::Rejected, "not a callback");
        let body: Value = serde_json::from_slice(&request.body).map_err(|_| rejected())?;
        let event_name = body["eventName"].as_str().ok_or_else(rejected)?;
        let data = &body["data"];
        let (resource, status, id) = if let Some(doc) = data["docToken"].as_str() {
            let status = data["documentStatus"].as_str().unwrap_or_default();
            let signatories: Vec<&str> = data["recipients"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|r| r["signatoryStatus"].as_str())
                .collect();
            let resource = ResourceRef::Document {
                provider_reference: ProviderReference(doc.to_owned()),
            };
            let id = format!("{event_name}:{doc}:{status}:{}", signatories.join(","));
            (resource, status, id)
        } else if let Some(user) = data["userToken"].as_str() {
            let status = data["status"].as_str().unwrap_or_default();
            let processed = data["processedAt"].as_str().unwrap_or_default();
            let resource = ResourceRef::Signer {
                provider_reference: ProviderReference(user.to_owned()),
            };
            let id = if self.careless_event_ids {
                format!("register:{user}")
            } else {
                format!("register:{user}:{status}:{processed}")
            };
            (resource, status, id)
        } else {
            return Ok(Inbound::Events(Notification::new(Vec::new())));
        };
        let payload = json!({
            "eventName": event_name,
            "message": body["message"],
            "status": status,
            "userToken": data["userToken"],
            "docToken": data["docToken"],
        });
        let kind = EventKind::StatusChanged {
            provider_status: status.to_owned(),
        };
        let event = InboundEvent::new(resource, kind, id, payload);
        Ok(Inbound::Events(Notification::new(vec![event])))
    }
}

fn text(data: &Value, key: &str) -> Result<String, ProviderError> {
    data[key]
        .as_str()
        .map(str::to_owned)
        .ok_or_else(|| ProviderError::new(ErrorKind::Protocol, format!("no {key}")))
}

fn verdict(reject: &Value, fixable: bool) -> Verdict {
    let handlers = reject["handlers"].as_array().cloned().unwrap_or_default();
    let mut reasons: Vec<String> = reject["reason"]
        .as_str()
        .map(str::to_owned)
        .into_iter()
        .collect();
    reasons.extend(
        handlers
            .iter()
            .filter_map(|h| h["handler"].as_str().map(str::to_owned)),
    );
    let resubmit = if fixable {
        handlers
            .iter()
            .filter_map(|h| match h["category"].as_str() {
                Some("KTP") => Some(Resubmit::KtpImage),
                Some("SELFIE") => Some(Resubmit::Selfie),
                Some("FILE-SUPPORT") => Some(Resubmit::SupportingDocument {
                    categories: h["file_support"]
                        .as_array()
                        .into_iter()
                        .flatten()
                        .filter_map(|c| c.as_str().map(str::to_owned))
                        .collect(),
                }),
                _ => None,
            })
            .collect()
    } else {
        Vec::new()
    };
    Verdict::new(
        reject["code"].as_str().map(str::to_owned),
        reasons,
        resubmit,
    )
}

impl ESignature for Client {
    fn register_signer<'a, 'b, 'c>(
        &'a self,
        request: &'b RegisterSigner,
    ) -> Answer<'c, SignerStatus>
    where
        'a: 'c,
        'b: 'c,
    {
        Box::pin(self.register(request))
    }

    fn resubmit_signer<'a, 'b, 'c>(&'a self, request: &'b Resubmission) -> Answer<'c, ()>
    where
        'a: 'c,
        'b: 'c,
    {
        Box::pin(self.resubmit(request))
    }

    fn signer_status<'a, 'b, 'c>(
        &'a self,
        signer: &'b ProviderReference,
    ) -> Answer<'c, SignerStatus>
    where
        'a: 'c,
        'b: 'c,
    {
        Box::pin(self.signer(signer))
    }

    fn upload_document<'a, 'b, 'c>(
        &'a self,
        request: &'b UploadDocument,
    ) -> Answer<'c, DocumentStatus>
    where
        'a: 'c,
        'b: 'c,
    {
        Box::pin(self.upload(request))
    }

    fn document_status<'a, 'b, 'c>(
        &'a self,
        document: &'b ProviderReference,
    ) -> Answer<'c, DocumentStatus>
    where
        'a: 'c,
        'b: 'c,
    {
        Box::pin(self.document(document))
    }
}

impl InboundNotifications for Client {
    fn trust(&self) -> Trust {
        Trust::ConfirmByInquiry
    }

    fn verify_and_parse<'a, 'b, 'c>(&'a self, request: &'b InboundRequest) -> Answer<'c, Inbound>
    where
        'a: 'c,
        'b: 'c,
    {
        let parsed = self.parse(request);
        Box::pin(async move { parsed })
    }

    fn acknowledge(&self, _: &InboundRequest, outcome: &AckOutcome) -> InboundResponse {
        match outcome {
            AckOutcome::Rejected(err) if err.kind == ErrorKind::InvalidSignature => {
                InboundResponse::json(
                    401,
                    &json!({"code": 401, "errors": [], "message": "Unauthorized"}),
                )
            }
            AckOutcome::Rejected(_) => InboundResponse::json(
                400,
                &json!({"code": 400, "errors": [], "message": "Bad Request"}),
            ),
            AckOutcome::RetryLater => {
                InboundResponse::json(503, &json!({"code": 503, "message": "Try again later"}))
            }
            _ => InboundResponse::json(200, &json!({"code": 200, "message": "OK"})),
        }
    }
}
