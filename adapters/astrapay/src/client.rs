//! HTTP plumbing: each operation's path and `CHANNEL-ID`, one signed SNAP call through
//! [`adapter_snap::client::SnapClient`] (B2B token, HMAC-SHA512, headers of 1.5), and the
//! first classification of the answer.

use adapter_snap::client::{ClientConfig, ServiceCall, SnapClient};
use adapter_snap::code::ResponseCode;
use contracts::{ErrorKind, ProviderError};
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::config::{Config, ConfigError};
use crate::error::{Operation, classify, malformed};

/// Sends AstraPay's services for one merchant.
pub(crate) struct Client {
    snap: SnapClient,
    debit_prefix: String,
    qris_prefix: String,
    qris_refund_path: String,
}

impl std::fmt::Debug for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Client")
            .field("debit_prefix", &self.debit_prefix)
            .field("qris_prefix", &self.qris_prefix)
            .finish_non_exhaustive()
    }
}

impl Client {
    /// The client of a validated `config`; no I/O.
    pub(crate) fn new(config: &Config, http: reqwest::Client) -> Result<Client, ConfigError> {
        let snap = SnapClient::new(
            ClientConfig {
                base_url: config.base_url.clone(),
                token_path: config.token_path.clone(),
                client_key: config.client_id.clone(),
                partner_id: config.client_id.clone(),
                client_secret: config.client_secret.clone(),
                private_key_pem: config.private_key.clone(),
                timestamp_style: config.timestamp_style,
                timeout: config.timeout(),
            },
            http,
        )?;
        Ok(Client {
            snap,
            debit_prefix: config.debit_prefix.clone(),
            qris_prefix: config.qris_prefix.clone(),
            qris_refund_path: config.qris_refund_path.clone(),
        })
    }

    /// The path of `op`, relative to the base URL (1.8, 1.9).
    pub(crate) fn path(&self, op: Operation) -> String {
        match op {
            Operation::DebitPayment => format!("{}/debit/payment-host-to-host", self.debit_prefix),
            Operation::DebitStatus => format!("{}/debit/status", self.debit_prefix),
            Operation::DebitRefund => format!("{}/debit/refund", self.debit_prefix),
            Operation::QrGenerate => format!("{}/qr/qr-mpm-generate", self.qris_prefix),
            // Documented as GET, but the doc's example is a POST with a body (1.14 #3).
            Operation::QrQuery => format!("{}/qr/qr-mpm-query", self.qris_prefix),
            Operation::QrRefund => self.qris_refund_path.clone(),
        }
    }

    /// Posts `body` to `op` and reads a 2xx answer of its service as `T`, returning the
    /// code with it (the caller tells `200` from `202`).
    pub(crate) async fn send<B: Serialize, T: DeserializeOwned>(
        &self,
        op: Operation,
        body: &B,
    ) -> Result<(ResponseCode, T), ProviderError> {
        let body = serde_json::to_value(body).map_err(|_| {
            ProviderError::new(ErrorKind::Rejected, "the request cannot be encoded")
        })?;
        let path = self.path(op);
        let call = ServiceCall {
            method: reqwest::Method::POST,
            path: &path,
            channel_id: op.channel_id(),
            body: &body,
            headers: &[],
        };
        let answer = self.snap.call(&call).await.inspect_err(|err| {
            tracing::warn!(operation = ?op, kind = err.kind.as_str(), error = %err, "astrapay call failed");
        })?;
        tracing::debug!(operation = ?op, code = %answer.code, "astrapay answered");
        classify(op, &answer)?;
        let parsed = serde_json::from_value(answer.body)
            .map_err(|_| malformed(op, "fields of unexpected types"))?;
        Ok((answer.code, parsed))
    }
}
