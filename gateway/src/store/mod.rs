//! Persistence: one schema on SQLite (the embedded default) and PostgreSQL (production),
//! through sqlx's `Any` driver with runtime queries.
//!
//! Writes go through [`Db::write`]. On PostgreSQL each write is its own transaction on the
//! pool (the server group-commits concurrent transactions itself). On SQLite a single writer
//! task **group-commits**: it takes every write waiting in its queue, runs them in one
//! transaction, commits once (WAL, `synchronous=FULL`, so durable across power loss) and
//! only then answers each caller. Writes fail only on database errors (business outcomes
//! such as duplicates are `ON CONFLICT` results, not errors); when one does, the whole group
//! rolls back and every caller is told so: all or nothing, never a partial commit.
//!
//! Layout: one file per aggregate (`va`, `payments`, `events`, `provider_events`,
//! `idempotency`, `nonces`, `jobs`, `calls`), all taking `&mut AnyConnection` for writes
//! (so they compose inside one transaction) and `&Db` for reads.

pub mod bills;
pub mod calls;
pub mod checks;
pub mod esign;
pub mod events;
pub mod idempotency;
pub mod jobs;
pub mod messages;
pub mod nonces;
pub mod payments;
pub mod provider_events;
pub mod switches;
pub mod va;

use std::time::Duration;

use futures::future::BoxFuture;
use sqlx::AnyConnection;
use sqlx::any::AnyPoolOptions;
use sqlx::{AnyPool, Connection, Executor};
use time::OffsetDateTime;
use tokio::sync::{mpsc, oneshot};

/// The migrations, in order. Each runs once, in its own transaction, on either backend.
const MIGRATIONS: &[(i64, &str, &str)] = &[
    (
        1,
        "foundation",
        include_str!("../../migrations/0001_foundation.sql"),
    ),
    (
        2,
        "payments",
        include_str!("../../migrations/0002_payments.sql"),
    ),
    (
        3,
        "messages",
        include_str!("../../migrations/0003_messages.sql"),
    ),
    (4, "otp", include_str!("../../migrations/0004_otp.sql")),
    (5, "esign", include_str!("../../migrations/0005_esign.sql")),
    (6, "bills", include_str!("../../migrations/0006_bills.sql")),
    (
        7,
        "console",
        include_str!("../../migrations/0007_console.sql"),
    ),
    (
        8,
        "provider_switches",
        include_str!("../../migrations/0008_provider_switches.sql"),
    ),
    (
        9,
        "provider_call_resources",
        include_str!("../../migrations/0009_provider_call_resources.sql"),
    ),
];

/// Which database the gateway runs on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backend {
    /// SQLite file, WAL, `synchronous=FULL`, group-committed writes.
    Sqlite,
    /// PostgreSQL.
    Postgres,
}

/// A storage failure.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The database said no or could not be reached.
    #[error("database error: {0}")]
    Database(#[from] sqlx::Error),
    /// The writer task is gone (shutting down).
    #[error("database writer is not running")]
    WriterGone,
    /// A stored value could not be decoded.
    #[error("corrupt row: {0}")]
    Corrupt(String),
    /// The write was fine but its group commit failed or was rolled back.
    #[error("group commit failed: {0}")]
    GroupFailed(String),
}

/// What a write job returns to the writer: its own result, delivered after commit.
type Completion = Box<dyn FnOnce(Result<(), &StoreError>) + Send>;
/// A write: given the writer's connection it runs; given `None` (the transaction could not
/// start) it only produces its completion, touching nothing.
type Job = Box<
    dyn for<'c> FnOnce(Option<&'c mut AnyConnection>) -> BoxFuture<'c, (bool, Completion)> + Send,
>;

/// The database handle: a read pool and a writer.
#[derive(Clone, Debug)]
pub struct Db {
    pool: AnyPool,
    backend: Backend,
    writer: Option<mpsc::Sender<Job>>,
}

/// Database settings.
#[derive(Clone, Debug)]
pub struct DbOptions {
    /// `sqlite://path?mode=rwc` or `postgres://…`.
    pub url: String,
    /// Pool size for reads (and, on PostgreSQL, writes).
    pub max_connections: u32,
    /// Most writes one SQLite transaction groups.
    pub max_batch: usize,
}

