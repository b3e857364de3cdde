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
use super::replug::{Notice, is_gone, wait_for_phone};

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
    /// Its size: whole from phones that list with version 2 of the file service (Android
    /// 11 and later, `ls_v2`), modulo 4 GiB from older ones.
    pub size: u64,
    /// Last modified, seconds since 1970 (UTC).
    pub modified: i64,
}

/// One entry of a folder listing.
#[derive(Debug, Clone)]
struct Entry {
    name: String,
    mode: u32,
    size: u64,
    modified: i64,
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

/// `LIS2` (`ls_v2`): entries with 64-bit sizes and times; an entry the phone could not look
/// at comes with its error and is left out, as version 1 leaves it out unsaid.
async fn list_v2(stream: &mut TcpStream, folder: &str) -> Result<Vec<Entry>> {
    request(stream, b"LIS2", folder).await?;
    let mut entries = Vec::new();
    loop {
        // dent_v2 after its id, in one read: error, dev, ino, mode, nlink, uid, gid, size,
        // atime, mtime, ctime, namelen (all little-endian, packed).
        let what = id(stream).await?;
        let mut fixed = [0u8; 72];
        read_exact(stream, &mut fixed).await?;
        let u32_at = |at: usize| {
            u32::from_le_bytes([fixed[at], fixed[at + 1], fixed[at + 2], fixed[at + 3]])
        };
        let u64_at = |at: usize| {
            let mut bytes = [0u8; 8];
            bytes.copy_from_slice(&fixed[at..at + 8]);
            u64::from_le_bytes(bytes)
        };
        let (error, mode, size, modified, length) =
            (u32_at(0), u32_at(20), u64_at(36), u64_at(52), u32_at(68));
        match &what {
            b"DNT2" => {
                let name = text(stream, length).await?;
                if error == 0 && name != "." && name != ".." {
                    entries.push(Entry {
                        name,
                        mode,
                        size,
                        modified: modified.cast_signed(),
                    });
                }
            }
            b"DONE" => return Ok(entries),
            other => return Err(garbled(other)),
        }
    }
}

async fn list(stream: &mut TcpStream, folder: &str, v2: bool) -> Result<Vec<Entry>> {
    if v2 {
        return list_v2(stream, folder).await;
    }
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
                        size: u64::from(size),
                        modified: i64::from(modified),
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
/// `ls_v2` says whether the phone lists with version 2 (whole sizes of 4 GiB and more).
pub async fn walk(
    server: &AdbServer,
    serial: &str,
    roots: &[&str],
    ls_v2: bool,
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
        for entry in list(&mut stream, &format!("{folder}/"), ls_v2).await? {
            if entry.name.starts_with('.') {
                continue;
            }
            let path = format!("{folder}/{}", entry.name);
            match entry.mode & S_IFMT {
                S_IFDIR => folders.push(path),
                S_IFREG => files.push(RemoteFile {
                    path,
                    size: entry.size,
                    modified: entry.modified,
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

/// How often one file's copy may go on after the phone came back before it fails.
const RESUMES_PER_FILE: usize = 5;

/// What [`recv`] needs to go on with a file after the phone was unplugged.
#[derive(Debug, Clone)]
pub struct Resume {
    /// How long to wait for the phone to come back.
    pub wait: std::time::Duration,
    /// Stops the wait once cancelled.
    pub cancel: CancelToken,
    /// Told when the phone goes and comes back.
    pub notify: tokio::sync::mpsc::UnboundedSender<Notice>,
}

/// The bytes of `file`, streamed as the phone sends them. A file the phone will not give
/// (gone, not readable) is an `Err` before any byte. When the connection breaks mid-way
/// (the phone unplugged), the stream waits for the phone as `resume` says and reads the
/// file again, passing on only the bytes not yet given, after checking with the phone that
/// the file is unchanged; a phone that does not come back ends the stream with an error.
pub async fn recv(
    server: &AdbServer,
    serial: &str,
    file: &RemoteFile,
    sessions: &Sessions,
    resume: Resume,
) -> Result<ByteStream> {
    // A kept connection may have been closed meanwhile: then once more on a new one.
    let path = file.path.as_str();
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
    let (server, serial, file) = (*server, serial.to_owned(), file.clone());
    tokio::spawn(async move {
        let mut piece = bytes::BytesMut::with_capacity(PIECE);
        // Bytes of the file taken in (passed on, or waiting in `piece`), and how many of
        // a re-read's first bytes repeat them and are dropped.
        let (mut taken, mut repeated) = (0u64, 0u64);
        let mut resumed = 0;
        let mut next: Result<Option<usize>> = Ok(first);
        loop {
            let broke = match next {
                Ok(Some(length)) => {
                    match take_chunk(&mut stream, length, &mut piece, &mut repeated).await {
                        Ok(added) => {
                            taken += added as u64;
                            if piece.len() >= PIECE {
                                let full = piece.split().freeze();
                                piece.reserve(PIECE);
                                if send.send(Ok(full)).await.is_err() {
                                    // Nobody reads any more (cancelled): the connection is
                                    // mid-file.
                                    return;
                                }
                            }
                            None
                        }
                        Err(e) => Some(e),
                    }
                }
                Ok(None) => {
                    if !piece.is_empty() && send.send(Ok(piece.freeze())).await.is_err() {
                        return;
                    }
                    sessions.give_back(stream);
                    return;
                }
                Err(e) if !is_gone(&e) => {
                    let _ = send.send(Err(broke_off(e))).await;
                    return;
                }
                Err(e) => Some(e),
            };
            if let Some(e) = broke {
                if resumed == RESUMES_PER_FILE {
                    let _ = send.send(Err(broke_off(e))).await;
                    return;
                }
                resumed += 1;
                match reopen(&server, &serial, &file, &resume, &send).await {
                    Ok((again, first)) => {
                        stream = again;
                        repeated = taken;
                        next = Ok(first);
                        continue;
                    }
                    Err(e) => {
                        let _ = send.send(Err(broke_off(e))).await;
                        return;
                    }
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

fn broke_off(e: Error) -> std::io::Error {
    std::io::Error::new(std::io::ErrorKind::BrokenPipe, e)
}

/// Reads one DATA chunk of `length` bytes: its first `repeated` bytes (what a re-read
/// repeats) are dropped, the rest added to `piece`. Returns how many were added; on error
/// `piece` is as it was, so a chunk cut off counts for nothing.
async fn take_chunk(
    stream: &mut TcpStream,
    length: usize,
    piece: &mut bytes::BytesMut,
    repeated: &mut u64,
) -> Result<usize> {
    let dropped = usize::try_from(*repeated).unwrap_or(usize::MAX).min(length);
    if dropped > 0 {
        let mut scratch = vec![0u8; dropped];
        read_exact(stream, &mut scratch).await?;
        *repeated -= dropped as u64;
    }
    let start = piece.len();
    piece.resize(start + length - dropped, 0);
    if let Err(e) = read_exact(stream, &mut piece[start..]).await {
        piece.truncate(start);
        return Err(e);
    }
    Ok(length - dropped)
}

/// After a break: waits for the phone, checks that `file` is as it was listed, and asks for
/// it again on a new connection.
async fn reopen(
    server: &AdbServer,
    serial: &str,
    file: &RemoteFile,
    resume: &Resume,
    reader: &tokio::sync::mpsc::Sender<std::io::Result<bytes::Bytes>>,
) -> Result<(TcpStream, Option<usize>)> {
    let _ = resume.notify.send(Notice::Waiting(resume.wait));
    let away = wait_for_phone(server, serial, resume.wait, || {
        !resume.cancel.is_cancelled() && !reader.is_closed()
    })
    .await?;
    let _ = resume.notify.send(Notice::Back(away));
    let mut stream = server.open(serial, "sync:").await?;
    let (size, modified) = stat(&mut stream, &file.path).await?;
    // The listing gave the size modulo 4 GiB (version 1 of the protocol), as STAT does.
    if u64::from(size) != file.size % (1 << 32) || i64::from(modified) != file.modified {
        return Err(Error::new(
            ErrorKind::InvalidData,
            format!(
                "{} changed on the phone while it was disconnected: back up again to copy it whole",
                file.path
            ),
        ));
    }
    let first = start_recv(&mut stream, &file.path).await?;
    Ok((stream, first))
}

/// `STAT`: the size and modification time of the file at `path`.
async fn stat(stream: &mut TcpStream, path: &str) -> Result<(u32, u32)> {
    request(stream, b"STAT", path).await?;
    let what = id(stream).await?;
    let (_mode, size, modified) = (
        word(stream).await?,
        word(stream).await?,
        word(stream).await?,
    );
    match &what {
        b"STAT" => Ok((size, modified)),
        other => Err(garbled(other)),
    }
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
