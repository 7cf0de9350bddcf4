//! The clap definitions of `nnedge ignition`: help snapshots and flag parsing.

use clap::{CommandFactory, Parser};
use nnedge_ignition::cli::IgnitionCommand;

#[derive(Debug, Parser)]
#[command(name = "nnedge-ignition")]
struct Cli {
    #[command(subcommand)]
    command: IgnitionCommand,
}

fn help(subcommand: &str) -> String {
    let mut command = Cli::command();
    command.build();
    let sub = command
        .find_subcommand_mut(subcommand)
        .expect("subcommand exists");
    sub.render_long_help().to_string()
}

#[test]
fn render_help() {
    insta::assert_snapshot!("render_help", help("render"));
}

#[test]
fn node_help() {
    insta::assert_snapshot!("node_help", help("node"));
}

#[test]
fn clap_definitions_are_consistent() {
    Cli::command().debug_assert();
}

#[test]
fn pointer_url_requires_full_config() {
    let argv = [
        "x",
        "node",
        "--model-url",
        "https://m.test/a",
        "--pointer-url",
        "https://c.test/n.ign",
    ];
    assert!(Cli::try_parse_from(argv).is_err());
}

#[test]
fn render_reads_stdin_by_default() {
    let cli = Cli::try_parse_from(["x", "render", "--strict"]).expect("parses");
    let IgnitionCommand::Render(args) = cli.command else {
        panic!("render expected")
    };
    assert_eq!(args.input, "-");
    assert!(args.strict);
}

/// `--port 0` and `--ctx-size 0` were accepted and written into a unit `nnedge serve` refuses.
#[test]
fn zero_port_and_ctx_size_are_rejected() {
    let base = ["x", "node", "--model-url", "https://m.test/a"];
    for (flag, value) in [("--port", "0"), ("--ctx-size", "0"), ("--port", "65536")] {
        let argv = base.iter().copied().chain([flag, value]);
        let error = Cli::try_parse_from(argv).err().map(|e| e.to_string());
        let message = error.unwrap_or_default();
        assert!(
            message.contains(&format!("invalid value '{value}' for '{flag} ")),
            "{flag} {value}: {message}"
        );
    }
}

#[test]
fn port_and_ctx_size_bounds_are_accepted() {
    let argv = [
        "x",
        "node",
        "--model-url",
        "https://m.test/a",
        "--port",
        "65535",
        "--ctx-size",
        "1",
    ];
    let cli = Cli::try_parse_from(argv).expect("parses");
    let IgnitionCommand::Node(args) = cli.command else {
        panic!("node expected")
    };
    assert_eq!((args.node.port, args.node.ctx_size), (65535, 1));
}