impl Db {
    /// Connects, applies pragmas, runs migrations and starts the writer.
    pub async fn connect(options: &DbOptions) -> Result<Db, StoreError> {
        sqlx::any::install_default_drivers();
        let backend = if options.url.starts_with("postgres") {
            Backend::Postgres
        } else {
            Backend::Sqlite
        };
        if backend == Backend::Sqlite {
            ensure_sqlite_parent_dir(&options.url);
        }
        let pool = pool_options(backend, options.max_connections)
            .connect(&options.url)
            .await?;
        migrate_pool(&pool).await?;
        let writer = match backend {
            Backend::Postgres => None,
            Backend::Sqlite => {
                let mut conn = AnyConnection::connect(&options.url).await?;
                apply_sqlite_pragmas(&mut conn).await?;
                // A passive checkpoint beside the writer copies most of the WAL back into
                // the database file, so the writer's own automatic checkpoint (which lets
                // the WAL restart from the beginning) finds little left to do.
                tokio::spawn(checkpoint_loop(pool.clone()));
                Some(spawn_writer(conn, options.max_batch.max(1)))
            }
        };
        Ok(Db {
            pool,
            backend,
            writer,
        })
    }

    /// The backend in use.
    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// The pool, for reads.
    pub fn pool(&self) -> &AnyPool {
        &self.pool
    }

    /// Whether the database answers.
    pub async fn ping(&self) -> bool {
        sqlx::query("SELECT 1").execute(&self.pool).await.is_ok()
    }

    /// Runs `f` inside a transaction and returns its result once the transaction is
    /// durable. On error nothing `f` did is kept.
    pub async fn write<T, F>(&self, f: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: for<'c> FnOnce(&'c mut AnyConnection) -> BoxFuture<'c, Result<T, StoreError>>
            + Send
            + 'static,
    {
        self.run_write(f, false).await
    }

    /// Like [`Db::write`], but on SQLite answers as soon as `f` has run inside the writer's
    /// current group, without waiting for that group's commit. For guards such as request
    /// nonces: the write becomes durable with its group, and since the single writer commits
    /// groups in order, it is durable before any later write the caller makes. If the group
    /// fails, the guard is lost along with everything else of the group.
    pub async fn write_ordered<T, F>(&self, f: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: for<'c> FnOnce(&'c mut AnyConnection) -> BoxFuture<'c, Result<T, StoreError>>
            + Send
            + 'static,
    {
        self.run_write(f, true).await
    }

    /// Direct transaction on PostgreSQL; the group-committing writer on SQLite, answering
    /// after the commit or, when `early`, as soon as `f` has run.
    async fn run_write<T, F>(&self, f: F, early: bool) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: for<'c> FnOnce(&'c mut AnyConnection) -> BoxFuture<'c, Result<T, StoreError>>
            + Send
            + 'static,
    {
        match &self.writer {
            None => self.write_direct(f).await,
            Some(sender) => write_batched(sender, f, early).await,
        }
    }

    async fn write_direct<T, F>(&self, f: F) -> Result<T, StoreError>
    where
        F: for<'c> FnOnce(&'c mut AnyConnection) -> BoxFuture<'c, Result<T, StoreError>>,
    {
        let mut tx = self.pool.begin().await?;
        let result = f(&mut tx).await;
        match result {
            Ok(value) => {
                tx.commit().await?;
                Ok(value)
            }
            Err(e) => {
                let _ = tx.rollback().await;
                Err(e)
            }
        }
    }

    /// Closes the pool (the writer ends when the last handle is dropped).
    pub async fn close(&self) {
        self.pool.close().await;
    }
}

async fn write_batched<T, F>(sender: &mpsc::Sender<Job>, f: F, early: bool) -> Result<T, StoreError>
where
    T: Send + 'static,
    F: for<'c> FnOnce(&'c mut AnyConnection) -> BoxFuture<'c, Result<T, StoreError>>
        + Send
        + 'static,
{
    let (reply, answer) = oneshot::channel::<Result<T, StoreError>>();
    let job: Job = Box::new(move |conn| {
        Box::pin(async move {
            let result = match conn {
                Some(conn) => f(conn).await,
                None => Err(StoreError::WriterGone),
            };
            let ok = result.is_ok();
            if early {
                let _ = reply.send(result);
                let completion: Completion = Box::new(|_| {});
                return (ok, completion);
            }
            let completion: Completion = Box::new(move |commit| {
                let outcome = match (result, commit) {
                    (Ok(v), Ok(())) => Ok(v),
                    (Ok(_), Err(e)) => Err(StoreError::GroupFailed(e.to_string())),
                    (Err(e), _) => Err(e),
                };
                let _ = reply.send(outcome);
            });
            (ok, completion)
        })
    });
    sender.send(job).await.map_err(|_| StoreError::WriterGone)?;
    answer.await.unwrap_or(Err(StoreError::WriterGone))
}

