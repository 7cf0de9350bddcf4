//! Collects diagnostics while walking the YAML tree, and typed access to mapping fields.
//!
//! [`Fields`] opens a mapping at a field path, reports keys the spec does not know (a
//! warning, an error with `--strict`), and reads typed values, reporting type mismatches at
//! the exact path. A null value counts as absent, as in Butane.

use crate::yaml::{Node, Value};
use crate::{Diagnostic, Severity};

/// Diagnostics found so far.
#[derive(Debug, Default)]
pub(crate) struct Report {
    pub diagnostics: Vec<Diagnostic>,
    /// Turn every warning into an error.
    pub strict: bool,
}

impl Report {
    pub fn error(&mut self, path: &str, message: impl Into<String>) {
        self.push(Severity::Error, path, message.into());
    }

    pub fn warn(&mut self, path: &str, message: impl Into<String>) {
        let severity = if self.strict {
            Severity::Error
        } else {
            Severity::Warning
        };
        self.push(severity, path, message.into());
    }

    fn push(&mut self, severity: Severity, path: &str, message: String) {
        self.diagnostics.push(Diagnostic {
            severity,
            path: path.to_owned(),
            message,
        });
    }
}

/// A mapping being read, with the field path it sits at.
#[derive(Debug)]
pub(crate) struct Fields<'a> {
    pub path: String,
    entries: &'a [(String, Node)],
}

impl<'a> Fields<'a> {
    /// Opens `node` as a mapping; reports a type error (and returns `None`) otherwise.
    ///
    /// Keys outside `known` are reported as unknown and ignored.
    pub fn open(report: &mut Report, node: &'a Node, path: &str, known: &[&str]) -> Option<Self> {
        let Value::Map(entries) = &node.value else {
            report.error(
                path,
                format!("expected a mapping, found {}", node.value.kind()),
            );
            return None;
        };
        for (key, _) in entries {
            if !known.contains(&key.as_str()) {
                report.warn(
                    &format!("{path}.{key}"),
                    format!(
                        "unknown key `{key}`, not in the flatcar spec (known here: {})",
                        known.join(", ")
                    ),
                );
            }
        }
        Some(Self {
            path: path.to_owned(),
            entries,
        })
    }

    /// Reports each present key of `keys` as valid Butane that this renderer cannot render.
    pub fn reject_unsupported(&self, report: &mut Report, keys: &[&str]) {
        for key in keys {
            if self.get(key).is_some() {
                report.error(
                    &self.child(key),
                    format!(
                        "`{key}` is valid Butane but not supported by nnedge's renderer \
                         (files, directories, links, units and users are)"
                    ),
                );
            }
        }
    }

    /// The value at `key`, treating null as absent.
    pub fn get(&self, key: &str) -> Option<&'a Node> {
        self.entries
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, node)| node)
            .filter(|node| node.value != Value::Null)
    }

    /// Field path of `key`.
    pub fn child(&self, key: &str) -> String {
        format!("{}.{key}", self.path)
    }

    pub fn string(&self, report: &mut Report, key: &str) -> Option<String> {
        match &self.get(key)?.value {
            Value::Str(s) => Some(s.clone()),
            // Butane's decoder accepts plain numbers and booleans for string fields.
            Value::Int(n) => Some(n.to_string()),
            Value::Bool(b) => Some(b.to_string()),
            other => self.mismatch(report, key, "a string", other),
        }
    }

    pub fn int(&self, report: &mut Report, key: &str) -> Option<i64> {
        match &self.get(key)?.value {
            Value::Int(n) => Some(*n),
            other => self.mismatch(report, key, "an integer", other),
        }
    }

    pub fn bool(&self, report: &mut Report, key: &str) -> Option<bool> {
        match &self.get(key)?.value {
            Value::Bool(b) => Some(*b),
            other => self.mismatch(report, key, "a boolean", other),
        }
    }

    /// A list of nodes with their field paths (`$.x.key.0`, ...); empty if absent.
    pub fn list(&self, report: &mut Report, key: &str) -> Vec<(String, &'a Node)> {
        let Some(node) = self.get(key) else {
            return Vec::new();
        };
        let Value::Seq(items) = &node.value else {
            self.mismatch::<()>(report, key, "a list", &node.value);
            return Vec::new();
        };
        let path = self.child(key);
        items
            .iter()
            .enumerate()
            .map(|(i, item)| (format!("{path}.{i}"), item))
            .collect()
    }

    /// A list of strings with their field paths.
    pub fn strings(&self, report: &mut Report, key: &str) -> Vec<(String, String)> {
        let mut out = Vec::new();
        for (path, item) in self.list(report, key) {
            match &item.value {
                Value::Str(s) => out.push((path, s.clone())),
                other => report.error(&path, format!("expected a string, found {}", other.kind())),
            }
        }
        out
    }

    /// A nested mapping, if present.
    pub fn map(&self, report: &mut Report, key: &str, known: &[&str]) -> Option<Fields<'a>> {
        Fields::open(report, self.get(key)?, &self.child(key), known)
    }

    fn mismatch<T>(&self, report: &mut Report, key: &str, want: &str, got: &Value) -> Option<T> {
        report.error(
            &self.child(key),
            format!("expected {want}, found {}", got.kind()),
        );
        None
    }
}
