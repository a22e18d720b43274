//! The role × endpoint matrix (issue 6 §4): every route of the served API — the routes of
//! `command_service::policy::ROUTES` and every operation of the OpenAPI document generated from
//! the handlers — called by an anonymous caller and by a token of each role. A documented
//! endpoint without a rule in the table fails here (and answers 500 in production: fail closed).

use std::collections::BTreeSet;
use std::time::Duration;

use command_service::auth::ROLES;
use command_service::policy::{Rule, ROUTES};
use serde_json::Value;
use uuid::Uuid;

use crate::{stdout, Installation, Server};

/// Path parameters filled with values that exist nowhere (the rule is checked before the
/// resource is looked up).
fn concrete(path: &str) -> String {
    let id = Uuid::new_v4().to_string();
    path.replace("{ticket}", &id)
        .replace("{id}", &id)
        .replace("{kind}", "queues")
        .replace("{name}", "matrix-test")
}

/// Every `(method, path)` the OpenAPI document names.
fn documented(installation: &Installation) -> BTreeSet<(String, String)> {
    let document: Value = serde_json::from_str(&stdout(&installation.itsm(&["openapi"])))
        .expect("itsm openapi prints JSON");
    let mut operations = BTreeSet::new();
    for (path, item) in document["paths"].as_object().expect("paths") {
        for method in item.as_object().expect("path item").keys() {
            operations.insert((method.to_uppercase(), path.clone()));
        }
    }
    operations
}

fn expected_rule(method: &str, path: &str) -> Option<Rule> {
    ROUTES
        .iter()
        .find(|route| route.method == method && route.path == path)
        .map(|route| route.rule)
}

#[tokio::test]
async fn every_role_gets_exactly_the_routes_its_rule_names() {
    let installation = Installation::new().await;
    let _server = Server::start(&installation).await;
    let documented = documented(&installation);
    let missing: Vec<_> = documented
        .iter()
        .filter(|(method, path)| expected_rule(method, path).is_none())
        .collect();
    assert!(
        missing.is_empty(),
        "endpoints without an access rule: {missing:?}"
    );
    let mut routes: BTreeSet<(String, String)> = ROUTES
        .iter()
        .map(|route| (route.method.to_owned(), route.path.to_owned()))
        .collect();
    routes.extend(documented);
    let tokens: Vec<(&str, String)> = ROLES
        .iter()
        .map(|role| (*role, installation.token(&format!("matrix.{role}"), role)))
        .collect();
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .build()
        .unwrap();
    let mut checked = 0;
    for (method, path) in &routes {
        let rule = expected_rule(method, path).expect("checked above");
        let url = format!("{}{}", installation.base_url(), concrete(path));
        let request = |token: Option<&str>| {
            let mut request = client
                .request(method.parse().expect("a method"), &url)
                .header("Content-Type", "application/json")
                .body("{}");
            if let Some(token) = token {
                request = request.bearer_auth(token);
            }
            request
        };
        let anonymous = request(None)
            .send()
            .await
            .expect("anonymous request")
            .status();
        if rule == Rule::Public {
            assert!(
                anonymous != 401 && anonymous != 403 && anonymous != 500,
                "{method} {path} anonymous: {anonymous}"
            );
        } else {
            assert_eq!(anonymous, 401, "{method} {path} anonymous");
        }
        for (role, token) in &tokens {
            let response = request(Some(token)).send().await.expect("request");
            let status = response.status();
            if rule.permits(&[(*role).to_owned()]) {
                assert!(
                    status != 401 && status != 403 && status != 500,
                    "{method} {path} as {role}: {status} {}",
                    response.text().await.unwrap_or_default()
                );
            } else {
                let body: Value = response.json().await.unwrap_or_default();
                assert_eq!(status, 403, "{method} {path} as {role}: {body}");
                assert_eq!(body["code"], "missing_right", "{method} {path} as {role}");
            }
            checked += 1;
        }
    }
    assert!(checked >= 6 * 25, "the matrix covered {checked} calls");
}

#[test]
fn a_route_missing_from_the_table_is_refused_not_let_through() {
    use command_service::policy::{rule_for, Lookup};
    assert_eq!(
        rule_for(&"GET".parse().unwrap(), "/api/v1/secret"),
        Lookup::Missing
    );
    assert_eq!(
        rule_for(&"DELETE".parse().unwrap(), "/api/v1/tickets"),
        Lookup::OtherMethod,
        "another method on a known path is the router's 405"
    );
}

