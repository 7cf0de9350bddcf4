//! Every validation message, with the field path it names.
//!
//! Each case asserts the path and severity; one snapshot pins the wording of all
//! messages, so a change to any of them is reviewed.

use nnedge_ignition::{render_butane, Diagnostic, IgnitionError, RenderOptions, Severity};

use crate::fixture;

const HEAD: &str = "variant: flatcar\nversion: 1.0.0\n";

struct Case {
    name: &'static str,
    /// Butane body after the variant/version header (unless `raw`).
    body: &'static str,
    raw: bool,
    strict: bool,
    files_dir: bool,
    path: &'static str,
    severity: Severity,
}

const fn case(name: &'static str, body: &'static str, path: &'static str) -> Case {
    Case {
        name,
        body,
        raw: false,
        strict: false,
        files_dir: false,
        path,
        severity: Severity::Error,
    }
}

fn cases() -> Vec<Case> {
    let files = |name, body, path| case(name, body, path);
    vec![
        Case { severity: Severity::Warning, ..files("unknown key warns", "storage:\n  files:\n    - path: /a\n      colour: red\n", "$.storage.files.0.colour") },
        Case { strict: true, ..files("unknown key is an error with --strict", "storage:\n  files:\n    - path: /a\n      colour: red\n", "$.storage.files.0.colour") },
        Case { raw: true, ..case("missing variant", "version: 1.0.0\n", "$.variant") },
        Case { raw: true, ..case("unknown variant", "variant: fcos\nversion: 1.0.0\n", "$.variant") },
        Case { raw: true, ..case("missing version", "variant: flatcar\n", "$.version") },
        Case { raw: true, ..case("unknown version", "variant: flatcar\nversion: 1.2.0\n", "$.version") },
        files("duplicate file paths", "storage:\n  files:\n    - path: /etc/a\n    - path: /etc/a\n", "$.storage.files.1.path"),
        files("file and directory share a path", "storage:\n  files:\n    - path: /etc/a\n  directories:\n    - path: /etc/a\n", "$.storage.directories.0.path"),
        files("file and link share a path", "storage:\n  files:\n    - path: /etc/a\n  links:\n    - path: /etc/a\n      target: /b\n", "$.storage.links.0.path"),
        files("relative path", "storage:\n  files:\n    - path: etc/a\n", "$.storage.files.0.path"),
        files("unclean path", "storage:\n  directories:\n    - path: /etc//nnedge/../a/\n", "$.storage.directories.0.path"),
        files("more than one contents source", "storage:\n  files:\n    - path: /a\n      contents:\n        source: https://x.test/a\n        inline: a\n", "$.storage.files.0.contents"),
        files("verification hash without a source", "storage:\n  files:\n    - path: /a\n      contents:\n        verification:\n          hash: sha256-b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53\n", "$.storage.files.0.contents.verification.hash"),
        files("mode above 07777", "storage:\n  files:\n    - path: /a\n      mode: 010000\n", "$.storage.files.0.mode"),
        files("negative mode", "storage:\n  directories:\n    - path: /a\n      mode: -1\n", "$.storage.directories.0.mode"),
        files("file under a link path", "storage:\n  links:\n    - path: /etc/extensions\n      target: /opt/extensions\n  files:\n    - path: /etc/extensions/wasmedge.raw\n", "$.storage.files.0.path"),
        files("link under a link path", "storage:\n  links:\n    - path: /etc/a\n      target: /opt/a\n    - path: /etc/a/b\n      target: /opt/b\n", "$.storage.links.1.path"),
        Case { severity: Severity::Warning, ..files("mode that looks decimal", "storage:\n  files:\n    - path: /a\n      mode: 644\n", "$.storage.files.0.mode") },
        Case { strict: true, ..files("decimal-looking mode is an error with --strict", "storage:\n  files:\n    - path: /a\n      mode: 755\n", "$.storage.files.0.mode") },
        files("malformed hash", "storage:\n  files:\n    - path: /a\n      contents:\n        source: https://x.test/a\n        verification:\n          hash: md5-abc\n", "$.storage.files.0.contents.verification.hash"),
        files("unknown compression", "storage:\n  files:\n    - path: /a\n      contents:\n        source: https://x.test/a.xz\n        compression: xz\n", "$.storage.files.0.contents.compression"),
        files("unsupported URL scheme", "storage:\n  files:\n    - path: /a\n      contents:\n        source: ftp://x.test/a\n", "$.storage.files.0.contents.source"),
        files("overwrite without contents", "storage:\n  files:\n    - path: /a\n      overwrite: true\n", "$.storage.files.0.overwrite"),
        files("owner by id and name", "storage:\n  files:\n    - path: /a\n      user:\n        id: 500\n        name: core\n", "$.storage.files.0.user"),
        files("link without target", "storage:\n  links:\n    - path: /etc/a\n", "$.storage.links.0.target"),
        files("missing path", "storage:\n  directories:\n    - mode: 0755\n", "$.storage.directories.0.path"),
        files("mode given as a string", "storage:\n  files:\n    - path: /a\n      mode: \"0644\"\n", "$.storage.files.0.mode"),
        files("local without files dir", "storage:\n  files:\n    - path: /a\n      contents:\n        local: blob.bin\n", "$.storage.files.0.contents.local"),
        Case { files_dir: true, ..files("local escaping files dir", "storage:\n  files:\n    - path: /a\n      contents:\n        local: ../it/main.rs\n", "$.storage.files.0.contents.local") },
        Case { files_dir: true, ..files("missing local file", "storage:\n  files:\n    - path: /a\n      contents:\n        local: nope.txt\n", "$.storage.files.0.contents.local") },
        files("unsupported storage section", "storage:\n  disks:\n    - device: /dev/vda\n", "$.storage.disks"),
        files("unit without type suffix", "systemd:\n  units:\n    - name: nnedge\n", "$.systemd.units.0.name"),
        files("duplicate unit", "systemd:\n  units:\n    - name: a.service\n    - name: a.service\n", "$.systemd.units.1.name"),
        files("drop-in without .conf", "systemd:\n  units:\n    - name: a.service\n      dropins:\n        - name: override\n", "$.systemd.units.0.dropins.0.name"),
        Case { files_dir: true, ..files("contents and contents_local", "systemd:\n  units:\n    - name: hello.service\n      contents: x\n      contents_local: hello.service\n", "$.systemd.units.0.contents_local") },
        files("duplicate user", "passwd:\n  users:\n    - name: core\n    - name: core\n", "$.passwd.users.1.name"),
        files("duplicate SSH key", "passwd:\n  users:\n    - name: core\n      ssh_authorized_keys:\n        - ssh-ed25519 AAAA k\n        - ssh-ed25519 AAAA k\n", "$.passwd.users.0.ssh_authorized_keys.1"),
        files("section of the wrong type", "storage: [a, b]\n", "$.storage"),
    ]
}

