//! Rate limits, server errors and timeouts.

use std::time::{Duration, Instant};

use nnedge_digitalocean::fake::{FakeOptions, Fault, FaultKind};

use crate::support::{create_args, fake, interrupt, json, run, run_with};

fn fault(method: &str, path: &str, kind: FaultKind, times: u32) -> Fault {
    Fault {
        method: Some(method.into()),
        path: path.into(),
        kind,
        times,
    }
}

/// A 429 is retried after `retry-after` (20 ms per second in tests), then succeeds.
#[tokio::test]
async fn too_many_requests_is_retried_after_retry_after() {
    let Some(fake) = fake(FakeOptions::default()) else {
        return;
    };
    fake.inject(fault(
        "GET",
        "/v2/sizes",
        FaultKind::TooManyRequests { retry_after: 3 },
        2,
    ));

    let started = Instant::now();
    let sizes = json(
        run(&fake, &["do", "sizes", "list", "--output", "json"])
            .await
            .ok(),
    );
    assert_eq!(sizes.as_array().unwrap().len(), 8);
    assert!(
        started.elapsed() >= Duration::from_millis(2 * 3 * 20),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(fake.count("GET", "/v2/sizes"), 3);
    fake.assert_conformant();
}

/// A 429 on a POST is retried too: the API did not process it.
#[tokio::test]
async fn too_many_requests_on_create_is_retried() {
    let Some(fake) = fake(FakeOptions::default()) else {
        return;
    };
    fake.inject(fault(
        "POST",
        "/v2/droplets",
        FaultKind::TooManyRequests { retry_after: 1 },
        1,
    ));
    let args = create_args(&["web-1"]);
    run(&fake, &args).await.ok();

    assert_eq!(fake.count("POST", "/v2/droplets"), 2);
    assert_eq!(fake.droplets().len(), 1);
    fake.assert_conformant();
}

/// When 429s outlast the retries, the error says so and what to do.
#[tokio::test]
async fn persistent_rate_limiting_gives_up_with_advice() {
    let Some(fake) = fake(FakeOptions::default()) else {
        return;
    };
    fake.inject(fault(
        "GET",
        "/v2/sizes",
        FaultKind::TooManyRequests { retry_after: 1 },
        100,
    ));
    let run = run(&fake, &["do", "sizes", "list"]).await;

    assert!(
        run.error().contains("still rate limited after 4 attempts"),
        "{}",
        run.error()
    );
    assert_eq!(fake.count("GET", "/v2/sizes"), 4);
}

/// 5xx on a GET is retried a bounded number of times, then reported with the API's ids.
#[tokio::test]
async fn server_errors_are_retried_a_bounded_number_of_times() {
    let Some(fake) = fake(FakeOptions::default()) else {
        return;
    };
    fake.inject(fault(
        "GET",
        "/v2/account/keys",
        FaultKind::ServerError { status: 503 },
        2,
    ));
    run(&fake, &["do", "keys", "list"]).await.ok();
    assert_eq!(fake.count("GET", "/v2/account/keys"), 3);

    fake.inject(fault(
        "GET",
        "/v2/sizes",
        FaultKind::ServerError { status: 500 },
        100,
    ));
    let run = run(&fake, &["do", "sizes", "list"]).await;
    let error = run.error();
    assert!(
        error.contains("500 server_error: Unexpected server-side error"),
        "{error}"
    );
    assert!(error.contains("(request id 4d9d8375-"), "{error}");
    assert_eq!(fake.count("GET", "/v2/sizes"), 4);
    fake.assert_conformant();
}

/// A 5xx on a create is not retried: it may have created something.
#[tokio::test]
async fn server_errors_on_create_are_not_retried() {
    let Some(fake) = fake(FakeOptions::default()) else {
        return;
    };
    fake.inject(fault(
        "POST",
        "/v2/droplets",
        FaultKind::ServerError { status: 500 },
        1,
    ));
    let args = create_args(&["web-1"]);
    let run = run(&fake, &args).await;

    assert!(
        run.error()
            .contains("POST /v2/droplets: DigitalOcean API returned 500"),
        "{}",
        run.error()
    );
    assert_eq!(fake.count("POST", "/v2/droplets"), 1);
}

/// Every call has a timeout; a slow endpoint fails after the bounded retries.
#[tokio::test]
async fn slow_responses_time_out() {
    let Some(fake) = fake(FakeOptions::default()) else {
        return;
    };
    fake.inject(fault(
        "GET",
        "/v2/sizes",
        FaultKind::Delay(Duration::from_secs(5)),
        100,
    ));
    let (interrupt, _trigger) = interrupt();

    let started = Instant::now();
    let run = run_with(&fake, &["do", "sizes", "list"], interrupt, |mut env| {
        env.tuning.request_timeout = Duration::from_millis(150);
        env
    })
    .await;

    assert!(
        run.error()
            .contains("GET /v2/sizes?per_page=200: no response within 150ms"),
        "{}",
        run.error()
    );
    assert!(
        started.elapsed() < Duration::from_secs(4),
        "{:?}",
        started.elapsed()
    );
}

/// The account-keys endpoint allows 10 calls a minute; the fake enforces it like the API,
/// and a run resolves keys with a single call.
#[tokio::test]
async fn account_keys_limit_is_enforced_and_respected() {
    let options = FakeOptions {
        keys_calls_per_minute: 1,
        ..FakeOptions::default()
    };
    let Some(fake) = fake(options) else { return };
    let args = [
        "do",
        "droplet",
        "create",
        "a-1",
        "a-2",
        "--region",
        "fra1",
        "--size",
        "s-1vcpu-1gb",
        "--image",
        "ubuntu-24-04-x64",
        "--ssh-key",
        "laptop",
        "--ssh-key",
        "ci",
    ];
    run(&fake, &args).await.ok();
    assert_eq!(fake.count("GET", "/v2/account/keys"), 1);

    let (interrupt, _trigger) = interrupt();
    let second = run_with(&fake, &["do", "keys", "list"], interrupt, |mut env| {
        env.tuning.retry.max_retries = 1;
        env
    })
    .await;
    assert!(
        second.error().contains("10 calls a minute"),
        "{}",
        second.error()
    );
    fake.assert_conformant();
}
