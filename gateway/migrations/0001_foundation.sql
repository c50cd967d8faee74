-- The foundation schema. One file serves SQLite and PostgreSQL: ids are text (prefixed
-- ULIDs), times are unix milliseconds in BIGINT, JSON is TEXT. Every product-owned row
-- carries client_id and every query filters by it.

CREATE TABLE virtual_accounts (
    id                 TEXT PRIMARY KEY,
    client_id          TEXT NOT NULL,
    reference          TEXT NOT NULL,
    provider           TEXT,
    bank               TEXT,
    va_number          TEXT,
    provider_reference TEXT,
    amount             BIGINT NOT NULL,
    paid_amount        BIGINT NOT NULL DEFAULT 0,
    status             TEXT NOT NULL,
    payment_rule       TEXT NOT NULL,
    customer           TEXT NOT NULL,
    description        TEXT,
    expires_at         BIGINT NOT NULL,
    paid_at            BIGINT,
    flags              TEXT NOT NULL DEFAULT '[]',
    version            BIGINT NOT NULL DEFAULT 1,
    created_at         BIGINT NOT NULL,
    updated_at         BIGINT NOT NULL,
    next_check_at      BIGINT,
    UNIQUE (client_id, reference)
);
CREATE INDEX va_status_expiry ON virtual_accounts (status, expires_at);
CREATE INDEX va_check ON virtual_accounts (next_check_at);
CREATE INDEX va_provider_number ON virtual_accounts (provider, va_number);
CREATE INDEX va_provider_ref ON virtual_accounts (provider, provider_reference);
CREATE INDEX va_client_created ON virtual_accounts (client_id, id);

CREATE TABLE provider_events (
    id                TEXT PRIMARY KEY,
    provider          TEXT NOT NULL,
    provider_event_id TEXT NOT NULL,
    client_id         TEXT,
    resource_id       TEXT,
    kind              TEXT NOT NULL,
    amount            BIGINT,
    state             TEXT NOT NULL,
    detail            TEXT,
    payload           TEXT NOT NULL,
    received_at       BIGINT NOT NULL,
    processed_at      BIGINT,
    attempts          BIGINT NOT NULL DEFAULT 0,
    next_attempt_at   BIGINT,
    UNIQUE (provider, provider_event_id)
);
CREATE INDEX provider_events_due ON provider_events (state, next_attempt_at);
CREATE INDEX provider_events_resource ON provider_events (resource_id);

CREATE TABLE events (
    id              TEXT PRIMARY KEY,
    client_id       TEXT NOT NULL,
    type            TEXT NOT NULL,
    resource_id     TEXT NOT NULL,
    body            TEXT NOT NULL,
    created_at      BIGINT NOT NULL,
    delivery_state  TEXT NOT NULL,
    attempts        BIGINT NOT NULL DEFAULT 0,
    next_attempt_at BIGINT,
    lease_until     BIGINT,
    delivered_at    BIGINT,
    last_error      TEXT
);
CREATE INDEX events_client ON events (client_id, id);
CREATE INDEX events_due ON events (delivery_state, next_attempt_at);

CREATE TABLE delivery_attempts (
    id          TEXT PRIMARY KEY,
    event_id    TEXT NOT NULL,
    client_id   TEXT NOT NULL,
    attempt     BIGINT NOT NULL,
    started_at  BIGINT NOT NULL,
    duration_ms BIGINT NOT NULL,
    status_code BIGINT,
    error       TEXT,
    url         TEXT NOT NULL
);
CREATE INDEX delivery_attempts_event ON delivery_attempts (event_id, attempt);

CREATE TABLE idempotency_keys (
    client_id      TEXT NOT NULL,
    idem_key       TEXT NOT NULL,
    request_hash   TEXT NOT NULL,
    state          TEXT NOT NULL,
    status_code    BIGINT,
    response_body  TEXT,
    created_at     BIGINT NOT NULL,
    PRIMARY KEY (client_id, idem_key)
);
CREATE INDEX idempotency_created ON idempotency_keys (created_at);

CREATE TABLE request_nonces (
    client_id TEXT NOT NULL,
    nonce     TEXT NOT NULL,
    seen_at   BIGINT NOT NULL,
    PRIMARY KEY (client_id, nonce)
);
CREATE INDEX request_nonces_seen ON request_nonces (seen_at);

CREATE TABLE jobs (
    id          TEXT PRIMARY KEY,
    client_id   TEXT NOT NULL,
    kind        TEXT NOT NULL,
    state       TEXT NOT NULL,
    total       BIGINT NOT NULL,
    created_at  BIGINT NOT NULL,
    updated_at  BIGINT NOT NULL,
    lease_until BIGINT
);
CREATE INDEX jobs_state ON jobs (state);

CREATE TABLE job_items (
    job_id      TEXT NOT NULL,
    idx         BIGINT NOT NULL,
    request     TEXT NOT NULL,
    state       TEXT NOT NULL,
    resource_id TEXT,
    error_code  TEXT,
    error_detail TEXT,
    PRIMARY KEY (job_id, idx)
);

CREATE TABLE provider_calls (
    id          TEXT PRIMARY KEY,
    client_id   TEXT,
    provider    TEXT NOT NULL,
    operation   TEXT NOT NULL,
    outcome     TEXT NOT NULL,
    duration_ms BIGINT NOT NULL,
    at          BIGINT NOT NULL
);
CREATE INDEX provider_calls_client_at ON provider_calls (client_id, at);
