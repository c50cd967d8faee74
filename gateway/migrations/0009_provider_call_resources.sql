-- Provider calls name the resource they were about (`va_…`, `pay_…`, `bill_…`, `sgn_…`,
-- `doc_…`, `msg_…`), so the console's resource page can list the calls made for it. Calls
-- about no single resource (balance, catalogue, settlement) and calls recorded before this
-- migration have none.

ALTER TABLE provider_calls ADD COLUMN resource_id TEXT;
CREATE INDEX provider_calls_resource ON provider_calls (resource_id);
