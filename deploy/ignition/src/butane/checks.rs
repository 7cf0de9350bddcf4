//! Checks on single values (paths, modes, hashes, URLs) and across nodes (duplicate paths,
//! nodes below links), with the messages users see.

use std::collections::HashMap;

use super::report::Report;

/// Reports a path that is not absolute or not in clean form (`//`, `.`, `..`, trailing `/`).
pub(crate) fn check_path(report: &mut Report, field: &str, path: &str) {
    if !path.starts_with('/') {
        report.error(
            field,
            format!("path `{path}` is not absolute; start it with `/`"),
        );
        return;
    }
    let clean = clean_path(path);
    if clean != path {
        report.error(
            field,
            format!("path `{path}` is not clean; write it as `{clean}`"),
        );
    }
}

/// Lexically cleans an absolute path like Go's `path.Clean`.
pub(crate) fn clean_path(path: &str) -> String {
    let mut parts: Vec<&str> = Vec::new();
    for part in path.split('/') {
        match part {
            "" | "." => {}
            ".." => {
                parts.pop();
            }
            other => parts.push(other),
        }
    }
    format!("/{}", parts.join("/"))
}

/// Reports a mode outside `0..=0o7777`, and warns about modes that look decimal.
pub(crate) fn check_mode(report: &mut Report, field: &str, mode: i64) {
    if !(0..=0o7777).contains(&mode) {
        report.error(
            field,
            if mode > 0 {
                format!("mode {mode} (octal 0{mode:o}) is outside 0..07777; write modes in octal, e.g. 0644")
            } else {
                format!("mode {mode} is outside 0..07777; write modes in octal, e.g. 0644")
            },
        );
        return;
    }
    if let Some(octal) = decimal_typo(mode) {
        report.warn(
            field,
            format!(
                "mode {mode} is read as decimal (octal 0{mode:o}); it was probably meant \
                 as octal: write 0{mode} (decimal {octal})"
            ),
        );
    }
}

/// The mode the user probably meant if `mode` was written in decimal by mistake: its
/// decimal digits read as octal give a plausible mode while `mode` itself is implausible.
fn decimal_typo(mode: i64) -> Option<i64> {
    let digits = mode.to_string();
    let meant = i64::from_str_radix(&digits, 8).ok()?;
    (digits.len() >= 3 && plausible(meant) && !plausible(mode)).then_some(meant)
}

/// Owner can read; group has no bit the owner lacks, others none the group lacks; no
/// write-only class; no setuid/setgid/sticky bits.
fn plausible(mode: i64) -> bool {
    let (user, group, other) = ((mode >> 6) & 7, (mode >> 3) & 7, mode & 7);
    let write_only = |class: i64| class & 2 != 0 && class & 4 == 0;
    mode <= 0o777
        && user & 4 != 0
        && group & !user == 0
        && other & !group == 0
        && !write_only(group)
        && !write_only(other)
}

/// Reports a verification hash not of the form `sha256-<64 hex>` or `sha512-<128 hex>`.
pub(crate) fn check_hash(report: &mut Report, field: &str, hash: &str) {
    let ok = match hash.split_once('-') {
        Some(("sha256", hex)) => is_hex(hex, 64),
        Some(("sha512", hex)) => is_hex(hex, 128),
        _ => false,
    };
    if !ok {
        report.error(
            field,
            format!("hash `{hash}` must be `sha256-` + 64 or `sha512-` + 128 hex digits"),
        );
    }
}

fn is_hex(text: &str, len: usize) -> bool {
    text.len() == len && text.bytes().all(|b| b.is_ascii_hexdigit())
}

/// URL schemes Ignition fetches from.
const SCHEMES: [&str; 7] = ["http", "https", "tftp", "s3", "arn", "gs", "data"];

/// Reports a `source` URL whose scheme Ignition cannot fetch.
pub(crate) fn check_url(report: &mut Report, field: &str, url: &str) {
    let scheme = url
        .split_once(':')
        .map(|(scheme, _)| scheme.to_ascii_lowercase());
    if !scheme.is_some_and(|s| SCHEMES.contains(&s.as_str())) {
        report.error(
            field,
            format!(
                "URL `{url}` has no supported scheme ({})",
                SCHEMES.join(", ")
            ),
        );
    }
}

/// A file, directory or link path with the field path of the entry that declares it.
#[derive(Debug)]
pub(crate) struct NodeEntry {
    pub path: String,
    /// Field path of the entry, e.g. `$.storage.links.0`.
    pub field: String,
    pub is_link: bool,
}

/// Reports paths used twice across files, directories and links, and nodes whose path
/// lies below a link (Ignition refuses to write through a link it created).
pub(crate) fn check_nodes(report: &mut Report, nodes: &[NodeEntry]) {
    let mut seen: HashMap<&str, &str> = HashMap::new();
    for node in nodes {
        if let Some(first) = seen.get(node.path.as_str()) {
            report.error(
                &format!("{}.path", node.field),
                format!(
                    "duplicate path `{}`: {first} already declares it",
                    node.path
                ),
            );
        } else {
            seen.insert(&node.path, &node.field);
        }
    }

    for node in nodes {
        let below = nodes.iter().find(|link| {
            link.is_link
                && node
                    .path
                    .strip_prefix(link.path.as_str())
                    .is_some_and(|rest| rest.starts_with('/') && link.path != "/")
        });
        if let Some(link) = below {
            report.error(
                &format!("{}.path", node.field),
                format!(
                    "`{}` lies below the link `{}` ({}); Ignition does not write through \
                     links: use the link's target path instead",
                    node.path, link.path, link.field
                ),
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clean_paths() {
        assert_eq!(clean_path("/a//b/./c/../d/"), "/a/b/d");
        assert_eq!(clean_path("/"), "/");
    }

    #[test]
    fn decimal_typos() {
        assert_eq!(decimal_typo(644), Some(0o644));
        assert_eq!(decimal_typo(755), Some(0o755));
        assert_eq!(decimal_typo(600), Some(0o600));
        assert_eq!(decimal_typo(400), Some(0o400));
        assert_eq!(decimal_typo(420), None);
        assert_eq!(decimal_typo(493), None);
        assert_eq!(decimal_typo(384), None);
    }
}
