//! A tiny YAML writer for the generated Butane config.
//!
//! Scalars are written as JSON strings (valid YAML double-quoted scalars) unless they are
//! simple words; multi-line text uses literal blocks (`|`) so units read naturally; modes
//! are written in octal (`0644`), as Flatcar's documentation writes them.

/// A YAML value in document order.
#[derive(Debug, Clone)]
pub(crate) enum Yaml {
    Str(String),
    Bool(bool),
    /// An integer written in octal with a leading zero.
    Mode(u32),
    Seq(Vec<Yaml>),
    Map(Vec<(&'static str, Yaml)>),
}

impl Yaml {
    pub fn str(text: impl Into<String>) -> Self {
        Yaml::Str(text.into())
    }
}

/// Writes `value` (a mapping) as a YAML document.
pub(crate) fn to_string(value: &Yaml) -> String {
    let mut out = String::new();
    write_value(&mut out, value, 0);
    out
}

fn write_value(out: &mut String, value: &Yaml, indent: usize) {
    match value {
        Yaml::Map(entries) => {
            for (key, item) in entries {
                push_indent(out, indent);
                out.push_str(key);
                out.push(':');
                write_child(out, item, indent);
            }
        }
        Yaml::Seq(items) => {
            for item in items {
                push_indent(out, indent);
                out.push('-');
                match item {
                    // the first key goes on the dash line, the rest align under it
                    Yaml::Map(_) => {
                        let mut nested = String::new();
                        write_value(&mut nested, item, indent + 2);
                        out.push_str(&nested[indent + 1..]);
                    }
                    _ => write_child(out, item, indent),
                }
            }
        }
        scalar => {
            out.push_str(&scalar_text(scalar, indent));
            out.push('\n');
        }
    }
}

/// Writes what follows `key:` or `-`.
fn write_child(out: &mut String, value: &Yaml, indent: usize) {
    match value {
        Yaml::Map(entries) if entries.is_empty() => out.push_str(" {}\n"),
        Yaml::Seq(items) if items.is_empty() => out.push_str(" []\n"),
        Yaml::Map(_) | Yaml::Seq(_) => {
            out.push('\n');
            write_value(out, value, indent + 2);
        }
        scalar => {
            out.push(' ');
            out.push_str(&scalar_text(scalar, indent + 2));
            out.push('\n');
        }
    }
}

fn scalar_text(value: &Yaml, indent: usize) -> String {
    match value {
        Yaml::Bool(b) => b.to_string(),
        Yaml::Mode(mode) => format!("0{mode:o}"),
        Yaml::Str(text) if literal_block_fits(text) => {
            let pad = " ".repeat(indent);
            let body: Vec<String> = text
                .lines()
                .map(|line| {
                    if line.is_empty() {
                        String::new()
                    } else {
                        format!("{pad}{line}")
                    }
                })
                .collect();
            format!("|\n{}", body.join("\n"))
        }
        Yaml::Str(text) if is_plain_word(text) => text.clone(),
        Yaml::Str(text) => serde_json::to_string(text).unwrap_or_default(),
        Yaml::Seq(_) | Yaml::Map(_) => String::new(),
    }
}

/// Text that round-trips through a `|` block: ends in exactly one newline, has more than
/// one line, no leading spaces on its first line, no tabs or control characters.
fn literal_block_fits(text: &str) -> bool {
    text.ends_with('\n')
        && !text.ends_with("\n\n")
        && text.trim_end_matches('\n').contains('\n')
        && !text.starts_with(' ')
        && !text.chars().any(|c| c.is_control() && c != '\n')
}

/// Words YAML reads back as the same string without quotes.
fn is_plain_word(text: &str) -> bool {
    let reserved = ["true", "false", "null", "yes", "no", "on", "off", "~"];
    !text.is_empty()
        && !reserved.contains(&text.to_ascii_lowercase().as_str())
        && !text.starts_with(|c: char| c.is_ascii_digit() || c == '-' || c == '.' || c == '+')
        && text
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_./@".contains(c))
}

fn push_indent(out: &mut String, indent: usize) {
    out.extend(std::iter::repeat_n(' ', indent));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nested_document() {
        let doc = Yaml::Map(vec![
            ("variant", Yaml::str("flatcar")),
            ("version", Yaml::str("1.0.0")),
            (
                "files",
                Yaml::Seq(vec![Yaml::Map(vec![
                    ("path", Yaml::str("/etc/a")),
                    ("mode", Yaml::Mode(0o644)),
                    ("text", Yaml::str("[Unit]\nA=1\n\nB=2\n")),
                ])]),
            ),
        ]);
        let expected = "variant: flatcar\nversion: \"1.0.0\"\nfiles:\n  - path: /etc/a\n    \
                        mode: 0644\n    text: |\n      [Unit]\n      A=1\n\n      B=2\n";
        assert_eq!(to_string(&doc), expected);
    }
}
