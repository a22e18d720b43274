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
                anonymous.is_success(),
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
