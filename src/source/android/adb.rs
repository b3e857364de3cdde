//! A client of the adb server's host protocol (AOSP `docs/dev/services.md`): the adb server
//! (Debian's `adb`, Android's platform-tools) owns the USB connection and the phone's
//! authorisation; Lifeboat asks it for the phone list and opens services on one phone.
//!
//! Why the adb server and not a USB stack of our own: it is what people already have
//! working (drivers on Windows, udev rules on Linux), it keeps the RSA key the phone was told
//! to trust, and the protocol to it is a few lines of text over loopback TCP.

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::error::{Error, ErrorKind, Result};

/// The adb server's default port; `ANDROID_ADB_SERVER_PORT` moves it, as for `adb` itself.
pub const DEFAULT_PORT: u16 = 5037;
pub const PORT_ENV: &str = "ANDROID_ADB_SERVER_PORT";

/// Where the adb server listens (always this computer).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AdbServer {
    pub port: u16,
}

/// A port set by [`AdbServer::use_port`]; 0 for none.
static CHOSEN_PORT: std::sync::atomic::AtomicU16 = std::sync::atomic::AtomicU16::new(0);

impl Default for AdbServer {
    /// The server [`AdbServer::use_port`] chose, else `ANDROID_ADB_SERVER_PORT`'s, else 5037.
    fn default() -> Self {
        let chosen = CHOSEN_PORT.load(std::sync::atomic::Ordering::Relaxed);
        let port = Some(chosen)
            .filter(|p| *p != 0)
            .or_else(|| std::env::var(PORT_ENV).ok().and_then(|p| p.parse().ok()))
            .unwrap_or(DEFAULT_PORT);
        Self { port }
    }
}

impl AdbServer {
    /// Makes every part of this process (window, worker, scheduler) use the adb server on
    /// `port`, as `ANDROID_ADB_SERVER_PORT` would for a process started with it; for a
    /// program that embeds Lifeboat, and for tests, which cannot safely change their own
    /// environment.
    pub fn use_port(port: u16) {
        CHOSEN_PORT.store(port, std::sync::atomic::Ordering::Relaxed);
    }

    async fn connect(&self) -> Result<TcpStream> {
        match Self::dial(self.port).await {
            Ok(stream) => {
                // Requests are a few bytes each, answered before the next: without this,
                // each one waits out the peer's delayed acknowledgement (40 ms).
                let _ = stream.set_nodelay(true);
                Ok(stream)
            }
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionRefused => {
                // Not running yet: start it as `adb` itself would, then ask again.
                self.start().await?;
                Self::dial(self.port)
                    .await
                    .map_err(|e| not_running(self.port, &e))
            }
            Err(e) => Err(not_running(self.port, &e)),
        }
    }

    /// A connection to the server with room for several of the phone's 64 KiB writes: the
    /// server lets the phone send the next one only once the last is in our socket, so a
    /// small buffer would make the phone wait on each of our reads.
    async fn dial(port: u16) -> std::io::Result<TcpStream> {
        let socket = tokio::net::TcpSocket::new_v4()?;
        let _ = socket.set_recv_buffer_size(4 * 1024 * 1024);
        socket
            .connect(std::net::SocketAddr::from(([127, 0, 0, 1], port)))
            .await
    }

    async fn start(&self) -> Result<()> {
        let started = tokio::process::Command::new("adb")
            .args(["-P", &self.port.to_string(), "start-server"])
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .status()
            .await;
        match started {
            Ok(status) if status.success() => Ok(()),
            Ok(_) => Err(Error::new(
                ErrorKind::PhoneNotReady,
                "the Android tools (adb) would not start",
            )),
            Err(e) => Err(Error::with_source(
                ErrorKind::PhoneNotReady,
                "the Android tools (adb) are not installed: install Android's platform-tools (on Debian and Ubuntu, the adb package)",
                e,
            )),
        }
    }

