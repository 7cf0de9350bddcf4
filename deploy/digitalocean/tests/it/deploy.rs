//! `nnedge deploy node` and `nnedge deploy destroy`, end to end against the fake, with a
//! local `/health` server standing in for `nnedge serve` on the droplets' 127.0.0.1.

use std::time::Duration;

use nnedge_digitalocean::fake::{FakeDigitalOcean, FakeOptions, Fault, FaultKind};
use serde_json::json;

use crate::support::{
    closed_port, fake, interrupt, json, run, run_with, temp_file, tricky_ignition, HealthServer,
};

/// A fake with a Flatcar image in fra1.
fn flatcar_fake(options: FakeOptions) -> Option<(FakeDigitalOcean, u64)> {
    let fake = fake(options)?;
    let image = fake.add_image("flatcar-stable-4081.2.0", "fra1", &["flatcar", "nnedge"]);
    Some((fake, image))
}

fn node_args<'a>(ignition: &'a str, port: &'a str, extra: &[&'a str]) -> Vec<&'a str> {
    let base = [
        "deploy",
        "node",
        "--region",
        "fra1",
        "--size",
        "s-4vcpu-8gb",
        "--ssh-key",
        "laptop",
        "--ignition",
        ignition,
        "--health-port",
        port,
    ];
    base.iter().copied().chain(extra.iter().copied()).collect()
}

/// Node flags of the ignition crate: model, sysext image and its hash.
const NODE_FLAGS: [&str; 6] = [
    "--model-url",
    "https://models.example.test/SmolLM2-135M-Instruct.Q4_1.gguf",
    "--sysext-url",
    "nnedge=https://sysext.example.test/nnedge-0.1.0-x86-64.raw",
    "--sysext-sha256",
    "nnedge=0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
];

/// Parses the ignition crate's node flags the way `deploy node` flattens them.
#[derive(Debug, clap::Parser)]
struct NodeFlags {
    #[command(flatten)]
    node: nnedge_ignition::node::NodeArgs,
}

/// Without --ignition, the node's config is rendered by the ignition crate from the node
/// flags, and the server's --port drives the probe and the endpoint.
#[tokio::test]
async fn deploy_node_renders_the_ignition_config_from_node_flags() {
    use clap::Parser;

    let Some((fake, _)) = flatcar_fake(FakeOptions::default()) else {
        return;
    };
    let health = HealthServer::start(200);
    let port = health.port().to_string();
    let mut args = vec![
        "deploy",
        "node",
        "--region",
        "fra1",
        "--size",
        "s-4vcpu-8gb",
    ];
    args.extend(NODE_FLAGS);
    args.extend(["--port", &port, "--output", "json"]);
    let run = run(&fake, &args).await;

    let deployment = json(run.ok());
    let endpoint = format!("http://127.0.0.1:{port}/");
    assert_eq!(deployment["nodes"][0]["endpoint"], endpoint);
    let argv = std::iter::once("x")
        .chain(NODE_FLAGS)
        .chain(["--port", &port]);
    let expected = nnedge_ignition::node::render_node_json(&NodeFlags::parse_from(argv).node);
    let id = deployment["nodes"][0]["id"].as_u64().unwrap();
    assert_eq!(fake.user_data(id), Some(expected.unwrap()));
    fake.assert_conformant();
}

/// Node flags and --ignition exclude each other; with neither, the error says what to pass.
#[test]
fn deploy_node_needs_node_flags_or_an_ignition_file() {
    use clap::Parser;

    let file = temp_file(&tricky_ignition());
    let path = file.path().to_str().unwrap();
    let mut both = vec![
        "nnedge",
        "deploy",
        "node",
        "--region",
        "fra1",
        "--size",
        "s-1vcpu-1gb",
    ];
    both.extend(["--ignition", path]);
    both.extend(NODE_FLAGS);
    let error = crate::support::TestCli::try_parse_from(&both)
        .unwrap_err()
        .to_string();
    assert!(error.contains("cannot be used with"), "{error}");

    let neither = [
        "nnedge",
        "deploy",
        "node",
        "--region",
        "fra1",
        "--size",
        "s-1vcpu-1gb",
    ];
    let error = crate::support::TestCli::try_parse_from(neither)
        .unwrap_err()
        .to_string();
    assert!(error.contains("--model-url"), "{error}");
}

