//! PrivyID adapter: certified e-signatures through PrivyID's merchant API v3: signer
//! registration with identity verification, re-registration of what PrivyID found invalid,
//! document upload and status, and the callbacks PrivyID posts back.
//!
//! Written to the project's protocol reference `astrapay-privyid-whatsapp.md` section 2;
//! section numbers in comments (2.3, 2.9, …) are that document's. Where it is silent (error
//! bodies, signature placement, document states beyond `Completed`, callback
//! authentication) the adapter follows the decisions shared with the PrivyID simulator.
//!
//! What it covers:
//! - [`contracts::ESignature`]:
//!   - `register_signer` posts the multipart registration (2.3): `email`, the phone in
//!     national form (`+62812…` → `0812…`; other countries are refused unsent), `identity`
//!     as JSON text (`nik`, `nama`, `tanggalLahir` `YYYY-MM-DD`) and the `selfie` and `ktp`
//!     images, typed JPEG or PNG by their magic bytes (anything else is refused unsent).
//!     The `userToken` answered is the signer's provider reference.
//!   - `signer_status` (2.4) maps `waiting`, `verified`/`registered` (with the `privyId`),
//!     `invalid` (fixable: reasons and what to resend) and `rejected` (final).
//!   - `resubmit_signer` (2.5) sends one re-registration per item, KTP, selfie, then each
//!     supporting document, and stops at the first failure: items sent before it stay
//!     sent.
//!   - `upload_document` (2.6) sends `Serial` or `Parallel`, the merchant as owner and each
//!     signer with `signPage`, `posX`, `posY`; `document_status` (2.7) reads `In Progress`,
//!     `Completed` (with the download URL), `Rejected` and `Expired`.
//! - [`contracts::InboundNotifications`] (trust
//!   [`contracts::inbound::Trust::ConfirmByInquiry`]): PrivyID signs no callback (2.9), so
//!   the callback URL's last segment is a secret compared in constant time, and each
//!   callback is one `StatusChanged` event the gateway confirms by asking for the status.
//!
//! Authentication is Basic with `Merchant-Key` (2.2) or, for PrivyID's newer gateways,
//! OAuth2 client credentials (see [`AuthConfig`]).
//!
//! Failures: validation refusals (400/422) are `Rejected` with the first field and its
//! messages; a server error, a timeout after sending or an unreadable success is `Timeout`
//! for registration, re-registration and upload (they may have taken effect) and
//! `Unavailable` for the two status reads. Request and answer bodies are never logged.
//!
//! Not supported: merchant-driven OTP signing (2.8), `Reviewer` recipients, templates, and
//! the "General API" generation (2.1).
//!
//! # Layout
//! - `lib.rs`: [`PrivyId`] and its contracts impls; each call is convert → authenticate
//!   and send → classify → convert back.
//! - `config.rs`: [`Config`], [`AuthConfig`], [`ConfigError`] and `validate`.
//! - `auth.rs`: the private `Authenticate` trait, Basic and OAuth2 client credentials.
//! - `client.rs`: URLs, headers, multipart bodies, deadline, capped read, one resend after
//!   a refused token, the first reading of the answer.
//! - `wire.rs`: parts, answers and callbacks as PrivyID spells them.
//! - `convert.rs`: request bodies, the signer and document status tables, verdicts.
//! - `webhook.rs`: callback token check, parse, acknowledge.
//! - `error.rs`: the private error and its mapping onto [`contracts::ErrorKind`].
#![deny(missing_docs)]

mod auth;
mod client;
mod config;
mod convert;
mod error;
mod webhook;
mod wire;

#[cfg(test)]
mod tests;

use std::sync::Arc;

use async_trait::async_trait;
use contracts::esign::{
    DocumentStatus, RegisterSigner, Resubmission, SignerStatus, UploadDocument,
};
use contracts::inbound::{AckOutcome, Inbound, InboundRequest, InboundResponse, Trust};
use contracts::{Capabilities, ESignature, InboundNotifications, ProviderError, ProviderReference};
use secrecy::{ExposeSecret, SecretString};

pub use config::{AuthConfig, Config, ConfigError};

use client::{Call, Client};
use convert::DocumentOwner;
use error::{Error, Operation};
use webhook::Callbacks;

/// One PrivyID merchant: registers signers, uploads documents for signing and reads
/// PrivyID's callbacks. `Debug` shows no secret.
pub struct PrivyId {
    client: Client,
    merchant_privy_id: String,
    enterprise_token: SecretString,
    callbacks: Callbacks,
}

impl std::fmt::Debug for PrivyId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PrivyId")
            .field("client", &self.client)
            .field("merchant_privy_id", &self.merchant_privy_id)
            .finish_non_exhaustive()
    }
}

