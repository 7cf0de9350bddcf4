//! Round trips of the node generator: generate, parse the JSON back, check every file,
//! link, unit and hash; the Butane output renders to the same config.

use clap::Parser;
use nnedge_ignition::ignition::Config;
use nnedge_ignition::node::{DEFAULT_MODEL_SHA256, MODEL_DIR};
use nnedge_ignition::{
    render_butane, render_node_butane, render_node_json, NodeArgs, RenderOptions,
};

use crate::render::embedded_bytes;
use crate::schema::assert_valid;

const IMAGE_SHA: &str = "1111111111111111111111111111111111111111111111111111111111111111";
const OTHER_SHA: &str = "2222222222222222222222222222222222222222222222222222222222222222";
const API_KEY: &str = "test-key-0123456789";

#[derive(Debug, Parser)]
struct Flags {
    #[command(flatten)]
    node: NodeArgs,
}

pub fn parse(args: &[&str]) -> NodeArgs {
    let argv = std::iter::once("node").chain(args.iter().copied());
    match Flags::try_parse_from(argv) {
        Ok(flags) => flags.node,
        Err(error) => panic!("flags rejected: {error}"),
    }
}

pub fn nnedge_args(extra: &[&str]) -> NodeArgs {
    let sha = format!("nnedge={IMAGE_SHA}");
    let mut args = vec![
        "--model-url",
        "https://models.example.test/SmolLM2-135M-Instruct.Q4_1.gguf",
        "--sysext-url",
        "nnedge=https://images.example.test/v0.1.0/nnedge-0.1.0-x86-64.raw",
        "--sysext-sha256",
        &sha,
    ];
    args.extend_from_slice(extra);
    parse(&args)
}

fn upstream_args(extra: &[&str]) -> NodeArgs {
    let wasmedge = format!("wasmedge={IMAGE_SHA}");
    let llamaedge = format!("llamaedge={OTHER_SHA}");
    let mut args = vec![
        "--preset",
        "upstream",
        "--model-url",
        "https://models.example.test/model.gguf",
        "--sysext-url",
        "wasmedge=https://bakery.example.test/latest/wasmedge-0.14.1-x86-64.raw",
        "--sysext-url",
        "llamaedge=https://bakery.example.test/latest/llamaedge-0.28.1-x86-64.raw",
        "--sysext-sha256",
        &wasmedge,
        "--sysext-sha256",
        &llamaedge,
    ];
    args.extend_from_slice(extra);
    parse(&args)
}

fn generate(args: &NodeArgs) -> (String, Config) {
    let json = render_node_json(args).expect("node config renders");
    assert_valid(&json);
    let config: Config = serde_json::from_str(&json).expect("config parses back");
    (json, config)
}

