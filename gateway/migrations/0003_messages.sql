-- Template messages (WhatsApp) and how far each got. Status only moves forward:
-- queued < sent < delivered < read, and failed is final. A send the provider throttled stays
-- queued with `next_attempt_at` (nothing was sent, so it is sent again later).

CREATE TABLE messages (
    id                 TEXT PRIMARY KEY,
    client_id          TEXT NOT NULL,
    reference          TEXT NOT NULL,
    provider           TEXT,
    recipient          TEXT NOT NULL,
    template           TEXT NOT NULL,
    language           TEXT NOT NULL,
    status             TEXT NOT NULL,
    rank               BIGINT NOT NULL,
    provider_reference TEXT,
    error              TEXT,
    params             TEXT NOT NULL,
    attempts           BIGINT NOT NULL DEFAULT 0,
    next_attempt_at    BIGINT,
    version            BIGINT NOT NULL DEFAULT 1,
    created_at         BIGINT NOT NULL,
    updated_at         BIGINT NOT NULL,
    UNIQUE (client_id, reference)
);
CREATE INDEX messages_provider_ref ON messages (provider, provider_reference);
CREATE INDEX messages_client_created ON messages (client_id, id);
CREATE INDEX messages_due ON messages (next_attempt_at);
