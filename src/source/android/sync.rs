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

/// Open file-service connections to one phone, kept between files: `adb pull` uses one for
/// a whole folder, and opening one per photo costs more than a small photo's bytes.
#[derive(Debug, Clone, Default)]
pub struct Sessions(std::sync::Arc<std::sync::Mutex<Vec<TcpStream>>>);

impl Sessions {
    fn take(&self) -> Option<TcpStream> {
        self.0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .pop()
    }

    fn give_back(&self, stream: TcpStream) {
        self.0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .push(stream);
    }
}

/// How many bytes are handed on at once, and how many such pieces may wait: the phone is
/// read while the archive hashes and writes what came before.
const PIECE: usize = 1024 * 1024;
const PIECES_AHEAD: usize = 4;

/// The bytes of the file at `path`, streamed as the phone sends them. A file the phone will
/// not give (gone, not readable) is an `Err` before any byte; a connection that breaks
/// mid-way ends the stream with an error.
pub async fn recv(
    server: &AdbServer,
    serial: &str,
    path: &str,
    sessions: &Sessions,
) -> Result<ByteStream> {
    // A kept connection may have been closed meanwhile: then once more on a new one.
    let (mut stream, first) = match sessions.take() {
        Some(mut kept) => match start_recv(&mut kept, path).await {
            Ok(first) => (kept, first),
            Err(e) if e.kind() == ErrorKind::NotFound => return Err(e),
            Err(_) => {
                let mut fresh = server.open(serial, "sync:").await?;
                let first = start_recv(&mut fresh, path).await?;
                (fresh, first)
            }
        },
        None => {
            let mut fresh = server.open(serial, "sync:").await?;
            let first = start_recv(&mut fresh, path).await?;
            (fresh, first)
        }
    };
    let (send, receive) = tokio::sync::mpsc::channel::<std::io::Result<bytes::Bytes>>(PIECES_AHEAD);
    let sessions = sessions.clone();
    tokio::spawn(async move {
        let mut piece = bytes::BytesMut::with_capacity(PIECE);
        let mut next: Result<Option<usize>> = Ok(first);
        loop {
            match next {
                Ok(Some(length)) => {
                    let start = piece.len();
                    piece.resize(start + length, 0);
                    if let Err(e) = read_exact(&mut stream, &mut piece[start..]).await {
                        let _ = send.send(Err(std::io::Error::other(e))).await;
                        return;
                    }
                    if piece.len() >= PIECE {
                        let full = piece.split().freeze();
                        piece.reserve(PIECE);
                        if send.send(Ok(full)).await.is_err() {
                            // Nobody reads any more (cancelled): the connection is mid-file.
                            return;
                        }
                    }
                }
                Ok(None) => {
                    if !piece.is_empty() && send.send(Ok(piece.freeze())).await.is_err() {
                        return;
                    }
                    sessions.give_back(stream);
                    return;
                }
                Err(e) => {
                    let error = std::io::Error::new(std::io::ErrorKind::BrokenPipe, e);
                    let _ = send.send(Err(error)).await;
                    return;
                }
            }
            next = chunk_header(&mut stream).await;
        }
    });
    Ok(
        futures_util::stream::unfold(receive, |mut receive| async move {
            receive.recv().await.map(|piece| (piece, receive))
        })
        .boxed(),
    )
}

/// Asks for `path` and reads the answer's first header.
async fn start_recv(stream: &mut TcpStream, path: &str) -> Result<Option<usize>> {
    request(stream, b"RECV", path).await?;
    chunk_header(stream).await
}

/// The length of the next DATA chunk, `None` at DONE; FAIL is an error with the phone's words.
async fn chunk_header(stream: &mut TcpStream) -> Result<Option<usize>> {
    let what = id(stream).await?;
    let length = word(stream).await?;
    match &what {
        b"DATA" if length <= DATA_MAX => Ok(Some(length as usize)),
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
