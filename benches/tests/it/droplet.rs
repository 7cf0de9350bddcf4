//! `bench droplet` end to end against the fake DigitalOcean API on 127.0.0.1, whose droplets
//! report 127.0.0.1 as their public IPv4, with a real `nnedge serve` (or a stub node) on
//! 127.0.0.1 standing in for each droplet's server. The real API is never contacted: every
//! environment here is built from the fake's URL and refuses any other.

use std::path::Path;
use std::time::{Duration, Instant};

use nnedge_benches::droplet::run_with;
use nnedge_benches::environment;
use nnedge_digitalocean::client::DEFAULT_API_URL;
use nnedge_digitalocean::fake::{FakeDigitalOcean, FakeOptions, RecordedRequest, FAKE_TOKEN};
use nnedge_digitalocean::wait::Interrupt;

use crate::stand_in::{
    bench_command, droplet_args, env_for, fake, free_port, run_guarded, Chat, LocalServe, StubNode,
    SMALL_MODEL,
};

/// Node flags of `deploy node`: the config is rendered, never fetched (the fake boots
/// nothing), so these URLs are never contacted.
const NODE_FLAGS: [&str; 6] = [
    "--model-url",
    "https://models.example.test/stories260K.gguf",
    "--sysext-url",
    "nnedge=https://sysext.example.test/nnedge-0.1.0-x86-64.raw",
    "--sysext-sha256",
    "nnedge=0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
];

/// `bench droplet` flags: fra1, the given sizes, a node serving `model` on `port`.
fn node_flags<'a>(sizes: &'a str, port: &'a str, model: &'a str) -> Vec<&'a str> {
    let mut args = vec!["--sizes", sizes, "--region", "fra1", "--ssh-key", "laptop"];
    args.extend(NODE_FLAGS);
    args.extend(["--port", port, "--model-file", model]);
    args
}

/// [`node_flags`] for the small model, a small load, plus `extra`.
fn flags<'a>(sizes: &'a str, port: &'a str, extra: &[&'a str]) -> Vec<&'a str> {
    let mut args = node_flags(sizes, port, "stories260K.gguf");
    args.extend(["--concurrency", "1,2", "--requests-per-stream", "1"]);
    args.extend(["--max-tokens", "8", "--timeout", "30"]);
    args.extend(extra);
    args
}

/// Runs `bench droplet ARGS` against `fake`; returns stdout and the outcome, as `main`
/// would print it.
async fn bench(
    fake: &FakeDigitalOcean,
    args: &[&str],
    interrupt: Interrupt,
) -> (String, Result<(), String>) {
    let (env, stdout) = env_for(&fake.url(), fake.token(), interrupt);
    let result = run_with(&droplet_args(args), env).await;
    let stdout = stdout.contents();
    let result = result.map_err(|e| format!("{e:#}"));
    let debug = format!("{result:?}");
    for text in [&stdout, &debug] {
        assert!(!text.contains(FAKE_TOKEN), "the token was printed:\n{text}");
    }
    (stdout, result)
}

fn posts(fake: &FakeDigitalOcean) -> Vec<RecordedRequest> {
    let all = fake.requests().into_iter();
    all.filter(|r| r.method == "POST" && r.path == "/v2/droplets")
        .collect()
}

fn deletes(fake: &FakeDigitalOcean) -> usize {
    let all = fake.requests().into_iter();
    all.filter(|r| r.method == "DELETE" && r.path.starts_with("/v2/droplets"))
        .count()
}