fn spawn_writer(conn: AnyConnection, max_batch: usize) -> mpsc::Sender<Job> {
    let (sender, receiver) = mpsc::channel::<Job>(max_batch * 8);
    tokio::spawn(writer_loop(conn, receiver, max_batch));
    sender
}

async fn writer_loop(mut conn: AnyConnection, mut receiver: mpsc::Receiver<Job>, max_batch: usize) {
    let mut batch: Vec<Job> = Vec::with_capacity(max_batch);
    while let Some(first) = receiver.recv().await {
        batch.push(first);
        while batch.len() < max_batch {
            match receiver.try_recv() {
                Ok(job) => batch.push(job),
                Err(_) => break,
            }
        }
        crate::metrics::global()
            .db_batch_size
            .observe(batch.len() as f64);
        run_batch(&mut conn, &mut batch).await;
    }
}

async fn run_batch(conn: &mut AnyConnection, batch: &mut Vec<Job>) {
    // No savepoint per job: every statement is a round trip to the SQLite thread and the
    // writer's throughput is bounded by them. Jobs fail only on database errors (business
    // outcomes such as duplicates are `ON CONFLICT` results, not errors), and then the
    // whole group is rolled back and every caller told so: all or nothing, never a partial
    // commit.
    if let Err(e) = conn.execute("BEGIN IMMEDIATE").await {
        let e = StoreError::from(e);
        for job in batch.drain(..) {
            let (_, completion) = job(None).await;
            completion(Err(&e));
        }
        return;
    }
    let mut completions: Vec<Completion> = Vec::with_capacity(batch.len());
    let mut failed = false;
    for job in batch.drain(..) {
        let (ok, completion) = job((!failed).then_some(&mut *conn)).await;
        failed |= !ok;
        completions.push(completion);
    }
    let outcome = if failed {
        let _ = conn.execute("ROLLBACK").await;
        Err(StoreError::GroupFailed(
            "another write of the group failed; all were rolled back".into(),
        ))
    } else {
        conn.execute("COMMIT")
            .await
            .map(|_| ())
            .map_err(StoreError::from)
    };
    if let Err(e) = &outcome {
        tracing::error!(error = %e, "group commit failed");
        if !failed {
            let _ = conn.execute("ROLLBACK").await;
        }
    }
    completions
        .into_iter()
        .for_each(|c| c(outcome.as_ref().map(|_| ())));
}

/// Copies the WAL back into the database file once a second without blocking the writer
/// (`PASSIVE` never waits for it). The WAL restarts (stays small) through the writer's
/// automatic checkpoint, which this keeps cheap.
async fn checkpoint_loop(pool: AnyPool) {
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    loop {
        tick.tick().await;
        if pool.is_closed() {
            return;
        }
        if let Err(e) = sqlx::query("PRAGMA wal_checkpoint(PASSIVE)")
            .fetch_all(&pool)
            .await
        {
            tracing::warn!(error = %e, "WAL checkpoint failed");
        }
    }
}

fn pool_options(backend: Backend, max_connections: u32) -> AnyPoolOptions {
    let options = AnyPoolOptions::new()
        .max_connections(max_connections.max(1))
        .acquire_timeout(Duration::from_secs(5));
    match backend {
        Backend::Postgres => options,
        Backend::Sqlite => options
            .after_connect(|conn, _| Box::pin(async move { apply_sqlite_pragmas(conn).await })),
    }
}

async fn apply_sqlite_pragmas(conn: &mut AnyConnection) -> Result<(), sqlx::Error> {
    // WAL with synchronous=FULL: a commit the gateway acknowledged survives power loss,
    // not just a process crash (RELIABILITY.md §1.3).
    conn.execute("PRAGMA journal_mode = WAL").await?;
    conn.execute("PRAGMA synchronous = FULL").await?;
    conn.execute("PRAGMA busy_timeout = 5000").await?;
    Ok(())
}

fn ensure_sqlite_parent_dir(url: &str) {
    let path = url
        .trim_start_matches("sqlite://")
        .trim_start_matches("sqlite:")
        .split('?')
        .next()
        .unwrap_or("");
    if let Some(parent) = std::path::Path::new(path).parent()
        && !parent.as_os_str().is_empty()
    {
        let _ = std::fs::create_dir_all(parent);
    }
}

