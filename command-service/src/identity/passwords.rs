//! Passwords: the length rule, Argon2id hashing (PHC strings with a random salt) and setting a
//! user's password. The password itself is never stored, logged or put into an event.

use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::Argon2;
use domain::identity::{UserCommand, UserName};
use sqlx::PgPool;
use tokio::task::JoinError;
use uuid::Uuid;

use super::users::{self, Executed};
use crate::error::ApiError;

/// Shortest password (BSI IT-Grundschutz ORP.4.A8 for passwords without a second factor).
pub const PASSWORD_CHARS_MIN: usize = 12;
/// Longest password (bounds the hashing work an attacker can ask for).
pub const PASSWORD_CHARS_MAX: usize = 128;

/// A password that breaks the length rule.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum PasswordError {
    #[error("a password must be at least {PASSWORD_CHARS_MIN} characters")]
    TooShort,
    #[error("a password must be at most {PASSWORD_CHARS_MAX} characters")]
    TooLong,
}

/// Whether `password` may be set.
pub fn check(password: &str) -> Result<(), PasswordError> {
    let length = password.chars().count();
    if length < PASSWORD_CHARS_MIN {
        return Err(PasswordError::TooShort);
    }
    if length > PASSWORD_CHARS_MAX {
        return Err(PasswordError::TooLong);
    }
    Ok(())
}

/// The Argon2id PHC string of `password` with a fresh random salt (`Argon2::default()`:
/// Argon2id v19, m=19456 KiB, t=2, p=1, OWASP's recommendation). Takes tens of milliseconds:
/// call it from `spawn_blocking` in async code (see [`hash_blocking`]).
pub fn hash(password: &str) -> String {
    let salt = SaltString::generate(&mut rand::rngs::OsRng);
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .expect("Argon2 with the default parameters hashes any password of bounded length")
        .to_string()
}

/// Whether `password` matches the PHC string `phc` (with the parameters recorded in it); false
/// for a string that is not a valid PHC string.
pub fn verify(password: &str, phc: &str) -> bool {
    let Ok(parsed) = PasswordHash::new(phc) else {
        return false;
    };
    Argon2::default()
        .verify_password(password.as_bytes(), &parsed)
        .is_ok()
}

/// [`hash`] off the async runtime's worker threads.
pub async fn hash_blocking(password: String) -> Result<String, JoinError> {
    tokio::task::spawn_blocking(move || hash(&password)).await
}

/// [`verify`] off the async runtime's worker threads.
pub async fn verify_blocking(password: String, phc: String) -> Result<bool, JoinError> {
    tokio::task::spawn_blocking(move || verify(&password, &phc)).await
}

/// Sets the password of `name` on behalf of `actor`: checks the rule, records
/// `user.password_changed` (refused for unknown and disabled users), stores the hash and ends the
/// user's sessions; what the record did to the user's stream.
pub async fn set_password(
    pool: &PgPool,
    actor: &str,
    name: &UserName,
    password: &str,
) -> Result<Executed, ApiError> {
    check(password).map_err(ApiError::InvalidPassword)?;
    let phc = hash_blocking(password.to_owned())
        .await
        .map_err(|error| ApiError::Unexpected(error.into()))?;
    // The event first: should storing the hash fail, the record claims a change that did not
    // happen (and a retry makes it true), rather than a change happening unrecorded.
    let executed = users::execute(
        pool,
        actor,
        Uuid::new_v4(),
        name,
        UserCommand::RecordPasswordChange,
    )
    .await?;
    sqlx::query(
        "INSERT INTO user_credentials (user_name, password_hash, changed_at) VALUES ($1, $2, now()) \
         ON CONFLICT (user_name) DO UPDATE SET password_hash = EXCLUDED.password_hash, \
         changed_at = EXCLUDED.changed_at",
    )
    .bind(name.as_str())
    .bind(&phc)
    .execute(pool)
    .await?;
    // A reset is often the answer to a stolen session: every caller (HTTP and `itsm user
    // set-password`) ends them here.
    super::sessions::revoke_all_of(pool, name.as_str()).await?;
    Ok(executed)
}

/// The stored PHC string of `name`'s password, if one was set.
pub async fn stored_hash(pool: &PgPool, name: &UserName) -> Result<Option<String>, sqlx::Error> {
    sqlx::query_scalar("SELECT password_hash FROM user_credentials WHERE user_name = $1")
        .bind(name.as_str())
        .fetch_optional(pool)
        .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_hash_verifies_its_password_and_no_other() {
        let phc = hash("korrekt-pferd-batterie");
        assert!(phc.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"), "{phc}");
        assert!(verify("korrekt-pferd-batterie", &phc));
        assert!(!verify("korrekt-pferd-batteriE", &phc));
        assert!(!verify("korrekt-pferd-batterie", "not a phc string"));
        assert_ne!(phc, hash("korrekt-pferd-batterie"), "salts differ");
    }

    #[test]
    fn passwords_are_12_to_128_characters() {
        assert_eq!(check("elf-zeichen"), Err(PasswordError::TooShort));
        assert_eq!(check("zwölf-zeichn"), Ok(()));
        assert_eq!(check(&"ä".repeat(128)), Ok(()));
        assert_eq!(check(&"ä".repeat(129)), Err(PasswordError::TooLong));
    }
}
