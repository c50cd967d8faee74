-- One-time passwords. The code itself is never stored: `seed` (random) and the gateway's
-- OTP key derive it (so a resend repeats the same code), and `code_hash` (keyed) checks it.
-- A copy of the database without the key reveals no code.

CREATE TABLE otps (
    id            TEXT PRIMARY KEY,
    client_id     TEXT NOT NULL,
    purpose       TEXT NOT NULL,
    recipient     TEXT NOT NULL,
    seed          TEXT NOT NULL,
    code_hash     TEXT NOT NULL,
    attempts      BIGINT NOT NULL DEFAULT 0,
    max_attempts  BIGINT NOT NULL,
    status        TEXT NOT NULL,
    expires_at    BIGINT NOT NULL,
    resend_after  BIGINT NOT NULL,
    provider      TEXT,
    created_at    BIGINT NOT NULL,
    updated_at    BIGINT NOT NULL
);
CREATE INDEX otps_client_created ON otps (client_id, created_at);

CREATE TABLE otp_sends (
    otp_id    TEXT NOT NULL,
    client_id TEXT NOT NULL,
    recipient TEXT NOT NULL,
    sent_at   BIGINT NOT NULL
);
CREATE INDEX otp_sends_recipient ON otp_sends (recipient, sent_at);
CREATE INDEX otp_sends_client ON otp_sends (client_id, sent_at);
