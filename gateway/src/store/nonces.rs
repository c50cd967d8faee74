//! Request nonces of signed client requests, remembered in the database so a restart does
//! not reopen the replay window.

use sqlx::AnyConnection;

use super::{Db, StoreError};

/// Records `nonce` for `client_id`; returns `false` if it was seen before.
pub async fn remember(
    conn: &mut AnyConnection,
    client_id: &str,
    nonce: &str,
    now: i64,
) -> Result<bool, StoreError> {
    let done = sqlx::query("INSERT INTO request_nonces (client_id, nonce, seen_at) VALUES ($1, $2, $3) ON CONFLICT (client_id, nonce) DO NOTHING")
        .bind(client_id)
        .bind(nonce)
        .bind(now)
        .execute(conn)
        .await?;
    Ok(done.rows_affected() == 1)
}

/// Forgets client nonces older than `before` (outside every timestamp window) and provider
/// request ids (scope `provider:…`, unique per day) older than `providers_before`.
pub async fn purge(db: &Db, before: i64, providers_before: i64) -> Result<u64, StoreError> {
    db.write(move |conn| {
        Box::pin(async move {
            let r = sqlx::query("DELETE FROM request_nonces WHERE (seen_at < $1 AND client_id NOT LIKE 'provider:%') OR seen_at < $2")
                .bind(before)
                .bind(providers_before)
                .execute(conn)
                .await?;
            Ok(r.rows_affected())
        })
    })
    .await
}
