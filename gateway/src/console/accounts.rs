//! Operator accounts: argon2id password hashes, roles, and the failed-attempt lockout.

use argon2::Argon2;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use sqlx::any::AnyRow;
use sqlx::{AnyConnection, Row};

use crate::store::{StoreError, new_id, now_ms};

/// What an operator may do.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Role {
    /// Everything: replays, reconciliation, provider switches, operator accounts.
    Admin,
    /// Read-only monitoring and reports.
    Staff,
}

impl Role {
    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Admin => "admin",
            Role::Staff => "staff",
        }
    }

    /// From the stored name.
    pub fn parse(text: &str) -> Option<Role> {
        match text {
            "admin" => Some(Role::Admin),
            "staff" => Some(Role::Staff),
            _ => None,
        }
    }
}

/// A stored operator. `Debug` shows no hash and no phone.
#[derive(Clone)]
pub struct Operator {
    pub id: String,
    pub username: String,
    pub password_hash: String,
    pub role: Role,
    /// E.164; personal data: masked wherever shown.
    pub phone: String,
    pub failed_attempts: i64,
    pub locked_until: Option<i64>,
    pub disabled: bool,
}

impl std::fmt::Debug for Operator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Operator")
            .field("id", &self.id)
            .field("username", &self.username)
            .field("role", &self.role)
            .finish_non_exhaustive()
    }
}

impl Operator {
    fn from_row(row: &AnyRow) -> Result<Self, StoreError> {
        let role: String = row.try_get("role")?;
        Ok(Operator {
            id: row.try_get("id")?,
            username: row.try_get("username")?,
            password_hash: row.try_get("password_hash")?,
            role: Role::parse(&role).ok_or_else(|| StoreError::Corrupt(format!("role {role}")))?,
            phone: row.try_get("phone")?,
            failed_attempts: row.try_get("failed_attempts")?,
            locked_until: row.try_get("locked_until")?,
            disabled: row.try_get::<i64, _>("disabled")? != 0,
        })
    }

    /// Whether the account is locked at `now`.
    pub fn locked(&self, now: i64) -> bool {
        self.locked_until.is_some_and(|until| until > now)
    }
}

const COLUMNS: &str =
    "id, username, password_hash, role, phone, failed_attempts, locked_until, disabled";

/// Why an account could not be created.
#[derive(Debug, thiserror::Error)]
pub enum AccountError {
    /// A field is not acceptable.
    #[error("{0}")]
    Invalid(String),
    /// The username is taken.
    #[error("an operator named {0} exists")]
    Exists(String),
    /// Hashing failed.
    #[error("password hashing failed")]
    Hash,
    /// The database failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Hashes a password with argon2id (a fresh random salt, the crate's default cost).
pub fn hash_password(password: &str) -> Result<String, AccountError> {
    let bytes: [u8; 16] = rand::random();
    let salt = SaltString::encode_b64(&bytes).map_err(|_| AccountError::Hash)?;
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|_| AccountError::Hash)
}

/// Checks a password against its stored hash (constant-time inside argon2).
pub fn password_matches(password: &str, hash: &str) -> bool {
    PasswordHash::new(hash).is_ok_and(|parsed| {
        Argon2::default()
            .verify_password(password.as_bytes(), &parsed)
            .is_ok()
    })
}

/// A hash to check unknown usernames against, so a wrong username costs as long as a wrong
/// password (no user enumeration by timing).
pub fn decoy_hash() -> &'static str {
    static DECOY: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    DECOY.get_or_init(|| hash_password("not a password of anyone").unwrap_or_default())
}

/// Creates an operator. Usernames are 3-64 of `[a-z0-9._-]`; passwords at least 12
/// characters; phones E.164 Indonesian mobile numbers (`+628…`).
pub async fn create(
    conn: &mut AnyConnection,
    username: &str,
    password: &str,
    role: Role,
    phone: &str,
) -> Result<Operator, AccountError> {
    let username_ok = (3..=64).contains(&username.len())
        && username.bytes().all(|b| {
            b.is_ascii_lowercase() || b.is_ascii_digit() || matches!(b, b'.' | b'_' | b'-')
        });
    if !username_ok {
        return Err(AccountError::Invalid(
            "username must be 3 to 64 of a-z, 0-9, . _ -".into(),
        ));
    }
    if password.chars().count() < 12 {
        return Err(AccountError::Invalid(
            "password must be at least 12 characters".into(),
        ));
    }
    let digits = phone.strip_prefix("+62").unwrap_or("");
    if !digits.starts_with('8')
        || !(9..=13).contains(&digits.len())
        || !digits.bytes().all(|b| b.is_ascii_digit())
    {
        return Err(AccountError::Invalid(
            "phone must be an Indonesian mobile number, +628…".into(),
        ));
    }
    let hash = hash_password(password)?;
    let operator = Operator {
        id: new_id("op"),
        username: username.to_owned(),
        password_hash: hash,
        role,
        phone: phone.to_owned(),
        failed_attempts: 0,
        locked_until: None,
        disabled: false,
    };
    let done = sqlx::query("INSERT INTO operators (id, username, password_hash, role, phone, created_at) VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (username) DO NOTHING")
        .bind(&operator.id)
        .bind(&operator.username)
        .bind(&operator.password_hash)
        .bind(role.as_str())
        .bind(&operator.phone)
        .bind(now_ms())
        .execute(conn)
        .await
        .map_err(StoreError::from)?;
    if done.rows_affected() != 1 {
        return Err(AccountError::Exists(username.to_owned()));
    }
    Ok(operator)
}