/// Applies the migrations that have not run yet.
async fn migrate_pool(pool: &AnyPool) -> Result<(), StoreError> {
    let mut conn = pool.acquire().await?;
    conn.execute(
        "CREATE TABLE IF NOT EXISTS gateway_migrations (version BIGINT PRIMARY KEY, name TEXT NOT NULL, applied_at BIGINT NOT NULL)",
    )
    .await?;
    for (version, name, sql) in MIGRATIONS {
        let done: Option<i64> =
            sqlx::query_scalar("SELECT version FROM gateway_migrations WHERE version = $1")
                .bind(*version)
                .fetch_optional(&mut *conn)
                .await?;
        if done.is_some() {
            continue;
        }
        let mut tx = conn.begin().await?;
        for statement in split_statements(sql) {
            tx.execute(sqlx::AssertSqlSafe(statement)).await?;
        }
        sqlx::query(
            "INSERT INTO gateway_migrations (version, name, applied_at) VALUES ($1, $2, $3)",
        )
        .bind(*version)
        .bind(*name)
        .bind(now_ms())
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        tracing::info!(version, name, "migration applied");
    }
    Ok(())
}

/// Runs the migrations against `url` and returns how many the schema has.
pub async fn migrate(url: &str) -> Result<usize, StoreError> {
    sqlx::any::install_default_drivers();
    let backend = if url.starts_with("postgres") {
        Backend::Postgres
    } else {
        Backend::Sqlite
    };
    if backend == Backend::Sqlite {
        ensure_sqlite_parent_dir(url);
    }
    let pool = pool_options(backend, 1).connect(url).await?;
    migrate_pool(&pool).await?;
    pool.close().await;
    Ok(MIGRATIONS.len())
}

/// The statements of a migration: comment lines are dropped first (so a `;` in a comment
/// cannot split a statement), then the text is split at `;`.
fn split_statements(sql: &str) -> Vec<String> {
    let code = sql
        .lines()
        .filter(|l| !l.trim_start().starts_with("--"))
        .collect::<Vec<_>>()
        .join("\n");
    code.split(';')
        .map(str::to_owned)
        .filter(|s| !s.trim().is_empty())
        .collect()
}

/// Now, as unix milliseconds.
pub fn now_ms() -> i64 {
    to_ms(OffsetDateTime::now_utc())
}

/// A time as unix milliseconds.
pub fn to_ms(t: OffsetDateTime) -> i64 {
    (t.unix_timestamp_nanos() / 1_000_000) as i64
}

/// Unix milliseconds as a time.
pub fn from_ms(ms: i64) -> OffsetDateTime {
    OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000)
        .unwrap_or(OffsetDateTime::UNIX_EPOCH)
}

/// A new id with a type prefix: `va_01J…`. ULIDs sort by creation time, which the event
/// cursor relies on.
pub fn new_id(prefix: &str) -> String {
    static GENERATOR: std::sync::Mutex<Option<ulid::Generator>> = std::sync::Mutex::new(None);
    let id = {
        let mut guard = GENERATOR.lock().unwrap_or_else(|p| p.into_inner());
        let generator = guard.get_or_insert_with(ulid::Generator::new);
        generator.generate().unwrap_or_else(|_| ulid::Ulid::new())
    };
    format!("{prefix}_{}", id.to_string().to_lowercase())
}

/// Resources that carry integrity flags for operators.
#[derive(Clone, Copy, Debug)]
pub enum Flagged {
    /// A row of `virtual_accounts`.
    VirtualAccount,
    /// A row of `payments`.
    Payment,
    /// A row of `esign_signers`.
    Signer,
    /// A row of `esign_documents`.
    Document,
    /// A row of `bill_payments`.
    BillPayment,
}

/// Adds `flag` to a resource's `flags` (kept as given in `current`) whatever its status.
pub async fn add_flag(
    conn: &mut AnyConnection,
    table: Flagged,
    id: &str,
    current: &[String],
    flag: &str,
    now: i64,
) -> Result<(), StoreError> {
    if current.iter().any(|f| f == flag) {
        return Ok(());
    }
    let mut flags = current.to_vec();
    flags.push(flag.to_owned());
    let flags = serde_json::to_string(&flags).map_err(|e| StoreError::Corrupt(e.to_string()))?;
    let sql = match table {
        Flagged::VirtualAccount => {
            "UPDATE virtual_accounts SET flags = $2, updated_at = $3 WHERE id = $1"
        }
        Flagged::Payment => "UPDATE payments SET flags = $2, updated_at = $3 WHERE id = $1",
        Flagged::Signer => "UPDATE esign_signers SET flags = $2, updated_at = $3 WHERE id = $1",
        Flagged::Document => "UPDATE esign_documents SET flags = $2, updated_at = $3 WHERE id = $1",
        Flagged::BillPayment => {
            "UPDATE bill_payments SET flags = $2, updated_at = $3 WHERE id = $1"
        }
    };
    sqlx::query(sql)
        .bind(id)
        .bind(flags)
        .bind(now)
        .execute(conn)
        .await?;
    Ok(())
}

