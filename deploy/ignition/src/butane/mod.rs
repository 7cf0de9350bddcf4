//! Butane YAML (`variant: flatcar`) to Ignition JSON.
//!
//! Steps: parse the YAML (reading `0644` as octal, as Butane does), check `variant` and
//! `version`, translate each section while collecting [`Diagnostic`]s with field paths,
//! then run the cross-node checks (duplicate paths, nodes below links). Any error fails
//! the render with every finding listed; warnings come back with the config (`--strict`
//! makes them errors).
//!
//! Supported: `ignition` (config merge/replace, timeouts, security, proxy), `storage`
//! files, directories and links, `systemd` units and drop-ins, `passwd` users and groups,
//! `kernel_arguments`. Butane's `storage.disks`, `raid`, `filesystems`, `luks` and `trees`
//! are reported as unsupported. TODO(#6): render those too if a node ever needs them.

mod checks;
mod passwd;
mod report;
mod resource;
mod storage;
mod systemd;

use std::path::{Path, PathBuf};

use report::{Fields, Report};

use crate::ignition::{
    Config, ConfigReferences, Ignition, KernelArguments, Proxy, Security, Timeouts, Tls,
};
use crate::yaml::{self, Node};
use crate::{Diagnostic, IgnitionError};

/// Butane spec versions of the flatcar variant, and the Ignition version each renders.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ButaneVersion {
    /// `1.0.0`, rendering Ignition 3.3.0.
    V1_0,
    /// `1.1.0`, rendering Ignition 3.4.0.
    V1_1,
}

impl ButaneVersion {
    /// The version as written in Butane (`1.0.0`).
    pub fn as_str(self) -> &'static str {
        match self {
            ButaneVersion::V1_0 => "1.0.0",
            ButaneVersion::V1_1 => "1.1.0",
        }
    }

    /// The Ignition spec version it renders (`3.3.0`).
    pub fn ignition_version(self) -> &'static str {
        match self {
            ButaneVersion::V1_0 => "3.3.0",
            ButaneVersion::V1_1 => "3.4.0",
        }
    }

    fn parse(text: &str) -> Option<Self> {
        match text {
            "1.0.0" => Some(ButaneVersion::V1_0),
            "1.1.0" => Some(ButaneVersion::V1_1),
            _ => None,
        }
    }
}

/// How to render.
#[derive(Debug, Clone, Default)]
pub struct RenderOptions {
    /// Turn warnings (unknown keys, decimal-looking modes) into errors.
    pub strict: bool,
    /// Directory that `local` and `*_local` paths are relative to.
    pub files_dir: Option<PathBuf>,
}

/// A rendered config and the warnings found on the way.
#[derive(Debug, Clone)]
pub struct Rendered {
    /// The Butane spec version of the input.
    pub version: ButaneVersion,
    /// The Ignition config.
    pub config: Config,
    /// Warnings (never errors: those fail the render).
    pub warnings: Vec<Diagnostic>,
}

impl Rendered {
    /// The config as JSON: compact, or indented for reading.
    pub fn to_json(&self, pretty: bool) -> String {
        let json = if pretty {
            serde_json::to_string_pretty(&self.config)
        } else {
            serde_json::to_string(&self.config)
        };
        // The config types hold only strings, integers, booleans and lists.
        json.unwrap_or_default()
    }
}

/// Renders Butane YAML (`variant: flatcar`) to an Ignition config.
pub fn render_butane(source: &str, options: &RenderOptions) -> Result<Rendered, IgnitionError> {
    let root = yaml::parse(source)?;
    let mut translator = Translator {
        report: Report {
            strict: options.strict,
            ..Report::default()
        },
        files_dir: options.files_dir.as_deref(),
        nodes: Vec::new(),
    };
    let translated = translator.document(&root);
    checks::check_nodes(&mut translator.report, &translator.nodes);

    let diagnostics = translator.report.diagnostics;
    match translated {
        Some((version, config)) if !diagnostics.iter().any(is_error) => Ok(Rendered {
            version,
            config,
            warnings: diagnostics,
        }),
        _ => Err(IgnitionError::Invalid { diagnostics }),
    }
}

fn is_error(diagnostic: &Diagnostic) -> bool {
    diagnostic.severity == crate::Severity::Error
}

/// State of one translation.
pub(crate) struct Translator<'o> {
    pub report: Report,
    pub files_dir: Option<&'o Path>,
    /// Every file, directory and link seen, for the cross-node checks.
    pub nodes: Vec<checks::NodeEntry>,
}

