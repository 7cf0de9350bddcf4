//! A small YAML document tree built from `yaml-rust2` parser events.
//!
//! Butane's Go parser resolves plain scalars like YAML 1.1 for integers: `0644` is octal
//! (420), as every Flatcar example expects. YAML 1.2 parsers read it as decimal 644, so the
//! tree keeps its own scalar resolution: quoted scalars are always strings; plain scalars
//! become null, booleans, integers (decimal, `0`-prefixed or `0o` octal, `0x` hex) or
//! strings. Duplicate mapping keys are errors, as in Butane.
//!
//! Aliases are copied into the tree, so nested aliases ("billion laughs") could expand a
//! small file into gigabytes; the builder weighs every anchored node and refuses a document
//! once its aliases would copy more than [`ALIAS_EXPANSION_LIMIT`], before copying.

use std::collections::HashMap;

use yaml_rust2::parser::{Event, MarkedEventReceiver, Parser, Tag};
use yaml_rust2::scanner::{Marker, TScalarStyle};

use crate::IgnitionError;

/// Most weight (nodes plus scalar bytes) that all aliases of one document may copy.
///
/// Butane configs use aliases, if at all, to repeat a unit or a file entry a few times,
/// far below this; nested aliases that multiply past it are refused as "excessive
/// aliasing", as Butane's Go YAML decoder does. Text written out without aliases does not
/// count: it is bounded by the input's size. Lifting the limit would mean sharing aliased
/// nodes instead of copying them.
pub(crate) const ALIAS_EXPANSION_LIMIT: usize = 1 << 20;

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
///
/// `start` is the builder's weight when the collection opened, so the collection's own
/// weight (aliases inside it included) is the difference when it closes.
enum Frame {
    Seq {
        anchor: usize,
        start: usize,
        node: Node,
    },
    Map {
        anchor: usize,
        start: usize,
        node: Node,
        key: Option<(String, usize)>,
    },
}

/// An anchored node and its weight (see [`Builder::weight`]).
struct Anchored {
    node: Node,
    weight: usize,
}

#[derive(Default)]
struct Builder {
    stack: Vec<Frame>,
    anchors: HashMap<usize, Anchored>,
    root: Option<Node>,
    error: Option<IgnitionError>,
    /// Weight of the tree so far: one per node plus each scalar's length in bytes,
    /// counting every copy an alias makes.
    weight: usize,
    /// Weight copied by aliases so far; bounded by [`ALIAS_EXPANSION_LIMIT`].
    aliased: usize,
}

impl MarkedEventReceiver for Builder {
    fn on_event(&mut self, event: Event, mark: Marker) {
        if self.error.is_some() {
            return;
        }
        let line = mark.line();
        match event {
            Event::Scalar(text, style, anchor, tag) => {
                let start = self.weight;
                self.weight = self.weight.saturating_add(1 + text.len());
                let node = Node {
                    value: resolve_scalar(text, style, tag.as_ref()),
                    line,
                };
                self.finish(anchor, start, node, mark);
            }
            Event::SequenceStart(anchor, _) => {
                let start = self.weight;
                self.weight = self.weight.saturating_add(1);
                let node = Node {
                    value: Value::Seq(Vec::new()),
                    line,
                };
                self.stack.push(Frame::Seq {
                    anchor,
                    start,
                    node,
                });
            }
            Event::MappingStart(anchor, _) => {
                let start = self.weight;
                self.weight = self.weight.saturating_add(1);
                let node = Node {
                    value: Value::Map(Vec::new()),
                    line,
                };
                self.stack.push(Frame::Map {
                    anchor,
                    start,
                    node,
                    key: None,
                });
            }
            Event::SequenceEnd | Event::MappingEnd => match self.stack.pop() {
                Some(
                    Frame::Seq {
                        anchor,
                        start,
                        node,
                    }
                    | Frame::Map {
                        anchor,
                        start,
                        node,
                        ..
                    },
                ) => self.finish(anchor, start, node, mark),
                None => self.fail(mark, "unbalanced collection end"),
            },
            Event::Alias(id) => self.expand_alias(id, mark),
            _ => {}
        }
    }
}

impl Builder {
    /// Copies the node anchored as `id`, unless the copies would grow past
    /// [`ALIAS_EXPANSION_LIMIT`]; the check comes before the copy.
    fn expand_alias(&mut self, id: usize, mark: Marker) {
        let Some(anchored) = self.anchors.get(&id) else {
            return self.fail(mark, "alias to an unknown anchor");
        };
        let weight = anchored.weight;
        self.aliased = self.aliased.saturating_add(weight);
        if self.aliased > ALIAS_EXPANSION_LIMIT {
            self.error = Some(IgnitionError::ExcessiveAliasing {
                line: mark.line(),
                column: mark.col() + 1,
                limit: ALIAS_EXPANSION_LIMIT,
            });
            return;
        }

        let node = anchored.node.clone();
        let start = self.weight;
        self.weight = self.weight.saturating_add(weight);
        self.finish(0, start, node, mark);
    }

    /// Attaches a completed node, whose weight began at `start`, to its parent (or makes
    /// it the root).
    fn finish(&mut self, anchor: usize, start: usize, node: Node, mark: Marker) {
        if anchor != 0 {
            let weight = self.weight.saturating_sub(start);
            let anchored = Anchored {
                node: node.clone(),
                weight,
            };
            self.anchors.insert(anchor, anchored);
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

    /// Billion laughs: nine levels of `&a [*b, ...]` expanded to gigabytes and never ended.
    #[test]
    fn billion_laughs_is_refused_before_expanding() {
        let mut source = String::from("l0: &l0 [\"lol\", \"lol\"]\n");
        for level in 1..=9 {
            let refs = vec![format!("*l{}", level - 1); 9].join(", ");
            source.push_str(&format!("l{level}: &l{level} [{refs}]\n"));
        }
        let started = std::time::Instant::now();
        let error = parse(&source).err();
        assert!(started.elapsed() < std::time::Duration::from_secs(5));
        // l6 (line 7) is the first level whose copies pass the limit
        assert!(
            matches!(
                error,
                Some(IgnitionError::ExcessiveAliasing { line: 7, .. })
            ),
            "{error:?}"
        );
        let message = error.map(|e| e.to_string()).unwrap_or_default();
        assert!(message.contains("excessive aliasing"), "{message}");
    }

    #[test]
    fn aliases_within_the_limit_still_expand() {
        let Value::Map(entries) = value("a: &x [1, 2]\nb: &y [*x, *x]\nc: [*y, *y]\n") else {
            panic!("expected a mapping");
        };
        let Value::Seq(c) = &entries[2].1.value else {
            panic!("expected a list");
        };
        assert_eq!(c[1].value, entries[1].1.value);
    }
}