fn run(case: &Case) -> Vec<Diagnostic> {
    let source = if case.raw {
        case.body.to_owned()
    } else {
        format!("{HEAD}{}", case.body)
    };
    let files_dir = case.files_dir.then(|| fixture("files"));
    match render_butane(
        &source,
        &RenderOptions {
            strict: case.strict,
            files_dir,
        },
    ) {
        Ok(rendered) => rendered.warnings,
        Err(IgnitionError::Invalid { diagnostics }) => diagnostics,
        Err(other) => panic!("{}: unexpected error {other}", case.name),
    }
}

#[test]
fn every_validation_message_names_its_field() {
    let mut transcript = String::new();
    for case in cases() {
        let diagnostics = run(&case);
        let found = diagnostics
            .iter()
            .find(|d| d.path == case.path && d.severity == case.severity);
        assert!(
            found.is_some(),
            "{}: expected {:?} at {}, got {diagnostics:#?}",
            case.name,
            case.severity,
            case.path
        );
        transcript.push_str(&format!("## {}\n", case.name));
        for diagnostic in &diagnostics {
            transcript.push_str(&format!("{diagnostic}\n"));
        }
    }
    insta::assert_snapshot!("validation_messages", transcript);
}

#[test]
fn warnings_do_not_fail_the_render() {
    let source =
        format!("{HEAD}storage:\n  files:\n    - path: /a\n      mode: 644\n      colour: red\n");
    let rendered = render_butane(&source, &RenderOptions::default()).expect("renders");
    assert_eq!(rendered.warnings.len(), 2);
    assert_eq!(
        rendered.config.storage.expect("storage").files[0].mode,
        Some(644)
    );
}

#[test]
fn all_errors_are_reported_together() {
    let source = "variant: fcos\nstorage:\n  files:\n    - path: a\n      mode: 99999\n";
    let Err(IgnitionError::Invalid { diagnostics }) =
        render_butane(source, &RenderOptions::default())
    else {
        panic!("expected a validation error");
    };
    let paths: Vec<&str> = diagnostics.iter().map(|d| d.path.as_str()).collect();
    assert_eq!(
        paths,
        [
            "$.variant",
            "$.version",
            "$.storage.files.0.path",
            "$.storage.files.0.mode"
        ]
    );
}

#[test]
fn yaml_syntax_errors_give_a_line() {
    let error = render_butane(
        "variant: flatcar\nversion: [1.0.0\n",
        &RenderOptions::default(),
    )
    .err();
    assert!(
        matches!(error, Some(IgnitionError::Yaml { line: 3, .. })),
        "{error:?}"
    );
}

#[test]
fn duplicate_yaml_keys_are_errors() {
    let error = render_butane(
        "variant: flatcar\nvariant: flatcar\n",
        &RenderOptions::default(),
    )
    .err();
    let message = error.map(|e| e.to_string()).unwrap_or_default();
    assert!(
        message.contains("mapping key `variant` is defined twice"),
        "{message}"
    );
}

/// Billion laughs: nested aliases made `render` grow to many GB and never finish.
#[test]
fn billion_laughs_aliases_are_refused() {
    let mut source = String::from("variant: flatcar\nversion: 1.0.0\nx0: &x0 [lol, lol]\n");
    for level in 1..=9 {
        let refs = vec![format!("*x{}", level - 1); 9].join(", ");
        source.push_str(&format!("x{level}: &x{level} [{refs}]\n"));
    }
    let started = std::time::Instant::now();
    let error = render_butane(&source, &RenderOptions::default()).err();
    assert!(started.elapsed() < std::time::Duration::from_secs(5));
    let message = error.map(|e| e.to_string()).unwrap_or_default();
    assert!(message.contains("excessive aliasing"), "{message}");
}
