//! Butane fixtures rendered to Ignition JSON: snapshots, schema validity, and the
//! translations the spec defines (octal modes, data URLs, compression).

use nnedge_ignition::dataurl;
use nnedge_ignition::ignition::Config;
use nnedge_ignition::{render_butane, RenderOptions, Rendered};

use crate::fixture;
use crate::schema::assert_valid;

fn render_fixture(name: &str) -> Rendered {
    let source = std::fs::read_to_string(fixture(name)).expect("fixture exists");
    let options = RenderOptions {
        strict: true,
        files_dir: Some(fixture("files")),
    };
    match render_butane(&source, &options) {
        Ok(rendered) => rendered,
        Err(error) => panic!("{name} does not render: {error}"),
    }
}

/// Renders, validates against the schema, and snapshots the pretty JSON.
fn check_fixture(name: &str) -> Config {
    let rendered = render_fixture(name);
    assert!(
        rendered.warnings.is_empty(),
        "{name}: {:?}",
        rendered.warnings
    );
    let compact = rendered.to_json(false);
    assert_valid(&compact);
    insta::assert_snapshot!(name, stable_json(&rendered.to_json(true)));
    rendered.config
}

/// The pretty JSON with each gzip data URL replaced by what it decodes to.
///
/// gzip bytes depend on which deflate backend flate2 was built with, and cargo's feature
/// unification picks that per build (the whole workspace enables another backend than this
/// crate alone), so the snapshot records the contents, not the compressed bytes.
fn stable_json(pretty: &str) -> String {
    let mut value: serde_json::Value = serde_json::from_str(pretty).expect("valid JSON");
    let files = value
        .pointer_mut("/storage/files")
        .and_then(|f| f.as_array_mut());
    for file in files.into_iter().flatten() {
        let Some(file) = file.as_object_mut() else {
            continue;
        };
        for (key, slot) in file.iter_mut() {
            let resources: Vec<&mut serde_json::Value> = match key.as_str() {
                "contents" => vec![slot],
                "append" => slot
                    .as_array_mut()
                    .map(|a| a.iter_mut().collect())
                    .unwrap_or_default(),
                _ => continue,
            };
            for resource in resources {
                if resource.get("compression").and_then(|c| c.as_str()) != Some("gzip") {
                    continue;
                }
                let source = resource
                    .get("source")
                    .and_then(|s| s.as_str())
                    .map(str::to_owned);
                if !source.as_deref().is_some_and(|s| s.starts_with("data:")) {
                    continue; // a remote source: its bytes are not ours
                }
                let bytes = embedded_bytes(source.as_deref(), Some("gzip"));
                let text = String::from_utf8_lossy(&bytes).into_owned();
                resource["source"] = format!("<gzip data URL of {text:?}>").into();
            }
        }
    }
    serde_json::to_string_pretty(&value).expect("serialisable") + "\n"
}

#[test]
fn seed_wasmedge_renders_to_valid_ignition() {
    let config = check_fixture("seed-wasmedge.bu");
    let storage = config.storage.expect("storage");
    assert_eq!(storage.files[0].mode, Some(272), "0420 is octal");
    assert_eq!(storage.links[0].path, "/etc/extensions/wasmedge.raw");
    assert_eq!(config.ignition.version, "3.3.0");
}

#[test]
fn seed_llamaedge_renders_to_valid_ignition() {
    let config = check_fixture("seed-llamaedge.bu");
    let storage = config.storage.expect("storage");
    let script = storage
        .files
        .iter()
        .find(|f| f.path == "/opt/bin/start-llm.sh")
        .expect("script");
    assert_eq!(script.mode, Some(0o755));
    let contents = script.contents.as_ref().expect("contents");
    let bytes = embedded_bytes(contents.source.as_deref(), contents.compression.as_deref());
    assert!(String::from_utf8_lossy(&bytes).contains("nohup wasmedge --dir .:."));
}