#[tokio::test]
async fn each_size_is_deployed_loaded_priced_and_deleted() {
    let Some(fake) = fake(FakeOptions::default()) else {
        return;
    };
    let Some(server) = LocalServe::start(Path::new(SMALL_MODEL)) else {
        return;
    };
    let out = tempfile::tempdir().expect("a temporary directory");
    let port = server.port.to_string();
    let dir = out.path().to_str().expect("a UTF-8 path");
    let args = flags("s-1vcpu-1gb,c-2", &port, &["--out", dir]);
    let (stdout, result) = bench(&fake, &args, Interrupt::manual().0).await;
    result.unwrap_or_else(|e| panic!("bench droplet failed: {e}\n{stdout}"));

    // One droplet per size, in turn, created as `deploy node` would, then deleted.
    let created = posts(&fake);
    let sizes: Vec<&str> = created
        .iter()
        .filter_map(|r| r.body.as_ref()?["size"].as_str())
        .collect();
    assert_eq!(sizes, ["s-1vcpu-1gb", "c-2"]);
    let body = created[1].body.as_ref().expect("a JSON body");
    assert_eq!(body["names"][0], "nnedge-bench-c-2");
    assert_eq!(body["region"], "fra1");
    assert!(body["user_data"]
        .as_str()
        .is_some_and(|u| u.contains("ignition")));
    assert_eq!(deletes(&fake), 2, "each droplet deleted by id");
    assert!(fake.droplets().is_empty(), "left: {:?}", fake.droplets());
    fake.assert_conformant();

    // The report, on stdout and in every format.
    assert!(stdout.contains("Local stand-in"), "{stdout}");
    assert!(
        stdout.contains("| c-2 | 2 | 4.0 GiB | 0.06250 | 2 |"),
        "{stdout}"
    );
    let read = |name: &str| std::fs::read_to_string(out.path().join(name)).expect(name);
    let json: serde_json::Value = serde_json::from_str(&read("droplet.json")).expect("JSON");
    assert_eq!(json["local_stand_in"], true);
    assert_eq!(json["quantisation"], "unknown");
    let sizes = json["sizes"].as_array().expect("sizes");
    assert_eq!(sizes.len(), 2);
    for size in sizes {
        assert_eq!(size["droplet"]["region"], "fra1");
        assert!(size["droplet"]["image"]
            .as_str()
            .is_some_and(|i| i.starts_with("flatcar-stable-4081.2.0 (id ")));
        for cost in size["costs"].as_array().expect("costs") {
            assert_eq!(cost["errors"], 0, "{cost}");
            let tps = cost["aggregate_tps"].as_f64().expect("a rate");
            let price = size["droplet"]["price_hourly"].as_f64().expect("a price");
            let expected = price / (tps * 3600.0) * 1e6;
            let priced = cost["cost_per_million_tokens"].as_f64().expect("priced");
            assert!(
                (priced - expected).abs() <= expected * 1e-12,
                "{priced} != {expected}"
            );
        }
    }
    assert!(json["cheapest"]["cost_per_million_tokens"].as_f64() > Some(0.0));

    let csv = read("droplet.csv");
    let rows: Vec<&str> = csv.lines().collect();
    assert_eq!(
        rows.len(),
        1 + 2 * 2,
        "header and a row per size and level:\n{csv}"
    );
    assert!(
        rows[0].starts_with("size,vcpus,memory_mib,price_hourly"),
        "{csv}"
    );
    assert!(
        rows[1].starts_with("s-1vcpu-1gb,1,1024,0.00893,fra1,"),
        "{csv}"
    );
    let svg = read("droplet.svg");
    assert!(svg.starts_with("<svg") && svg.contains("s-1vcpu-1gb") && svg.contains("c-2"));
    assert_eq!(read("droplet.md"), stdout);
}

/// A node that never answers `/health` must not be left running.
#[tokio::test]
async fn a_health_timeout_deletes_the_droplet() {
    let Some(fake) = fake(FakeOptions::default()) else {
        return;
    };
    let port = free_port().to_string();
    let args = flags("s-1vcpu-1gb,c-2", &port, &["--health-timeout", "1"]);
    let (stdout, result) = bench(&fake, &args, Interrupt::manual().0).await;

    let error = result.expect_err("no server answers");
    assert!(error.contains("did not answer 200 within 1s"), "{error}");
    assert!(error.contains("cleaned up"), "{error}");
    assert!(
        stdout.is_empty(),
        "nothing measured, nothing reported:\n{stdout}"
    );
    assert_eq!(
        posts(&fake).len(),
        1,
        "the run stops at the first failing size"
    );
    assert!(fake.droplets().is_empty(), "left: {:?}", fake.droplets());
    fake.assert_conformant();
}

