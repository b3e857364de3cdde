//! A simulated Android phone that speaks the device side of the adb protocol over TCP (AOSP
//! `adb/protocol.txt`: CNXN, AUTH, OPEN, OKAY, WRTE, CLSE), and a real adb server of its own
//! that connects to it (`adb connect 127.0.0.1:PORT`), as a phone with USB debugging over
//! Wi-Fi would be. Only loopback is used.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::process::Command;
use std::sync::Arc;

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

/// What the simulated phone answers to a shell command.
pub type Shell = Arc<dyn Fn(&str) -> Vec<u8> + Send + Sync>;

/// How the phone treats the computer.
#[derive(Clone)]
pub struct PhoneSpec {
    pub model: String,
    /// The phone has allowed this computer (else it stays "unauthorized").
    pub allowed: bool,
    pub shell: Shell,
}

/// A listening simulated phone.
pub struct SimulatedPhone {
    pub port: u16,
}

impl SimulatedPhone {
    pub fn start(spec: PhoneSpec) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let spec = spec.clone();
                std::thread::spawn(move || {
                    let _ = serve(stream, &spec);
                });
            }
        });
        Self { port }
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
                let banner = format!(
                    "device::ro.product.name=lifeboat_sim;ro.product.model={model};ro.product.device=sim;features=cmd\0"
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
                let Some(command) = service.strip_prefix("shell:") else {
                    send(&mut stream, CLSE, 0, theirs, &[])?;
                    continue;
                };
                send(&mut stream, OKAY, ours, theirs, &[])?;
                let output = (spec.shell)(command);
                for chunk in output.chunks(4096) {
                    send(&mut stream, WRTE, ours, theirs, chunk)?;
                    // The computer acknowledges each write before the next.
                    loop {
                        let ack = read_message(&mut stream)?;
                        if ack.command == OKAY {
                            break;
                        }
                    }
                }
                send(&mut stream, CLSE, ours, theirs, &[])?;
            }
            _ => {}
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
        let port = TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let status = Command::new("adb")
            .args(["-P", &port.to_string(), "start-server"])
            .status()
            .unwrap();
        assert!(status.success(), "adb start-server");
        Some(Self { port })
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
