//! A simulated Android phone that speaks the device side of the adb protocol over TCP (AOSP
//! `adb/protocol.txt`: CNXN, AUTH, OPEN, OKAY, WRTE, CLSE), and a real adb server of its own
//! that connects to it (`adb connect 127.0.0.1:PORT`), as a phone with USB debugging over
//! Wi-Fi would be. Only loopback is used.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

const CNXN: u32 = u32::from_le_bytes(*b"CNXN");
const AUTH: u32 = u32::from_le_bytes(*b"AUTH");
const OPEN: u32 = u32::from_le_bytes(*b"OPEN");
const OKAY: u32 = u32::from_le_bytes(*b"OKAY");
const WRTE: u32 = u32::from_le_bytes(*b"WRTE");
const CLSE: u32 = u32::from_le_bytes(*b"CLSE");
/// The version that skips payload checksums (adb 1.0.36 and later).
const VERSION: u32 = 0x0100_0001;
const MAX_DATA: u32 = 256 * 1024;
const AUTH_TOKEN: u32 = 1;

/// What a shell command printed, and its exit status.
#[derive(Debug, Clone, Default)]
pub struct Answer {
    pub out: Vec<u8>,
    pub err: Vec<u8>,
    pub status: u8,
}

impl From<Vec<u8>> for Answer {
    fn from(out: Vec<u8>) -> Self {
        Self {
            out,
            ..Self::default()
        }
    }
}

/// What the simulated phone answers to a shell command.
pub type Shell = Arc<dyn Fn(&str) -> Answer + Send + Sync>;

/// A file in the phone's shared storage, as the `sync:` service serves it.
#[derive(Debug, Clone)]
pub struct PhoneFile {
    /// Its content: these bytes, `repeat` times over (a long video without the memory).
    pub bytes: bytes::Bytes,
    pub repeat: u64,
    /// Seconds since 1970.
    pub modified: u32,
}

impl PhoneFile {
    pub fn new(bytes: impl Into<bytes::Bytes>, modified: u32) -> Self {
        Self {
            bytes: bytes.into(),
            repeat: 1,
            modified,
        }
    }

    pub fn size(&self) -> u64 {
        self.bytes.len() as u64 * self.repeat
    }
}

/// How the phone treats the computer.
#[derive(Clone)]
pub struct PhoneSpec {
    pub model: String,
    /// The phone has allowed this computer (else it stays "unauthorized").
    pub allowed: bool,
    pub shell: Shell,
    /// Full path (`/sdcard/DCIM/Camera/a.jpg`) to file.
    pub files: Arc<std::collections::BTreeMap<String, PhoneFile>>,
    /// Pulling this file the first time sends half of it (running a shell command that
    /// contains this, nothing), then the cable comes out: the connection drops, and the
    /// phone takes no new one until [`Cable::plug_in`].
    pub unplug_at: Option<String>,
    pub cable: Arc<Cable>,
    /// Offers the shell protocol v2 (Android 7 and later); older phones have only `exec:`.
    pub shell_v2: bool,
}

/// The phone's USB cable, as a test pulls it out and pushes it back in.
#[derive(Debug)]
pub struct Cable {
    plugged: AtomicBool,
    pulled: AtomicBool,
}

impl Default for Cable {
    fn default() -> Self {
        Self {
            plugged: AtomicBool::new(true),
            pulled: AtomicBool::new(false),
        }
    }
}

impl Cable {
    pub fn plug_in(&self) {
        self.plugged.store(true, Ordering::SeqCst);
    }

    pub fn is_plugged(&self) -> bool {
        self.plugged.load(Ordering::SeqCst)
    }

    /// Pulls the cable out if `what` (a file's path, a shell command) is where it comes
    /// out, once.
    fn pulls_at(&self, unplug_at: Option<&str>, what: &str) -> bool {
        let here = unplug_at.is_some_and(|at| at == what || what.contains(at));
        let pulls = here && !self.pulled.swap(true, Ordering::SeqCst);
        if pulls {
            self.plugged.store(false, Ordering::SeqCst);
        }
        pulls
    }
}