const TOP_KEYS: [&str; 7] = [
    "variant",
    "version",
    "ignition",
    "storage",
    "systemd",
    "passwd",
    "kernel_arguments",
];

impl Translator<'_> {
    fn document(&mut self, root: &Node) -> Option<(ButaneVersion, Config)> {
        let top = Fields::open(&mut self.report, root, "$", &TOP_KEYS)?;
        let version = self.variant_and_version(&top);

        let mut config = Config {
            ignition: self.ignition(&top),
            storage: top
                .get("storage")
                .and_then(|node| self.storage(node, "$.storage")),
            systemd: top
                .get("systemd")
                .and_then(|node| self.systemd(node, "$.systemd")),
            passwd: top
                .get("passwd")
                .and_then(|node| self.passwd(node, "$.passwd")),
            kernel_arguments: self.kernel_arguments(&top),
        };

        let version = version?;
        config.ignition.version = version.ignition_version().to_owned();
        Some((version, config))
    }

    fn variant_and_version(&mut self, top: &Fields<'_>) -> Option<ButaneVersion> {
        match top.string(&mut self.report, "variant").as_deref() {
            Some("flatcar") => {}
            Some(other) => self.report.error(
                "$.variant",
                format!("unsupported variant `{other}`; this renderer handles `flatcar` only"),
            ),
            None => self
                .report
                .error("$.variant", "missing `variant`; set `variant: flatcar`"),
        }
        let accepted = "use `1.0.0` (Ignition 3.3.0) or `1.1.0` (Ignition 3.4.0)";
        match top.string(&mut self.report, "version") {
            Some(text) => {
                let version = ButaneVersion::parse(&text);
                if version.is_none() {
                    let message = format!("unsupported flatcar version `{text}`; {accepted}");
                    self.report.error("$.version", message);
                }
                version
            }
            None => {
                self.report
                    .error("$.version", format!("missing `version`; {accepted}"));
                None
            }
        }
    }

    fn ignition(&mut self, top: &Fields<'_>) -> Ignition {
        let known = ["config", "timeouts", "security", "proxy"];
        let mut ignition = Ignition::default();
        let Some(section) = top.map(&mut self.report, "ignition", &known) else {
            return ignition;
        };

        if let Some(config) = section.map(&mut self.report, "config", &["merge", "replace"]) {
            let mut references = ConfigReferences::default();
            for (path, node) in config.list(&mut self.report, "merge") {
                references.merge.extend(self.resource(node, &path));
            }
            if let Some(node) = config.get("replace") {
                references.replace = self.resource(node, &config.child("replace"));
            }
            ignition.config = Some(references);
        }

        let timeout_keys = ["http_response_headers", "http_total"];
        if let Some(timeouts) = section.map(&mut self.report, "timeouts", &timeout_keys) {
            ignition.timeouts = Some(Timeouts {
                http_response_headers: timeouts.int(&mut self.report, "http_response_headers"),
                http_total: timeouts.int(&mut self.report, "http_total"),
            });
        }

        if let Some(security) = section.map(&mut self.report, "security", &["tls"]) {
            let mut tls = Tls::default();
            let known = ["certificate_authorities"];
            if let Some(fields) = security.map(&mut self.report, "tls", &known) {
                for (path, node) in fields.list(&mut self.report, "certificate_authorities") {
                    tls.certificate_authorities
                        .extend(self.resource(node, &path));
                }
            }
            ignition.security = Some(Security { tls });
        }

        let proxy_keys = ["http_proxy", "https_proxy", "no_proxy"];
        if let Some(proxy) = section.map(&mut self.report, "proxy", &proxy_keys) {
            ignition.proxy = Some(Proxy {
                http_proxy: proxy.string(&mut self.report, "http_proxy"),
                https_proxy: proxy.string(&mut self.report, "https_proxy"),
                no_proxy: values(proxy.strings(&mut self.report, "no_proxy")),
            });
        }
        ignition
    }

    fn kernel_arguments(&mut self, top: &Fields<'_>) -> Option<KernelArguments> {
        let known = ["should_exist", "should_not_exist"];
        let section = top.map(&mut self.report, "kernel_arguments", &known)?;
        Some(KernelArguments {
            should_exist: values(section.strings(&mut self.report, "should_exist")),
            should_not_exist: values(section.strings(&mut self.report, "should_not_exist")),
        })
    }
}

/// Drops the field paths of `(path, value)` pairs.
fn values(pairs: Vec<(String, String)>) -> Vec<String> {
    pairs.into_iter().map(|(_, value)| value).collect()
}
