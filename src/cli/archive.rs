//! `lifeboat verify` and `lifeboat ls`: what an archive holds and whether every file matches
//! its checksum.

use std::process::ExitCode;

use crate::archive::{ArchiveReader, verify};
use crate::error::Result;

pub(super) fn run_verify(path: &std::path::Path, json: bool) -> Result<ExitCode> {
    let (manifest, report) = verify(path)?;
    if json {
        println!(
            "{}",
            serde_json::to_string_pretty(&report).unwrap_or_default()
        );
    } else {
        for damage in report.problems() {
            println!("{damage}");
        }
        for file in &report.extra {
            println!("extra {file}");
        }
        if report.is_ok() {
            println!(
                "{} items, {} files checked: all checksums match.",
                manifest.items.len(),
                report.checked
            );
        } else {
            println!(
                "NOT OK: {} missing, {} corrupt, {} extra, {} unsafe ({} files checked).",
                report.missing.len(),
                report.corrupt.len(),
                report.extra.len(),
                report.unsafe_entries.len(),
                report.checked
            );
        }
    }
    Ok(if report.is_ok() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

#[derive(Debug, serde::Serialize)]
pub(super) struct ListedCollection<'a> {
    pub(super) path: &'a str,
    pub(super) kind: &'a str,
    pub(super) display_name: Option<&'a str>,
    pub(super) items: usize,
    pub(super) source: &'a str,
}

pub(super) fn run_ls(path: &std::path::Path, json: bool) -> Result<ExitCode> {
    let manifest = ArchiveReader::open(path)?.manifest()?;
    let listed: Vec<ListedCollection> = manifest
        .collections
        .iter()
        .map(|c| ListedCollection {
            path: &c.path,
            kind: c.info.kind.folder(),
            display_name: c.info.display_name.as_deref(),
            items: manifest
                .items
                .iter()
                .filter(|i| i.collection == c.path)
                .count(),
            source: manifest
                .sources
                .get(c.source)
                .map_or("", |s| s.label.as_str()),
        })
        .collect();
    if json {
        let value = serde_json::json!({
            "created": manifest.created,
            "format_version": manifest.format_version,
            "items": manifest.items.len(),
            "warnings": manifest.warnings.len(),
            "collections": listed,
        });
        println!(
            "{}",
            serde_json::to_string_pretty(&value).unwrap_or_default()
        );
    } else {
        println!(
            "{} (made {} by {})",
            path.display(),
            manifest.created,
            manifest.tool
        );
        for c in &listed {
            println!(
                "  {:<40} {:>7} items  {}",
                c.path,
                c.items,
                c.display_name.unwrap_or("")
            );
        }
        println!(
            "{} items, {} warnings",
            manifest.items.len(),
            manifest.warnings.len()
        );
    }
    Ok(ExitCode::SUCCESS)
}