fn numbers(list: &Value) -> BTreeSet<String> {
    list["items"]
        .as_array()
        .map(|items| {
            items
                .iter()
                .filter_map(|item| item["number"].as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default()
}

#[tokio::test]
async fn an_agent_sees_and_works_only_the_queues_of_their_teams() {
    let installation = Installation::new().await;
    let _server = Server::start(&installation).await;
    let base = installation.base_url();
    let client = reqwest::Client::new();
    let admin = installation.token("admin", "admin");
    let meldeamt = installation.token("a.meldeamt", "agent");
    let it = installation.token("b.it", "agent");
    let supervisor = installation.token("s.leitung", "supervisor");
    for (path, body) in [
        (
            "queues/meldeamt",
            serde_json::json!({"title": {"de": "Meldeamt"}}),
        ),
        (
            "queues/it-service",
            serde_json::json!({"title": {"de": "IT-Service"}}),
        ),
        (
            "teams/buergerservice",
            serde_json::json!({"title": {"de": "Bürgerservice"}, "members": ["a.meldeamt"], "queues": {"meldeamt": ["create", "update", "assign", "close"]}}),
        ),
        (
            "teams/it",
            serde_json::json!({"title": {"de": "IT"}, "members": ["b.it"], "queues": {"it-service": ["create", "update", "assign", "close"]}}),
        ),
    ] {
        let (status, text) = crate::put_config(&client, &base, &admin, path, &body).await;
        assert!(status.is_success(), "{path}: {text}");
    }
    // The directory is cached for a second.
    tokio::time::sleep(Duration::from_millis(1_100)).await;
    let open = |token: &str, queue: &str, title: &str| {
        client
            .post(format!("{base}/api/v1/tickets"))
            .bearer_auth(token)
            .json(&serde_json::json!({
                "type": "incident", "title": title, "description": "Zugriffstest",
                "requester": {"name": "Erika Mustermann"}, "impact": "low", "urgency": "low",
                "queue": queue
            }))
            .send()
    };
    let refused = open(&meldeamt, "it-service", "Falsche Queue")
        .await
        .unwrap();
    assert_eq!(refused.status(), 403, "creating in another team's queue");
    let mine: Value = open(&meldeamt, "meldeamt", "Ummeldung klemmt")
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let theirs: Value = open(&it, "it-service", "Drucker klemmt")
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let (mine_number, theirs_number) = (
        mine["number"].as_str().unwrap().to_owned(),
        theirs["number"].as_str().unwrap().to_owned(),
    );
    let worklist = format!("{base}/api/v1/tickets");
    let both = crate::until(&client, &worklist, &supervisor, |list| {
        numbers(list).len() == 2
    })
    .await;
    assert_eq!(
        numbers(&both),
        BTreeSet::from([mine_number.clone(), theirs_number.clone()])
    );
    let seen = crate::until(&client, &worklist, &meldeamt, |list| {
        !numbers(list).is_empty()
    })
    .await;
    assert_eq!(
        numbers(&seen),
        BTreeSet::from([mine_number.clone()]),
        "the worklist leaks"
    );
    let found = crate::until(
        &client,
        &format!("{base}/api/v1/search?q=klemmt"),
        &meldeamt,
        |list| !numbers(list).is_empty(),
    )
    .await;
    assert_eq!(
        numbers(&found),
        BTreeSet::from([mine_number.clone()]),
        "search leaks"
    );
    for path in ["", "/history", "/sla"] {
        let reply = client
            .get(format!("{base}/api/v1/tickets/{theirs_number}{path}"))
            .bearer_auth(&meldeamt)
            .send()
            .await
            .unwrap();
        assert_eq!(reply.status(), 404, "GET {path} of another team's ticket");
    }
    let events_before = stdout(&installation.itsm(&["events", &theirs_number]));
    assert!(events_before.contains("ticket.opened"), "{events_before}");
    let note = client
        .post(format!("{base}/api/v1/tickets/{theirs_number}/commands"))
        .bearer_auth(&meldeamt)
        .json(&serde_json::json!({"type": "add_note", "body": "Ich darf das nicht"}))
        .send()
        .await
        .unwrap();
    assert_eq!(note.status(), 403);
    let events_after = stdout(&installation.itsm(&["events", &theirs_number]));
    assert_eq!(
        events_before, events_after,
        "a refused command appended something"
    );
    let own_note = client
        .post(format!("{base}/api/v1/tickets/{mine_number}/commands"))
        .bearer_auth(&meldeamt)
        .json(&serde_json::json!({"type": "add_note", "body": "Erledige ich"}))
        .send()
        .await
        .unwrap();
    assert_eq!(own_note.status(), 200);
}

#[tokio::test]
async fn a_browser_session_logs_in_needs_its_csrf_token_to_write_and_ends_at_logout() {
    let installation = Installation::new().await;
    let added = itsm_with_stdin(
        &installation,
        &[
            "user",
            "add",
            "k.meier",
            "--role",
            "agent",
            "--password-stdin",
        ],
        "Korrekt-Pferd-Batterie-42\n",
    );
    assert!(added.status.success(), "{}", crate::stderr(&added));
    let _server = Server::start(&installation).await;
    let base = installation.base_url();
    let client = reqwest::Client::new();
    let login = |password: &str| {
        client
            .post(format!("{base}/api/v1/login"))
            .json(&serde_json::json!({"user": "k.meier", "password": password}))
            .send()
    };
    let wrong = login("falsch-falsch-falsch").await.unwrap();
    assert_eq!(wrong.status(), 401);
    let granted = login("Korrekt-Pferd-Batterie-42").await.unwrap();
    assert_eq!(granted.status(), 200);
    let cookie = granted.headers()["set-cookie"].to_str().unwrap().to_owned();
    for attribute in ["HttpOnly", "Secure", "SameSite=Strict"] {
        assert!(cookie.contains(attribute), "{cookie}");
    }
    let session = cookie.split(';').next().unwrap().to_owned();
    let body: Value = granted.json().await.unwrap();
    let csrf = body["csrf_token"].as_str().unwrap().to_owned();
    assert_eq!(body["roles"], serde_json::json!(["agent"]));

    let read = client
        .get(format!("{base}/api/v1/tickets"))
        .header("Cookie", &session)
        .send()
        .await
        .unwrap();
    assert_eq!(read.status(), 200, "a session reads without a CSRF token");
    let ticket = serde_json::json!({
        "type": "incident", "title": "Monitor flackert", "description": "Seit heute",
        "requester": {"name": "Erika Mustermann"}, "impact": "low", "urgency": "low"
    });
    let forged = client
        .post(format!("{base}/api/v1/tickets"))
        .header("Cookie", &session)
        .json(&ticket)
        .send()
        .await
        .unwrap();
    assert_eq!(forged.status(), 403);
    let problem: Value = forged.json().await.unwrap();
    assert_eq!(problem["code"], "csrf_token_invalid");
    let written = client
        .post(format!("{base}/api/v1/tickets"))
        .header("Cookie", &session)
        .header("X-CSRF-Token", &csrf)
        .json(&ticket)
        .send()
        .await
        .unwrap();
    assert_eq!(written.status(), 201);
    let opened: Value = written.json().await.unwrap();
    let events = stdout(&installation.itsm(&["events", opened["number"].as_str().unwrap()]));
    assert!(
        events.contains("k.meier"),
        "the session's user is the actor: {events}"
    );

    let logout = client
        .post(format!("{base}/api/v1/logout"))
        .header("Cookie", &session)
        .send()
        .await
        .unwrap();
    assert_eq!(logout.status(), 204);
    let after = client
        .get(format!("{base}/api/v1/tickets"))
        .header("Cookie", &session)
        .send()
        .await
        .unwrap();
    assert_eq!(after.status(), 401, "the session ended at logout");
}

#[tokio::test]
async fn a_requester_granted_their_unit_sees_the_tickets_of_its_requesters_and_no_others() {
    let installation = Installation::new().await;
    let _server = Server::start(&installation).await;
    let base = installation.base_url();
    let client = reqwest::Client::new();
    let admin = installation.token("admin", "admin");
    for (path, body) in [
        (
            "org-units/landratsamt",
            serde_json::json!({"title": {"de": "Landratsamt"}}),
        ),
        (
            "org-units/bauamt",
            serde_json::json!({"title": {"de": "Bauamt"}, "parent": "landratsamt"}),
        ),
        (
            "org-units/ordnungsamt",
            serde_json::json!({"title": {"de": "Ordnungsamt"}, "parent": "landratsamt"}),
        ),
    ] {
        let (status, text) = crate::put_config(&client, &base, &admin, path, &body).await;
        assert!(status.is_success(), "{path}: {text}");
    }
    for (user, unit, visibility) in [
        ("b.kollege", "bauamt", "own"),
        ("b.berechtigt", "bauamt", "own"),
        ("b.allein", "bauamt", "own"),
        ("o.ordnung", "ordnungsamt", "own"),
        ("l.leitung", "landratsamt", "unit"),
    ] {
        let reply = client
            .post(format!("{base}/api/v1/users"))
            .bearer_auth(&admin)
            .json(&serde_json::json!({
                "user": user, "display_name": user, "roles": ["requester"], "org_unit": unit,
                "ticket_visibility": visibility
            }))
            .send()
            .await
            .unwrap();
        assert_eq!(
            reply.status(),
            201,
            "{user}: {}",
            reply.text().await.unwrap()
        );
    }
    let grant = || {
        client
            .post(format!("{base}/api/v1/users/b.berechtigt/commands"))
            .bearer_auth(&admin)
            .json(&serde_json::json!({"command": "set_ticket_visibility", "visibility": "unit"}))
            .send()
    };
    let granted: Value = grant().await.unwrap().json().await.unwrap();
    assert_eq!(granted["events_appended"], 1, "{granted}");
    let again: Value = grant().await.unwrap().json().await.unwrap();
    assert_eq!(
        again["events_appended"], 0,
        "setting it again records nothing"
    );
    // The directory is cached for a second.
    tokio::time::sleep(Duration::from_millis(1_100)).await;

    let tokens: Vec<(&str, String)> = ["b.kollege", "b.berechtigt", "b.allein", "o.ordnung"]
        .into_iter()
        .map(|user| (user, installation.token(user, "requester")))
        .collect();
    let mut numbers_of = std::collections::BTreeMap::new();
    for (user, token) in &tokens {
        let opened: Value = crate::post_json(
            &client,
            &format!("{base}/api/v1/tickets"),
            token,
            &serde_json::json!({
                "type": "incident", "title": format!("Sichtweite {user}"),
                "description": "Sichtbarkeitstest", "requester": {"name": user},
                "impact": "low", "urgency": "low"
            }),
        )
        .await;
        let number = opened["number"].as_str().expect("opened").to_owned();
        numbers_of.insert(*user, number);
    }
    let number = |user: &str| numbers_of[user].clone();
    let token = |user: &str| {
        tokens
            .iter()
            .find(|(name, _)| *name == user)
            .map(|(_, token)| token.clone())
            .unwrap_or_else(|| installation.token(user, "requester"))
    };
    let bauamt = BTreeSet::from([
        number("b.kollege"),
        number("b.berechtigt"),
        number("b.allein"),
    ]);
    let worklist = format!("{base}/api/v1/tickets");
    let search = format!("{base}/api/v1/search?q=sichtweite");

    let granted = token("b.berechtigt");
    let seen = crate::until(&client, &worklist, &granted, |list| {
        numbers(list).len() >= 3
    })
    .await;
    assert_eq!(numbers(&seen), bauamt, "the granted requester's worklist");
    let found = crate::until(&client, &search, &granted, |list| numbers(list).len() >= 3).await;
    assert_eq!(numbers(&found), bauamt, "the granted requester's search");
    let narrowed = crate::until(
        &client,
        &format!("{worklist}?requester=b.kollege"),
        &granted,
        |list| !numbers(list).is_empty(),
    )
    .await;
    assert_eq!(numbers(&narrowed), BTreeSet::from([number("b.kollege")]));
    for path in ["", "/history", "/sla"] {
        let colleague = client
            .get(format!(
                "{base}/api/v1/tickets/{}{path}",
                number("b.kollege")
            ))
            .bearer_auth(&granted)
            .send()
            .await
            .unwrap();
        assert_eq!(
            colleague.status(),
            200,
            "GET {path} of a colleague's ticket"
        );
        let other_unit = client
            .get(format!(
                "{base}/api/v1/tickets/{}{path}",
                number("o.ordnung")
            ))
            .bearer_auth(&granted)
            .send()
            .await
            .unwrap();
        assert_eq!(
            other_unit.status(),
            404,
            "GET {path} of another unit's ticket"
        );
    }

    let alone = token("b.allein");
    let own = BTreeSet::from([number("b.allein")]);
    let seen = crate::until(&client, &worklist, &alone, |list| !numbers(list).is_empty()).await;
    assert_eq!(numbers(&seen), own, "an ungranted requester's worklist");
    let found = crate::until(&client, &search, &alone, |list| !numbers(list).is_empty()).await;
    assert_eq!(numbers(&found), own, "an ungranted requester's search");
    let colleague = client
        .get(format!("{base}/api/v1/tickets/{}", number("b.kollege")))
        .bearer_auth(&alone)
        .send()
        .await
        .unwrap();
    assert_eq!(
        colleague.status(),
        404,
        "an ungranted requester reads a colleague's"
    );

    let head = token("l.leitung");
    let everything: BTreeSet<String> = numbers_of.values().cloned().collect();
    let seen = crate::until(&client, &worklist, &head, |list| numbers(list).len() >= 4).await;
    assert_eq!(numbers(&seen), everything, "the unit above sees both units");
}

/// `itsm user <args>` with `stdin` as its input.
fn itsm_with_stdin(
    installation: &Installation,
    args: &[&str],
    stdin: &str,
) -> std::process::Output {
    use std::io::Write;
    let mut child = crate::itsm_command(args, Some(&installation.config))
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(stdin.as_bytes())
        .unwrap();
    child.wait_with_output().unwrap()
}

#[tokio::test]
async fn a_password_set_from_the_cli_ends_the_accounts_sessions() {
    let installation = Installation::new().await;
    let added = itsm_with_stdin(
        &installation,
        &[
            "user",
            "add",
            "k.meier",
            "--role",
            "agent",
            "--password-stdin",
        ],
        "Korrekt-Pferd-Batterie-42\n",
    );
    assert!(added.status.success(), "{}", crate::stderr(&added));
    let _server = Server::start(&installation).await;
    let base = installation.base_url();
    let client = reqwest::Client::new();
    let granted = client
        .post(format!("{base}/api/v1/login"))
        .json(&serde_json::json!({"user": "k.meier", "password": "Korrekt-Pferd-Batterie-42"}))
        .send()
        .await
        .unwrap();
    let session = granted.headers()["set-cookie"]
        .to_str()
        .unwrap()
        .split(';')
        .next()
        .unwrap()
        .to_owned();
    let read = || {
        client
            .get(format!("{base}/api/v1/tickets"))
            .header("Cookie", &session)
            .send()
    };
    assert_eq!(read().await.unwrap().status(), 200);
    let reset = itsm_with_stdin(
        &installation,
        &["user", "set-password", "k.meier"],
        "Ein-neues-Passwort-2026\n",
    );
    assert!(reset.status.success(), "{}", crate::stderr(&reset));
    assert_eq!(
        read().await.unwrap().status(),
        401,
        "the old session ended with the reset"
    );
}

#[tokio::test]
async fn a_token_of_an_account_acts_with_at_most_its_roles_and_stops_when_it_is_disabled() {
    let installation = Installation::new().await;
    let added = installation.itsm(&["user", "add", "k.meier", "--role", "agent"]);
    assert!(added.status.success(), "{}", crate::stderr(&added));
    let _server = Server::start(&installation).await;
    let base = installation.base_url();
    let client = reqwest::Client::new();
    let admin = installation.token("admin", "admin");
    // Issued with more roles than the account holds: the account's roles win.
    let token = stdout(&installation.itsm(&[
        "token", "issue", "--user", "k.meier", "--role", "agent", "--role", "admin",
    ]))
    .trim()
    .to_owned();
    let status_of = |path: &'static str| {
        let request = client.get(format!("{base}{path}")).bearer_auth(&token);
        async move { request.send().await.unwrap().status() }
    };
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    while status_of("/api/v1/tokens").await != 403 {
        assert!(
            std::time::Instant::now() < deadline,
            "the admin role was never narrowed away"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(
        status_of("/api/v1/tickets").await,
        200,
        "the agent role stays"
    );
    let disabled = client
        .post(format!("{base}/api/v1/users/k.meier/commands"))
        .bearer_auth(&admin)
        .json(&serde_json::json!({"command": "disable"}))
        .send()
        .await
        .unwrap();
    assert!(
        disabled.status().is_success(),
        "{}",
        disabled.text().await.unwrap()
    );
    while status_of("/api/v1/tickets").await != 401 {
        assert!(
            std::time::Instant::now() < deadline,
            "a disabled account's token kept working"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}