impl PhoneSpec {
    pub fn new(model: &str, shell: Shell) -> Self {
        Self {
            model: model.to_owned(),
            allowed: true,
            shell,
            files: Arc::default(),
            unplug_at: None,
            cable: Arc::default(),
            shell_v2: true,
        }
    }
}

/// A listening simulated phone.
pub struct SimulatedPhone {
    pub port: u16,
    pub cable: Arc<Cable>,
}

impl SimulatedPhone {
    pub fn start(spec: PhoneSpec) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let cable = Arc::clone(&spec.cable);
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                if !spec.cable.is_plugged() {
                    // Unplugged: the adb server's tries to reach the phone fail.
                    let _ = stream.shutdown(std::net::Shutdown::Both);
                    continue;
                }
                // A phone on its USB cable has no Nagle delay; on loopback TCP it must be
                // switched off, or every small message waits for a delayed acknowledgement.
                let _ = stream.set_nodelay(true);
                let spec = spec.clone();
                std::thread::spawn(move || {
                    let _ = serve(stream, &spec);
                });
            }
        });
        Self { port, cable }
    }

    pub fn serial(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }
}

struct Message {
    command: u32,
    arg0: u32,
    arg1: u32,
    data: Vec<u8>,
}

fn read_message(stream: &mut TcpStream) -> std::io::Result<Message> {
    let mut header = [0u8; 24];
    stream.read_exact(&mut header)?;
    let word = |i: usize| u32::from_le_bytes(header[i * 4..i * 4 + 4].try_into().unwrap());
    let mut data = vec![0u8; word(3) as usize];
    stream.read_exact(&mut data)?;
    Ok(Message {
        command: word(0),
        arg0: word(1),
        arg1: word(2),
        data,
    })
}

fn send(
    stream: &mut TcpStream,
    command: u32,
    arg0: u32,
    arg1: u32,
    data: &[u8],
) -> std::io::Result<()> {
    let check: u32 = data.iter().map(|&b| u32::from(b)).sum();
    let mut out = Vec::with_capacity(24 + data.len());
    for word in [
        command,
        arg0,
        arg1,
        data.len() as u32,
        check,
        command ^ 0xffff_ffff,
    ] {
        out.extend_from_slice(&word.to_le_bytes());
    }
    out.extend_from_slice(data);
    stream.write_all(&out)
}

