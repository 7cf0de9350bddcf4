//! Presets (which images and which server command) and the Butane document they produce.

use super::yaml_out::{self, Yaml};
use super::{NodeArgs, API_KEY_ENV_FILE, MODEL_DIR};
use crate::butane::ButaneVersion;

/// Which server runs on the node.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Preset {
    /// One `nnedge` sysext; the service runs `/usr/bin/nnedge serve`.
    Nnedge,
    /// Flatcar's `wasmedge` and `llamaedge` sysexts; the service runs
    /// `wasmedge ... llama-api-server.wasm`.
    Upstream,
}

impl Preset {
    /// Preset name as given on the command line.
    pub fn name(self) -> &'static str {
        match self {
            Preset::Nnedge => "nnedge",
            Preset::Upstream => "upstream",
        }
    }

    /// Sysext image names the preset installs; each is also the image's release NAME.
    pub fn image_names(self) -> &'static [&'static str] {
        match self {
            Preset::Nnedge => &["nnedge"],
            Preset::Upstream => &["wasmedge", "llamaedge"],
        }
    }

    /// Name of the server's systemd unit.
    pub fn unit_name(self) -> &'static str {
        match self {
            Preset::Nnedge => "nnedge.service",
            Preset::Upstream => "llamaedge.service",
        }
    }
}

/// Default image versions: this crate's release for nnedge; for upstream, the WasmEdge
/// release Flatcar's LlamaEdge deployment was built on and a LlamaEdge release known to run.
pub(crate) fn default_version(name: &str) -> String {
    match name {
        "wasmedge" => "0.14.1".to_owned(),
        "llamaedge" => "0.28.1".to_owned(),
        _ => env!("CARGO_PKG_VERSION").to_owned(),
    }
}

/// One sysext image to download and activate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SysextImage {
    /// Image name; must equal the NAME of the `extension-release.NAME` file inside it.
    pub name: String,
    /// Version in the file name.
    pub version: String,
    /// Architecture in the file name (`x86-64`).
    pub arch: String,
    /// Download URL.
    pub url: String,
    /// Expected sha256 (hex).
    pub sha256: String,
}

impl SysextImage {
    /// `/opt/extensions/NAME/NAME-VERSION-ARCH.raw`.
    pub fn path(&self) -> String {
        format!(
            "/opt/extensions/{0}/{0}-{1}-{2}.raw",
            self.name, self.version, self.arch
        )
    }

    /// `/etc/extensions/NAME.raw`: systemd-sysext only merges an image whose file name
    /// (without `.raw`) equals the NAME in its extension-release file.
    pub fn link(&self) -> String {
        format!("/etc/extensions/{}.raw", self.name)
    }
}

/// Builds the Butane document of the node.
pub(crate) fn butane_document(args: &NodeArgs, images: &[SysextImage]) -> String {
    let version = ButaneVersion::from(args.butane_version);
    let mut files = Vec::new();
    let mut links = Vec::new();
    for image in images {
        files.push(remote_file(&image.path(), &image.url, &image.sha256, 0o644));
        links.push(Yaml::Map(vec![
            ("path", Yaml::str(image.link())),
            ("target", Yaml::str(image.path())),
            ("hard", Yaml::Bool(false)),
        ]));
    }
    let model_path = format!("{MODEL_DIR}/{}", args.model_file);
    files.push(remote_file(
        &model_path,
        &args.model_url,
        &args.model_sha256,
        0o644,
    ));
    if let Some(key) = &args.api_key {
        let variable = api_key_variable(args.preset);
        files.push(Yaml::Map(vec![
            ("path", Yaml::str(API_KEY_ENV_FILE)),
            ("mode", Yaml::Mode(0o600)),
            (
                "contents",
                Yaml::Map(vec![(
                    "inline",
                    Yaml::str(format!("{variable}={}\n", key.expose())),
                )]),
            ),
        ]));
    }
    let mut units = vec![server_unit(args, &model_path)];
    if args.sysupdate {
        files.extend(images.iter().map(sysupdate_transfer));
        units.extend(sysupdate_units(args, images));
    }

    let mut document = vec![
        ("variant", Yaml::str("flatcar")),
        ("version", Yaml::str(version.as_str())),
        (
            "storage",
            Yaml::Map(vec![
                (
                    "directories",
                    Yaml::Seq(vec![Yaml::Map(vec![
                        ("path", Yaml::str(MODEL_DIR)),
                        ("mode", Yaml::Mode(0o755)),
                    ])]),
                ),
                ("files", Yaml::Seq(files)),
                ("links", Yaml::Seq(links)),
            ]),
        ),
        ("systemd", Yaml::Map(vec![("units", Yaml::Seq(units))])),
    ];
    if !args.ssh_authorized_keys.is_empty() {
        let keys = args
            .ssh_authorized_keys
            .iter()
            .map(|k| Yaml::str(k.trim()))
            .collect();
        let core = Yaml::Map(vec![
            ("name", Yaml::str("core")),
            ("ssh_authorized_keys", Yaml::Seq(keys)),
        ]);
        document.push(("passwd", Yaml::Map(vec![("users", Yaml::Seq(vec![core]))])));
    }

    let header = "# Flatcar LLM node, generated by `nnedge ignition node`.\n\
                  # Render with `nnedge ignition render FILE`.\n";
    format!("{header}{}", yaml_out::to_string(&Yaml::Map(document)))
}

