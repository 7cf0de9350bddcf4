//! The `sysext` subcommands as the nnedge binary embeds them: parsing, help text, a bake
//! through `run`, and argument refusals.

use clap::{CommandFactory, Parser};
use nnedge_sysext::cli::{run, SysextCommand};

use crate::support::sample_dir;

/// Stands in for the nnedge binary's `sysext` subcommand.
#[derive(Debug, Parser)]
#[command(name = "nnedge-sysext")]
struct Wrapper {
    #[command(subcommand)]
    command: SysextCommand,
}

fn parse(args: &[&str]) -> Result<SysextCommand, clap::Error> {
    let argv = std::iter::once("nnedge-sysext").chain(args.iter().copied());
    Wrapper::try_parse_from(argv).map(|wrapper| wrapper.command)
}

#[test]
fn bake_help_matches_its_snapshot() {
    let mut command = Wrapper::command();
    let bake = command
        .find_subcommand_mut("bake")
        .expect("bake subcommand");
    insta::assert_snapshot!(bake.render_long_help().to_string());
}

#[test]
fn bake_through_run_writes_the_image_and_checksums() {
    let work = tempfile::tempdir().expect("tempdir");
    let input = work.path().join("in");
    sample_dir(&input);
    let out = work.path().join("out");
    let (input, out_str) = (input.to_str().expect("utf-8"), out.to_str().expect("utf-8"));
    let args = [
        "bake",
        input,
        "--name",
        "wasmedge",
        "--version",
        "0.14.1",
        "--flatcar",
    ];
    let mut args = args.to_vec();
    args.extend(["--compression", "zstd", "--out-dir", out_str]);
    args.extend(["--sysupdate-url", "https://example.org/ext/"]);
    run(parse(&args).expect("parse")).expect("bake");

    for name in ["wasmedge-0.14.1-x86-64.raw", "SHA256SUMS", "wasmedge.conf"] {
        assert!(out.join(name).is_file(), "{name} missing");
    }
    let image = out.join("wasmedge-0.14.1-x86-64.raw");
    let report = nnedge_sysext::inspect_image(&image).expect("inspect");
    assert_eq!(
        report.releases[0].1,
        "ID=flatcar\nSYSEXT_LEVEL=1.0\nARCHITECTURE=x86-64\n"
    );
}

#[test]
fn bad_arguments_are_refused() {
    // The preset's paths parse as optional (the nnedge binary fills in its own), but the
    // library refuses to bake without them.
    let args = parse(&["bake", "--preset", "nnedge", "--version", "1"]).expect("parses");
    let err = run(args).expect_err("no binary");
    assert!(
        err.to_string()
            .contains("--binary is required with --preset nnedge"),
        "{err:#}"
    );
    let err = parse(&["bake", "dir", "--version", "1"]).expect_err("no name");
    assert_eq!(
        err.kind(),
        clap::error::ErrorKind::MissingRequiredArgument,
        "{err}"
    );

    let work = tempfile::tempdir().expect("tempdir");
    let input = work.path().join("in");
    sample_dir(&input);
    let input = input.to_str().expect("utf-8");
    let args = [
        "bake",
        input,
        "--name",
        "x",
        "--version",
        "1",
        "--arch",
        "riscv64",
    ];
    let err = run(parse(&args).expect("parse")).expect_err("arch");
    assert!(
        format!("{err:#}").contains("unknown architecture `riscv64`"),
        "{err:#}"
    );
}