/// The operator named `username`.
pub async fn by_username(
    conn: &mut AnyConnection,
    username: &str,
) -> Result<Option<Operator>, StoreError> {
    let sql = format!("SELECT {COLUMNS} FROM operators WHERE username = $1");
    let row = sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(username)
        .fetch_optional(conn)
        .await?;
    row.as_ref().map(Operator::from_row).transpose()
}

/// The operator `id`.
pub async fn by_id(conn: &mut AnyConnection, id: &str) -> Result<Option<Operator>, StoreError> {
    let sql = format!("SELECT {COLUMNS} FROM operators WHERE id = $1");
    let row = sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(id)
        .fetch_optional(conn)
        .await?;
    row.as_ref().map(Operator::from_row).transpose()
}

/// Counts a failed password or code; at `max` in a row the account is locked until
/// `now + lockout_ms`. Returns whether it is now locked.
pub async fn record_failure(
    conn: &mut AnyConnection,
    id: &str,
    max: i64,
    lockout_ms: i64,
    now: i64,
) -> Result<bool, StoreError> {
    let failures: i64 = sqlx::query_scalar(
        "UPDATE operators SET failed_attempts = failed_attempts + 1 WHERE id = $1 RETURNING failed_attempts",
    )
    .bind(id)
    .fetch_one(&mut *conn)
    .await?;
    if failures >= max {
        sqlx::query("UPDATE operators SET locked_until = $2, failed_attempts = 0 WHERE id = $1")
            .bind(id)
            .bind(now + lockout_ms)
            .execute(conn)
            .await?;
        return Ok(true);
    }
    Ok(false)
}

/// A completed login: the failure count starts again.
pub async fn record_login(conn: &mut AnyConnection, id: &str, now: i64) -> Result<(), StoreError> {
    sqlx::query("UPDATE operators SET failed_attempts = 0, locked_until = NULL, last_login_at = $2 WHERE id = $1")
        .bind(id)
        .bind(now)
        .execute(conn)
        .await?;
    Ok(())
}

/// One operator as the accounts page lists them.
#[derive(Clone, Debug)]
pub struct Listed {
    /// The account.
    pub operator: Operator,
    /// The last completed login, ms.
    pub last_login_at: Option<i64>,
}

/// Every operator, by username.
pub async fn list(conn: &mut AnyConnection) -> Result<Vec<Listed>, StoreError> {
    let sql = format!("SELECT {COLUMNS}, last_login_at FROM operators ORDER BY username");
    let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
        .fetch_all(conn)
        .await?;
    rows.iter()
        .map(|row| {
            Ok(Listed {
                operator: Operator::from_row(row)?,
                last_login_at: row.try_get("last_login_at")?,
            })
        })
        .collect()
}

/// Disables or enables an account; disabling ends its sessions. Returns whether the
/// account exists and changed.
pub async fn set_disabled(
    conn: &mut AnyConnection,
    id: &str,
    disabled: bool,
) -> Result<bool, StoreError> {
    let done = sqlx::query("UPDATE operators SET disabled = $2 WHERE id = $1 AND disabled <> $2")
        .bind(id)
        .bind(i64::from(disabled))
        .execute(&mut *conn)
        .await?;
    if disabled {
        sqlx::query("DELETE FROM console_sessions WHERE operator_id = $1")
            .bind(id)
            .execute(conn)
            .await?;
    }
    Ok(done.rows_affected() == 1)
}

/// Changes an account's role. Returns whether it changed.
pub async fn set_role(conn: &mut AnyConnection, id: &str, role: Role) -> Result<bool, StoreError> {
    let done = sqlx::query("UPDATE operators SET role = $2 WHERE id = $1 AND role <> $2")
        .bind(id)
        .bind(role.as_str())
        .execute(conn)
        .await?;
    Ok(done.rows_affected() == 1)
}

/// Lifts a lockout and clears the failure count. Returns whether the account exists.
pub async fn unlock(conn: &mut AnyConnection, id: &str) -> Result<bool, StoreError> {
    let done =
        sqlx::query("UPDATE operators SET failed_attempts = 0, locked_until = NULL WHERE id = $1")
            .bind(id)
            .execute(conn)
            .await?;
    Ok(done.rows_affected() == 1)
}

/// A phone number as the console shows it: the country code and the last four digits.
pub fn masked_phone(phone: &str) -> String {
    let digits: Vec<char> = phone.chars().collect();
    if digits.len() <= 7 {
        return "****".to_owned();
    }
    let head: String = digits[..3].iter().collect();
    let tail: String = digits[digits.len() - 4..].iter().collect();
    format!("{head}{}{tail}", "*".repeat(digits.len() - 7))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hashes_are_argon2id_salted_and_verify() {
        let a = hash_password("correct horse battery").expect("hash");
        let b = hash_password("correct horse battery").expect("hash");
        assert!(a.starts_with("$argon2id$"), "{a}");
        assert_ne!(a, b, "a fresh salt each time");
        assert!(password_matches("correct horse battery", &a));
        assert!(!password_matches("correct horse battery!", &a));
        assert!(!password_matches("anything", "not a hash"));
        assert!(!password_matches("anything", decoy_hash()));
    }

    #[test]
    fn phones_show_only_the_country_code_and_the_last_four_digits() {
        assert_eq!(masked_phone("+6281100000001"), "+62*******0001");
        assert_eq!(masked_phone("+62811"), "****");
    }
}
