//! Provider switches: which instances operators have switched off, by whom, when and why.

use sqlx::AnyConnection;

use super::{Db, StoreError};

/// The latest switch of one instance.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SwitchRow {
    /// The provider instance.
    pub instance: String,
    /// 1 when switched off.
    pub disabled: i64,
    /// Why, as the operator wrote it.
    pub reason: Option<String>,
    /// The operator's username.
    pub changed_by: String,
    /// When, ms.
    pub changed_at: i64,
}

impl SwitchRow {
    /// Whether the instance is off.
    pub fn is_off(&self) -> bool {
        self.disabled != 0
    }
}

/// Every instance ever switched, by name.
pub async fn all(db: &Db) -> Result<Vec<SwitchRow>, StoreError> {
    let rows: Vec<(String, i64, Option<String>, String, i64)> = sqlx::query_as(
        "SELECT instance, disabled, reason, changed_by, changed_at FROM provider_switches ORDER BY instance",
    )
    .fetch_all(db.pool())
    .await?;
    Ok(rows
        .into_iter()
        .map(
            |(instance, disabled, reason, changed_by, changed_at)| SwitchRow {
                instance,
                disabled,
                reason,
                changed_by,
                changed_at,
            },
        )
        .collect())
}

/// Loads the switched-off instances into the registry's [`crate::registry::Switches`].
pub async fn load(db: &Db, switches: &crate::registry::Switches) -> Result<(), StoreError> {
    let off = all(db)
        .await?
        .into_iter()
        .filter(SwitchRow::is_off)
        .map(|r| r.instance)
        .collect();
    switches.replace(off);
    Ok(())
}

/// Switches `instance` on or off. Returns whether this changed anything (switching an
/// instance that is already in that state keeps the earlier record).
pub async fn set(
    conn: &mut AnyConnection,
    instance: &str,
    off: bool,
    reason: Option<&str>,
    by: &str,
    at: i64,
) -> Result<bool, StoreError> {
    let done = sqlx::query(
        "INSERT INTO provider_switches (instance, disabled, reason, changed_by, changed_at) VALUES ($1, $2, $3, $4, $5) \
         ON CONFLICT (instance) DO UPDATE SET disabled = excluded.disabled, reason = excluded.reason, \
         changed_by = excluded.changed_by, changed_at = excluded.changed_at \
         WHERE provider_switches.disabled <> excluded.disabled",
    )
    .bind(instance)
    .bind(i64::from(off))
    .bind(reason)
    .bind(by)
    .bind(at)
    .execute(conn)
    .await?;
    Ok(done.rows_affected() == 1)
}
