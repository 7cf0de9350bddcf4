//! Where command results go and how they look.
//!
//! stdout carries data only: a table for people (`--output table`, the default) or JSON for
//! scripts (`--output json`). [`OutputSink`] is the writer every command and the dry-run
//! printer share; tests give it a [`SharedBuffer`] instead of stdout.

use std::io::Write;
use std::sync::{Arc, Mutex, PoisonError};

use serde::Serialize;

/// How results are printed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum OutputFormat {
    /// Aligned columns with a header row.
    #[default]
    Table,
    /// One pretty-printed JSON document.
    Json,
}

/// A cloneable, thread-safe handle to the command's stdout.
#[derive(Clone)]
pub struct OutputSink(Arc<Mutex<Box<dyn Write + Send>>>);

impl std::fmt::Debug for OutputSink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("OutputSink")
    }
}

impl OutputSink {
    /// The process's stdout.
    pub fn stdout() -> Self {
        Self::new(Box::new(std::io::stdout()))
    }

    /// Any writer.
    pub fn new(writer: Box<dyn Write + Send>) -> Self {
        Self(Arc::new(Mutex::new(writer)))
    }

    /// An in-memory sink and a handle to read what was written.
    pub fn buffer() -> (Self, SharedBuffer) {
        let buffer = SharedBuffer::default();
        (Self::new(Box::new(buffer.clone())), buffer)
    }

    /// Writes `text` as is and flushes.
    pub fn write_str(&self, text: &str) -> std::io::Result<()> {
        let mut writer = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        writer.write_all(text.as_bytes())?;
        writer.flush()
    }

    /// Writes `value` as pretty JSON followed by a newline.
    pub fn write_json<T: Serialize + ?Sized>(&self, value: &T) -> anyhow::Result<()> {
        let mut text = serde_json::to_string_pretty(value)?;
        text.push('\n');
        Ok(self.write_str(&text)?)
    }
}

/// An in-memory writer that can be read while it is shared.
#[derive(Debug, Clone, Default)]
pub struct SharedBuffer(Arc<Mutex<Vec<u8>>>);

impl SharedBuffer {
    /// Everything written so far, as (lossy) UTF-8.
    pub fn contents(&self) -> String {
        let bytes = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        String::from_utf8_lossy(&bytes).into_owned()
    }
}

impl Write for SharedBuffer {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let mut bytes = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        bytes.extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// A table built row by row and rendered with aligned columns.
#[derive(Debug, Clone)]
pub struct Table {
    header: Vec<String>,
    rows: Vec<Vec<String>>,
}

impl Table {
    /// A table with these column titles.
    pub fn new(header: &[&str]) -> Self {
        Self {
            header: header.iter().map(|h| h.to_string()).collect(),
            rows: Vec::new(),
        }
    }

    /// Adds a row; missing cells render empty, extra cells are dropped.
    pub fn row(&mut self, cells: Vec<String>) {
        self.rows.push(cells);
    }

    /// The table as text: columns separated by two spaces, trailing spaces trimmed.
    pub fn render(&self) -> String {
        let columns = self.header.len();
        let mut widths: Vec<usize> = self.header.iter().map(|h| h.chars().count()).collect();
        for row in &self.rows {
            for (width, cell) in widths.iter_mut().zip(row) {
                *width = (*width).max(cell.chars().count());
            }
        }

        let mut text = String::new();
        for row in std::iter::once(&self.header).chain(&self.rows) {
            let mut line = String::new();
            for (index, width) in widths.iter().enumerate().take(columns) {
                let cell = row.get(index).map(String::as_str).unwrap_or("");
                line.push_str(&format!("{cell:<width$}  "));
            }
            text.push_str(line.trim_end());
            text.push('\n');
        }
        text
    }
}

/// Prints `value` as JSON, or `table()` as a table, per `format`.
pub fn emit<T: Serialize + ?Sized>(
    sink: &OutputSink,
    format: OutputFormat,
    value: &T,
    table: impl FnOnce() -> Table,
) -> anyhow::Result<()> {
    match format {
        OutputFormat::Json => sink.write_json(value),
        OutputFormat::Table => Ok(sink.write_str(&table().render())?),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_aligns_columns() {
        let mut table = Table::new(&["ID", "NAME"]);
        table.row(vec!["1".into(), "first".into()]);
        table.row(vec!["12345".into(), "x".into()]);
        assert_eq!(table.render(), "ID     NAME\n1      first\n12345  x\n");
    }
}
