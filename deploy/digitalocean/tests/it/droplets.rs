//! `nnedge do droplet …` against the fake.

use nnedge_digitalocean::droplets::USER_DATA_LIMIT;
use nnedge_digitalocean::fake::FakeOptions;
use serde_json::json;

use crate::support::{create_args, fake, json, run, temp_file, tricky_ignition};

/// `droplet create --wait` polls until active and prints the public IPv4.
#[tokio::test]
async fn droplet_create_waits_and_prints_the_public_ipv4() {
    let Some(fake) = fake(FakeOptions::default()) else {
        return;
    };
    let run = run(
        &fake,
        &create_args(&["web-1", "web-2", "--tag", "web", "--wait"]),
    )
    .await;

    let table = run.ok();
    assert!(table.contains("PUBLIC IPV4"), "{table}");
    assert_eq!(table.matches("127.0.0.1").count(), 2, "{table}");
    assert_eq!(table.matches("active").count(), 2, "{table}");
    let body = fake
        .requests()
        .into_iter()
        .find(|r| r.method == "POST")
        .unwrap()
        .body
        .unwrap();
    assert_eq!(
        body,
        json!({"names": ["web-1", "web-2"], "region": "fra1", "size": "s-1vcpu-1gb",
               "image": "ubuntu-24-04-x64", "tags": ["web"]})
    );
    fake.assert_conformant();
}

/// Without --wait the new droplets are printed as the API returned them.
#[tokio::test]
async fn droplet_create_without_wait_prints_new_droplets() {
    let Some(fake) = fake(FakeOptions::default()) else {
        return;
    };
    let run = run(&fake, &create_args(&["solo", "--output", "json"])).await;

    let droplets = json(run.ok());
    assert_eq!(droplets[0]["status"], "new");
    assert_eq!(droplets[0]["networks"]["v4"], json!([]));
    fake.assert_conformant();
}

/// Regression: `_` in a droplet name failed at the API; now it is refused before any call
/// with the allowed characters spelled out.
#[tokio::test]
async fn droplet_names_with_underscores_are_refused_before_any_call() {
    let Some(fake) = fake(FakeOptions::default()) else {
        return;
    };
    let run = run(&fake, &create_args(&["llm_node"])).await;

    let error = run.error();
    assert!(
        error.contains("`llm_node`") && error.contains("`_` not allowed"),
        "{error}"
    );
    assert!(error.contains("letters, digits, `.` and `-`"), "{error}");
    assert!(fake.requests().is_empty());
}

/// An SSH key that is not on the account lists the keys that are.
#[tokio::test]
async fn unknown_ssh_keys_list_the_account_keys() {
    let Some(fake) = fake(FakeOptions::default()) else {
        return;
    };
    let run = run(&fake, &create_args(&["web-1", "--ssh-key", "desktop"])).await;

    let error = run.error();
    assert!(
        error.contains("SSH key `desktop` is not on this account"),
        "{error}"
    );
    assert!(error.contains("laptop") && error.contains("ci"), "{error}");
    assert_eq!(fake.count("POST", "/v2/droplets"), 0);
}

/// Keys given by name, fingerprint and id resolve to ids with one account-keys call.
#[tokio::test]
async fn ssh_keys_resolve_by_name_fingerprint_and_id_with_one_call() {
    let Some(fake) = fake(FakeOptions::default()) else {
        return;
    };
    let ids = fake.ssh_key_ids();
    let listed = run(&fake, &["do", "keys", "list", "--output", "json"]).await;
    let fingerprint = json(listed.ok())[1]["fingerprint"]
        .as_str()
        .unwrap()
        .to_owned();

    let id = ids[0].to_string();
    let args = create_args(&[
        "web-1",
        "--ssh-key",
        "laptop",
        "--ssh-key",
        &fingerprint,
        "--ssh-key",
        &id,
    ]);
    run(&fake, &args).await.ok();

    let body = fake
        .requests()
        .into_iter()
        .find(|r| r.method == "POST")
        .unwrap()
        .body
        .unwrap();
    assert_eq!(body["ssh_keys"], json!([ids[0], ids[1]]));
    assert_eq!(fake.count("GET", "/v2/account/keys"), 2, "one per run");
    fake.assert_conformant();
}

