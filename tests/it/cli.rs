//! Operator commands without a running server: help, configuration errors, migrate, tokens.

use crate::{itsm_command, stderr, stdout, Installation, TempDir};

#[test]
fn help_documents_every_setting_and_the_environment_overrides() {
    let output = itsm_command(&["--help"], None).output().unwrap();
    assert!(output.status.success());
    let help = stdout(&output);
    for needle in [
        "ITSM_<SECTION>__<KEY>",
        "itsm.toml",
        "database",
        "owner_url",
        "master_key",
        "listen",
        "events",
        "token",
    ] {
        assert!(help.contains(needle), "help lacks {needle}:\n{help}");
    }
}

#[test]
fn an_unknown_setting_is_a_configuration_error_that_names_it() {
    let dir = TempDir::create();
    let config = dir.path.join("itsm.toml");
    std::fs::write(
        &config,
        "[database]\nurl = \"postgres://u:sekret@127.0.0.1/x\"\nsize = 3\n",
    )
    .unwrap();
    let output = itsm_command(&["migrate"], Some(&config)).output().unwrap();
    assert_eq!(output.status.code(), Some(2));
    let message = stderr(&output);
    assert!(message.contains("size"), "{message}");
    assert!(!message.contains("sekret"), "a secret leaked: {message}");
}

#[test]
fn settings_that_would_stall_a_worker_are_refused_by_name() {
    let dir = TempDir::create();
    let config = dir.path.join("itsm.toml");
    for (setting, name) in [
        ("[projector]\nbatch_size = 0\n", "projector.batch_size"),
        ("[projector]\nlease_ttl_ms = 10\n", "projector.lease_ttl_ms"),
        (
            "[projector]\nlease_ttl_ms = 1000\npoll_interval_ms = 1000\n",
            "projector.poll_interval_ms",
        ),
    ] {
        std::fs::write(&config, setting).unwrap();
        let output = itsm_command(&["migrate"], Some(&config)).output().unwrap();
        assert_eq!(output.status.code(), Some(2), "{setting}");
        let message = stderr(&output);
        assert!(message.contains(name), "{setting}: {message}");
    }
}

#[tokio::test]
async fn migrate_is_repeatable_and_a_token_is_printed_once_and_stored_hashed() {
    let installation = Installation::new().await;
    for _ in 0..2 {
        let output = installation.itsm(&["migrate"]);
        assert!(output.status.success(), "{}", stderr(&output));
    }
    let output = installation.itsm(&["token", "issue", "--user", "admin", "--role", "admin"]);
    assert!(output.status.success(), "{}", stderr(&output));
    let token = stdout(&output).trim().to_owned();
    assert!(token.starts_with("itsm_") && token.len() > 40, "{token}");
    let stored: Vec<u8> = sqlx::query_scalar("SELECT token_hash FROM api_tokens")
        .fetch_one(&installation.db.owner_pool)
        .await
        .unwrap();
    assert_ne!(stored, token.as_bytes(), "the token must be stored hashed");

    let output = installation.itsm(&["token", "issue", "--user", "x", "--role", "emperor"]);
    assert!(!output.status.success());
    assert!(
        stderr(&output).contains("unknown role"),
        "{}",
        stderr(&output)
    );
}

#[test]
fn calendar_holidays_prints_a_states_statutory_holidays_one_per_line() {
    let output = itsm_command(
        &["calendar", "holidays", "--state", "SN", "--year", "2026"],
        None,
    )
    .output()
    .unwrap();
    assert!(output.status.success(), "{}", stderr(&output));
    assert_eq!(
        stdout(&output),
        "2026-01-01 Neujahr\n2026-04-03 Karfreitag\n2026-04-06 Ostermontag\n\
         2026-05-01 Tag der Arbeit\n2026-05-14 Christi Himmelfahrt\n2026-05-25 Pfingstmontag\n\
         2026-10-03 Tag der Deutschen Einheit\n2026-10-31 Reformationstag\n\
         2026-11-18 Buß- und Bettag\n2026-12-25 1. Weihnachtstag\n2026-12-26 2. Weihnachtstag\n"
    );
    let unknown = itsm_command(
        &["calendar", "holidays", "--state", "XX", "--year", "2026"],
        None,
    )
    .output()
    .unwrap();
    assert_eq!(unknown.status.code(), Some(2));
    assert!(stderr(&unknown).contains("unknown state code \"XX\""));
    let too_early = itsm_command(
        &["calendar", "holidays", "--state", "BY", "--year", "1990"],
        None,
    )
    .output()
    .unwrap();
    assert_eq!(too_early.status.code(), Some(1));
    assert!(stderr(&too_early).contains("1991 to 2399"));
}

#[tokio::test]
async fn calendar_business_time_counts_a_stored_calendars_open_minutes() {
    let installation = Installation::new().await;
    let name = domain::config::ConfigName::try_from("rathaus".to_owned()).unwrap();
    let day = serde_json::json!(["08:00-12:00", "13:00-16:00"]);
    command_service::config::execute(
        &installation.db.app_pool,
        &command_service::auth::Actor {
            user: "admin".to_owned(),
            roles: vec!["admin".to_owned()],
        },
        domain::config::Kind::Calendar,
        &name,
        domain::config::ConfigCommand::Define {
            definition: serde_json::json!({
                "weekly_hours": {"mon": day, "tue": day, "wed": day, "thu": day, "fri": day},
                "state": "BY", "closing_days": ["12-24"],
            }),
        },
        None,
        uuid::Uuid::new_v4(),
    )
    .await
    .unwrap();
    // Wednesday 23 December 2026 15:00 to Monday 28 December 09:00 (Berlin): 60 + 60 minutes.
    let output = installation.itsm(&[
        "calendar",
        "business-time",
        "--calendar",
        "rathaus",
        "--from",
        "2026-12-23T15:00:00+01:00",
        "--to",
        "2026-12-28T09:00:00+01:00",
    ]);
    assert!(output.status.success(), "{}", stderr(&output));
    assert_eq!(stdout(&output), "120\n");
    let missing = installation.itsm(&[
        "calendar",
        "business-time",
        "--calendar",
        "nirgends",
        "--from",
        "2026-12-23T15:00:00+01:00",
        "--to",
        "2026-12-28T09:00:00+01:00",
    ]);
    assert_eq!(missing.status.code(), Some(1));
    assert!(stderr(&missing).contains("no calendar \"nirgends\""));
}