    /// Sends one host request and reads its OKAY or FAIL.
    async fn request(&self, stream: &mut TcpStream, request: &str) -> Result<()> {
        let framed = format!("{:04x}{request}", request.len());
        stream
            .write_all(framed.as_bytes())
            .await
            .map_err(|e| broken(&e))?;
        let mut status = [0u8; 4];
        stream
            .read_exact(&mut status)
            .await
            .map_err(|e| broken(&e))?;
        match &status {
            b"OKAY" => Ok(()),
            b"FAIL" => {
                let message = read_framed(stream).await?;
                Err(Error::new(
                    ErrorKind::PhoneNotReady,
                    format!("the phone connection refused this: {message}"),
                ))
            }
            other => Err(Error::new(
                ErrorKind::InvalidData,
                format!(
                    "the adb server answered something unexpected ({})",
                    String::from_utf8_lossy(other)
                ),
            )),
        }
    }

    /// `adb devices -l`: one line per phone the server knows, in whatever state.
    pub async fn devices(&self) -> Result<String> {
        let mut stream = self.connect().await?;
        self.request(&mut stream, "host:devices-l").await?;
        read_framed(&mut stream).await
    }

    /// The features the phone's adbd offers (`shell_v2`, `cmd`, ...).
    pub async fn features(&self, serial: &str) -> Result<Vec<String>> {
        let mut stream = self.connect().await?;
        self.request(&mut stream, &format!("host-serial:{serial}:features"))
            .await?;
        let listed = read_framed(&mut stream).await?;
        Ok(listed.split(',').map(|f| f.trim().to_owned()).collect())
    }

    /// `Ok` while the server lists the phone `serial` as ready; else the error of a broken
    /// connection.
    async fn still_there(&self, serial: &str) -> Result<()> {
        let mut stream = self.connect().await?;
        let state = match self
            .request(&mut stream, &format!("host-serial:{serial}:get-state"))
            .await
        {
            Ok(()) => read_framed(&mut stream).await?,
            Err(e) => e.to_string(),
        };
        if state.trim() == "device" {
            return Ok(());
        }
        Err(broken(&std::io::Error::new(
            std::io::ErrorKind::UnexpectedEof,
            format!("the phone is now '{}'", state.trim()),
        )))
    }

    /// A stream to `service` on the phone `serial` (after the server said OKAY to both).
    pub async fn open(&self, serial: &str, service: &str) -> Result<TcpStream> {
        let mut stream = self.connect().await?;
        self.request(&mut stream, &format!("host:transport:{serial}"))
            .await?;
        self.request(&mut stream, service).await?;
        Ok(stream)
    }

    /// Runs `command` in the phone's shell and returns what it printed. The command is given
    /// whole to the phone's `sh`; callers quote what they put in it.
    ///
    /// Through the shell protocol v2 (Android 7 and later), which brings the command's exit
    /// status: output that ends without one was cut off (the phone unplugged), and is an
    /// error rather than a shorter answer that looks whole. Older phones get `exec:`.
    pub async fn shell(&self, serial: &str, command: &str) -> Result<Vec<u8>> {
        let v2 = self.has_shell_v2(serial).await?;
        self.shell_with(serial, command, v2).await
    }

    /// Whether the phone speaks the shell protocol v2; asked once per phone, not per command.
    pub async fn has_shell_v2(&self, serial: &str) -> Result<bool> {
        Ok(self.features(serial).await?.iter().any(|f| f == "shell_v2"))
    }

