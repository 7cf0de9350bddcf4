//! `storage`: files, directories and links.

use super::checks::{check_mode, check_path, NodeEntry};
use super::report::{Fields, Report};
use super::Translator;
use crate::ignition::{Directory, File, Link, NodeOwner, Storage};
use crate::yaml::Node;

const STORAGE_KEYS: [&str; 8] = [
    "files",
    "directories",
    "links",
    "disks",
    "raid",
    "filesystems",
    "luks",
    "trees",
];
const FILE_KEYS: [&str; 7] = [
    "path",
    "overwrite",
    "contents",
    "append",
    "mode",
    "user",
    "group",
];
const DIRECTORY_KEYS: [&str; 5] = ["path", "overwrite", "mode", "user", "group"];
const LINK_KEYS: [&str; 6] = ["path", "overwrite", "user", "group", "target", "hard"];

impl Translator<'_> {
    pub(crate) fn storage(&mut self, node: &Node, path: &str) -> Option<Storage> {
        let fields = Fields::open(&mut self.report, node, path, &STORAGE_KEYS)?;
        fields.reject_unsupported(&mut self.report, &STORAGE_KEYS[3..]);

        let mut storage = Storage::default();
        for (path, node) in fields.list(&mut self.report, "files") {
            storage.files.extend(self.file(node, &path));
        }
        for (path, node) in fields.list(&mut self.report, "directories") {
            storage.directories.extend(self.directory(node, &path));
        }
        for (path, node) in fields.list(&mut self.report, "links") {
            storage.links.extend(self.link(node, &path));
        }
        Some(storage)
    }

    fn file(&mut self, node: &Node, path: &str) -> Option<File> {
        let fields = Fields::open(&mut self.report, node, path, &FILE_KEYS)?;
        let file_path = self.node_path(&fields, false)?;
        let overwrite = fields.bool(&mut self.report, "overwrite");
        let mode = self.mode(&fields);
        let contents = fields
            .get("contents")
            .and_then(|n| self.resource(n, &fields.child("contents")));
        let mut append = Vec::new();
        for (path, node) in fields.list(&mut self.report, "append") {
            append.extend(self.resource(node, &path));
        }

        // Ignition only replaces a node when it has something to put there.
        let has_source = contents.as_ref().is_some_and(|c| c.source.is_some());
        if overwrite == Some(true) && !has_source {
            self.report.error(
                &fields.child("overwrite"),
                "`overwrite: true` needs `contents` with `source`, `inline` or `local`",
            );
        }
        let (user, group) = self.owners(&fields);
        Some(File {
            path: file_path,
            overwrite,
            user,
            group,
            contents,
            append,
            mode,
        })
    }

    fn directory(&mut self, node: &Node, path: &str) -> Option<Directory> {
        let fields = Fields::open(&mut self.report, node, path, &DIRECTORY_KEYS)?;
        let dir_path = self.node_path(&fields, false)?;
        let overwrite = fields.bool(&mut self.report, "overwrite");
        let mode = self.mode(&fields);
        let (user, group) = self.owners(&fields);
        Some(Directory {
            path: dir_path,
            overwrite,
            user,
            group,
            mode,
        })
    }

    fn link(&mut self, node: &Node, path: &str) -> Option<Link> {
        let fields = Fields::open(&mut self.report, node, path, &LINK_KEYS)?;
        let link_path = self.node_path(&fields, true)?;
        let target = fields.string(&mut self.report, "target");
        if target.as_deref().is_none_or(str::is_empty) {
            self.report
                .error(&fields.child("target"), "missing required field `target`");
        }
        let overwrite = fields.bool(&mut self.report, "overwrite");
        let hard = fields.bool(&mut self.report, "hard");
        let (user, group) = self.owners(&fields);
        Some(Link {
            path: link_path,
            overwrite,
            user,
            group,
            target,
            hard,
        })
    }

    /// Reads and checks `path`, and records the node for the cross-node checks.
    fn node_path(&mut self, fields: &Fields<'_>, is_link: bool) -> Option<String> {
        let Some(path) = fields.string(&mut self.report, "path") else {
            self.report
                .error(&fields.child("path"), "missing required field `path`");
            return None;
        };
        check_path(&mut self.report, &fields.child("path"), &path);
        let field = fields.path.clone();
        self.nodes.push(NodeEntry {
            path: path.clone(),
            field,
            is_link,
        });
        Some(path)
    }

    fn mode(&mut self, fields: &Fields<'_>) -> Option<i64> {
        let mode = fields.int(&mut self.report, "mode")?;
        check_mode(&mut self.report, &fields.child("mode"), mode);
        Some(mode)
    }

    fn owners(&mut self, fields: &Fields<'_>) -> (Option<NodeOwner>, Option<NodeOwner>) {
        (
            owner(&mut self.report, fields, "user"),
            owner(&mut self.report, fields, "group"),
        )
    }
}

/// `user`/`group`: by `id` or by `name`, not both.
fn owner(report: &mut Report, fields: &Fields<'_>, key: &str) -> Option<NodeOwner> {
    let owner = fields.map(report, key, &["id", "name"])?;
    let id = owner.int(report, "id");
    let name = owner.string(report, "name");
    if id.is_some() && name.is_some() {
        report.error(
            &owner.path,
            format!("set the {key} by `id` or by `name`, not both"),
        );
    }
    Some(NodeOwner { id, name })
}
