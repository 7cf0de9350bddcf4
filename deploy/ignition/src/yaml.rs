//! A small YAML document tree built from `yaml-rust2` parser events.
//!
//! Butane's Go parser resolves plain scalars like YAML 1.1 for integers: `0644` is octal
//! (420), as every Flatcar example expects. YAML 1.2 parsers read it as decimal 644, so the
//! tree keeps its own scalar resolution: quoted scalars are always strings; plain scalars
//! become null, booleans, integers (decimal, `0`-prefixed or `0o` octal, `0x` hex) or
//! strings. Duplicate mapping keys are errors, as in Butane.

use std::collections::HashMap;

use yaml_rust2::parser::{Event, MarkedEventReceiver, Parser, Tag};
use yaml_rust2::scanner::{Marker, TScalarStyle};

use crate::IgnitionError;

/// A YAML value with the line it starts on.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Node {
    pub value: Value,
    pub line: usize,
}

/// The value of a [`Node`].
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Value {
    Null,
    Bool(bool),
    Int(i64),
    Str(String),
    Seq(Vec<Node>),
    /// Entries in document order; keys are the scalars' text.
    Map(Vec<(String, Node)>),
}

impl Value {
    /// Word used in "expected X, found Y" messages.
    pub fn kind(&self) -> &'static str {
        match self {
            Value::Null => "null",
            Value::Bool(_) => "a boolean",
            Value::Int(_) => "an integer",
            Value::Str(_) => "a string",
            Value::Seq(_) => "a list",
            Value::Map(_) => "a mapping",
        }
    }
}

/// Parses one YAML document; an empty document is `Null`.
pub(crate) fn parse(source: &str) -> Result<Node, IgnitionError> {
    let mut builder = Builder::default();
    let mut parser = Parser::new_from_str(source);
    parser
        .load(&mut builder, false)
        .map_err(|e| IgnitionError::Yaml {
            line: e.marker().line(),
            column: e.marker().col() + 1,
            message: e.info().to_owned(),
        })?;
    if let Some(error) = builder.error {
        return Err(error);
    }
    Ok(builder.root.unwrap_or(Node {
        value: Value::Null,
        line: 1,
    }))
}

/// Open collection while events stream in.
enum Frame {
    Seq {
        anchor: usize,
        node: Node,
    },
    Map {
        anchor: usize,
        node: Node,
        key: Option<(String, usize)>,
    },
}

#[derive(Default)]
struct Builder {
    stack: Vec<Frame>,
    anchors: HashMap<usize, Node>,
    root: Option<Node>,
    error: Option<IgnitionError>,
}

impl MarkedEventReceiver for Builder {
    fn on_event(&mut self, event: Event, mark: Marker) {
        if self.error.is_some() {
            return;
        }
        let line = mark.line();
        match event {
            Event::Scalar(text, style, anchor, tag) => {
                let node = Node {
                    value: resolve_scalar(text, style, tag.as_ref()),
                    line,
                };
                self.finish(anchor, node, mark);
            }
            Event::SequenceStart(anchor, _) => {
                let node = Node {
                    value: Value::Seq(Vec::new()),
                    line,
                };
                self.stack.push(Frame::Seq { anchor, node });
            }
            Event::MappingStart(anchor, _) => {
                let node = Node {
                    value: Value::Map(Vec::new()),
                    line,
                };
                self.stack.push(Frame::Map {
                    anchor,
                    node,
                    key: None,
                });
            }
            Event::SequenceEnd | Event::MappingEnd => match self.stack.pop() {
                Some(Frame::Seq { anchor, node } | Frame::Map { anchor, node, .. }) => {
                    self.finish(anchor, node, mark);
                }
                None => self.fail(mark, "unbalanced collection end"),
            },
            Event::Alias(id) => match self.anchors.get(&id).cloned() {
                Some(node) => self.finish(0, node, mark),
                None => self.fail(mark, "alias to an unknown anchor"),
            },
            _ => {}
        }
    }
}

