//! SNAP BI (Standar Nasional Open API Pembayaran) primitives shared by the adapters of
//! providers that speak it (BNI, DOKU's VA, AstraPay): the canonical body hash, the RSA
//! and HMAC signatures, response codes, an outbound client that keeps the B2B token, and
//! inbound verification with stateless tokens we issue.
//!
//! Written to the protocol reference `bni-and-snap.md` Part B (B.1–B.6) and pinned by its
//! known-answer vectors TV-S1..TV-S7, plus the provider notes in `nicepay-and-doku.md`
//! 2.11 and `astrapay-privyid-whatsapp.md` 1.4–1.6, 1.12. This crate knows no provider's
//! services: adapters build bodies, choose paths and decide what a response code means
//! for each operation.
//!
//! Not here: `X-EXTERNAL-ID` once-per-day enforcement (it needs the gateway's store;
//! [`inbound::Verified::external_id`] goes to the gateway) and B2B2C customer tokens.
//!
//! # Layout
//! - [`codec`]: [`codec::minify`] and [`codec::body_hash`], [`codec::SnapAmount`],
//!   timestamps, [`codec::external_id`].
//! - [`sign`]: RSA keys, HMAC-SHA512, the strings to sign, with the known-answer tests.
//! - [`code`]: [`code::ResponseCode`] and its generic [`code::error_kind`].
//! - [`client`]: [`client::SnapClient`], outbound calls with a cached B2B token.
//! - [`inbound`]: [`inbound::SnapInbound`], our token endpoint and notification
//!   verification; [`inbound::answer`] renders SNAP answers.
//! - `error.rs`: [`ConfigError`], [`KeyError`], [`AmountError`].
#![deny(missing_docs)]

pub mod client;
pub mod code;
pub mod codec;
mod error;
pub mod inbound;
pub mod sign;

pub use client::{Answer, ClientConfig, ServiceCall, SnapClient, check};
pub use code::{ResponseCode, error_kind};
pub use codec::{SnapAmount, TimestampStyle};
pub use error::{AmountError, ConfigError, KeyError};
pub use inbound::{
    InboundConfig, NotifyAuth, Rejection, SnapInbound, TokenAnswer, Verified, answer,
};
pub use sign::{RsaPrivateKey, RsaPublicKey};
