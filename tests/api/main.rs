//! End-to-end tests: the real router on a random port, simulators speaking each
//! provider's protocol, a fresh database per test (SQLite always, PostgreSQL when
//! `TEST_DATABASE_URL` is set).

mod auth;
mod bills;
mod callbacks;
mod conformance;
mod console;
mod esign;
mod events;
mod failover;
mod helpers;
mod idempotency;
mod messages;
mod openapi;
mod otp;
mod payments;
mod sandbox;
mod snap;
mod va;
