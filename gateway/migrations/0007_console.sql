-- Operations console: operator accounts (argon2id password hashes), their sessions (only a
-- SHA-256 of each session token is stored), and the audit log of what operators did.

CREATE TABLE operators (
    id              TEXT PRIMARY KEY,
    username        TEXT NOT NULL UNIQUE,
    password_hash   TEXT NOT NULL,
    role            TEXT NOT NULL,
    phone           TEXT NOT NULL,
    failed_attempts BIGINT NOT NULL DEFAULT 0,
    locked_until    BIGINT,
    disabled        BIGINT NOT NULL DEFAULT 0,
    created_at      BIGINT NOT NULL,
    last_login_at   BIGINT
);

CREATE TABLE console_sessions (
    token_hash   TEXT PRIMARY KEY,
    operator_id  TEXT NOT NULL,
    stage        TEXT NOT NULL,
    otp_id       TEXT,
    csrf_token   TEXT NOT NULL,
    created_at   BIGINT NOT NULL,
    last_seen_at BIGINT NOT NULL,
    expires_at   BIGINT NOT NULL
);
CREATE INDEX console_sessions_operator ON console_sessions (operator_id);

CREATE TABLE audit_log (
    id          TEXT PRIMARY KEY,
    operator_id TEXT,
    username    TEXT NOT NULL,
    action      TEXT NOT NULL,
    target      TEXT,
    detail      TEXT,
    remote      TEXT,
    at          BIGINT NOT NULL
);
CREATE INDEX audit_log_at ON audit_log (at);
