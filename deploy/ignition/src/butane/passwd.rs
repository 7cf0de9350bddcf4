//! `passwd`: users (with SSH keys) and groups.

use std::collections::HashSet;

use super::report::Fields;
use super::{values, Translator};
use crate::ignition::{Group, Passwd, User};
use crate::yaml::Node;

const USER_KEYS: [&str; 15] = [
    "name",
    "password_hash",
    "ssh_authorized_keys",
    "ssh_authorized_keys_local",
    "uid",
    "gecos",
    "home_dir",
    "no_create_home",
    "primary_group",
    "groups",
    "no_user_group",
    "no_log_init",
    "shell",
    "should_exist",
    "system",
];
const GROUP_KEYS: [&str; 5] = ["name", "gid", "password_hash", "should_exist", "system"];

impl Translator<'_> {
    pub(crate) fn passwd(&mut self, node: &Node, path: &str) -> Option<Passwd> {
        let fields = Fields::open(&mut self.report, node, path, &["users", "groups"])?;
        let mut passwd = Passwd::default();
        let mut names = HashSet::new();
        for (path, node) in fields.list(&mut self.report, "users") {
            let Some(user) = self.user(node, &path) else {
                continue;
            };
            if !names.insert(user.name.clone()) {
                let message = format!("duplicate user `{}`; merge the two entries", user.name);
                self.report.error(&format!("{path}.name"), message);
            }
            passwd.users.push(user);
        }
        let mut names = HashSet::new();
        for (path, node) in fields.list(&mut self.report, "groups") {
            let Some(group) = self.group(node, &path) else {
                continue;
            };
            if !names.insert(group.name.clone()) {
                let message = format!("duplicate group `{}`", group.name);
                self.report.error(&format!("{path}.name"), message);
            }
            passwd.groups.push(group);
        }
        Some(passwd)
    }

    fn user(&mut self, node: &Node, path: &str) -> Option<User> {
        let fields = Fields::open(&mut self.report, node, path, &USER_KEYS)?;
        let r = &mut self.report;
        let Some(name) = fields.string(r, "name") else {
            r.error(&fields.child("name"), "missing required field `name`");
            return None;
        };
        let mut user = User {
            name,
            password_hash: fields.string(r, "password_hash"),
            uid: fields.int(r, "uid"),
            gecos: fields.string(r, "gecos"),
            home_dir: fields.string(r, "home_dir"),
            no_create_home: fields.bool(r, "no_create_home"),
            primary_group: fields.string(r, "primary_group"),
            groups: values(fields.strings(r, "groups")),
            no_user_group: fields.bool(r, "no_user_group"),
            system: fields.bool(r, "system"),
            no_log_init: fields.bool(r, "no_log_init"),
            shell: fields.string(r, "shell"),
            should_exist: fields.bool(r, "should_exist"),
            ssh_authorized_keys: Vec::new(),
        };

        // inline keys, then keys from local files (one per line)
        let mut keys = fields.strings(r, "ssh_authorized_keys");
        for (path, local) in fields.strings(&mut self.report, "ssh_authorized_keys_local") {
            let Some(bytes) = self.read_local(&path, &local) else {
                continue;
            };
            let text = String::from_utf8_lossy(&bytes);
            keys.extend(
                text.lines()
                    .filter(|l| !l.is_empty())
                    .map(|l| (path.clone(), l.into())),
            );
        }
        let mut seen = HashSet::new();
        for (path, key) in keys {
            if !seen.insert(key.clone()) {
                self.report
                    .error(&path, "duplicate SSH key; each key may appear once");
            }
            user.ssh_authorized_keys.push(key);
        }
        Some(user)
    }

    fn group(&mut self, node: &Node, path: &str) -> Option<Group> {
        let fields = Fields::open(&mut self.report, node, path, &GROUP_KEYS)?;
        let r = &mut self.report;
        let Some(name) = fields.string(r, "name") else {
            r.error(&fields.child("name"), "missing required field `name`");
            return None;
        };
        Some(Group {
            name,
            gid: fields.int(r, "gid"),
            password_hash: fields.string(r, "password_hash"),
            system: fields.bool(r, "system"),
            should_exist: fields.bool(r, "should_exist"),
        })
    }
}