/// The variable the server reads its API key from.
fn api_key_variable(preset: Preset) -> &'static str {
    match preset {
        Preset::Nnedge => "NNEDGE_API_KEY",
        Preset::Upstream => "API_KEY",
    }
}

fn remote_file(path: &str, url: &str, sha256: &str, mode: u32) -> Yaml {
    Yaml::Map(vec![
        ("path", Yaml::str(path)),
        ("mode", Yaml::Mode(mode)),
        (
            "contents",
            Yaml::Map(vec![
                ("source", Yaml::str(url)),
                (
                    "verification",
                    Yaml::Map(vec![("hash", Yaml::str(format!("sha256-{sha256}")))]),
                ),
            ]),
        ),
    ])
}

/// The server unit: after the sysexts are merged, restarted on failure.
fn server_unit(args: &NodeArgs, model_path: &str) -> Yaml {
    let (description, exec, extra) = match args.preset {
        Preset::Nnedge => (
            "nnedge OpenAI-compatible LLM server",
            format!(
                "/usr/bin/nnedge serve --host 0.0.0.0 --port {} --model {model_path} \
                 --prompt-template {} --ctx-size {}",
                args.port, args.prompt_template, args.ctx_size
            ),
            String::new(),
        ),
        Preset::Upstream => {
            // wasmedge passes only the variables named with --env to the guest
            let key = if args.api_key.is_some() {
                " --env API_KEY=${API_KEY}"
            } else {
                ""
            };
            (
                "LlamaEdge API server on WasmEdge",
                format!(
                    "/usr/bin/wasmedge --dir .:.{key} --nn-preload default:GGML:AUTO:{model_path} \
                     /usr/lib/wasmedge/wasm/llama-api-server.wasm --prompt-template {} \
                     --ctx-size {} --port {}",
                    args.prompt_template, args.ctx_size, args.port
                ),
                "Environment=WASMEDGE_PLUGIN_PATH=/usr/lib/wasmedge\nWorkingDirectory=/var/lib/nnedge\n"
                    .to_owned(),
            )
        }
    };
    let env_file = if args.api_key.is_some() {
        format!("EnvironmentFile={API_KEY_ENV_FILE}\n")
    } else {
        String::new()
    };
    let contents = format!(
        "[Unit]\nDescription={description}\nWants=network-online.target\n\
         After=network-online.target systemd-sysext.service\n\
         ConditionPathExists={model_path}\n\n\
         [Service]\n{env_file}{extra}ExecStart={exec}\nRestart=on-failure\nRestartSec=5s\n\n\
         [Install]\nWantedBy=multi-user.target\n"
    );
    Yaml::Map(vec![
        ("name", Yaml::str(args.preset.unit_name())),
        ("enabled", Yaml::Bool(true)),
        ("contents", Yaml::Str(contents)),
    ])
}

/// `/etc/sysupdate.NAME.d/NAME.conf`: newer images from the directory of the image URL.
fn sysupdate_transfer(image: &SysextImage) -> Yaml {
    let base = image
        .url
        .rsplit_once('/')
        .map_or(image.url.as_str(), |(dir, _)| dir);
    let contents = format!(
        "[Transfer]\nVerify=false\n\n[Source]\nType=url-file\nPath={base}/\n\
         MatchPattern={0}-@v-%a.raw\n\n[Target]\nInstancesMax=3\nType=regular-file\n\
         Path=/opt/extensions/{0}\nMatchPattern={0}-@v-%a.raw\nCurrentSymlink={1}\n",
        image.name,
        image.link()
    );
    Yaml::Map(vec![
        (
            "path",
            Yaml::str(format!("/etc/sysupdate.{0}.d/{0}.conf", image.name)),
        ),
        ("mode", Yaml::Mode(0o644)),
        ("contents", Yaml::Map(vec![("inline", Yaml::Str(contents))])),
    ])
}

/// The sysupdate timer, and a drop-in that updates each image and, only when a link
/// target changed, refreshes the merged extensions and restarts the server.
///
/// The drop-in replaces the unit's own `systemd-sysupdate update`, which fails when
/// `/etc/sysupdate.d/` holds no transfers; each image is its own component (`-C NAME`).
fn sysupdate_units(args: &NodeArgs, images: &[SysextImage]) -> Vec<Yaml> {
    let links: Vec<String> = images.iter().map(SysextImage::link).collect();
    let links = links.join(" ");
    let state = "/run/nnedge-sysupdate.links";
    let mut dropin = format!(
        "[Service]\nType=oneshot\nExecStartPre=/usr/bin/sh -c \"readlink -f {links} > {state}\"\n\
         ExecStart=\n"
    );
    for image in images {
        dropin.push_str(&format!(
            "ExecStart=/usr/lib/systemd/systemd-sysupdate -C {} update\n",
            image.name
        ));
    }
    dropin.push_str(&format!(
        "ExecStartPost=/usr/bin/sh -c \"readlink -f {links} | cmp -s - {state} || \
         {{ systemd-sysext refresh && systemctl try-restart {}; }}\"\n",
        args.preset.unit_name()
    ));
    vec![
        Yaml::Map(vec![
            ("name", Yaml::str("systemd-sysupdate.timer")),
            ("enabled", Yaml::Bool(true)),
        ]),
        Yaml::Map(vec![
            ("name", Yaml::str("systemd-sysupdate.service")),
            (
                "dropins",
                Yaml::Seq(vec![Yaml::Map(vec![
                    ("name", Yaml::str("nnedge-sysext.conf")),
                    ("contents", Yaml::Str(dropin)),
                ])]),
            ),
        ]),
    ]
}
