//! The phone's `content` tool (AOSP `cmds/content`): `content query` run through adb's shell,
//! and its printed rows read back into columns.
//!
//! The tool prints `Row: N col=value, col=value` with no quoting, so a value holding ", " or a
//! line break (a contact's note) cannot be told apart by the text alone. Lifeboat always asks
//! for named columns (`--projection`) and reads each value up to the next column it asked
//! for, which keeps such values whole.

use crate::error::{Error, ErrorKind, Result};

use super::adb::AdbServer;

/// One row: the value of each asked-for column, `None` where the provider has NULL.
pub type Row = Vec<Option<String>>;

/// `content query --uri URI --projection a:b:c` on the phone `serial`.
pub async fn query(
    server: &AdbServer,
    serial: &str,
    uri: &str,
    columns: &[&'static str],
) -> Result<Vec<Row>> {
    let v2 = server.has_shell_v2(serial).await?;
    Ok(table(server, serial, v2, uri, columns).await?.rows)
}

/// A provider's rows as the phone printed them, and read into columns.
#[derive(Debug, Clone, Default)]
pub struct Table {
    pub columns: Vec<&'static str>,
    pub rows: Vec<Row>,
    /// Exactly what `content query` printed: kept in the archive, so that every column of
    /// every row survives whatever the conversion does not map.
    pub printed: Vec<u8>,
}

impl Table {
    /// The value of `column` in `row`; `None` for NULL (and for a column not asked for).
    pub fn get<'a>(&self, row: &'a Row, column: &str) -> Option<&'a str> {
        let index = self.columns.iter().position(|c| *c == column)?;
        row.get(index)?.as_deref()
    }
}

/// [`query`], keeping what was printed.
pub async fn table(
    server: &AdbServer,
    serial: &str,
    shell_v2: bool,
    uri: &str,
    columns: &[&'static str],
) -> Result<Table> {
    let command = format!(
        "content query --uri {} --projection {}",
        shell_quote(uri),
        shell_quote(&columns.join(":"))
    );
    let printed = server.shell_with(serial, &command, shell_v2).await?;
    let rows = parse_rows(&String::from_utf8_lossy(&printed), columns)?;
    Ok(Table {
        columns: columns.to_vec(),
        rows,
        printed,
    })
}

/// `content read --uri URI`: the bytes of a file the provider serves (a contact's photo).
pub async fn read(server: &AdbServer, serial: &str, shell_v2: bool, uri: &str) -> Result<Vec<u8>> {
    let command = format!("content read --uri {}", shell_quote(uri));
    server.shell_with(serial, &command, shell_v2).await
}

/// Quotes `text` for the phone's `sh`.
pub fn shell_quote(text: &str) -> String {
    format!("'{}'", text.replace('\'', r"'\''"))
}

/// The rows `content query` printed for `columns`, in order.
pub fn parse_rows(printed: &str, columns: &[&str]) -> Result<Vec<Row>> {
    if printed.trim() == "No result found." || printed.trim().is_empty() {
        return Ok(Vec::new());
    }
    let refused = |why: String| {
        Error::new(
            ErrorKind::InvalidData,
            format!("the phone's content tool answered something unexpected: {why}"),
        )
    };
    let mut rows = Vec::new();
    let mut rest = printed;
    while !rest.is_empty() {
        let header = format!("Row: {} ", rows.len());
        rest = rest.strip_prefix(&header).ok_or_else(|| {
            refused(
                rest.lines()
                    .next()
                    .unwrap_or_default()
                    .chars()
                    .take(200)
                    .collect(),
            )
        })?;
        let next_row = format!("\nRow: {} ", rows.len() + 1);
        let mut row = Vec::with_capacity(columns.len());
        for (index, column) in columns.iter().enumerate() {
            let name = if index == 0 {
                format!("{column}=")
            } else {
                format!(", {column}=")
            };
            rest = rest
                .strip_prefix(&name)
                .ok_or_else(|| refused(format!("no column {column} in row {}", rows.len())))?;
            let end = match columns.get(index + 1) {
                Some(next) => rest.find(&format!(", {next}=")),
                None => rest.find(&next_row).or_else(|| rest.rfind('\n')),
            }
            .unwrap_or(rest.len());
            let value = &rest[..end];
            row.push((value != "NULL").then(|| value.to_owned()));
            rest = &rest[end..];
        }
        rest = rest.strip_prefix('\n').unwrap_or(rest);
        rows.push(row);
    }
    Ok(rows)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::{parse_rows, shell_quote};

    #[test]
    fn rows_keep_values_with_commas_and_line_breaks_whole() {
        // As AOSP's Content.java prints them: "Row: N ", columns joined by ", ", NULL for null.
        let printed = "Row: 0 _id=1, mimetype=vnd.android.cursor.item/note, data1=Call back, \
            about the flat\nsecond line, data2=NULL\n\
            Row: 1 _id=2, mimetype=vnd.android.cursor.item/name, data1=Zoë Ñandú, data2=Zoë\n";
        let rows = parse_rows(printed, &["_id", "mimetype", "data1", "data2"]).unwrap();
        assert_eq!(rows.len(), 2);
        assert_eq!(
            rows[0][2].as_deref(),
            Some("Call back, about the flat\nsecond line")
        );
        assert_eq!(rows[0][3], None);
        assert_eq!(rows[1][2].as_deref(), Some("Zoë Ñandú"));
        assert_eq!(rows[1][3].as_deref(), Some("Zoë"));
        assert!(
            parse_rows("No result found.\n", &["_id"])
                .unwrap()
                .is_empty()
        );
        assert!(parse_rows("Error while accessing provider:x\n", &["_id"]).is_err());
        assert_eq!(shell_quote("it's"), r"'it'\''s'");
    }
}
