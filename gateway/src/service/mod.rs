//! Domain rules, between the HTTP handlers and the store/adapters.

pub mod bills;
pub mod callbacks;
pub mod esign;
pub mod fields;
pub mod jobs;
pub mod messages;
pub mod otp;
pub mod payments;
pub mod support;
pub mod va;