impl Builder {
    /// Attaches a completed node to its parent (or makes it the root).
    fn finish(&mut self, anchor: usize, node: Node, mark: Marker) {
        if anchor != 0 {
            self.anchors.insert(anchor, node.clone());
        }
        match self.stack.last_mut() {
            None => self.root = Some(node),
            Some(Frame::Seq { node: parent, .. }) => {
                if let Value::Seq(items) = &mut parent.value {
                    items.push(node);
                }
            }
            Some(Frame::Map {
                node: parent, key, ..
            }) => match key.take() {
                None => match node.value {
                    Value::Str(text) => *key = Some((text, node.line)),
                    Value::Int(_) | Value::Bool(_) | Value::Null => {
                        // Plain scalars used as keys keep their text form.
                        *key = Some((scalar_text(&node.value), node.line));
                    }
                    _ => self.fail(mark, "mapping keys must be scalars"),
                },
                Some((name, _)) => {
                    let Value::Map(entries) = &mut parent.value else {
                        return;
                    };
                    if entries.iter().any(|(existing, _)| *existing == name) {
                        let message = format!("mapping key `{name}` is defined twice");
                        self.fail(mark, &message);
                        return;
                    }
                    entries.push((name, node));
                }
            },
        }
    }

    fn fail(&mut self, mark: Marker, message: &str) {
        self.error = Some(IgnitionError::Yaml {
            line: mark.line(),
            column: mark.col() + 1,
            message: message.to_owned(),
        });
    }
}

fn scalar_text(value: &Value) -> String {
    match value {
        Value::Int(n) => n.to_string(),
        Value::Bool(b) => b.to_string(),
        Value::Null => "null".to_owned(),
        _ => String::new(),
    }
}

/// Resolves a scalar the way Butane's YAML decoder does for the types Butane uses.
fn resolve_scalar(text: String, style: TScalarStyle, tag: Option<&Tag>) -> Value {
    if let Some(tag) = tag {
        if tag.suffix == "str" {
            return Value::Str(text);
        }
    }
    if style != TScalarStyle::Plain {
        return Value::Str(text);
    }
    match text.as_str() {
        "" | "~" | "null" | "Null" | "NULL" => return Value::Null,
        "true" | "True" | "TRUE" => return Value::Bool(true),
        "false" | "False" | "FALSE" => return Value::Bool(false),
        _ => {}
    }
    parse_int(&text).map_or(Value::Str(text), Value::Int)
}

/// Integer forms: `[-+]digits`, legacy octal `0644`, `0o644`, `0x1ff`, `0b101`.
fn parse_int(text: &str) -> Option<i64> {
    let (negative, body) = match text.as_bytes().first()? {
        b'-' => (true, &text[1..]),
        b'+' => (false, &text[1..]),
        _ => (false, text),
    };
    let body = body.replace('_', "");
    let (radix, digits) = if let Some(rest) = body.strip_prefix("0o") {
        (8, rest)
    } else if let Some(rest) = body.strip_prefix("0x") {
        (16, rest)
    } else if let Some(rest) = body.strip_prefix("0b") {
        (2, rest)
    } else if body.len() > 1 && body.starts_with('0') {
        (8, &body[1..])
    } else {
        (10, body.as_str())
    };
    if digits.is_empty() || !digits.chars().all(|c| c.is_digit(radix)) {
        return None;
    }
    let magnitude = i64::from_str_radix(digits, radix).ok()?;
    Some(if negative { -magnitude } else { magnitude })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn value(source: &str) -> Value {
        parse(source).map(|n| n.value).unwrap_or(Value::Null)
    }

    #[test]
    fn legacy_octal_is_octal() {
        assert_eq!(value("0644"), Value::Int(420));
        assert_eq!(value("0420"), Value::Int(272));
        assert_eq!(value("0o755"), Value::Int(493));
        assert_eq!(value("644"), Value::Int(644));
        assert_eq!(value("'0644'"), Value::Str("0644".into()));
        assert_eq!(value("0x1f"), Value::Int(31));
        assert_eq!(value("089"), Value::Str("089".into()));
    }

    #[test]
    fn duplicate_keys_are_rejected() {
        let err = parse("a: 1\na: 2\n").err().map(|e| e.to_string());
        assert!(err.is_some_and(|e| e.contains("`a` is defined twice")));
    }

    #[test]
    fn aliases_copy_anchored_nodes() {
        let Value::Map(entries) = value("a: &x [1, 2]\nb: *x\n") else {
            panic!("expected a mapping");
        };
        assert_eq!(entries[0].1.value, entries[1].1.value);
    }
}
