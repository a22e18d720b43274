//! Given/when/then tests of the user rules: one test per rule, named as the rule.

use std::collections::BTreeSet;

use serde_json::json;

use super::*;

fn name(text: &str) -> UserName {
    UserName::parse(text).unwrap()
}

fn roles(roles: &[Role]) -> BTreeSet<Role> {
    roles.iter().copied().collect()
}

fn register(with_roles: &[Role]) -> UserCommand {
    UserCommand::Register {
        user_name: name("k.meier"),
        display_name: DisplayName::parse("Karin Meier").unwrap(),
        email: Some(Email::parse("k.meier@example.org").unwrap()),
        roles: roles(with_roles),
        org_unit: None,
    }
}

fn registered() -> UserEvent {
    UserEvent::Registered {
        user_name: name("k.meier"),
        display_name: DisplayName::parse("Karin Meier").unwrap(),
        email: Some(Email::parse("k.meier@example.org").unwrap()),
        roles: roles(&[Role::Agent]),
        org_unit: None,
    }
}

fn profile(
    display_name: Option<&str>,
    email: Option<Option<&str>>,
    org_unit: Option<Option<&str>>,
) -> UserCommand {
    UserCommand::ChangeProfile {
        display_name: display_name.map(|text| DisplayName::parse(text).unwrap()),
        email: email.map(|email| email.map(|text| Email::parse(text).unwrap())),
        org_unit: org_unit.map(|unit| unit.map(|text| OrgUnit::parse(text).unwrap())),
    }
}

#[track_caller]
fn check(given: Vec<UserEvent>, when: UserCommand, then: Result<Vec<UserEvent>, UserError>) {
    let state = User::from_events(&given);
    assert_eq!(decide(&state, when), then);
}

#[test]
fn registering_records_the_account_with_its_roles() {
    check(vec![], register(&[Role::Agent]), Ok(vec![registered()]));
}

#[test]
fn registering_an_existing_user_is_refused() {
    check(
        vec![registered()],
        register(&[Role::Agent]),
        Err(UserError::UserExists),
    );
}

#[test]
fn a_user_without_roles_cannot_be_registered() {
    check(vec![], register(&[]), Err(UserError::NoRoles));
}

#[test]
fn commands_on_an_unregistered_user_are_refused() {
    for command in [
        UserCommand::ChangeRoles {
            roles: roles(&[Role::Admin]),
        },
        profile(Some("X"), None, None),
        UserCommand::Disable,
        UserCommand::Enable,
        UserCommand::RecordPasswordChange,
        UserCommand::SetTicketVisibility {
            visibility: TicketVisibility::Unit,
        },
    ] {
        check(vec![], command, Err(UserError::UserNotFound));
    }
}

#[test]
fn changing_roles_records_the_new_roles() {
    let new_roles = roles(&[Role::Agent, Role::Supervisor]);
    check(
        vec![registered()],
        UserCommand::ChangeRoles {
            roles: new_roles.clone(),
        },
        Ok(vec![UserEvent::RolesChanged { roles: new_roles }]),
    );
}

#[test]
fn roles_cannot_all_be_taken_away() {
    check(
        vec![registered()],
        UserCommand::ChangeRoles { roles: roles(&[]) },
        Err(UserError::NoRoles),
    );
}

#[test]
fn changing_to_the_same_roles_records_nothing() {
    check(
        vec![registered()],
        UserCommand::ChangeRoles {
            roles: roles(&[Role::Agent]),
        },
        Ok(vec![]),
    );
}

#[test]
fn a_profile_change_records_only_the_fields_that_changed() {
    check(
        vec![registered()],
        profile(
            Some("Karin Meier"),
            Some(Some("k.meier@example.org")),
            Some(Some("Amt 10")),
        ),
        Ok(vec![UserEvent::ProfileChanged {
            display_name: None,
            email: None,
            org_unit: Some(Some(OrgUnit::parse("Amt 10").unwrap())),
        }]),
    );
}

#[test]
fn a_profile_change_can_remove_the_email_address() {
    check(
        vec![registered()],
        profile(None, Some(None), None),
        Ok(vec![UserEvent::ProfileChanged {
            display_name: None,
            email: Some(None),
            org_unit: None,
        }]),
    );
}

#[test]
fn a_profile_change_that_changes_nothing_records_nothing() {
    check(
        vec![registered()],
        profile(Some("Karin Meier"), None, Some(None)),
        Ok(vec![]),
    );
}

#[test]
fn disabling_and_enabling_record_the_change_once() {
    check(
        vec![registered()],
        UserCommand::Disable,
        Ok(vec![UserEvent::Disabled]),
    );
    check(
        vec![registered(), UserEvent::Disabled],
        UserCommand::Disable,
        Ok(vec![]),
    );
    check(
        vec![registered(), UserEvent::Disabled],
        UserCommand::Enable,
        Ok(vec![UserEvent::Enabled]),
    );
    check(vec![registered()], UserCommand::Enable, Ok(vec![]));
}

#[test]
fn a_password_change_is_recorded_without_the_password() {
    check(
        vec![registered()],
        UserCommand::RecordPasswordChange,
        Ok(vec![UserEvent::PasswordChanged]),
    );
    let payload = serde_json::to_value(UserEvent::PasswordChanged).unwrap();
    assert_eq!(payload, json!({"event_type": "user.password_changed"}));
}

#[test]
fn a_disabled_users_password_cannot_be_changed() {
    check(
        vec![registered(), UserEvent::Disabled],
        UserCommand::RecordPasswordChange,
        Err(UserError::UserDisabled),
    );
}

