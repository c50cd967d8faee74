-- PPOB (biller host-to-host): the billers' catalogues, postpaid inquiries (and prepaid
-- customer checks), payments and purchases, the deposit balance we hold at each biller,
-- and H+1 reconciliation reports. `ref_id` is the reference the biller knows a transaction
-- by: allocated and stored before the first send, never reused.

CREATE TABLE bill_products (
    provider     TEXT NOT NULL,
    code         TEXT NOT NULL,
    name         TEXT NOT NULL,
    category     TEXT NOT NULL,
    brand        TEXT NOT NULL,
    postpaid     BIGINT NOT NULL,
    price        BIGINT,
    admin_fee    BIGINT,
    commission   BIGINT,
    available    BIGINT NOT NULL,
    description  TEXT NOT NULL,
    refreshed_at BIGINT NOT NULL,
    PRIMARY KEY (provider, code)
);

CREATE TABLE bill_inquiries (
    id                 TEXT PRIMARY KEY,
    client_id          TEXT NOT NULL,
    provider           TEXT NOT NULL,
    ref_id             TEXT NOT NULL,
    product_code       TEXT NOT NULL,
    customer_no        TEXT NOT NULL,
    postpaid           BIGINT NOT NULL,
    customer_name      TEXT NOT NULL,
    amount             BIGINT NOT NULL,
    admin_fee          BIGINT NOT NULL,
    penalty            BIGINT NOT NULL,
    biller_cost        BIGINT NOT NULL,
    customer_total     BIGINT NOT NULL,
    details            TEXT NOT NULL,
    provider_reference TEXT,
    expires_at         BIGINT NOT NULL,
    created_at         BIGINT NOT NULL,
    UNIQUE (provider, ref_id)
);
CREATE INDEX bill_inquiries_client ON bill_inquiries (client_id, id);

CREATE TABLE bill_payments (
    id                 TEXT PRIMARY KEY,
    client_id          TEXT NOT NULL,
    reference          TEXT NOT NULL,
    provider           TEXT NOT NULL,
    ref_id             TEXT NOT NULL,
    product_code       TEXT NOT NULL,
    customer_no        TEXT NOT NULL,
    postpaid           BIGINT NOT NULL,
    inquiry_id         TEXT,
    status             TEXT NOT NULL,
    serial_number      TEXT,
    token              TEXT,
    biller_cost        BIGINT,
    customer_total     BIGINT,
    balance_after      BIGINT,
    provider_reference TEXT,
    provider_status    TEXT,
    message            TEXT,
    details            TEXT NOT NULL,
    flags              TEXT NOT NULL DEFAULT '[]',
    version            BIGINT NOT NULL DEFAULT 1,
    created_at         BIGINT NOT NULL,
    updated_at         BIGINT NOT NULL,
    sent_at            BIGINT,
    completed_at       BIGINT,
    next_check_at      BIGINT,
    checks             BIGINT NOT NULL DEFAULT 0,
    UNIQUE (client_id, reference),
    UNIQUE (provider, ref_id)
);
CREATE UNIQUE INDEX bill_payments_inquiry ON bill_payments (inquiry_id);
CREATE INDEX bill_payments_check ON bill_payments (next_check_at);
CREATE INDEX bill_payments_client ON bill_payments (client_id, id);
CREATE INDEX bill_payments_sent ON bill_payments (provider, sent_at);

CREATE TABLE biller_balances (
    provider   TEXT PRIMARY KEY,
    balance    BIGINT NOT NULL,
    low        BIGINT NOT NULL,
    checked_at BIGINT NOT NULL
);

CREATE TABLE reconciliations (
    id         TEXT PRIMARY KEY,
    client_id  TEXT,
    provider   TEXT NOT NULL,
    day        TEXT NOT NULL,
    summary    TEXT NOT NULL,
    items      TEXT NOT NULL,
    created_at BIGINT NOT NULL
);
CREATE INDEX reconciliations_client ON reconciliations (client_id, id);
CREATE INDEX reconciliations_day ON reconciliations (provider, day);