impl PrivyId {
    /// Builds the adapter from `config` on the gateway's `http` client. Validates; no I/O,
    /// no spawned tasks.
    pub fn new(config: Config, http: reqwest::Client) -> Result<PrivyId, ConfigError> {
        config.validate()?;
        Ok(PrivyId {
            client: Client::new(&config, http)?,
            merchant_privy_id: config.merchant_privy_id,
            enterprise_token: config.enterprise_token,
            callbacks: Callbacks {
                token: config.callback_token,
            },
        })
    }

    /// What this instance offers: e-signature and inbound notifications, one shared
    /// adapter.
    pub fn capabilities(self) -> Capabilities {
        let adapter = Arc::new(self);
        Capabilities {
            esign: Some(adapter.clone()),
            inbound: Some(adapter),
            ..Capabilities::default()
        }
    }

    /// Sends a built call and converts its `data` back; logs the operation and the error
    /// kind, never a body.
    async fn call<T>(
        &self,
        operation: Operation,
        call: Result<Call, Error>,
        back: impl FnOnce(serde_json::Value) -> Result<T, Error> + Send,
    ) -> Result<T, ProviderError> {
        let result = match call {
            Ok(call) => self.client.send(operation, &call).await.and_then(back),
            Err(err) => Err(err),
        };
        result.map_err(|err| failed(operation, err))
    }
}

/// Normalizes and logs a failure.
fn failed(operation: Operation, err: Error) -> ProviderError {
    let err = error::classify(operation, err);
    tracing::warn!(
        operation = operation.name(),
        kind = err.kind.as_str(),
        code = err.provider_code.as_deref().unwrap_or(""),
        error = %err,
        "privyid call failed"
    );
    err
}

#[async_trait]
impl ESignature for PrivyId {
    async fn register_signer(
        &self,
        request: &RegisterSigner,
    ) -> Result<SignerStatus, ProviderError> {
        let call = convert::registration(request);
        self.call(Operation::RegisterSigner, call, convert::registered)
            .await
    }

    /// One re-registration per item, in order KTP, selfie, supporting documents (2.5).
    /// Every item is checked before the first is sent; the first failure stops the rest
    /// and is returned, and the items sent before it stay sent.
    ///
    /// PrivyID may end `invalid` as soon as it accepts one item: a later item refused
    /// because the registration is no longer `invalid` (422 on `token`) means the
    /// resubmission was taken, and the call succeeds without sending the rest.
    async fn resubmit_signer(&self, request: &Resubmission) -> Result<(), ProviderError> {
        let operation = Operation::ResubmitSigner;
        let calls = convert::resubmissions(request).map_err(|err| failed(operation, err))?;
        for (index, (item, call)) in calls.into_iter().enumerate() {
            match self.client.send(operation, &call).await {
                Ok(_) => {}
                Err(err) if index > 0 && err.is_not_invalid_any_more() => {
                    tracing::info!(
                        item,
                        "privyid registration left invalid on an earlier item; rest not sent"
                    );
                    return Ok(());
                }
                Err(err) => {
                    tracing::warn!(item, "privyid re-registration stopped");
                    return Err(failed(operation, err));
                }
            }
        }
        Ok(())
    }

    async fn signer_status(
        &self,
        signer: &ProviderReference,
    ) -> Result<SignerStatus, ProviderError> {
        let call = convert::registration_status(signer);
        self.call(Operation::SignerStatus, call, |data| {
            convert::signer_status(signer, data)
        })
        .await
    }

    async fn upload_document(
        &self,
        request: &UploadDocument,
    ) -> Result<DocumentStatus, ProviderError> {
        let owner = DocumentOwner {
            privy_id: &self.merchant_privy_id,
            enterprise_token: self.enterprise_token.expose_secret(),
        };
        let call = convert::upload(request, &owner);
        self.call(Operation::UploadDocument, call, convert::uploaded)
            .await
    }

    async fn document_status(
        &self,
        document: &ProviderReference,
    ) -> Result<DocumentStatus, ProviderError> {
        let call = convert::document_status(document);
        self.call(Operation::DocumentStatus, call, |data| {
            convert::document(document, data)
        })
        .await
    }
}

#[async_trait]
impl InboundNotifications for PrivyId {
    /// Callbacks carry no signature (2.9): each is confirmed by a status inquiry.
    fn trust(&self) -> Trust {
        Trust::ConfirmByInquiry
    }

    async fn verify_and_parse(&self, request: &InboundRequest) -> Result<Inbound, ProviderError> {
        webhook::verify_and_parse(&self.callbacks, request)
    }

    fn acknowledge(&self, _request: &InboundRequest, outcome: &AckOutcome) -> InboundResponse {
        webhook::acknowledge(outcome)
    }
}
