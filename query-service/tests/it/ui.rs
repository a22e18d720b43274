//! The web UI's files (public, with a strict Content Security Policy) and `GET /api/v1/me`.

use crate::helpers::{send, spawn_app, AGENT};

#[tokio::test]
async fn the_ui_files_are_served_with_their_types_and_a_strict_policy() {
    let app = spawn_app().await;
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let root = client.get(app.url("/")).send().await.unwrap();
    assert!(root.status().is_redirection());
    assert_eq!(root.headers()["location"], "/ui/");
    for (path, media_type) in [
        ("/ui/", "text/html; charset=utf-8"),
        ("/ui/app.js", "text/javascript; charset=utf-8"),
        ("/ui/i18n.js", "text/javascript; charset=utf-8"),
        ("/ui/app.css", "text/css; charset=utf-8"),
    ] {
        let reply = client.get(app.url(path)).send().await.unwrap();
        assert_eq!(reply.status(), 200, "{path} needs no login");
        let headers = reply.headers();
        assert_eq!(headers["content-type"], media_type, "{path}");
        let policy = headers["content-security-policy"].to_str().unwrap();
        assert!(policy.contains("script-src 'self'") && !policy.contains("unsafe-inline"));
        assert!(policy.contains("frame-ancestors 'none'"));
        assert_eq!(headers["x-content-type-options"], "nosniff");
        assert!(headers.contains_key("etag"));
    }
    let missing = client.get(app.url("/ui/secret.txt")).send().await.unwrap();
    assert_eq!(missing.status(), 404);
    assert_eq!(
        missing.headers()["content-type"],
        "application/problem+json"
    );
}

#[tokio::test]
async fn me_names_the_caller_and_their_roles_and_needs_a_login() {
    let app = spawn_app().await;
    let me = send(app.get("/api/v1/me")).await.ok();
    assert_eq!(me["user"], AGENT);
    assert_eq!(me["roles"], serde_json::json!(["agent"]));
    let anonymous = reqwest::get(app.url("/api/v1/me")).await.unwrap();
    assert_eq!(anonymous.status(), 401);
}