#[test]
fn a_disabled_user_may_not_log_in_until_enabled() {
    let disabled = User::from_events(&[registered(), UserEvent::Disabled]);
    assert!(!disabled.may_log_in());
    assert!(disabled.apply(&UserEvent::Enabled).may_log_in());
    assert!(!User::default().may_log_in());
}

#[test]
fn a_requester_sees_only_their_own_tickets_until_granted_their_units() {
    assert_eq!(
        User::from_events(&[registered()]).ticket_visibility,
        TicketVisibility::Own
    );
    check(
        vec![registered()],
        UserCommand::SetTicketVisibility {
            visibility: TicketVisibility::Unit,
        },
        Ok(vec![UserEvent::TicketVisibilityChanged {
            visibility: TicketVisibility::Unit,
        }]),
    );
    let granted = vec![
        registered(),
        UserEvent::TicketVisibilityChanged {
            visibility: TicketVisibility::Unit,
        },
    ];
    assert_eq!(
        User::from_events(&granted).ticket_visibility,
        TicketVisibility::Unit
    );
    check(
        granted,
        UserCommand::SetTicketVisibility {
            visibility: TicketVisibility::Own,
        },
        Ok(vec![UserEvent::TicketVisibilityChanged {
            visibility: TicketVisibility::Own,
        }]),
    );
}

#[test]
fn setting_the_same_ticket_visibility_again_records_nothing() {
    check(
        vec![registered()],
        UserCommand::SetTicketVisibility {
            visibility: TicketVisibility::Own,
        },
        Ok(vec![]),
    );
    check(
        vec![
            registered(),
            UserEvent::TicketVisibilityChanged {
                visibility: TicketVisibility::Unit,
            },
        ],
        UserCommand::SetTicketVisibility {
            visibility: TicketVisibility::Unit,
        },
        Ok(vec![]),
    );
}

#[test]
fn the_ticket_visibility_event_has_its_wire_form() {
    let payload = serde_json::to_value(UserEvent::TicketVisibilityChanged {
        visibility: TicketVisibility::Unit,
    })
    .unwrap();
    assert_eq!(
        payload,
        json!({"event_type": "user.ticket_visibility_changed", "visibility": "unit"})
    );
    for visibility in [TicketVisibility::Own, TicketVisibility::Unit] {
        assert_eq!(
            serde_json::to_value(visibility).unwrap(),
            json!(visibility.as_str())
        );
    }
}

#[test]
fn user_names_are_1_to_100_of_lowercase_letters_digits_dot_underscore_and_hyphen() {
    for valid in ["k.meier", "a", "admin_2", "x-y", &"a".repeat(100)] {
        assert!(UserName::parse(valid).is_ok(), "{valid}");
    }
    for invalid in ["", "K.Meier", "k meier", "müller", "a@b", &"a".repeat(101)] {
        assert_eq!(
            UserName::parse(invalid),
            Err(UserError::InvalidUserName),
            "{invalid}"
        );
    }
}

#[test]
fn roles_have_the_wire_names_of_the_tokens() {
    let names: Vec<&str> = Role::ALL.iter().map(|role| role.as_str()).collect();
    assert_eq!(
        names,
        [
            "requester",
            "agent",
            "supervisor",
            "asset_manager",
            "auditor",
            "admin"
        ]
    );
    for role in Role::ALL {
        assert_eq!(serde_json::to_value(role).unwrap(), json!(role.as_str()));
    }
    assert_eq!(
        Role::parse("root"),
        Err(UserError::UnknownRole("root".into()))
    );
}

#[test]
fn profile_values_are_checked() {
    assert_eq!(DisplayName::parse("  "), Err(UserError::InvalidDisplayName));
    assert_eq!(
        DisplayName::parse("a\u{7}b"),
        Err(UserError::InvalidDisplayName)
    );
    for invalid in ["x", "x@", "@example.org", "a@b", "a@@b.de", "a b@c.de"] {
        assert_eq!(
            Email::parse(invalid),
            Err(UserError::InvalidEmail),
            "{invalid}"
        );
    }
    assert_eq!(
        OrgUnit::parse(&"x".repeat(101)),
        Err(UserError::InvalidOrgUnit)
    );
}

#[test]
fn events_round_trip_through_their_wire_form() {
    let events = vec![
        registered(),
        UserEvent::RolesChanged {
            roles: roles(&[Role::Admin]),
        },
        UserEvent::ProfileChanged {
            display_name: None,
            email: Some(None),
            org_unit: Some(Some(OrgUnit::parse("Amt 10").unwrap())),
        },
        UserEvent::Disabled,
        UserEvent::Enabled,
        UserEvent::PasswordChanged,
        UserEvent::TicketVisibilityChanged {
            visibility: TicketVisibility::Unit,
        },
    ];
    for event in events {
        let wire = serde_json::to_value(&event).unwrap();
        assert_eq!(wire["event_type"], json!(event.event_type()));
        assert_eq!(serde_json::from_value::<UserEvent>(wire).unwrap(), event);
    }
    let removed = serde_json::to_value(UserEvent::ProfileChanged {
        display_name: None,
        email: Some(None),
        org_unit: None,
    })
    .unwrap();
    assert_eq!(
        removed,
        json!({"event_type": "user.profile_changed", "email": null})
    );
}

#[test]
fn every_event_type_is_listed_with_its_version() {
    let listed: Vec<&str> = UserEvent::TYPES.iter().map(|(name, _)| *name).collect();
    for event in [
        UserEvent::Disabled,
        UserEvent::Enabled,
        UserEvent::PasswordChanged,
    ] {
        assert!(listed.contains(&event.event_type()));
    }
    assert!(listed.contains(&"user.ticket_visibility_changed"));
    assert_eq!(listed.len(), 7);
}
