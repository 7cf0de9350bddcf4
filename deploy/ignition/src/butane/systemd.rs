//! `systemd`: units and their drop-ins.

use std::collections::HashSet;

use super::report::Fields;
use super::Translator;
use crate::ignition::{Dropin, Systemd, Unit};
use crate::yaml::Node;

const UNIT_KEYS: [&str; 6] = [
    "name",
    "enabled",
    "mask",
    "contents",
    "contents_local",
    "dropins",
];
const DROPIN_KEYS: [&str; 3] = ["name", "contents", "contents_local"];

/// Unit types systemd knows; a unit name must end in one of them.
const UNIT_SUFFIXES: [&str; 11] = [
    ".service",
    ".socket",
    ".device",
    ".mount",
    ".automount",
    ".swap",
    ".target",
    ".path",
    ".timer",
    ".slice",
    ".scope",
];

impl Translator<'_> {
    pub(crate) fn systemd(&mut self, node: &Node, path: &str) -> Option<Systemd> {
        let fields = Fields::open(&mut self.report, node, path, &["units"])?;
        let mut systemd = Systemd::default();
        let mut names = HashSet::new();
        for (path, node) in fields.list(&mut self.report, "units") {
            let Some(unit) = self.unit(node, &path) else {
                continue;
            };
            if !names.insert(unit.name.clone()) {
                let message = format!("duplicate unit `{}`; merge the two entries", unit.name);
                self.report.error(&format!("{path}.name"), message);
            }
            systemd.units.push(unit);
        }
        Some(systemd)
    }

    fn unit(&mut self, node: &Node, path: &str) -> Option<Unit> {
        let fields = Fields::open(&mut self.report, node, path, &UNIT_KEYS)?;
        let name = self.required_name(&fields)?;
        if !UNIT_SUFFIXES.iter().any(|suffix| name.ends_with(suffix)) {
            self.report.error(
                &fields.child("name"),
                format!("unit name `{name}` needs a unit type suffix such as `.service`"),
            );
        }
        let enabled = fields.bool(&mut self.report, "enabled");
        let mask = fields.bool(&mut self.report, "mask");
        let contents = self.text_contents(&fields);

        let mut dropins = Vec::new();
        let mut names = HashSet::new();
        for (path, node) in fields.list(&mut self.report, "dropins") {
            let Some(dropin) = self.dropin(node, &path) else {
                continue;
            };
            if !names.insert(dropin.name.clone()) {
                let message = format!("duplicate drop-in `{}` in this unit", dropin.name);
                self.report.error(&format!("{path}.name"), message);
            }
            dropins.push(dropin);
        }
        Some(Unit {
            name,
            enabled,
            mask,
            contents,
            dropins,
        })
    }

    fn dropin(&mut self, node: &Node, path: &str) -> Option<Dropin> {
        let fields = Fields::open(&mut self.report, node, path, &DROPIN_KEYS)?;
        let name = self.required_name(&fields)?;
        if !name.ends_with(".conf") {
            let message = format!("drop-in name `{name}` must end in `.conf`");
            self.report.error(&fields.child("name"), message);
        }
        let contents = self.text_contents(&fields);
        Some(Dropin { name, contents })
    }

    fn required_name(&mut self, fields: &Fields<'_>) -> Option<String> {
        let name = fields.string(&mut self.report, "name");
        if name.is_none() {
            self.report
                .error(&fields.child("name"), "missing required field `name`");
        }
        name
    }

    /// `contents` or `contents_local` (read from `--files-dir`), not both.
    fn text_contents(&mut self, fields: &Fields<'_>) -> Option<String> {
        let inline = fields.string(&mut self.report, "contents");
        let Some(local) = fields.string(&mut self.report, "contents_local") else {
            return inline;
        };
        let field = fields.child("contents_local");
        if inline.is_some() {
            self.report
                .error(&field, "set `contents` or `contents_local`, not both");
            return inline;
        }
        let bytes = self.read_local(&field, &local)?;
        match String::from_utf8(bytes) {
            Ok(text) => Some(text),
            Err(_) => {
                self.report
                    .error(&field, format!("`{local}` is not UTF-8 text"));
                None
            }
        }
    }
}