/// User data over 64 KiB is refused before any call.
#[tokio::test]
async fn user_data_over_64_kib_is_refused_before_any_call() {
    let Some(fake) = fake(FakeOptions::default()) else {
        return;
    };
    let file = temp_file(&"#".repeat(USER_DATA_LIMIT + 1));
    let path = file.path().to_str().unwrap();
    let run = run(
        &fake,
        &create_args(&["web-1", "--ssh-key", "laptop", "--user-data-file", path]),
    )
    .await;

    assert!(
        run.error()
            .contains("65537 bytes, over DigitalOcean's limit of 65536"),
        "{}",
        run.error()
    );
    assert!(fake.requests().is_empty(), "not even the key look-up");
}

/// Regression: the seed escaped user data with `sed 's/"/\\"/g'`, which broke on
/// backslashes and newlines. Serde carries them, and the droplet gets the file byte for byte.
#[tokio::test]
async fn user_data_with_backslashes_quotes_and_newlines_round_trips_exactly() {
    let Some(fake) = fake(FakeOptions::default()) else {
        return;
    };
    let ignition = tricky_ignition();
    assert!(ignition.contains('\\') && ignition.contains('"') && ignition.contains('\n'));
    let file = temp_file(&ignition);
    let run = run(
        &fake,
        &create_args(&[
            "web-1",
            "--ignition",
            file.path().to_str().unwrap(),
            "--output",
            "json",
        ]),
    )
    .await;

    let id = json(run.ok())[0]["id"].as_u64().unwrap();
    assert_eq!(fake.user_data(id).as_deref(), Some(ignition.as_str()));
    fake.assert_conformant();
}

/// `--ignition` insists on an Ignition config.
#[tokio::test]
async fn ignition_files_must_be_ignition_configs() {
    let Some(fake) = fake(FakeOptions::default()) else {
        return;
    };
    let file = temp_file("#cloud-config\nusers: []\n");
    let run = run(
        &fake,
        &create_args(&["web-1", "--ignition", file.path().to_str().unwrap()]),
    )
    .await;

    assert!(
        run.error().contains("is not an Ignition config"),
        "{}",
        run.error()
    );
    assert!(fake.requests().is_empty());
}

/// `droplet list --tag`, `droplet get`, `droplet delete ID` and `droplet delete --tag`.
#[tokio::test]
async fn droplet_list_get_and_delete() {
    let Some(fake) = fake(FakeOptions::default()) else {
        return;
    };
    run(&fake, &create_args(&["a-1", "a-2", "--tag", "a"]))
        .await
        .ok();
    run(&fake, &create_args(&["b-1", "--tag", "b"])).await.ok();

    let listed = json(
        run(
            &fake,
            &["do", "droplet", "list", "--tag", "a", "--output", "json"],
        )
        .await
        .ok(),
    );
    assert_eq!(listed.as_array().unwrap().len(), 2);
    let id = listed[0]["id"].as_u64().unwrap().to_string();
    let got = json(
        run(&fake, &["do", "droplet", "get", &id, "--output", "json"])
            .await
            .ok(),
    );
    assert_eq!(got[0]["name"], "a-1");

    run(&fake, &["do", "droplet", "delete", &id]).await.ok();
    run(&fake, &["do", "droplet", "delete", "--tag", "b"])
        .await
        .ok();
    let left: Vec<String> = fake
        .droplets()
        .into_iter()
        .map(|(_, name, _)| name)
        .collect();
    assert_eq!(left, ["a-2"]);
    fake.assert_conformant();
}
