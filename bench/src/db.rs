//! The database under test: a SQLite file in a fresh temporary directory, or a fresh
//! PostgreSQL database `bench_<random>` dropped afterwards.

use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::Context;
use sqlx::Connection;
use sqlx::postgres::PgConnection;

/// Which backend a run uses.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Backend {
    Sqlite,
    Postgres,
}

impl Backend {
    pub fn name(self) -> &'static str {
        match self {
            Backend::Sqlite => "sqlite",
            Backend::Postgres => "postgres",
        }
    }
}

/// A prepared database.
#[derive(Debug)]
pub enum Prepared {
    Sqlite {
        dir: PathBuf,
        file: PathBuf,
    },
    Postgres {
        admin_url: String,
        name: String,
        url: String,
    },
}

/// A fresh working directory under the system temp dir.
pub fn temp_dir(tag: &str) -> anyhow::Result<PathBuf> {
    let dir = std::env::temp_dir().join(format!("loadgen-{tag}-{:08x}", rand::random::<u32>()));
    std::fs::create_dir_all(&dir).with_context(|| format!("cannot create {}", dir.display()))?;
    Ok(dir)
}

impl Prepared {
    /// A SQLite file in its own temp directory (the gateway creates it).
    pub fn sqlite() -> anyhow::Result<Prepared> {
        let dir = temp_dir("sqlite")?;
        let file = dir.join("bench.db");
        Ok(Prepared::Sqlite { dir, file })
    }

    /// A fresh database on the server at `admin_url`; `Ok(None)` when the server cannot be
    /// reached (the caller skips PostgreSQL).
    pub async fn postgres(admin_url: &str) -> anyhow::Result<Result<Prepared, String>> {
        let connect =
            tokio::time::timeout(Duration::from_secs(5), PgConnection::connect(admin_url));
        let mut conn = match connect.await {
            Ok(Ok(conn)) => conn,
            Ok(Err(e)) => return Ok(Err(e.to_string())),
            Err(_) => return Ok(Err("connection timed out after 5 s".to_owned())),
        };
        let name = format!("bench_{:08x}", rand::random::<u32>());
        sqlx::raw_sql(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
            .execute(&mut conn)
            .await
            .with_context(|| format!("CREATE DATABASE {name}"))?;
        let _ = conn.close().await;
        let mut url = url::Url::parse(admin_url).context("invalid PostgreSQL URL")?;
        url.set_path(&format!("/{name}"));
        Ok(Ok(Prepared::Postgres {
            admin_url: admin_url.to_owned(),
            name,
            url: url.to_string(),
        }))
    }

    /// The URL the gateway gets.
    pub fn url(&self) -> String {
        match self {
            Prepared::Sqlite { file, .. } => format!("sqlite://{}?mode=rwc", file.display()),
            Prepared::Postgres { url, .. } => url.clone(),
        }
    }

    /// Where the gateway runs (its working directory).
    pub fn workdir(&self) -> anyhow::Result<PathBuf> {
        match self {
            Prepared::Sqlite { dir, .. } => Ok(dir.clone()),
            Prepared::Postgres { .. } => temp_dir("pg"),
        }
    }

    /// Bytes on disk: SQLite main file and WAL; PostgreSQL `pg_database_size`.
    pub async fn size(&self) -> DbSize {
        match self {
            Prepared::Sqlite { file, .. } => {
                let len = |p: &Path| std::fs::metadata(p).map(|m| m.len()).unwrap_or(0);
                let wal = PathBuf::from(format!("{}-wal", file.display()));
                DbSize {
                    main_bytes: len(file),
                    wal_bytes: len(&wal),
                }
            }
            Prepared::Postgres { url, .. } => {
                let size = async {
                    let mut conn = PgConnection::connect(url).await.ok()?;
                    let n: i64 = sqlx::query_scalar("SELECT pg_database_size(current_database())")
                        .fetch_one(&mut conn)
                        .await
                        .ok()?;
                    let _ = conn.close().await;
                    u64::try_from(n).ok()
                };
                DbSize {
                    main_bytes: size.await.unwrap_or(0),
                    wal_bytes: 0,
                }
            }
        }
    }

    /// Removes the SQLite directory, or drops the PostgreSQL database.
    pub async fn cleanup(&self, workdir: &Path) {
        let _ = std::fs::remove_dir_all(workdir);
        match self {
            Prepared::Sqlite { dir, .. } => {
                let _ = std::fs::remove_dir_all(dir);
            }
            Prepared::Postgres {
                admin_url, name, ..
            } => {
                if let Ok(mut conn) = PgConnection::connect(admin_url).await {
                    let drop = format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)");
                    if let Err(e) = sqlx::raw_sql(sqlx::AssertSqlSafe(drop))
                        .execute(&mut conn)
                        .await
                    {
                        eprintln!("warning: could not drop database {name}: {e}");
                    }
                    let _ = conn.close().await;
                }
            }
        }
    }
}

/// Database size on disk.
#[derive(Clone, Copy, Debug, Default, serde::Serialize)]
pub struct DbSize {
    pub main_bytes: u64,
    pub wal_bytes: u64,
}

impl DbSize {
    pub fn total_mib(&self) -> f64 {
        (self.main_bytes + self.wal_bytes) as f64 / (1024.0 * 1024.0)
    }
}