    /// [`AdbServer::shell`] for a phone whose [`AdbServer::has_shell_v2`] is known.
    pub async fn shell_with(&self, serial: &str, command: &str, v2: bool) -> Result<Vec<u8>> {
        if !v2 {
            let mut stream = self.open(serial, &format!("exec:{command}")).await?;
            let mut out = Vec::new();
            stream.read_to_end(&mut out).await.map_err(|e| broken(&e))?;
            // Without v2 an answer ends only with its connection, as it does when the phone
            // is unplugged: the phone still being there tells a whole answer from a cut one.
            self.still_there(serial).await?;
            return Ok(out);
        }
        let mut stream = self
            .open(serial, &format!("shell,v2,raw:{command}"))
            .await?;
        let (mut out, mut errors) = (Vec::new(), Vec::new());
        loop {
            let mut header = [0u8; 5];
            read_exact(&mut stream, &mut header).await?;
            let length = u32::from_le_bytes([header[1], header[2], header[3], header[4]]);
            let mut packet = vec![0u8; length as usize];
            read_exact(&mut stream, &mut packet).await?;
            match header[0] {
                SHELL_STDOUT => out.extend_from_slice(&packet),
                SHELL_STDERR => errors.extend_from_slice(&packet),
                SHELL_EXIT => {
                    let status = packet.first().copied().unwrap_or(0);
                    if status == 0 {
                        return Ok(out);
                    }
                    let said =
                        String::from_utf8_lossy(if errors.is_empty() { &out } else { &errors })
                            .trim()
                            .chars()
                            .take(300)
                            .collect::<String>();
                    return Err(Error::new(
                        ErrorKind::InvalidData,
                        format!("the phone could not answer ({status}): {said}"),
                    ));
                }
                _ => {}
            }
        }
    }
}

/// Shell protocol v2 packet ids (AOSP `adb/shell_protocol.h`).
const SHELL_STDOUT: u8 = 1;
const SHELL_STDERR: u8 = 2;
const SHELL_EXIT: u8 = 3;

pub(super) async fn read_framed(stream: &mut TcpStream) -> Result<String> {
    let mut length = [0u8; 4];
    stream
        .read_exact(&mut length)
        .await
        .map_err(|e| broken(&e))?;
    let length = std::str::from_utf8(&length)
        .ok()
        .and_then(|hex| usize::from_str_radix(hex, 16).ok())
        .ok_or_else(|| Error::new(ErrorKind::InvalidData, "the adb server's answer is garbled"))?;
    let mut body = vec![0u8; length];
    stream.read_exact(&mut body).await.map_err(|e| broken(&e))?;
    Ok(String::from_utf8_lossy(&body).into_owned())
}

fn not_running(port: u16, e: &std::io::Error) -> Error {
    Error::new(
        ErrorKind::PhoneNotReady,
        format!("the Android tools (adb server) do not answer on this computer (port {port}): {e}"),
    )
}

/// How long a phone may stay silent in the middle of an answer before it counts as gone
/// (a locked-up phone, a cable that is half out): long enough for a slow provider query.
const SILENCE: std::time::Duration = std::time::Duration::from_secs(120);

/// `read_exact` on a phone's stream, failing with words a person can act on when the phone
/// goes silent or the connection breaks.
pub(super) async fn read_exact(stream: &mut TcpStream, into: &mut [u8]) -> Result<()> {
    match tokio::time::timeout(SILENCE, stream.read_exact(into)).await {
        Ok(Ok(_)) => {
            quick_ack(stream);
            Ok(())
        }
        Ok(Err(e)) => Err(broken(&e)),
        Err(_) => Err(Error::new(
            ErrorKind::PhoneNotReady,
            "the phone stopped answering: unlock it, check the cable, and try again",
        )),
    }
}

/// Acknowledges what was read at once. The adb server holds a short message (the DONE that
/// ends a file, a shell's exit status) until this side acknowledges the data before it
/// (Nagle's rule), and Linux delays that acknowledgement by 40 ms on a connection that also
/// sends requests: about half of a phone's photos waited 40 ms at their end (seen with
/// tcpdump; the android_phone bench).
fn quick_ack(stream: &TcpStream) {
    #[cfg(any(target_os = "linux", target_os = "android"))]
    {
        let _ = socket2::SockRef::from(stream).set_tcp_quickack(true);
    }
    #[cfg(not(any(target_os = "linux", target_os = "android")))]
    let _ = stream;
}

pub(super) fn broken(e: &std::io::Error) -> Error {
    Error::new(
        ErrorKind::PhoneNotReady,
        format!("the connection to the phone broke off (was it unplugged?): {e}"),
    )
}
