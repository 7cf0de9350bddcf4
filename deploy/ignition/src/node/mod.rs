//! The whole Ignition config of an LLM node, from a few flags.
//!
//! [`render_node_butane`] writes Butane YAML for Flatcar: each sysext image downloaded to
//! `/opt/extensions/NAME/NAME-VERSION-ARCH.raw` with its sha256 and linked as
//! `/etc/extensions/NAME.raw`; the model downloaded to `/var/lib/nnedge/models/` with its
//! sha256; a systemd service that starts the server after `systemd-sysext.service` and
//! restarts on failure; the `core` user's SSH keys; optionally systemd-sysupdate transfers
//! and its timer. [`render_node_json`] renders that YAML with this crate's own Butane
//! renderer, so the generator and `nnedge ignition render` can never disagree.
//!
//! The API key, when given, is written to `/etc/nnedge/nnedge.env` (mode 0600, root) and
//! read by the service through `EnvironmentFile=`. The key is therefore inside the config
//! (and in DigitalOcean's user data, readable from the droplet's metadata service); it
//! never appears in logs, errors or `Debug` output of [`NodeArgs`].

mod preset;
mod yaml_out;

use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;

use clap::ValueEnum;

pub use preset::{Preset, SysextImage};

use crate::butane::{render_butane, ButaneVersion, RenderOptions};
use crate::IgnitionError;

/// sha256 of the default model, SmolLM2-135M-Instruct Q4_1 (98,362,432 bytes).
pub const DEFAULT_MODEL_SHA256: &str =
    "b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53";

/// File name of the default model under `/var/lib/nnedge/models/`.
pub const DEFAULT_MODEL_FILE: &str = "SmolLM2-135M-Instruct.Q4_1.gguf";

/// Where models are stored on the node.
pub const MODEL_DIR: &str = "/var/lib/nnedge/models";

/// Environment file holding the API key (mode 0600).
pub const API_KEY_ENV_FILE: &str = "/etc/nnedge/nnedge.env";

/// Flags of `nnedge ignition node` (also flattened into `nnedge deploy node`).
#[derive(Debug, Clone, clap::Args)]
pub struct NodeArgs {
    /// Server and sysext images: `nnedge` (one `nnedge` image) or `upstream` (the
    /// `wasmedge` and `llamaedge` images of Flatcar's sysext bakery).
    #[arg(long, value_enum, default_value_t = Preset::Nnedge)]
    pub preset: Preset,

    /// Download URL of a sysext image, as NAME=URL; required for every image of the preset.
    #[arg(long = "sysext-url", value_name = "NAME=URL")]
    pub sysext_urls: Vec<NamedValue>,

    /// sha256 (64 hex digits) of a sysext image, as NAME=HEX; required for every image.
    #[arg(long = "sysext-sha256", value_name = "NAME=HEX")]
    pub sysext_sha256: Vec<NamedValue>,

    /// Version of a sysext image, as NAME=VERSION [defaults: nnedge=this release,
    /// wasmedge=0.14.1, llamaedge=0.28.1].
    #[arg(long = "sysext-version", value_name = "NAME=VERSION")]
    pub sysext_versions: Vec<NamedValue>,

    /// Architecture in image file names, as systemd spells it (`x86-64`, `arm64`).
    #[arg(long, default_value = "x86-64")]
    pub arch: String,

    /// URL the node downloads the model from (no public default: host the GGUF file).
    #[arg(long)]
    pub model_url: String,

    /// sha256 of the model file; the default matches the default model file.
    #[arg(long, default_value = DEFAULT_MODEL_SHA256)]
    pub model_sha256: String,

    /// File name of the model under /var/lib/nnedge/models/.
    #[arg(long, default_value = DEFAULT_MODEL_FILE)]
    pub model_file: String,

    /// Prompt template of the model.
    #[arg(long, default_value = "chatml")]
    pub prompt_template: String,

