-- E-signature: signers (identity verification at the provider), documents sent for
-- signature, and each document's signers. Identity fields are stored sealed (AES-256-GCM
-- under the configured data key, bound to the row) and the NIK only as a keyed
-- fingerprint; selfies, KTP images and PDFs are forwarded to the provider and never stored.

CREATE TABLE esign_signers (
    id                 TEXT PRIMARY KEY,
    client_id          TEXT NOT NULL,
    reference          TEXT NOT NULL,
    provider           TEXT NOT NULL,
    status             TEXT NOT NULL,
    provider_reference TEXT,
    provider_signer_id TEXT,
    provider_status    TEXT,
    verdict            TEXT,
    identity           TEXT,
    nik_fingerprint    TEXT NOT NULL,
    flags              TEXT NOT NULL DEFAULT '[]',
    version            BIGINT NOT NULL DEFAULT 1,
    created_at         BIGINT NOT NULL,
    updated_at         BIGINT NOT NULL,
    decided_at         BIGINT,
    next_check_at      BIGINT,
    checks             BIGINT NOT NULL DEFAULT 0,
    UNIQUE (client_id, reference)
);
CREATE INDEX esign_signers_check ON esign_signers (next_check_at);
CREATE INDEX esign_signers_provider_ref ON esign_signers (provider, provider_reference);
CREATE INDEX esign_signers_client ON esign_signers (client_id, id);
CREATE INDEX esign_signers_retention ON esign_signers (decided_at);

CREATE TABLE esign_documents (
    id                 TEXT PRIMARY KEY,
    client_id          TEXT NOT NULL,
    reference          TEXT NOT NULL,
    provider           TEXT NOT NULL,
    status             TEXT NOT NULL,
    title              TEXT NOT NULL,
    in_order           BIGINT NOT NULL DEFAULT 0,
    provider_reference TEXT,
    provider_status    TEXT,
    sign_url           TEXT,
    download_url       TEXT,
    reason             TEXT,
    flags              TEXT NOT NULL DEFAULT '[]',
    version            BIGINT NOT NULL DEFAULT 1,
    created_at         BIGINT NOT NULL,
    updated_at         BIGINT NOT NULL,
    completed_at       BIGINT,
    next_check_at      BIGINT,
    checks             BIGINT NOT NULL DEFAULT 0,
    UNIQUE (client_id, reference)
);
CREATE INDEX esign_documents_check ON esign_documents (next_check_at);
CREATE INDEX esign_documents_provider_ref ON esign_documents (provider, provider_reference);
CREATE INDEX esign_documents_client ON esign_documents (client_id, id);

CREATE TABLE esign_document_signers (
    document_id        TEXT NOT NULL,
    position           BIGINT NOT NULL,
    signer_id          TEXT NOT NULL,
    provider_signer_id TEXT NOT NULL,
    page               BIGINT NOT NULL,
    x                  BIGINT NOT NULL,
    y                  BIGINT NOT NULL,
    status             TEXT NOT NULL,
    sign_url           TEXT,
    updated_at         BIGINT NOT NULL,
    PRIMARY KEY (document_id, position)
);
