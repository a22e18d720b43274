//! The CMDB end to end through the `itsm` binary (issue 5): `migrate` defines the default asset
//! classes, `import assets` reads a baramundi CSV export and writes only real changes, `serve`
//! projects the assets; an asset manager relates an imported notebook to a server and sees it in
//! the server's impact analysis, and an open incident naming the notebook marks it affected.

use std::path::Path;
use std::time::{Duration, Instant};

use domain::asset::{AssetId, SourceName};
use serde_json::{json, Value};

use crate::{stderr, stdout, Installation, Server, TempDir};

/// How long a read may trail its command: the projections run asynchronously, on a cluster
/// other tests share.
const PROJECTION_WAIT: Duration = Duration::from_secs(20);

/// A baramundi export as a German spreadsheet writes it: `;`-separated, German dates and
/// booleans.
const INVENTORY_CSV: &str = "\
external_id;class;name;inventory_number;serial_number;location;user;manufacturer;model;ram_gb;purchase_date;encrypted
BMS-000101;computer;PC-MELDEAMT-01;INV-2026-00101;CZC4101AB1;RATHAUS-EG-0.12;k.meier;HP;EliteDesk 800 G9;16;15.03.2026;ja
BMS-000102;computer;PC-MELDEAMT-02;INV-2026-00102;CZC4101AB2;RATHAUS-EG-0.12;j.schmidt;HP;EliteDesk 800 G9;16;15.03.2026;ja
BMS-000103;notebook;NB-BAUAMT-01;INV-2026-00103;5CG4211XK1;RATHAUS-2OG-2.04;a.beispiel;Lenovo;ThinkPad T14 Gen 5;32;02.04.2026;ja
BMS-000104;notebook;NB-BAUAMT-02;INV-2026-00104;5CG4211XK2;RATHAUS-2OG-2.05;m.muster;Lenovo;ThinkPad T14 Gen 5;32;02.04.2026;nein
BMS-000105;computer;PC-KAEMMEREI-01;INV-2026-00105;CZC4101AB5;RATHAUS-1OG-1.10;e.mustermann;Fujitsu;Esprimo D7012;8;20.01.2025;ja
";

/// The same export with one more row whose memory is not a number (line 7 of the file).
fn inventory_with_a_bad_row() -> String {
    format!(
        "{INVENTORY_CSV}BMS-000106;computer;PC-STANDESAMT-01;INV-2026-00106;CZC4101AB6;RATHAUS-EG-0.20;s.beispiel;HP;EliteDesk 800 G9;viel;15.03.2026;ja\n"
    )
}

fn imported(external_id: &str) -> String {
    let source = SourceName::try_from("baramundi".to_owned()).expect("a source name");
    AssetId::imported(&source, external_id).to_string()
}

/// `itsm import assets FILE --source baramundi --format json`, its report parsed.
fn import(installation: &Installation, file: &Path) -> Value {
    let output = installation.itsm(&[
        "import",
        "assets",
        file.to_str().expect("UTF-8 path"),
        "--source",
        "baramundi",
        "--format",
        "json",
    ]);
    assert!(output.status.success(), "{}", stderr(&output));
    serde_json::from_str(&stdout(&output)).expect("the report is JSON")
}

async fn asset_events(installation: &Installation) -> i64 {
    sqlx::query_scalar("SELECT count(*) FROM events WHERE stream_type = 'asset'")
        .fetch_one(&installation.db.owner_pool)
        .await
        .unwrap()
}