#[test]
fn nnedge_node_round_trip() {
    let (json, config) = generate(&nnedge_args(&[
        "--api-key",
        API_KEY,
        "--ssh-authorized-key",
        "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIG5vZGUta2V5 ops@example",
        "--port",
        "9090",
    ]));
    assert_eq!(config.ignition.version, "3.3.0");
    let storage = config.storage.as_ref().expect("storage");

    // the image, verified, and linked under its release name
    let image = &storage.files[0];
    assert_eq!(image.path, "/opt/extensions/nnedge/nnedge-0.1.0-x86-64.raw");
    let contents = image.contents.as_ref().expect("contents");
    assert_eq!(
        contents.verification.hash.as_deref(),
        Some(format!("sha256-{IMAGE_SHA}").as_str())
    );
    assert_eq!(storage.links.len(), 1);
    assert_eq!(storage.links[0].path, "/etc/extensions/nnedge.raw");
    assert_eq!(
        storage.links[0].target.as_deref(),
        Some(image.path.as_str())
    );
    assert_eq!(storage.links[0].hard, Some(false));

    // the model, verified
    let model = &storage.files[1];
    assert_eq!(
        model.path,
        format!("{MODEL_DIR}/SmolLM2-135M-Instruct.Q4_1.gguf")
    );
    let model_contents = model.contents.as_ref().expect("contents");
    assert_eq!(
        model_contents.verification.hash.as_deref(),
        Some(format!("sha256-{DEFAULT_MODEL_SHA256}").as_str())
    );

    // the API key only in a 0600 environment file
    let env = storage
        .files
        .iter()
        .find(|f| f.path == "/etc/nnedge/nnedge.env")
        .expect("env file");
    assert_eq!(env.mode, Some(0o600));
    let env_contents = env.contents.as_ref().expect("contents");
    let text = embedded_bytes(
        env_contents.source.as_deref(),
        env_contents.compression.as_deref(),
    );
    assert_eq!(
        String::from_utf8_lossy(&text),
        format!("NNEDGE_API_KEY={API_KEY}\n")
    );
    let unit_text = config.systemd.as_ref().expect("systemd").units[0]
        .contents
        .clone()
        .unwrap_or_default();
    assert!(
        !unit_text.contains(API_KEY),
        "the key stays out of the unit"
    );

    // the supervised service
    let units = &config.systemd.as_ref().expect("systemd").units;
    assert_eq!(units.len(), 1);
    assert_eq!(units[0].name, "nnedge.service");
    assert_eq!(units[0].enabled, Some(true));
    for line in [
        "ExecStart=/usr/bin/nnedge serve --host 0.0.0.0 --port 9090 --model /var/lib/nnedge/models/SmolLM2-135M-Instruct.Q4_1.gguf --prompt-template chatml --ctx-size 2048",
        "After=network-online.target systemd-sysext.service",
        "Restart=on-failure",
        "EnvironmentFile=/etc/nnedge/nnedge.env",
        "WantedBy=multi-user.target",
    ] {
        assert!(unit_text.lines().any(|l| l == line), "missing `{line}` in\n{unit_text}");
    }

    let users = &config.passwd.as_ref().expect("passwd").users;
    assert_eq!(users[0].name, "core");
    assert_eq!(users[0].ssh_authorized_keys.len(), 1);
    insta::assert_snapshot!("node_nnedge", pretty(&json));
}

#[test]
fn upstream_node_round_trip() {
    let (json, config) = generate(&upstream_args(&[
        "--api-key",
        API_KEY,
        "--butane-version",
        "1.1.0",
    ]));
    assert_eq!(config.ignition.version, "3.4.0");
    let storage = config.storage.as_ref().expect("storage");
    let links: Vec<(&str, &str)> = storage
        .links
        .iter()
        .map(|l| (l.path.as_str(), l.target.as_deref().unwrap_or_default()))
        .collect();
    assert_eq!(
        links,
        [
            (
                "/etc/extensions/wasmedge.raw",
                "/opt/extensions/wasmedge/wasmedge-0.14.1-x86-64.raw"
            ),
            (
                "/etc/extensions/llamaedge.raw",
                "/opt/extensions/llamaedge/llamaedge-0.28.1-x86-64.raw"
            ),
        ]
    );
    let hashes: Vec<&str> = storage.files[..2]
        .iter()
        .filter_map(|f| f.contents.as_ref()?.verification.hash.as_deref())
        .collect();
    assert_eq!(
        hashes,
        [format!("sha256-{IMAGE_SHA}"), format!("sha256-{OTHER_SHA}")]
    );

    let unit = &config.systemd.as_ref().expect("systemd").units[0];
    assert_eq!(unit.name, "llamaedge.service");
    let text = unit.contents.as_deref().unwrap_or_default();
    assert!(text.contains(
        "ExecStart=/usr/bin/wasmedge --dir .:. --env API_KEY=${API_KEY} --nn-preload \
         default:GGML:AUTO:/var/lib/nnedge/models/SmolLM2-135M-Instruct.Q4_1.gguf \
         /usr/lib/wasmedge/wasm/llama-api-server.wasm --prompt-template chatml --ctx-size 2048 --port 8080"
    ), "{text}");
    assert!(!text.contains("nohup"));
    insta::assert_snapshot!("node_upstream", pretty(&json));
}

