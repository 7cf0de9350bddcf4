//! `nnedge ignition render|node`: the subcommands the `nnedge` binary embeds.
//!
//! stdout carries only the JSON (or YAML); warnings and advice go to stderr.

use std::io::{Read, Write};
use std::path::PathBuf;

use anyhow::Context;

use crate::butane::{render_butane, RenderOptions};
use crate::ignition::Config;
use crate::limit::{check_user_data, pointer_config};
use crate::node::{render_node_butane, render_node_json};

pub use crate::node::NodeArgs;

/// Ignition subcommands.
#[derive(Debug, clap::Subcommand)]
#[expect(clippy::large_enum_variant, reason = "parsed once per process")]
pub enum IgnitionCommand {
    /// Render Butane YAML (variant flatcar, 1.0.0 or 1.1.0) to Ignition JSON.
    Render(RenderArgs),
    /// Generate the Ignition config of an LLM node (`> node.ign`).
    Node(NodeCommand),
}

/// Flags of `nnedge ignition render`.
#[derive(Debug, Clone, clap::Args)]
pub struct RenderArgs {
    /// Butane file to read; `-` reads standard input.
    #[arg(default_value = "-")]
    pub input: String,

    /// Fail on warnings (unknown keys, modes that look decimal).
    #[arg(long)]
    pub strict: bool,

    /// Directory that `local` and `contents_local` paths are relative to.
    #[arg(long, value_name = "DIR")]
    pub files_dir: Option<PathBuf>,

    /// Indent the JSON output.
    #[arg(long)]
    pub pretty: bool,
}

/// Flags of `nnedge ignition node`.
#[derive(Debug, Clone, clap::Args)]
pub struct NodeCommand {
    /// What to generate.
    #[command(flatten)]
    pub node: NodeArgs,

    /// Print the Butane YAML instead of Ignition JSON, for editing (contains the API key).
    #[arg(long)]
    pub butane: bool,

    /// Indent the JSON output.
    #[arg(long)]
    pub pretty: bool,

    /// Print a small config that replaces itself with the full config fetched from this
    /// URL (verified by sha512); host the full config there.
    #[arg(long, value_name = "URL", requires = "full_config")]
    pub pointer_url: Option<String>,

    /// With --pointer-url: file to write the full config to, for uploading to the URL.
    #[arg(long, value_name = "FILE")]
    pub full_config: Option<PathBuf>,
}

/// Runs one ignition subcommand.
pub fn run(cmd: IgnitionCommand) -> anyhow::Result<()> {
    let output = match cmd {
        IgnitionCommand::Render(args) => render(&args)?,
        IgnitionCommand::Node(args) => node(&args)?,
    };
    let mut stdout = std::io::stdout().lock();
    stdout
        .write_all(output.as_bytes())
        .context("failed to write to stdout")?;
    if !output.ends_with('\n') {
        stdout
            .write_all(b"\n")
            .context("failed to write to stdout")?;
    }
    Ok(())
}

fn render(args: &RenderArgs) -> anyhow::Result<String> {
    let source = if args.input == "-" {
        let mut text = String::new();
        std::io::stdin()
            .read_to_string(&mut text)
            .context("failed to read standard input")?;
        text
    } else {
        fs_err::read_to_string(&args.input)?
    };
    let options = RenderOptions {
        strict: args.strict,
        files_dir: args.files_dir.clone(),
    };
    let rendered = render_butane(&source, &options)
        .with_context(|| format!("failed to render `{}`", args.input))?;
    for warning in &rendered.warnings {
        eprintln!("{warning}");
    }
    Ok(rendered.to_json(args.pretty))
}

fn node(args: &NodeCommand) -> anyhow::Result<String> {
    if args.butane {
        return Ok(render_node_butane(&args.node)?);
    }
    let compact = render_node_json(&args.node)?;
    let full = if args.pretty {
        pretty(&compact)?
    } else {
        compact.clone()
    };

    if let (Some(url), Some(path)) = (&args.pointer_url, &args.full_config) {
        fs_err::write(path, &full)?;
        eprintln!(
            "wrote the full config to `{}`; upload it to {url}",
            path.display()
        );
        let version = args.node.butane_version.into();
        return Ok(pointer_config(&full, url, version)?);
    }
    if let Err(error) = check_user_data(&compact) {
        eprintln!("warning: {error}");
    }
    Ok(full)
}

/// Re-indents rendered JSON, keeping the config's field order.
fn pretty(compact: &str) -> anyhow::Result<String> {
    let config: Config = serde_json::from_str(compact).context("invalid rendered JSON")?;
    serde_json::to_string_pretty(&config).context("failed to format JSON")
}
