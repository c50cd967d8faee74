-- Provider instances an operator has switched off: no new business is sent to them (new
-- VAs fail over to the next instance of the route; payments, bills, signers, documents and
-- messages are refused as unavailable) while status inquiries and callbacks go on, so
-- nothing pending is stranded. One row per instance that was ever switched; the latest
-- change wins.

CREATE TABLE provider_switches (
    instance   TEXT PRIMARY KEY,
    disabled   BIGINT NOT NULL,
    reason     TEXT,
    changed_by TEXT NOT NULL,
    changed_at BIGINT NOT NULL
);