fn serve(mut stream: TcpStream, spec: &PhoneSpec) -> std::io::Result<()> {
    let mut next_id = 1u32;
    loop {
        let message = read_message(&mut stream)?;
        match message.command {
            CNXN if spec.allowed => {
                let model = spec.model.replace(' ', "_");
                let features = if spec.shell_v2 {
                    "cmd,shell_v2,ls_v2"
                } else {
                    "cmd"
                };
                // As adbd builds it: no NUL at the end (one there hides the last feature).
                let banner = format!(
                    "device::ro.product.name=lifeboat_sim;ro.product.model={model};ro.product.device=sim;features={features}"
                );
                send(&mut stream, CNXN, VERSION, MAX_DATA, banner.as_bytes())?;
            }
            // Not allowed: every signature is refused, and the key the computer then offers
            // waits for a tap on "Allow" that never comes.
            CNXN | AUTH if !spec.allowed && (message.command == CNXN || message.arg0 == 2) => {
                send(&mut stream, AUTH, AUTH_TOKEN, 0, &[7u8; 20])?;
            }
            OPEN => {
                let service = String::from_utf8_lossy(&message.data)
                    .trim_end_matches('\0')
                    .to_owned();
                let (ours, theirs) = (next_id, message.arg0);
                next_id += 1;
                let mut link = Link {
                    stream: &mut stream,
                    ours,
                    theirs,
                    incoming: Vec::new(),
                };
                if let Some(command) = service.strip_prefix("shell,v2,raw:") {
                    link.stream_okay()?;
                    if spec.cable.pulls_at(spec.unplug_at.as_deref(), command) {
                        let _ = stream.shutdown(std::net::Shutdown::Both);
                        return Ok(());
                    }
                    let answer = (spec.shell)(command);
                    let mut out = Vec::new();
                    for (id, data) in [(1u8, &answer.out), (2u8, &answer.err)] {
                        for chunk in data.chunks(32 * 1024) {
                            out.push(id);
                            out.extend_from_slice(&(chunk.len() as u32).to_le_bytes());
                            out.extend_from_slice(chunk);
                        }
                    }
                    out.extend_from_slice(&[3, 1, 0, 0, 0, answer.status]);
                    if link.write(&out)? {
                        link.close()?;
                    }
                } else if let Some(command) = service
                    .strip_prefix("exec:")
                    .or_else(|| service.strip_prefix("shell:"))
                {
                    link.stream_okay()?;
                    let answer = (spec.shell)(command);
                    if spec.cable.pulls_at(spec.unplug_at.as_deref(), command) {
                        // Half the answer, then the cable comes out.
                        link.write(&answer.out[..answer.out.len() / 2])?;
                        let _ = stream.shutdown(std::net::Shutdown::Both);
                        return Ok(());
                    }
                    if link.write(&answer.out)? {
                        link.close()?;
                    }
                } else if service == "sync:" {
                    link.stream_okay()?;
                    if !sync(&mut link, spec)? {
                        // Unplugged mid-way.
                        let _ = stream.shutdown(std::net::Shutdown::Both);
                        return Ok(());
                    }
                } else {
                    send(link.stream, CLSE, 0, theirs, &[])?;
                }
            }
            _ => {}
        }
    }
}

/// One open stream of the adb connection, with what the computer sent on it.
struct Link<'a> {
    stream: &'a mut TcpStream,
    ours: u32,
    theirs: u32,
    incoming: Vec<u8>,
}

impl Link<'_> {
    fn stream_okay(&mut self) -> std::io::Result<()> {
        send(self.stream, OKAY, self.ours, self.theirs, &[])
    }

    /// Takes in one message: data for this stream is kept (and acknowledged). `false` when
    /// the computer closed the stream.
    fn receive(&mut self, until_okay: bool) -> std::io::Result<bool> {
        loop {
            let message = read_message(self.stream)?;
            // Late messages for streams already finished are not this one's.
            if message.arg1 != self.ours {
                continue;
            }
            match message.command {
                WRTE => {
                    self.incoming.extend_from_slice(&message.data);
                    send(self.stream, OKAY, self.ours, self.theirs, &[])?;
                    if !until_okay {
                        return Ok(true);
                    }
                }
                OKAY if until_okay => return Ok(true),
                CLSE => return Ok(false),
                _ => {}
            }
        }
    }

    /// Sends `data`, each write acknowledged before the next, as adbd does. `false` when
    /// the computer closed the stream meanwhile (then nothing more is sent on it).
    fn write(&mut self, data: &[u8]) -> std::io::Result<bool> {
        for chunk in data.chunks(MAX_DATA as usize) {
            send(self.stream, WRTE, self.ours, self.theirs, chunk)?;
            if !self.receive(true)? {
                return Ok(false);
            }
        }
        Ok(true)
    }

    fn close(&mut self) -> std::io::Result<()> {
        send(self.stream, CLSE, self.ours, self.theirs, &[])
    }

    /// The next `n` bytes the computer sends on this stream; `None` once it closed it.
    fn take(&mut self, n: usize) -> std::io::Result<Option<Vec<u8>>> {
        while self.incoming.len() < n {
            if !self.receive(false)? {
                return Ok(None);
            }
        }
        Ok(Some(self.incoming.drain(..n).collect()))
    }
}