/// A stored value that does not read back (bad JSON, an unknown name).
pub(crate) fn corrupt(e: impl std::fmt::Display) -> StoreError {
    StoreError::Corrupt(e.to_string())
}

/// Whether an error is a unique-constraint violation.
pub fn is_unique_violation(e: &sqlx::Error) -> bool {
    match e {
        sqlx::Error::Database(db) => db.is_unique_violation(),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn sqlite() -> Db {
        let file = std::env::temp_dir().join(format!("gateway-store-{}.db", ulid::Ulid::new()));
        Db::connect(&DbOptions {
            url: format!("sqlite://{}?mode=rwc", file.display()),
            max_connections: 2,
            max_batch: 64,
        })
        .await
        .expect("connect")
    }

    #[tokio::test]
    async fn sqlite_runs_in_wal_with_full_sync() {
        let db = sqlite().await;
        let mode: String = sqlx::query_scalar("PRAGMA journal_mode")
            .fetch_one(db.pool())
            .await
            .expect("mode");
        let sync: i64 = sqlx::query_scalar("PRAGMA synchronous")
            .fetch_one(db.pool())
            .await
            .expect("sync");
        assert_eq!(mode, "wal");
        assert_eq!(sync, 2, "synchronous=FULL");
    }

    #[tokio::test]
    async fn migrations_run_once() {
        let file = std::env::temp_dir().join(format!("gateway-migrate-{}.db", ulid::Ulid::new()));
        let url = format!("sqlite://{}?mode=rwc", file.display());
        assert_eq!(migrate(&url).await.expect("first"), MIGRATIONS.len());
        assert_eq!(migrate(&url).await.expect("second"), MIGRATIONS.len());
    }

    #[tokio::test]
    async fn a_failing_write_rolls_back_its_whole_group_and_nothing_is_half_kept() {
        let db = sqlite().await;
        let mut handles = Vec::new();
        for i in 0..50 {
            let db = db.clone();
            handles.push(tokio::spawn(async move {
                db.write(move |conn| {
                    Box::pin(async move {
                        nonces::remember(conn, "c", &format!("n{i}"), 1).await?;
                        if i % 5 == 0 {
                            // Fails after writing: its nonce must not survive.
                            sqlx::query("INSERT INTO no_such_table VALUES (1)")
                                .execute(conn)
                                .await?;
                        }
                        Ok(i)
                    })
                })
                .await
            }));
        }
        let mut succeeded = Vec::new();
        for handle in handles {
            if let Ok(i) = handle.await.expect("join") {
                succeeded.push(i);
            }
        }
        assert!(
            succeeded.iter().all(|i| i % 5 != 0),
            "a failing write never reports success"
        );
        // Exactly the writes reported as committed are there, and nothing else.
        let kept: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM request_nonces")
            .fetch_one(db.pool())
            .await
            .expect("count");
        assert_eq!(kept, succeeded.len() as i64);
        for i in succeeded {
            let found: i64 =
                sqlx::query_scalar("SELECT COUNT(*) FROM request_nonces WHERE nonce = $1")
                    .bind(format!("n{i}"))
                    .fetch_one(db.pool())
                    .await
                    .expect("count");
            assert_eq!(found, 1);
        }
        // The writer goes on after a failed group.
        let after = db
            .write(|conn| Box::pin(async move { nonces::remember(conn, "c", "after", 1).await }))
            .await;
        assert!(matches!(after, Ok(true)));
    }
}

#[cfg(test)]
mod split_tests {
    use super::split_statements;

    #[test]
    fn a_semicolon_in_a_comment_does_not_split_a_statement() {
        let sql = "-- a; b\nCREATE TABLE t (a BIGINT);\n-- c; d\nCREATE INDEX i ON t (a);\n";
        let statements = split_statements(sql);
        assert_eq!(statements.len(), 2, "{statements:?}");
        assert!(statements[0].trim().starts_with("CREATE TABLE"));
        assert!(statements[1].trim().starts_with("CREATE INDEX"));
    }
}