#[test]
fn minimal_config_is_only_the_version() {
    let config = check_fixture("minimal.bu");
    assert_eq!(
        serde_json::to_string(&config).ok().as_deref(),
        Some(r#"{"ignition":{"version":"3.3.0"}}"#)
    );
}

#[test]
fn kitchen_sink_renders_every_section() {
    let config = check_fixture("kitchen-sink.bu");
    assert_eq!(config.ignition.version, "3.4.0");
    let storage = config.storage.expect("storage");
    let hostname = &storage.files[0];
    assert_eq!(
        hostname.contents.as_ref().and_then(|c| c.source.as_deref()),
        Some("data:,llm-node-1")
    );
    assert_eq!(
        hostname
            .contents
            .as_ref()
            .and_then(|c| c.compression.as_deref()),
        Some("")
    );
    // a declared compression is kept and the source is untouched
    let gz = storage
        .files
        .iter()
        .find(|f| f.path == "/opt/bin/hello.gz")
        .expect("hello.gz");
    assert_eq!(
        gz.contents.as_ref().and_then(|c| c.compression.as_deref()),
        Some("gzip")
    );
    // repetitive inline text is gzipped because that is shorter
    let models = storage
        .files
        .iter()
        .find(|f| f.path == "/etc/llm/models.conf")
        .expect("models");
    assert_eq!(
        models
            .contents
            .as_ref()
            .and_then(|c| c.compression.as_deref()),
        Some("gzip")
    );
    assert_eq!(storage.directories[0].mode, Some(0o750));
    assert_eq!(storage.links[1].hard, Some(true));
    let units = config.systemd.expect("systemd").units;
    assert_eq!(units[0].mask, Some(true));
    assert_eq!(units[2].dropins.len(), 2);
    let passwd = config.passwd.expect("passwd");
    assert_eq!(passwd.users[1].uid, Some(1100));
    assert_eq!(passwd.groups[0].gid, Some(1200));
}

#[test]
fn local_files_are_embedded_from_files_dir() {
    let config = check_fixture("local-files.bu");
    let files_dir = fixture("files");
    let storage = config.storage.expect("storage");
    for (file, local) in storage.files.iter().zip(["template.txt", "blob.bin"]) {
        let contents = file.contents.as_ref().expect("contents");
        let bytes = embedded_bytes(contents.source.as_deref(), contents.compression.as_deref());
        assert_eq!(
            bytes,
            std::fs::read(files_dir.join(local)).expect("fixture file")
        );
    }
    let template = storage.files[0].contents.as_ref().expect("contents");
    assert_eq!(
        template.compression.as_deref(),
        Some("gzip"),
        "repetitive text is gzipped"
    );
    let blob = storage.files[1].contents.as_ref().expect("contents");
    assert!(
        blob.source
            .as_deref()
            .is_some_and(|s| s.starts_with("data:;base64,")),
        "binary is base64"
    );

    let units = config.systemd.expect("systemd").units;
    let service = std::fs::read_to_string(files_dir.join("hello.service")).expect("fixture");
    assert_eq!(units[0].contents.as_deref(), Some(service.as_str()));
    let keys = &config.passwd.expect("passwd").users[0].ssh_authorized_keys;
    assert_eq!(keys.len(), 2);
}

#[test]
fn both_spec_versions_render_their_ignition_version() {
    for (butane, ignition) in [("1.0.0", "3.3.0"), ("1.1.0", "3.4.0")] {
        let source = format!("variant: flatcar\nversion: {butane}\nstorage:\n  files:\n    - path: /etc/a\n      mode: 0644\n      contents:\n        inline: a\n");
        let rendered = render_butane(&source, &RenderOptions::default()).expect("renders");
        assert_eq!(rendered.config.ignition.version, ignition);
        let json = rendered.to_json(false);
        assert_valid(&json);
        assert!(json.contains(r#""mode":420"#), "{json}");
    }
}

/// Decodes a data URL and gunzips it when `compression` says so.
pub fn embedded_bytes(source: Option<&str>, compression: Option<&str>) -> Vec<u8> {
    let raw = dataurl::decode(source.expect("source")).expect("valid data URL");
    match compression {
        Some("gzip") => dataurl::gunzip(&raw).expect("valid gzip"),
        _ => raw,
    }
}