/// Reads `url` until `done` holds for the body (the projections trail the commands).
async fn get_until(
    client: &reqwest::Client,
    url: &str,
    token: &str,
    done: impl Fn(&Value) -> bool,
) -> Value {
    let deadline = Instant::now() + PROJECTION_WAIT;
    loop {
        let reply = client.get(url).bearer_auth(token).send().await.unwrap();
        let status = reply.status();
        let body: Value = reply.json().await.unwrap_or(Value::Null);
        if status.is_success() && done(&body) {
            return body;
        }
        assert!(
            Instant::now() < deadline,
            "{url} never got there: {status} {body}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// POSTs `body` to `url` and returns the reply's body, asserting its status.
async fn post(
    client: &reqwest::Client,
    url: &str,
    token: &str,
    body: &Value,
    status: u16,
) -> Value {
    let reply = client
        .post(url)
        .bearer_auth(token)
        .json(body)
        .send()
        .await
        .unwrap();
    let actual = reply.status();
    let text = reply.text().await.unwrap();
    assert_eq!(actual, status, "POST {url} {body}: {text}");
    serde_json::from_str(&text).expect("a JSON reply")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_import_writes_only_changes_and_the_served_cmdb_shows_sources_impact_and_incidents() {
    let installation = Installation::new().await;
    let output = installation.itsm(&["migrate"]);
    assert!(output.status.success(), "{}", stderr(&output));
    assert!(
        stdout(&output).contains("11 default asset classes defined"),
        "{}",
        stdout(&output)
    );
    let files = TempDir::create();
    let file = files.path.join("baramundi.csv");
    std::fs::write(&file, INVENTORY_CSV).unwrap();

    let first = import(&installation, &file);
    assert_eq!(first["source"], "baramundi");
    assert_eq!(first["run"], 1);
    assert_eq!(first["rows"], 5);
    assert_eq!(first["created"], 5);
    assert_eq!(first["updated"], 0);
    assert_eq!(first["unchanged"], 0);
    assert_eq!(first["rejected"], 0);
    assert_eq!(first["events_written"], 5);
    assert_eq!(first["missing"], 0);
    assert_eq!(first["flagged"], 0);
    assert_eq!(first["rejected_rows"], json!([]));
    let written = asset_events(&installation).await;
    assert_eq!(written, 5);

    let again = import(&installation, &file);
    assert_eq!(again["run"], 2);
    assert_eq!(again["created"], 0);
    assert_eq!(again["updated"], 0);
    assert_eq!(again["unchanged"], 5);
    assert_eq!(again["events_written"], 0);
    assert_eq!(
        asset_events(&installation).await,
        written,
        "an unchanged inventory writes no asset event"
    );

    std::fs::write(&file, inventory_with_a_bad_row()).unwrap();
    let with_a_bad_row = import(&installation, &file);
    assert_eq!(with_a_bad_row["unchanged"], 5);
    assert_eq!(with_a_bad_row["created"], 0);
    assert_eq!(with_a_bad_row["rejected"], 1);
    assert_eq!(with_a_bad_row["events_written"], 0);
    let refused = &with_a_bad_row["rejected_rows"][0];
    assert_eq!(refused["line"], 7, "{with_a_bad_row}");
    assert_eq!(refused["code"], "attribute_type_mismatch", "{refused}");
    assert_eq!(refused["field"], "attributes.ram_gb", "{refused}");
    assert_eq!(refused["external_id"], "BMS-000106", "{refused}");
    assert_eq!(asset_events(&installation).await, written);

    let (asset_manager, agent) = (
        installation.token("it.cmdb", "asset_manager"),
        installation.token("k.meier", "agent"),
    );
    let _server = Server::start(&installation).await;
    let base = installation.base_url();
    let client = reqwest::Client::new();
    let list = get_until(
        &client,
        &format!("{base}/api/v1/assets"),
        &asset_manager,
        |page| {
            page["items"]
                .as_array()
                .is_some_and(|items| items.len() == 5)
        },
    )
    .await;
    let notebook = imported("BMS-000103");
    assert!(
        list["items"]
            .as_array()
            .unwrap()
            .iter()
            .any(|item| item["id"] == notebook.as_str() && item["name"] == "NB-BAUAMT-01"),
        "{list}"
    );

    let detail_url = format!("{base}/api/v1/assets/{notebook}");
    let detail = get_until(&client, &detail_url, &asset_manager, |_| true).await;
    assert_eq!(detail["class"], "notebook");
    assert_eq!(detail["attributes"]["ram_gb"], 32);
    assert_eq!(detail["attributes"]["purchase_date"], "2026-04-02");
    assert_eq!(detail["attributes"]["encrypted"], true);
    assert_eq!(detail["sources"][0]["source"], "baramundi", "{detail}");
    assert_eq!(detail["sources"][0]["external_id"], "BMS-000103");
    assert_eq!(detail["incident_state"], "operational");

    let server = post(
        &client,
        &format!("{base}/api/v1/assets"),
        &asset_manager,
        &json!({"class": "server", "name": "SRV-FACHVERFAHREN-01", "location": "RZ-KELLER-U1",
                "attributes": {"operating_system": "Debian 12", "ram_gb": 64},
                "lifecycle": "deployed"}),
        201,
    )
    .await["id"]
        .as_str()
        .expect("the new asset's id")
        .to_owned();
    post(
        &client,
        &format!("{detail_url}/commands"),
        &asset_manager,
        &json!({"command": "relate", "relation": "runs_on", "target": server}),
        200,
    )
    .await;
    let impact = get_until(
        &client,
        &format!("{base}/api/v1/assets/{server}/impact"),
        &asset_manager,
        |view| {
            view["impacted"]
                .as_array()
                .is_some_and(|impacted| !impacted.is_empty())
        },
    )
    .await;
    assert_eq!(impact["asset"], server.as_str());
    assert_eq!(
        impact["impacted"],
        json!([{"id": notebook, "name": "NB-BAUAMT-01", "class": "notebook",
                "lifecycle": impact["impacted"][0]["lifecycle"], "depth": 1,
                "relation": "runs_on", "via": server}]),
        "{impact}"
    );

    let opened = post(
        &client,
        &format!("{base}/api/v1/tickets"),
        &agent,
        &json!({"type": "incident", "title": "Notebook im Bauamt startet nicht",
                "requester": {"name": "Erika Mustermann"}, "impact": "medium",
                "urgency": "high", "queue": "first-level"}),
        201,
    )
    .await;
    let number = opened["number"]
        .as_str()
        .expect("a ticket number")
        .to_owned();
    post(
        &client,
        &format!("{base}/api/v1/tickets/{number}/commands"),
        &agent,
        &json!({"type": "link_asset", "asset_id": notebook}),
        200,
    )
    .await;
    let affected = get_until(&client, &detail_url, &asset_manager, |view| {
        view["incident_state"] == "affected"
    })
    .await;
    assert_eq!(
        affected["tickets"][0]["number"],
        number.as_str(),
        "{affected}"
    );
    assert_eq!(affected["tickets"][0]["ticket_type"], "incident");
}