/// A load where every request fails ends the run, and the droplet is deleted by id.
#[tokio::test]
async fn a_failed_load_deletes_the_droplet() {
    let Some(fake) = fake(FakeOptions::default()) else {
        return;
    };
    let node = StubNode::start(Chat::Refuse);
    let port = node.port.to_string();
    let (_, result) = bench(
        &fake,
        &flags("s-2vcpu-4gb", &port, &[]),
        Interrupt::manual().0,
    )
    .await;

    let error = result.expect_err("every request fails");
    assert!(
        error.contains("every request to http://127.0.0.1:"),
        "{error}"
    );
    assert!(error.contains("its droplet was deleted"), "{error}");
    assert!(node.chats() > 0);
    assert_eq!(deletes(&fake), 1);
    assert!(fake.droplets().is_empty(), "left: {:?}", fake.droplets());
    fake.assert_conformant();
}

/// Ctrl-C while the load runs: the wait ends and the droplet is deleted.
#[tokio::test]
async fn ctrl_c_during_the_load_deletes_the_droplet() {
    let Some(fake) = fake(FakeOptions::default()) else {
        return;
    };
    let node = StubNode::start(Chat::Stall);
    let port = node.port.to_string();
    let (interrupt, trigger) = Interrupt::manual();
    let args = flags("s-1vcpu-1gb,c-2", &port, &[]);
    let (_, result) = tokio::join!(bench(&fake, &args, interrupt), async {
        let deadline = Instant::now() + Duration::from_secs(20);
        while node.chats() == 0 && Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        trigger.fire();
    })
    .0;

    let error = result.expect_err("interrupted");
    assert!(
        error.contains("interrupted (Ctrl-C) while loading"),
        "{error}"
    );
    assert_eq!(posts(&fake).len(), 1, "no further size after Ctrl-C");
    assert!(fake.droplets().is_empty(), "left: {:?}", fake.droplets());
    fake.assert_conformant();
}

/// Ctrl-C while waiting for `/health`: `deploy node` would keep the droplet and say how to
/// delete it; the bench has it deleted.
#[tokio::test]
async fn ctrl_c_during_the_health_wait_deletes_the_droplet() {
    let Some(fake) = fake(FakeOptions::default()) else {
        return;
    };
    let port = free_port().to_string();
    let (interrupt, trigger) = Interrupt::manual();
    let args = flags("c-2", &port, &["--health-timeout", "30"]);
    let (_, result) = tokio::join!(bench(&fake, &args, interrupt), async {
        let deadline = Instant::now() + Duration::from_secs(20);
        while fake.droplets().is_empty() && Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
        trigger.fire();
    })
    .0;

    let error = result.expect_err("interrupted");
    assert!(error.contains("deploy interrupted; cleaned up"), "{error}");
    assert!(fake.droplets().is_empty(), "left: {:?}", fake.droplets());
    fake.assert_conformant();
}

#[tokio::test]
async fn an_unknown_size_is_refused_before_anything_is_created() {
    let Some(fake) = fake(FakeOptions::default()) else {
        return;
    };
    let args = flags("s-1vcpu-1gb,s-64vcpu-huge", "8080", &[]);
    let (_, result) = bench(&fake, &args, Interrupt::manual().0).await;

    let error = result.expect_err("unknown size");
    assert!(
        error.contains("unknown droplet size `s-64vcpu-huge`"),
        "{error}"
    );
    assert!(
        error.contains("nothing was created") && error.contains("c-2"),
        "{error}"
    );
    assert!(posts(&fake).is_empty());
    let changes = fake
        .requests()
        .into_iter()
        .filter(|r| r.method != "GET")
        .count();
    assert_eq!(changes, 0, "only read-only requests were sent");
}

#[tokio::test]
async fn dry_run_prints_the_plan_and_creates_nothing() {
    let Some(fake) = fake(FakeOptions::default()) else {
        return;
    };
    let args = flags("s-1vcpu-1gb,c-2", "8080", &["--dry-run"]);
    let (stdout, result) = bench(&fake, &args, Interrupt::manual().0).await;

    result.unwrap_or_else(|e| panic!("dry run failed: {e}"));
    assert!(stdout.contains("dry run: nothing is created"), "{stdout}");
    assert!(
        stdout.contains("| c-2 | 2 | 4.0 GiB | 0.06250 | nnedge-bench-c-2 |"),
        "{stdout}"
    );
    assert_eq!(
        stdout.matches("# dry run: not sent\nPOST ").count(),
        2,
        "{stdout}"
    );
    assert!(stdout.contains("\"size\": \"c-2\""), "{stdout}");
    assert!(posts(&fake).is_empty() && fake.droplets().is_empty());
    fake.assert_conformant();
}