/// The `sync:` service (AOSP `file_sync_protocol.h`): LIST, LIS2 (version 2, whole sizes),
/// STAT, RECV, QUIT; what `adb pull` and Lifeboat use.
/// `false` when the phone was unplugged while sending.
fn sync(link: &mut Link<'_>, spec: &PhoneSpec) -> std::io::Result<bool> {
    loop {
        let Some(header) = link.take(8)? else {
            return Ok(true);
        };
        let id: [u8; 4] = header[..4].try_into().unwrap();
        let length = u32::from_le_bytes(header[4..8].try_into().unwrap()) as usize;
        let Some(path) = link.take(length)? else {
            return Ok(true);
        };
        let path = String::from_utf8_lossy(&path).into_owned();
        let mut out = Vec::new();
        let put = |out: &mut Vec<u8>, words: &[u32]| {
            for w in words {
                out.extend_from_slice(&w.to_le_bytes());
            }
        };
        match &id {
            b"LIST" | b"LIS2" => {
                let folder = format!("{}/", path.trim_end_matches('/'));
                let mut seen = std::collections::BTreeSet::new();
                let mut entries = Vec::new();
                for (file_path, file) in spec.files.range(folder.clone()..) {
                    let Some(rest) = file_path.strip_prefix(&folder) else {
                        break;
                    };
                    match rest.split_once('/') {
                        Some((sub, _)) => {
                            if seen.insert(sub.to_owned()) {
                                entries.push((sub.to_owned(), 0o040_755u32, 4096u64, 0u32));
                            }
                        }
                        None => {
                            entries.push((rest.to_owned(), 0o100_660, file.size(), file.modified))
                        }
                    }
                }
                let v2 = &id == b"LIS2";
                for (name, mode, size, modified) in entries {
                    if v2 {
                        // dent_v2: id, error, dev, ino, mode, nlink, uid, gid, size,
                        // atime, mtime, ctime, namelen.
                        out.extend_from_slice(b"DNT2");
                        put(&mut out, &[0, 0, 0, 0, 0, mode, 1, 0, 0]);
                        out.extend_from_slice(&size.to_le_bytes());
                        for time in [modified, modified, modified] {
                            out.extend_from_slice(&i64::from(time).to_le_bytes());
                        }
                        put(&mut out, &[name.len() as u32]);
                    } else {
                        out.extend_from_slice(b"DENT");
                        // Version 1 has 32 bits for the size, as adbd's uint32_t keeps it.
                        put(&mut out, &[mode, size as u32, modified, name.len() as u32]);
                    }
                    out.extend_from_slice(name.as_bytes());
                }
                out.extend_from_slice(b"DONE");
                if v2 {
                    out.extend_from_slice(&[0; 72]);
                } else {
                    put(&mut out, &[0, 0, 0, 0]);
                }
                if !link.write(&out)? {
                    return Ok(true);
                }
            }
            b"RECV" => match spec.files.get(&path) {
                Some(file) => {
                    let unplug = spec.cable.pulls_at(spec.unplug_at.as_deref(), &path);
                    let (bytes, times): (&[u8], u64) = if unplug {
                        (&file.bytes[..file.bytes.len() / 2], 1)
                    } else {
                        (&file.bytes, file.repeat)
                    };
                    for chunk in (0..times).flat_map(|_| bytes.chunks(64 * 1024)) {
                        let mut frame = b"DATA".to_vec();
                        frame.extend_from_slice(&(chunk.len() as u32).to_le_bytes());
                        frame.extend_from_slice(chunk);
                        if !link.write(&frame)? {
                            return Ok(true);
                        }
                    }
                    if unplug {
                        return Ok(false);
                    }
                    let mut done = b"DONE".to_vec();
                    done.extend_from_slice(&0u32.to_le_bytes());
                    if !link.write(&done)? {
                        return Ok(true);
                    }
                }
                None => {
                    let message = b"No such file or directory";
                    let mut fail = b"FAIL".to_vec();
                    fail.extend_from_slice(&(message.len() as u32).to_le_bytes());
                    fail.extend_from_slice(message);
                    if !link.write(&fail)? {
                        return Ok(true);
                    }
                }
            },
            b"STAT" => {
                // Mode, size and time; all zero for nothing there (as adbd answers lstat).
                let folder = format!("{}/", path.trim_end_matches('/'));
                let (mode, size, modified) = match spec.files.get(&path) {
                    Some(file) => (0o100_660, file.size() as u32, file.modified),
                    None if spec
                        .files
                        .range(folder.clone()..)
                        .next()
                        .is_some_and(|(p, _)| p.starts_with(&folder)) =>
                    {
                        (0o040_755, 4096, 0)
                    }
                    None => (0, 0, 0),
                };
                out.extend_from_slice(b"STAT");
                put(&mut out, &[mode, size, modified]);
                if !link.write(&out)? {
                    return Ok(true);
                }
            }
            b"QUIT" => {
                link.close()?;
                return Ok(true);
            }
            _ => {
                link.close()?;
                return Ok(true);
            }
        }
    }
}

