//! Event delivery to products: Standard Webhooks signing and the dispatcher.

pub mod dispatcher;
pub mod signing;
