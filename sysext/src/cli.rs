//! The `nnedge sysext` subcommands: `bake` and `inspect`, for embedding in the nnedge
//! binary's command line. Image paths and listings go to stdout; logs go to `tracing`.

use std::path::PathBuf;

use anyhow::{bail, Context};
use clap::{Args, Subcommand, ValueEnum};

use crate::arch::Architecture;
use crate::bake::{bake_image, bake_image_as, BakeSpec};
use crate::compression::Compression;
use crate::inspect::inspect_image;
use crate::preset::NnedgePreset;
use crate::release::Compatibility;
use crate::tarball::tree_from_tarball;
use crate::tree::Tree;

/// Bake and inspect Flatcar system extension images.
#[derive(Debug, Subcommand)]
pub enum SysextCommand {
    /// Bake a directory tree, a release tarball or the nnedge preset into
    /// NAME-VERSION-ARCH.raw; prints the image path.
    #[command(disable_version_flag = true)]
    Bake(Box<BakeArgs>),
    /// List an image's tree, print its extension-release file and say whether
    /// systemd-sysext would merge it.
    Inspect(InspectArgs),
}

/// A built-in image layout.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Preset {
    /// nnedge itself: binary, runtime sysroot, guests and a systemd unit.
    Nnedge,
}

/// Arguments of `sysext bake`.
#[derive(Debug, Args)]
pub struct BakeArgs {
    /// A directory holding usr/ and opt/, or a .tar/.tar.gz laid out as bin/, lib/, ...
    #[arg(required_unless_present = "preset", conflicts_with = "preset")]
    pub input: Option<PathBuf>,

    /// Extension name (defaults to the preset's).
    #[arg(long, required_unless_present = "preset")]
    pub name: Option<String>,

    /// Version in the image file name.
    #[arg(long)]
    pub version: String,

    /// Target architecture: x86-64 (amd64, x86_64) or arm64 (aarch64).
    #[arg(long, default_value = "x86-64")]
    pub arch: String,

    /// Declare ID=flatcar and SYSEXT_LEVEL=1.0 instead of ID=_any.
    #[arg(long)]
    pub flatcar: bool,

    /// Add EXTENSION_RELOAD_MANAGER=1 (systemd reloads units after merging).
    #[arg(long)]
    pub reload_manager: bool,

    /// Squashfs compressor.
    #[arg(long, value_enum, default_value_t = Compression::Gzip)]
    pub compression: Compression,

    /// Mtime of every entry, in seconds since the epoch.
    #[arg(
        long,
        env = "SOURCE_DATE_EPOCH",
        hide_env_values = true,
        default_value_t = 0
    )]
    pub source_date_epoch: u32,

    /// Folder for the image, SHA256SUMS and the transfer file.
    #[arg(long, default_value = ".", conflicts_with = "output")]
    pub out_dir: PathBuf,

    /// Exact image path instead (its name must be NAME.raw or NAME-*.raw).
    #[arg(long)]
    pub output: Option<PathBuf>,

    /// Also write the systemd-sysupdate transfer file NAME.conf for images published at
    /// this URL.
    #[arg(long)]
    pub sysupdate_url: Option<String>,

    /// Bake a built-in layout instead of INPUT.
    #[arg(long, value_enum)]
    pub preset: Option<Preset>,

    /// nnedge preset: the nnedge binary; libraries it needs that the sysroot lacks, and
    /// ggml's CPU backend modules, are bundled from its folder (`nnedge sysext` defaults it to
    /// the portable build, which runs on any x86-64 CPU).
    #[arg(long, requires = "preset")]
    pub binary: Option<PathBuf>,

    /// nnedge preset: the runtime sysroot (`nnedge sysext` defaults it to its own).
    #[arg(long, requires = "preset")]
    pub sysroot: Option<PathBuf>,

    /// nnedge preset: the folder of .wasm guests to bundle (`nnedge sysext` defaults it to
    /// the folder its bundled guests are found in).
    #[arg(long, requires = "preset")]
    pub guests: Option<PathBuf>,

    /// nnedge preset: start nnedge.service with multi-user.target.
    #[arg(long, requires = "preset")]
    pub enable_service: bool,
}

/// Arguments of `sysext inspect`.
#[derive(Debug, Args)]
pub struct InspectArgs {
    /// The image to read.
    pub image: PathBuf,
}

/// Runs a `sysext` subcommand.
pub fn run(cmd: SysextCommand) -> anyhow::Result<()> {
    match cmd {
        SysextCommand::Bake(args) => bake(*args),
        SysextCommand::Inspect(args) => {
            let report = inspect_image(&args.image)
                .with_context(|| format!("failed to inspect `{}`", args.image.display()))?;
            print!("{report}");
            Ok(())
        }
    }
}

fn bake(args: BakeArgs) -> anyhow::Result<()> {
    let architecture: Architecture = args.arch.parse()?;
    let (tree, mut spec) = match (&args.preset, &args.input) {
        (Some(Preset::Nnedge), _) => {
            let preset = NnedgePreset {
                binary: args
                    .binary
                    .clone()
                    .context("--binary is required with --preset nnedge")?,
                sysroot: args
                    .sysroot
                    .clone()
                    .context("--sysroot is required with --preset nnedge")?,
                guests: args
                    .guests
                    .clone()
                    .context("--guests is required with --preset nnedge")?,
                enable_service: args.enable_service,
                architecture,
            };
            let tree = preset
                .tree()
                .context("failed to lay out the nnedge preset")?;
            (tree, preset.spec(&args.version))
        }
        (None, Some(input)) => {
            let name = args.name.clone().context("--name is required")?;
            let tree = read_input(input)?;
            (tree, BakeSpec::new(&name, &args.version, architecture))
        }
        (None, None) => bail!("give an input directory or tarball, or --preset"),
    };

    if let Some(name) = &args.name {
        spec.name.clone_from(name);
    }
    if args.flatcar {
        spec.compatibility = Compatibility::Flatcar;
    }
    spec.reload_manager |= args.reload_manager;
    spec.compression = args.compression;
    spec.mtime = args.source_date_epoch;
    spec.sysupdate_url = args.sysupdate_url;

    let output = match &args.output {
        Some(image) => bake_image_as(&tree, &spec, image),
        None => bake_image(&tree, &spec, &args.out_dir),
    }
    .with_context(|| format!("failed to bake `{}`", spec.file_name()))?;
    println!("{}", output.image.display());
    Ok(())
}

/// Reads a directory or a tarball into a tree.
fn read_input(input: &std::path::Path) -> anyhow::Result<Tree> {
    let context = || format!("failed to read input `{}`", input.display());
    if input.is_dir() {
        let mut tree = Tree::new();
        tree.add_dir("", input).with_context(context)?;
        Ok(tree)
    } else {
        tree_from_tarball(input).with_context(context)
    }
}
