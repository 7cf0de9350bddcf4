//! `nnedge do image …` against the fake.

use nnedge_digitalocean::fake::FakeOptions;
use serde_json::json;

use crate::support::{fake, json, run};

/// `image create --wait` imports, polls until `available`, and prints the image.
#[tokio::test]
async fn image_create_waits_until_available() {
    let Some(fake) = fake(FakeOptions::default()) else {
        return;
    };
    let args = [
        "do",
        "image",
        "create",
        "--name",
        "flatcar-test",
        "--url",
        "https://images.example.test/disk.qcow2.gz",
        "--region",
        "fra1",
        "--distribution",
        "coreos",
        "--tag",
        "flatcar",
        "--wait",
        "--output",
        "json",
    ];
    let run = run(&fake, &args).await;

    let images = json(run.ok());
    assert_eq!(images[0]["status"], "available");
    assert_eq!(images[0]["regions"], json!(["fra1"]));
    let post = fake
        .requests()
        .into_iter()
        .find(|r| r.method == "POST")
        .unwrap();
    assert_eq!(
        post.body.unwrap(),
        json!({"name": "flatcar-test", "url": "https://images.example.test/disk.qcow2.gz",
               "region": "fra1", "distribution": "CoreOS", "tags": ["flatcar"]})
    );
    assert!(fake.count("GET", &format!("/v2/images/{}", images[0]["id"])) >= 2);
    fake.assert_conformant();
}

/// An import that ends `deleted` reports the API's `error_message`.
#[tokio::test]
async fn failed_import_reports_the_error_message() {
    let options = FakeOptions {
        image_import_error: Some("Image is not a valid qcow2 file".into()),
        ..FakeOptions::default()
    };
    let Some(fake) = fake(options) else { return };
    let args = [
        "do",
        "image",
        "create",
        "--name",
        "bad",
        "--url",
        "https://images.example.test/disk.qcow2",
        "--region",
        "fra1",
        "--wait",
    ];
    let run = run(&fake, &args).await;

    let error = run.error();
    assert!(
        error.contains("failed: Image is not a valid qcow2 file"),
        "{error}"
    );
    assert_eq!(fake.images()[0].1, "deleted");
    fake.assert_conformant();
}

/// xz images are refused before any call, with a way out.
#[tokio::test]
async fn xz_image_urls_are_refused_before_any_call() {
    let Some(fake) = fake(FakeOptions::default()) else {
        return;
    };
    let args = [
        "do",
        "image",
        "create",
        "--name",
        "x",
        "--url",
        "https://images.example.test/flatcar.img.xz",
        "--region",
        "fra1",
    ];
    let run = run(&fake, &args).await;

    assert!(
        run.error().contains("recompress with gzip or bzip2"),
        "{}",
        run.error()
    );
    assert!(fake.requests().is_empty());
}

/// Unknown distributions are refused before any call and the accepted ones listed.
#[tokio::test]
async fn unknown_distributions_are_refused_before_any_call() {
    let Some(fake) = fake(FakeOptions::default()) else {
        return;
    };
    let args = [
        "do",
        "image",
        "create",
        "--name",
        "x",
        "--url",
        "https://images.example.test/disk.raw",
        "--region",
        "fra1",
        "--distribution",
        "Flatcar",
    ];
    let run = run(&fake, &args).await;

    assert!(run.error().contains("Rocky Linux"), "{}", run.error());
    assert!(fake.requests().is_empty());
}

/// `image flatcar` fills in Flatcar's DigitalOcean image URL, distribution and tags.
#[tokio::test]
async fn image_flatcar_fills_in_the_release_url() {
    let Some(fake) = fake(FakeOptions::default()) else {
        return;
    };
    let args = [
        "do",
        "image",
        "flatcar",
        "--channel",
        "beta",
        "--version",
        "4081.1.0",
        "--region",
        "ams3",
        "--output",
        "json",
    ];
    let run = run(&fake, &args).await;

    assert_eq!(json(run.ok())[0]["status"], "NEW");
    let body = fake
        .requests()
        .into_iter()
        .find(|r| r.method == "POST")
        .unwrap()
        .body
        .unwrap();
    assert_eq!(
        body["url"],
        concat!(
            "https://beta.release.flatcar-linux.net/amd64-usr/4081.1.0/",
            "flatcar_production_digitalocean_image.bin.bz2"
        )
    );
    assert_eq!(body["name"], "flatcar-beta-4081.1.0");
    assert_eq!(body["tags"], json!(["flatcar", "nnedge"]));
    fake.assert_conformant();
}

/// `image list --tag`, `image get` and `image delete`.
#[tokio::test]
async fn image_list_get_and_delete() {
    let Some(fake) = fake(FakeOptions::default()) else {
        return;
    };
    let flatcar = fake.add_image("flatcar-stable", "fra1", &["flatcar"]);
    fake.add_image("other", "fra1", &[]);

    let listed = run(&fake, &["do", "image", "list", "--tag", "flatcar"]).await;
    let table = listed.ok();
    assert!(table.starts_with("ID"), "{table}");
    assert!(
        table.contains("flatcar-stable") && !table.contains("other"),
        "{table}"
    );

    let got = run(
        &fake,
        &[
            "do",
            "image",
            "get",
            &flatcar.to_string(),
            "--output",
            "json",
        ],
    )
    .await;
    assert_eq!(json(got.ok())[0]["name"], "flatcar-stable");

    run(&fake, &["do", "image", "delete", &flatcar.to_string()])
        .await
        .ok();
    assert_eq!(fake.images().len(), 1);
    let missing = run(&fake, &["do", "image", "get", &flatcar.to_string()]).await;
    assert!(
        missing.error().contains("404 not_found"),
        "{}",
        missing.error()
    );
    assert!(
        missing.error().contains("request id"),
        "{}",
        missing.error()
    );
    fake.assert_conformant();
}
