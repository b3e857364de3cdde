//! The phone's file service (`sync:`, AOSP `adb/file_sync_protocol.h`, what `adb pull` uses):
//! listing folders and streaming a file's bytes, with the size and modification time the
//! phone reports.

use futures_util::StreamExt as _;
use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;

use crate::error::{Error, ErrorKind, Result};
use crate::model::Warning;
use crate::progress::CancelToken;
use crate::source::ByteStream;

use super::adb::{AdbServer, broken, read_exact};

const S_IFMT: u32 = 0o170_000;
const S_IFDIR: u32 = 0o040_000;
const S_IFREG: u32 = 0o100_000;
/// The largest DATA chunk a phone sends (`SYNC_DATA_MAX`).
const DATA_MAX: u32 = 64 * 1024;

/// A file on the phone.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RemoteFile {
    /// Its full path on the phone (`/sdcard/DCIM/Camera/IMG_1.jpg`).
    pub path: String,
    /// Its size; the v1 protocol gives it modulo 4 GiB, so it only tells files apart.
    pub size: u64,
    /// Last modified, seconds since 1970 (UTC).
    pub modified: i64,
}

/// One entry of a folder listing.
#[derive(Debug, Clone)]
struct Entry {
    name: String,
    mode: u32,
    size: u32,
    modified: u32,
}

async fn request(stream: &mut TcpStream, id: &[u8; 4], path: &str) -> Result<()> {
    let mut out = Vec::with_capacity(8 + path.len());
    out.extend_from_slice(id);
    let length = u32::try_from(path.len())
        .map_err(|_| Error::new(ErrorKind::InvalidInput, "a path on the phone is too long"))?;
    out.extend_from_slice(&length.to_le_bytes());
    out.extend_from_slice(path.as_bytes());
    stream.write_all(&out).await.map_err(|e| broken(&e))
}

async fn word(stream: &mut TcpStream) -> Result<u32> {
    let mut bytes = [0u8; 4];
    read_exact(stream, &mut bytes).await?;
    Ok(u32::from_le_bytes(bytes))
}

async fn id(stream: &mut TcpStream) -> Result<[u8; 4]> {
    let mut bytes = [0u8; 4];
    read_exact(stream, &mut bytes).await?;
    Ok(bytes)
}

async fn text(stream: &mut TcpStream, length: u32) -> Result<String> {
    let mut bytes = vec![0u8; length as usize];
    read_exact(stream, &mut bytes).await?;
    Ok(String::from_utf8_lossy(&bytes).into_owned())
}

fn garbled(what: &[u8; 4]) -> Error {
    Error::new(
        ErrorKind::InvalidData,
        format!(
            "the phone's file service answered something unexpected ({})",
            String::from_utf8_lossy(what)
        ),
    )
}

async fn list(stream: &mut TcpStream, folder: &str) -> Result<Vec<Entry>> {
    request(stream, b"LIST", folder).await?;
    let mut entries = Vec::new();
    loop {
        let what = id(stream).await?;
        let (mode, size, modified, length) = (
            word(stream).await?,
            word(stream).await?,
            word(stream).await?,
            word(stream).await?,
        );
        match &what {
            b"DENT" => {
                let name = text(stream, length).await?;
                if name != "." && name != ".." {
                    entries.push(Entry {
                        name,
                        mode,
                        size,
                        modified,
                    });
                }
            }
            b"DONE" => return Ok(entries),
            other => return Err(garbled(other)),
        }
    }
}

/// Every regular file under `roots` (folders that do not exist give nothing), sorted by path.
/// Hidden entries (names starting with `.`: thumbnails, trash) are left out; so are links,
/// reported one warning each, since a backup copies files rather than what links point to.
pub async fn walk(
    server: &AdbServer,
    serial: &str,
    roots: &[&str],
    cancel: &CancelToken,
) -> Result<(Vec<RemoteFile>, Vec<Warning>)> {
    let mut stream = server.open(serial, "sync:").await?;
    let mut files = Vec::new();
    let mut problems = Vec::new();
    let mut folders: Vec<String> = roots
        .iter()
        .map(|r| r.trim_end_matches('/').to_owned())
        .collect();
    while let Some(folder) = folders.pop() {
        cancel.check()?;
        // The trailing slash makes the phone follow `/sdcard` itself, which is a link.
        for entry in list(&mut stream, &format!("{folder}/")).await? {
            if entry.name.starts_with('.') {
                continue;
            }
            let path = format!("{folder}/{}", entry.name);
            match entry.mode & S_IFMT {
                S_IFDIR => folders.push(path),
                S_IFREG => files.push(RemoteFile {
                    path,
                    size: u64::from(entry.size),
                    modified: i64::from(entry.modified),
                }),
                _ => problems.push(
                    Warning::new(
                        "skipped-link",
                        "this is a link (or a device file) on the phone; what it points to is not copied",
                    )
                    .at_href(path),
                ),
            }
        }
    }
    let _ = request(&mut stream, b"QUIT", "").await;
    files.sort_by(|a, b| a.path.cmp(&b.path));
    Ok((files, problems))
}

/// The bytes of the file at `path`, streamed as the phone sends them. A file the phone will
/// not give (gone, not readable) is an `Err` before any byte; a connection that breaks
/// mid-way ends the stream with an error.
pub async fn recv(server: &AdbServer, serial: &str, path: &str) -> Result<ByteStream> {
    let mut stream = server.open(serial, "sync:").await?;
    request(&mut stream, b"RECV", path).await?;
    let first = chunk(&mut stream).await?;
    let stream =
        futures_util::stream::unfold((stream, Some(first)), |(mut stream, pending)| async move {
            let next = match pending {
                Some(ready) => ready,
                None => match chunk(&mut stream).await {
                    Ok(next) => next,
                    Err(e) => {
                        let error = std::io::Error::new(std::io::ErrorKind::BrokenPipe, e);
                        return Some((Err(error), (stream, Some(None))));
                    }
                },
            };
            match next {
                Some(bytes) => Some((Ok(bytes), (stream, None))),
                None => {
                    let _ = request(&mut stream, b"QUIT", "").await;
                    None
                }
            }
        });
    // After an error, the state above is "done" (`Some(None)`), so the stream ends there.
    Ok(stream.boxed())
}

/// The next DATA chunk, `None` at DONE; FAIL is an error with the phone's words.
async fn chunk(stream: &mut TcpStream) -> Result<Option<bytes::Bytes>> {
    let what = id(stream).await?;
    let length = word(stream).await?;
    match &what {
        b"DATA" if length <= DATA_MAX => {
            let mut bytes = vec![0u8; length as usize];
            read_exact(stream, &mut bytes).await?;
            Ok(Some(bytes.into()))
        }
        b"DONE" => Ok(None),
        b"FAIL" => Err(Error::new(
            ErrorKind::NotFound,
            format!(
                "the phone would not give this file: {}",
                text(stream, length).await?
            ),
        )),
        other => Err(garbled(other)),
    }
}