/// One node: droplet created with the Ignition as user data, waited for, `/health` checked,
/// endpoint printed.
#[tokio::test]
async fn deploy_node_creates_waits_and_checks_health() {
    let Some((fake, image)) = flatcar_fake(FakeOptions::default()) else {
        return;
    };
    let health = HealthServer::start(200);
    let ignition = tricky_ignition();
    let file = temp_file(&ignition);
    let port = health.port().to_string();
    let run = run(
        &fake,
        &node_args(file.path().to_str().unwrap(), &port, &["--output", "json"]),
    )
    .await;

    let deployment = json(run.ok());
    assert_eq!(deployment["tag"], "nnedge-node");
    assert_eq!(deployment["nodes"][0]["ipv4"], "127.0.0.1");
    assert_eq!(
        deployment["nodes"][0]["endpoint"],
        format!("http://127.0.0.1:{port}/")
    );
    assert_eq!(deployment["load_balancer"], json!(null));

    let post = fake
        .requests()
        .into_iter()
        .find(|r| r.method == "POST")
        .unwrap()
        .body
        .unwrap();
    assert_eq!(post["image"], json!(image));
    assert_eq!(post["names"], json!(["nnedge-node"]));
    assert_eq!(post["tags"], json!(["nnedge-node", "nnedge"]));
    let id = deployment["nodes"][0]["id"].as_u64().unwrap();
    assert_eq!(fake.user_data(id).as_deref(), Some(ignition.as_str()));
    run.assert_token_absent(fake.token());
    fake.assert_conformant();
}

/// Three nodes get a DigitalOcean load balancer: 80 → the server port, `/health` checked.
#[tokio::test]
async fn deploy_three_nodes_behind_a_load_balancer() {
    let Some((fake, _)) = flatcar_fake(FakeOptions::default()) else {
        return;
    };
    let health = HealthServer::start(200);
    let file = temp_file(&tricky_ignition());
    let port = health.port().to_string();
    let extra = ["--name", "llm", "--count", "3", "--output", "json"];
    let run = run(
        &fake,
        &node_args(file.path().to_str().unwrap(), &port, &extra),
    )
    .await;

    let deployment = json(run.ok());
    let names: Vec<&str> = deployment["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["llm-1", "llm-2", "llm-3"]);
    assert_eq!(deployment["load_balancer"]["endpoint"], "http://127.0.0.1/");

    let lb = fake
        .requests()
        .into_iter()
        .find(|r| r.path == "/v2/load_balancers" && r.method == "POST");
    let mut body = lb.unwrap().body.unwrap();
    body["health_check"]["port"] = json!("PORT");
    body["forwarding_rules"][0]["target_port"] = json!("PORT");
    insta::assert_json_snapshot!(body);
    fake.assert_conformant();
}

/// Regression: a failed deploy used to leave droplets running. Now a node that never gets
/// healthy is deleted, and the error says so.
#[tokio::test]
async fn failed_health_check_deletes_what_was_created() {
    let Some((fake, _)) = flatcar_fake(FakeOptions::default()) else {
        return;
    };
    let file = temp_file(&tricky_ignition());
    let port = closed_port().to_string();
    let run = run(&fake, &node_args(file.path().to_str().unwrap(), &port, &[])).await;

    let error = run.error();
    assert!(
        error.contains("deploy failed; cleaned up: deleted droplet"),
        "{error}"
    );
    assert!(
        error.contains(&format!(
            "http://127.0.0.1:{port}/health did not answer 200"
        )),
        "{error}"
    );
    assert!(fake.droplets().is_empty());
    assert_eq!(fake.count("DELETE", "/v2/droplets"), 1);
    fake.assert_conformant();
}

/// With --keep-on-failure nothing is deleted; the error lists what exists and how to delete it.
#[tokio::test]
async fn keep_on_failure_leaves_droplets_and_says_how_to_delete_them() {
    let Some((fake, _)) = flatcar_fake(FakeOptions::default()) else {
        return;
    };
    let file = temp_file(&tricky_ignition());
    let port = closed_port().to_string();
    let run = run(
        &fake,
        &node_args(file.path().to_str().unwrap(), &port, &["--keep-on-failure"]),
    )
    .await;

    let error = run.error();
    let (id, name, _) = fake.droplets().pop().expect("droplet kept");
    assert!(
        error.contains(&format!("left in place: droplet {id} `{name}` (127.0.0.1)")),
        "{error}"
    );
    assert!(
        error.contains("delete with `nnedge deploy destroy --tag nnedge-node`"),
        "{error}"
    );
    assert_eq!(fake.count("DELETE", "/v2/droplets"), 0);
}

/// A load balancer that cannot be created takes the droplets down with it.
#[tokio::test]
async fn load_balancer_failure_deletes_the_droplets() {
    let Some((fake, _)) = flatcar_fake(FakeOptions::default()) else {
        return;
    };
    fake.inject(Fault {
        method: Some("POST".into()),
        path: "/v2/load_balancers".into(),
        kind: FaultKind::ServerError { status: 500 },
        times: 1,
    });
    let health = HealthServer::start(200);
    let file = temp_file(&tricky_ignition());
    let port = health.port().to_string();
    let run = run(
        &fake,
        &node_args(file.path().to_str().unwrap(), &port, &["--count", "2"]),
    )
    .await;

    assert!(
        run.error().contains("cleaned up: deleted droplet"),
        "{}",
        run.error()
    );
    assert!(fake.droplets().is_empty());
    assert!(fake.load_balancers().is_empty());
}

/// Ctrl-C while waiting says what exists and deletes nothing.
#[tokio::test]
async fn interrupt_while_waiting_says_what_exists() {
    let options = FakeOptions {
        droplet_polls_until_active: u32::MAX,
        ..FakeOptions::default()
    };
    let Some((fake, _)) = flatcar_fake(options) else {
        return;
    };
    let file = temp_file(&tricky_ignition());
    let (interrupt, trigger) = interrupt();
    tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(200)).await;
        trigger.fire();
    });
    let args = node_args(file.path().to_str().unwrap(), "8080", &[]);
    let run = run_with(&fake, &args, interrupt, |env| env).await;

    let error = run.error();
    assert!(
        error.contains("deploy interrupted; left in place: droplet"),
        "{error}"
    );
    assert!(
        error.contains("nnedge deploy destroy --tag nnedge-node"),
        "{error}"
    );
    assert_eq!(fake.droplets().len(), 1);
}

