//! Resources: file `contents`/`append`, `ignition.config` references and CA bundles.
//!
//! Exactly one of `source`, `inline` and `local` may be given. `inline` and `local` become
//! data URLs (see [`crate::dataurl`]); `local` is read relative to `--files-dir` and may not
//! leave it. A verification hash needs one of the three, since it checks fetched contents.
//!
//! Butane also validates an `inline`/`local` config given to `ignition.config.merge` or
//! `replace` as Ignition JSON; this renderer embeds it unchecked. TODO(#6): validate
//! embedded child configs against the Ignition types.

use std::path::{Component, Path};

use super::checks::{check_hash, check_url};
use super::report::Fields;
use super::Translator;
use crate::dataurl;
use crate::ignition::{HttpHeader, Resource, Verification};
use crate::yaml::Node;

const RESOURCE_KEYS: [&str; 6] = [
    "source",
    "inline",
    "local",
    "compression",
    "http_headers",
    "verification",
];

impl Translator<'_> {
    /// Translates one resource at `path`.
    pub(crate) fn resource(&mut self, node: &Node, path: &str) -> Option<Resource> {
        let fields = Fields::open(&mut self.report, node, path, &RESOURCE_KEYS)?;
        let report = &mut self.report;
        let source = fields.string(report, "source");
        let inline = fields.string(report, "inline");
        let local = fields.string(report, "local");
        let compression = fields.string(report, "compression");

        // one contents source at most
        let given: Vec<&str> = [("source", &source), ("inline", &inline), ("local", &local)]
            .iter()
            .filter(|(_, value)| value.is_some())
            .map(|(name, _)| *name)
            .collect();
        if given.len() > 1 {
            report.error(
                path,
                format!(
                    "only one of `source`, `inline` and `local` may be set, found `{}`",
                    given.join("` and `")
                ),
            );
        }
        if let Some(c) = compression
            .as_deref()
            .filter(|c| !c.is_empty() && *c != "gzip")
        {
            report.error(
                &fields.child("compression"),
                format!("unknown compression `{c}`; use `gzip` or leave it out"),
            );
        }
        if let Some(url) = &source {
            check_url(report, &fields.child("source"), url);
        }

        let verification = self.verification(&fields, given.is_empty());
        let http_headers = self.http_headers(&fields);
        let mut resource = Resource {
            compression,
            http_headers,
            source,
            verification,
        };

        // embed inline or local contents
        let embedded = match (inline, local) {
            (Some(text), _) => Some(text.into_bytes()),
            (None, Some(local)) => self.read_local(&fields.child("local"), &local),
            (None, None) => None,
        };
        if let Some(bytes) = embedded {
            let encoded = dataurl::encode(&bytes, resource.compression.as_deref(), true);
            resource.source = Some(encoded.url);
            if encoded.compression.is_some() {
                resource.compression = encoded.compression;
            }
        }
        Some(resource)
    }

    fn verification(&mut self, fields: &Fields<'_>, no_source: bool) -> Verification {
        let Some(verification) = fields.map(&mut self.report, "verification", &["hash"]) else {
            return Verification::default();
        };
        let hash = verification.string(&mut self.report, "hash");
        let field = verification.child("hash");
        if let Some(hash) = &hash {
            check_hash(&mut self.report, &field, hash);
            if no_source {
                self.report.error(
                    &field,
                    "a verification hash needs contents to check: set `source`, `inline` \
                     or `local`",
                );
            }
        }
        Verification { hash }
    }

    fn http_headers(&mut self, fields: &Fields<'_>) -> Vec<HttpHeader> {
        let mut headers = Vec::new();
        for (path, node) in fields.list(&mut self.report, "http_headers") {
            let Some(header) = Fields::open(&mut self.report, node, &path, &["name", "value"])
            else {
                continue;
            };
            let Some(name) = header.string(&mut self.report, "name") else {
                self.report
                    .error(&header.child("name"), "missing required field `name`");
                continue;
            };
            let value = header.string(&mut self.report, "value");
            headers.push(HttpHeader { name, value });
        }
        headers
    }

    /// Reads a `local` file below `--files-dir`; reports why it cannot.
    pub(crate) fn read_local(&mut self, field: &str, local: &str) -> Option<Vec<u8>> {
        let Some(dir) = self.files_dir else {
            self.report.error(
                field,
                "`local` needs `--files-dir DIR` to say where files are",
            );
            return None;
        };
        let relative = Path::new(local);
        if !relative
            .components()
            .all(|c| matches!(c, Component::Normal(_) | Component::CurDir))
        {
            self.report.error(
                field,
                format!("local path `{local}` must stay inside the files directory"),
            );
            return None;
        }
        // The message names the path as written, relative to --files-dir.
        match std::fs::read(dir.join(relative)) {
            Ok(bytes) => Some(bytes),
            Err(error) => {
                let message = format!("cannot read `{local}` in the files directory: {error}");
                self.report.error(field, message);
                None
            }
        }
    }
}
