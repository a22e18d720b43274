//! Identity (issue 6 §2): event-sourced user accounts, Argon2id passwords, password login with
//! lockout and login records, and browser sessions with CSRF tokens.

pub mod login;
pub mod passwords;
pub mod routes;
pub mod sessions;
pub mod users;