    /// Context size in tokens (at least 1).
    #[arg(long, default_value_t = 2048, value_parser = clap::value_parser!(u32).range(1..))]
    pub ctx_size: u32,

    /// TCP port the API listens on (all interfaces; 1-65535).
    #[arg(long, default_value_t = 8080, value_parser = clap::value_parser!(u16).range(1..))]
    pub port: u16,

    /// API key clients must send; stored in /etc/nnedge/nnedge.env (mode 0600).
    #[arg(long, env = "NNEDGE_API_KEY", hide_env_values = true)]
    pub api_key: Option<ApiKey>,

    /// SSH public key for the `core` user (repeatable).
    #[arg(long = "ssh-authorized-key", value_name = "KEY")]
    pub ssh_authorized_keys: Vec<String>,

    /// Also install systemd-sysupdate transfers and enable its timer, updating each image
    /// from the directory of its URL (which must serve a SHA256SUMS file).
    #[arg(long)]
    pub sysupdate: bool,

    /// Butane spec version to generate: 1.0.0 (Ignition 3.3.0) or 1.1.0 (Ignition 3.4.0).
    #[arg(long, value_enum, default_value_t = SpecVersion::V1_0)]
    pub butane_version: SpecVersion,
}

/// Butane version choice on the command line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum SpecVersion {
    /// Butane 1.0.0, Ignition 3.3.0.
    #[value(name = "1.0.0")]
    V1_0,
    /// Butane 1.1.0, Ignition 3.4.0.
    #[value(name = "1.1.0")]
    V1_1,
}

impl From<SpecVersion> for ButaneVersion {
    fn from(version: SpecVersion) -> Self {
        match version {
            SpecVersion::V1_0 => ButaneVersion::V1_0,
            SpecVersion::V1_1 => ButaneVersion::V1_1,
        }
    }
}

/// A `NAME=VALUE` flag value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NamedValue {
    /// The part before `=`.
    pub name: String,
    /// The part after `=`.
    pub value: String,
}

impl FromStr for NamedValue {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        match text.split_once('=') {
            Some((name, value)) if !name.is_empty() && !value.is_empty() => Ok(Self {
                name: name.to_owned(),
                value: value.to_owned(),
            }),
            _ => Err(format!("expected NAME=VALUE, got `{text}`")),
        }
    }
}

/// An API key; its `Debug` and `Display` never show it.
#[derive(Clone, PartialEq, Eq)]
pub struct ApiKey(String);

impl ApiKey {
    /// The key itself, for writing into the config.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for ApiKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ApiKey(<redacted>)")
    }
}

impl FromStr for ApiKey {
    type Err = std::convert::Infallible;

    /// Never fails, so that command-line errors cannot echo the key; the key is checked
    /// by [`ApiKey::check`] when the config is generated.
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        Ok(Self(text.to_owned()))
    }
}

impl ApiKey {
    /// Accepts 8 to 256 characters from `A-Za-z0-9._~+/=-`, which survive an
    /// `EnvironmentFile=` and a command line unquoted. The error never repeats the key.
    pub fn check(&self) -> Result<(), IgnitionError> {
        let allowed = |c: char| c.is_ascii_alphanumeric() || "._~+/=-".contains(c);
        if (8..=256).contains(&self.0.len()) && self.0.chars().all(allowed) {
            return Ok(());
        }
        let reason = "the key must be 8 to 256 characters from A-Z a-z 0-9 . _ ~ + / = - \
                      (the value is not shown)";
        Err(IgnitionError::InvalidFlag {
            flag: "api-key",
            reason: reason.to_owned(),
        })
    }
}

