-- Payments (e-wallet, checkout, QRIS), their refunds, and the serials the gateway allocates
-- for VA numbers it assigns itself (SNAP customer numbers).

CREATE TABLE payments (
    id                 TEXT PRIMARY KEY,
    client_id          TEXT NOT NULL,
    reference          TEXT NOT NULL,
    provider           TEXT,
    method             TEXT NOT NULL,
    amount             BIGINT NOT NULL,
    paid_amount        BIGINT NOT NULL DEFAULT 0,
    refunded_amount    BIGINT NOT NULL DEFAULT 0,
    status             TEXT NOT NULL,
    action             TEXT,
    provider_reference TEXT,
    customer           TEXT NOT NULL,
    description        TEXT,
    return_url         TEXT,
    expires_at         BIGINT NOT NULL,
    paid_at            BIGINT,
    flags              TEXT NOT NULL DEFAULT '[]',
    version            BIGINT NOT NULL DEFAULT 1,
    created_at         BIGINT NOT NULL,
    updated_at         BIGINT NOT NULL,
    next_check_at      BIGINT,
    checks             BIGINT NOT NULL DEFAULT 0,
    UNIQUE (client_id, reference)
);
CREATE INDEX payments_check ON payments (next_check_at);
CREATE INDEX payments_provider_ref ON payments (provider, provider_reference);
CREATE INDEX payments_client_created ON payments (client_id, id);

CREATE TABLE refunds (
    id                 TEXT PRIMARY KEY,
    payment_id         TEXT NOT NULL,
    client_id          TEXT NOT NULL,
    amount             BIGINT NOT NULL,
    reason             TEXT NOT NULL,
    status             TEXT NOT NULL,
    provider_reference TEXT,
    created_at         BIGINT NOT NULL,
    updated_at         BIGINT NOT NULL
);
CREATE INDEX refunds_payment ON refunds (payment_id, created_at);

CREATE TABLE va_serials (
    provider    TEXT PRIMARY KEY,
    next_serial BIGINT NOT NULL
);
