//! `--dry-run`, tokens and where they may (not) appear.

use nnedge_digitalocean::fake::FakeOptions;

use crate::support::{create_args, fake, interrupt, run, run_with, temp_file, tricky_ignition};

/// `--dry-run` prints each request with the token redacted, sends only reads, and stops at
/// the first change.
#[tokio::test]
async fn dry_run_prints_requests_redacted_and_changes_nothing() {
    let Some(fake) = fake(FakeOptions::default()) else {
        return;
    };
    let file = temp_file(&tricky_ignition());
    let args = create_args(&[
        "web-1",
        "--ssh-key",
        "laptop",
        "--ignition",
        file.path().to_str().unwrap(),
        "--dry-run",
    ]);
    let run = run(&fake, &args).await;

    let stdout = run.ok().replace(&fake.url(), "http://FAKE");
    assert!(
        stdout.contains("Authorization: Bearer [redacted]"),
        "{stdout}"
    );
    run.assert_token_absent(fake.token());
    assert!(fake.requests().iter().all(|r| r.method == "GET"));
    assert!(fake.droplets().is_empty());
    let key = fake.ssh_key_ids()[0].to_string();
    insta::assert_snapshot!(stdout.replace(&key, "KEY_ID"));
}

/// `--dry-run` on a delete sends nothing at all.
#[tokio::test]
async fn dry_run_delete_sends_nothing() {
    let Some(fake) = fake(FakeOptions::default()) else {
        return;
    };
    let run = run(
        &fake,
        &["--dry-run", "do", "droplet", "delete", "--tag", "web"],
    )
    .await;

    assert!(
        run.ok().contains("# dry run: not sent\nDELETE "),
        "{}",
        run.stdout
    );
    assert!(fake.requests().is_empty());
}

/// `--token-file` is read (trimmed) and never printed; a missing token says where to put one.
#[tokio::test]
async fn token_file_is_used_and_missing_tokens_are_explained() {
    let Some(fake) = fake(FakeOptions::default()) else {
        return;
    };
    let file = temp_file(&format!("{}\n", fake.token()));
    let path = file.path().to_str().unwrap();
    let (no_env_token, _trigger) = interrupt();
    let run = run_with(
        &fake,
        &["--token-file", path, "do", "keys", "list"],
        no_env_token,
        |mut env| {
            env.token = None;
            env
        },
    )
    .await;
    run.ok();
    run.assert_token_absent(fake.token());

    let (no_token, _trigger) = interrupt();
    let missing = run_with(&fake, &["do", "keys", "list"], no_token, |mut env| {
        env.token = None;
        env
    })
    .await;
    assert!(
        missing
            .error()
            .contains("set DIGITALOCEAN_ACCESS_TOKEN or pass --token-file"),
        "{}",
        missing.error()
    );
}

/// The token never shows up in debug output of the client or its configuration.
#[tokio::test]
async fn debug_output_redacts_the_token() {
    let Some(fake) = fake(FakeOptions::default()) else {
        return;
    };
    let (interrupt, _trigger) = interrupt();
    let (env, _buffer) = crate::support::env_for(&fake, interrupt);
    let debug = format!("{env:?}");
    assert!(!debug.contains(fake.token()), "{debug}");
    assert!(debug.contains("[redacted]"), "{debug}");

    let global = nnedge_digitalocean::cli::GlobalArgs::default();
    let session = nnedge_digitalocean::session::Session::open(&global, env).unwrap();
    assert!(!format!("{session:?}").contains(fake.token()));
}

/// `--dry-run deploy node` checks everything read-only, prints the create request with the
/// rendered user data, and creates nothing.
#[tokio::test]
async fn dry_run_deploy_stops_before_creating_droplets() {
    let Some(fake) = fake(FakeOptions::default()) else {
        return;
    };
    fake.add_image("flatcar-stable", "fra1", &["flatcar"]);
    let file = temp_file(&tricky_ignition());
    let args = [
        "--dry-run",
        "deploy",
        "node",
        "--region",
        "fra1",
        "--size",
        "s-2vcpu-4gb",
        "--ignition",
        file.path().to_str().unwrap(),
    ];
    let run = run(&fake, &args).await;

    let stdout = run.ok();
    assert!(stdout.contains("# dry run: not sent\nPOST "), "{stdout}");
    assert!(
        stdout.contains("\"user_data\": \"{\\\"ignition\\\""),
        "{stdout}"
    );
    run.assert_token_absent(fake.token());
    assert!(fake.requests().iter().all(|r| r.method == "GET"));
    assert!(fake.droplets().is_empty());
    fake.assert_conformant();
}