/// Generates the node's Butane YAML.
pub fn render_node_butane(args: &NodeArgs) -> Result<String, IgnitionError> {
    let images = resolve_images(args)?;
    check_sha256("model-sha256", &args.model_sha256)?;
    check_file_name("model-file", &args.model_file)?;
    check_http_url("model-url", &args.model_url)?;
    check_file_name("prompt-template", &args.prompt_template)?;
    if let Some(key) = &args.api_key {
        key.check()?;
    }
    for key in &args.ssh_authorized_keys {
        if key.trim().is_empty() || key.contains('\n') {
            let reason = "an SSH key is one non-empty line".to_owned();
            return Err(IgnitionError::InvalidFlag {
                flag: "ssh-authorized-key",
                reason,
            });
        }
    }
    Ok(preset::butane_document(args, &images))
}

/// Generates the node's Ignition config as compact JSON.
pub fn render_node_json(args: &NodeArgs) -> Result<String, IgnitionError> {
    let yaml = render_node_butane(args)?;
    let rendered = render_butane(
        &yaml,
        &RenderOptions {
            strict: true,
            files_dir: None,
        },
    )?;
    Ok(rendered.to_json(false))
}

/// Pairs the preset's image names with the URL, hash and version flags.
fn resolve_images(args: &NodeArgs) -> Result<Vec<SysextImage>, IgnitionError> {
    let names = args.preset.image_names();
    let by_name = |values: &[NamedValue], flag: &'static str| {
        let mut map = BTreeMap::new();
        for v in values {
            if !names.contains(&v.name.as_str()) {
                let reason = format!(
                    "no image `{}` in the `{}` preset (images: {})",
                    v.name,
                    args.preset.name(),
                    names.join(", ")
                );
                return Err(IgnitionError::InvalidFlag { flag, reason });
            }
            map.insert(v.name.clone(), v.value.clone());
        }
        Ok(map)
    };
    let urls = by_name(&args.sysext_urls, "sysext-url")?;
    let hashes = by_name(&args.sysext_sha256, "sysext-sha256")?;
    let versions = by_name(&args.sysext_versions, "sysext-version")?;

    let mut images = Vec::new();
    for name in names {
        let missing = |flag: &'static str| IgnitionError::InvalidFlag {
            flag,
            reason: format!(
                "missing `{name}=...`; the `{}` preset needs it",
                args.preset.name()
            ),
        };
        let url = urls
            .get(*name)
            .ok_or_else(|| missing("sysext-url"))?
            .clone();
        let sha256 = hashes
            .get(*name)
            .ok_or_else(|| missing("sysext-sha256"))?
            .clone();
        let version = versions
            .get(*name)
            .cloned()
            .unwrap_or_else(|| preset::default_version(name));
        check_http_url("sysext-url", &url)?;
        check_sha256("sysext-sha256", &sha256)?;
        check_file_name("sysext-version", &version)?;
        check_file_name("arch", &args.arch)?;
        images.push(SysextImage {
            name: (*name).to_owned(),
            version,
            arch: args.arch.clone(),
            url,
            sha256,
        });
    }
    Ok(images)
}

fn check_sha256(flag: &'static str, hex: &str) -> Result<(), IgnitionError> {
    if hex.len() == 64 && hex.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Ok(());
    }
    let reason = format!("`{hex}` is not a sha256 (64 hex digits)");
    Err(IgnitionError::InvalidFlag { flag, reason })
}

fn check_http_url(flag: &'static str, url: &str) -> Result<(), IgnitionError> {
    if (url.starts_with("https://") || url.starts_with("http://"))
        && !url.contains(char::is_whitespace)
    {
        return Ok(());
    }
    let reason = format!("`{url}` is not an http(s) URL");
    Err(IgnitionError::InvalidFlag { flag, reason })
}

/// A single path component without spaces or quotes.
fn check_file_name(flag: &'static str, name: &str) -> Result<(), IgnitionError> {
    let ok = !name.is_empty()
        && name != "."
        && name != ".."
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "._+-~".contains(c));
    if ok {
        return Ok(());
    }
    let reason = format!("`{name}` must be a plain file name (letters, digits, `._+-~`)");
    Err(IgnitionError::InvalidFlag { flag, reason })
}