#[test]
fn sysupdate_adds_transfers_timer_and_dropin() {
    let (_, config) = generate(&nnedge_args(&["--sysupdate"]));
    let storage = config.storage.expect("storage");
    let transfer = storage
        .files
        .iter()
        .find(|f| f.path == "/etc/sysupdate.nnedge.d/nnedge.conf")
        .expect("transfer file");
    let contents = transfer.contents.as_ref().expect("contents");
    let text = String::from_utf8(embedded_bytes(
        contents.source.as_deref(),
        contents.compression.as_deref(),
    ))
    .expect("utf-8");
    assert!(
        text.contains("Path=https://images.example.test/v0.1.0/\n"),
        "{text}"
    );
    assert!(text.contains("MatchPattern=nnedge-@v-%a.raw\n"));
    assert!(text.contains("CurrentSymlink=/etc/extensions/nnedge.raw\n"));
    let units = config.systemd.expect("systemd").units;
    assert_eq!(units[1].name, "systemd-sysupdate.timer");
    assert_eq!(units[1].enabled, Some(true));
    assert_eq!(units[2].dropins[0].name, "nnedge-sysext.conf");
}

#[test]
fn butane_output_renders_to_the_same_config() {
    let args = upstream_args(&[
        "--sysupdate",
        "--ssh-authorized-key",
        "ssh-ed25519 AAAA x@y",
    ]);
    let yaml = render_node_butane(&args).expect("butane");
    let rendered = render_butane(
        &yaml,
        &RenderOptions {
            strict: true,
            files_dir: None,
        },
    )
    .expect("renders strictly");
    assert_eq!(
        rendered.to_json(false),
        render_node_json(&args).expect("json")
    );
    insta::assert_snapshot!("node_upstream_sysupdate_butane", yaml);
}

#[test]
fn missing_image_flags_are_named() {
    let sha = format!("wasmedge={IMAGE_SHA}");
    let args = parse(&[
        "--model-url",
        "https://m.test/a.gguf",
        "--preset",
        "upstream",
        "--sysext-url",
        "wasmedge=https://a.test/w.raw",
        "--sysext-sha256",
        &sha,
    ]);
    let message = render_node_json(&args)
        .err()
        .map(|e| e.to_string())
        .unwrap_or_default();
    assert_eq!(
        message,
        "invalid value for `--sysext-url`: missing `llamaedge=...`; the `upstream` preset needs it"
    );

    let args = nnedge_args(&["--sysext-url", "wasmedge=https://a.test/w.raw"]);
    let message = render_node_json(&args)
        .err()
        .map(|e| e.to_string())
        .unwrap_or_default();
    assert!(
        message.contains("no image `wasmedge` in the `nnedge` preset"),
        "{message}"
    );
}

#[test]
fn bad_flag_values_are_rejected() {
    for (extra, flag) in [
        (&["--model-sha256", "abc"][..], "--model-sha256"),
        (&["--model-file", "../etc/passwd"], "--model-file"),
        (&["--prompt-template", "chatml --evil"], "--prompt-template"),
        (&["--arch", "x86 64"], "--arch"),
    ] {
        let message = render_node_json(&nnedge_args(extra))
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(message.contains(flag), "{extra:?}: {message}");
    }
}

#[test]
fn api_key_never_appears_in_errors_or_debug() {
    let secret = "short key";
    let args = nnedge_args(&["--api-key", secret]);
    assert!(!format!("{args:?}").contains(secret));
    let message = render_node_json(&args)
        .err()
        .map(|e| e.to_string())
        .unwrap_or_default();
    assert!(
        message.contains("--api-key") && !message.contains(secret),
        "{message}"
    );

    let good = nnedge_args(&["--api-key", API_KEY]);
    assert!(!format!("{good:?}").contains(API_KEY));
}

fn pretty(json: &str) -> String {
    let config: Config = serde_json::from_str(json).expect("parses");
    serde_json::to_string_pretty(&config).expect("serializes")
}