/// A tag that already has droplets is refused: clean-up by tag would delete them.
#[tokio::test]
async fn a_tag_in_use_is_refused_before_creating() {
    let Some((fake, _)) = flatcar_fake(FakeOptions::default()) else {
        return;
    };
    let create = [
        "do",
        "droplet",
        "create",
        "old",
        "--region",
        "fra1",
        "--size",
        "s-1vcpu-1gb",
        "--image",
        "ubuntu-24-04-x64",
        "--tag",
        "shared",
    ];
    run(&fake, &create).await.ok();
    let file = temp_file(&tricky_ignition());
    let run = run(
        &fake,
        &node_args(file.path().to_str().unwrap(), "8080", &["--tag", "shared"]),
    )
    .await;

    assert!(
        run.error().contains("tag `shared` is already on droplets"),
        "{}",
        run.error()
    );
    assert_eq!(fake.count("POST", "/v2/droplets"), 1);
}

/// Without --image, a Flatcar image must exist in the region; the error says how to import.
#[tokio::test]
async fn missing_flatcar_image_says_how_to_import_one() {
    let Some(fake) = fake(FakeOptions::default()) else {
        return;
    };
    let file = temp_file(&tricky_ignition());
    let run = run(
        &fake,
        &node_args(file.path().to_str().unwrap(), "8080", &[]),
    )
    .await;

    assert!(
        run.error()
            .contains("nnedge do image flatcar --region fra1 --wait"),
        "{}",
        run.error()
    );
    assert_eq!(fake.count("POST", "/v2/droplets"), 0);
}

/// Names and oversized Ignition configs are refused before any call.
#[tokio::test]
async fn deploy_checks_names_and_user_data_before_any_call() {
    let Some((fake, _)) = flatcar_fake(FakeOptions::default()) else {
        return;
    };
    let file = temp_file(&tricky_ignition());
    let path = file.path().to_str().unwrap();
    let bad_name = run(&fake, &node_args(path, "8080", &["--name", "llm_node"])).await;
    assert!(
        bad_name.error().contains("`_` not allowed"),
        "{}",
        bad_name.error()
    );

    let padding = " ".repeat(70 * 1024);
    let big = temp_file(&format!(
        "{{\"ignition\":{{\"version\":\"3.4.0\"}}{padding}}}"
    ));
    let too_big = run(&fake, &node_args(big.path().to_str().unwrap(), "8080", &[])).await;
    assert!(
        too_big
            .error()
            .contains("over DigitalOcean's limit of 65536 bytes"),
        "{}",
        too_big.error()
    );
    assert!(fake.requests().is_empty());
}

/// `deploy destroy --tag` removes the load balancer and the droplets.
#[tokio::test]
async fn destroy_removes_droplets_and_the_load_balancer() {
    let Some((fake, _)) = flatcar_fake(FakeOptions::default()) else {
        return;
    };
    let health = HealthServer::start(200);
    let file = temp_file(&tricky_ignition());
    let port = health.port().to_string();
    let args = node_args(
        file.path().to_str().unwrap(),
        &port,
        &["--name", "llm", "--count", "2"],
    );
    run(&fake, &args).await.ok();
    assert_eq!((fake.droplets().len(), fake.load_balancers().len()), (2, 1));

    let destroyed = json(
        run(
            &fake,
            &["deploy", "destroy", "--tag", "llm", "--output", "json"],
        )
        .await
        .ok(),
    );
    assert_eq!(destroyed["droplets"].as_array().unwrap().len(), 2);
    assert_eq!(destroyed["load_balancers"].as_array().unwrap().len(), 1);
    assert!(fake.droplets().is_empty() && fake.load_balancers().is_empty());
    fake.assert_conformant();
}