/// A real adb server on a port of its own, connected to simulated phones; killed on drop.
pub struct AdbServerProcess {
    pub port: u16,
}

impl AdbServerProcess {
    /// Starts one, or `None` when adb is not installed (never under CI, which installs it).
    pub fn start() -> Option<Self> {
        if Command::new("adb").arg("version").output().is_err() {
            assert!(
                std::env::var_os("CI").is_none(),
                "CI installs adb (Debian's adb package) for the phone tests"
            );
            eprintln!("skipped: adb is not installed");
            return None;
        }
        // One at a time: the first adb on a fresh machine writes its key to ~/.android, and
        // two doing that at once fail.
        static STARTING: std::sync::Mutex<()> = std::sync::Mutex::new(());
        let _one = STARTING
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let mut said = String::new();
        for _ in 0..3 {
            let port = TcpListener::bind("127.0.0.1:0")
                .unwrap()
                .local_addr()
                .unwrap()
                .port();
            let output = Command::new("adb")
                .args(["-P", &port.to_string(), "start-server"])
                .output()
                .unwrap();
            if output.status.success() {
                return Some(Self { port });
            }
            said = String::from_utf8_lossy(&output.stderr).into_owned();
            std::thread::sleep(std::time::Duration::from_millis(300));
        }
        panic!("adb start-server failed: {said}");
    }

    /// `adb connect` to a simulated phone, waiting until the server lists it in `state`.
    pub fn connect(&self, phone: &SimulatedPhone, state: &str) {
        let serial = phone.serial();
        let _ = Command::new("adb")
            .args(["-P", &self.port.to_string(), "connect", &serial])
            .output()
            .unwrap();
        for _ in 0..100 {
            if self
                .devices()
                .lines()
                .any(|l| l.starts_with(&serial) && l.contains(state))
            {
                return;
            }
            std::thread::sleep(std::time::Duration::from_millis(100));
        }
        panic!("{serial} never became {state}: {}", self.devices());
    }

    pub fn disconnect(&self, phone: &SimulatedPhone) {
        let _ = Command::new("adb")
            .args(["-P", &self.port.to_string(), "disconnect", &phone.serial()])
            .output();
    }

    pub fn devices(&self) -> String {
        let out = Command::new("adb")
            .args(["-P", &self.port.to_string(), "devices", "-l"])
            .output()
            .unwrap();
        String::from_utf8_lossy(&out.stdout).into_owned()
    }
}

impl Drop for AdbServerProcess {
    fn drop(&mut self) {
        let _ = Command::new("adb")
            .args(["-P", &self.port.to_string(), "kill-server"])
            .output();
    }
}