/// The `nnedge-bench` binary reads the API URL and the token as `nnedge do` does, runs the
/// whole flow and exits 0; an unknown size exits 1 with the reason.
#[test]
fn the_binary_takes_the_api_url_and_token_from_the_environment() {
    let options = FakeOptions {
        droplet_polls_until_active: 1,
        ..FakeOptions::default()
    };
    let Some(fake) = fake(options) else {
        return;
    };
    let node = StubNode::start(Chat::Stream);
    let dir = tempfile::tempdir().expect("a temporary directory");
    let ignition = dir.path().join("node.ign");
    std::fs::write(&ignition, r#"{"ignition":{"version":"3.4.0"}}"#).expect("written");
    let port = node.port.to_string();
    let run = |sizes: &str| {
        let mut command = bench_command(&fake.url());
        command
            .env("DIGITALOCEAN_ACCESS_TOKEN", fake.token())
            .args([
                "droplet",
                "--sizes",
                sizes,
                "--region",
                "fra1",
                "--health-port",
                &port,
            ]);
        command.arg("--ignition").arg(&ignition);
        command.args(["-c", "1", "--requests-per-stream", "2", "--max-tokens", "4"]);
        let output = run_guarded(&mut command);
        let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
        let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
        assert!(!stdout.contains(FAKE_TOKEN) && !stderr.contains(FAKE_TOKEN));
        (output.status.code(), stdout, stderr)
    };

    let (code, stdout, stderr) = run("s-2vcpu-4gb");
    assert_eq!(code, Some(0), "{stderr}");
    assert!(
        stdout.contains("node: Ignition file `node.ign`, port"),
        "{stdout}"
    );
    assert!(
        stdout.contains("| s-2vcpu-4gb | 2 | 4.0 GiB | 0.03571 | 1 |"),
        "{stdout}"
    );
    assert_eq!(node.chats(), 2);
    assert!(fake.droplets().is_empty(), "left: {:?}", fake.droplets());

    let (code, stdout, stderr) = run("c-3");
    assert_eq!(code, Some(1), "{stderr}");
    assert!(stdout.is_empty(), "{stdout}");
    assert!(stderr.contains("unknown droplet size `c-3`"), "{stderr}");
    assert_eq!(
        posts(&fake).len(),
        1,
        "only the first run created a droplet"
    );
    fake.assert_conformant();
}

/// The helpers refuse to build an environment or run a command that could reach the real
/// API, so a test that forgets the fake fails instead of calling DigitalOcean.
#[test]
#[should_panic(expected = "tests aim only at the fake on 127.0.0.1")]
fn a_test_environment_refuses_the_real_api() {
    let _ = env_for(DEFAULT_API_URL, FAKE_TOKEN, Interrupt::manual().0);
}

#[test]
#[should_panic(expected = "is not set: the command would use the real API")]
fn a_command_without_an_api_url_override_is_not_run() {
    let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_nnedge-bench"));
    let _ = run_guarded(command.args(["droplet", "--help"]));
}

/// The stand-in table of BENCHMARKS.md: three sizes, each "droplet" a real `nnedge serve` of
/// the default model on this machine. Run it with `cargo test --release -p nnedge-benches
/// --test it stand_in_table -- --ignored --nocapture`; the report goes to stderr.
#[tokio::test]
#[ignore = "a benchmark run (about a minute), not a check; run it to refresh BENCHMARKS.md"]
async fn stand_in_table_for_benchmarks_md() {
    let Some(fake) = fake(FakeOptions::default()) else {
        return;
    };
    let Some(server) = LocalServe::start(&environment::default_model()) else {
        return;
    };
    let port = server.port.to_string();
    let sizes = "s-1vcpu-1gb,s-2vcpu-4gb,c-2";
    let mut args = node_flags(sizes, &port, environment::DEFAULT_MODEL_FILE);
    args.extend(["--concurrency", "1,2,4", "--requests-per-stream", "2"]);
    args.extend(["--max-tokens", "64", "--timeout", "120"]);
    let (stdout, result) = bench(&fake, &args, Interrupt::manual().0).await;
    result.unwrap_or_else(|e| panic!("bench droplet failed: {e}\n{stdout}"));
    assert!(fake.droplets().is_empty(), "left: {:?}", fake.droplets());
    eprintln!("{stdout}");
}
