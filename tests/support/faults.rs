//! A fault-injecting HTTP proxy for tests: sits between Lifeboat and a real Radicale or WsgiDAV
//! server on loopback and, per rule or at random from a seed, resets connections mid-body,
//! stalls, answers 5xx or 429 bursts, cuts multistatus bodies short and serves malformed XML;
//! also plays a provider failing item by item (a multiget answering 404 for every item it
//! still lists) and a server writing absolute-URL hrefs.

use std::io::{BufRead as _, BufReader, Read, Write as _};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// What the proxy does to one request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Fault {
    /// Forward, then send the head and half the body and reset the connection (RST).
    ResetMidBody,
    /// Forward, then wait this long before answering (past the client's timeout).
    Stall(Duration),
    /// Answer this status without asking the server.
    Status(u16),
    /// Answer 429 with `Retry-After: N` without asking the server.
    TooManyRequests { retry_after_secs: u32 },
    /// Forward, then cut the body in half and declare the cut length: valid HTTP, broken XML.
    Truncate,
    /// Forward, then replace the body with malformed XML of a plausible shape.
    MalformedXml,
    /// Answer a multiget REPORT with a 207 in which every requested href is 404 (other
    /// requests pass).
    MultigetNotFound,
    /// Forward, then write every `href` of the answer as an absolute URL (RFC 4918 allows it).
    AbsoluteHrefs,
    /// Forward, lose the answer (as [`Fault::ResetMidBody`]), then answer 503 to everything
    /// after: the server took the request and went down.
    ResetThenDown,
    /// Forward, then send the answer's body one byte at a time, this long apart: never silent
    /// long enough for an idle timeout.
    Trickle(Duration),
    /// Forward a (Radicale) multiget, then add to its answer its first item once more and that
    /// item again under an href nobody asked for.
    InjectItems,
}

impl Fault {
    pub fn name(&self) -> String {
        match self {
            Self::ResetMidBody => "reset mid-body".to_owned(),
            Self::Stall(d) => format!("stall {} s", d.as_secs()),
            Self::Status(s) => format!("{s}"),
            Self::TooManyRequests { retry_after_secs } => {
                format!("429 Retry-After {retry_after_secs}")
            }
            Self::Truncate => "truncated body".to_owned(),
            Self::MalformedXml => "malformed XML".to_owned(),
            Self::MultigetNotFound => "multiget 404 per item".to_owned(),
            Self::AbsoluteHrefs => "absolute-URL hrefs".to_owned(),
            Self::ResetThenDown => "reset, then down".to_owned(),
            Self::Trickle(gap) => format!("a byte every {} ms", gap.as_millis()),
            Self::InjectItems => "multiget answer with items not asked for".to_owned(),
        }
    }
}

/// Applies `fault` to requests whose method is in `methods` (all when empty) and, when
/// `path` is set, whose request line contains it: it lets `skip` matching requests through,
/// then faults the next `times` (`usize::MAX`: every one).
#[derive(Debug, Clone)]
pub struct Rule {
    pub methods: Vec<&'static str>,
    pub skip: usize,
    pub times: usize,
    pub fault: Fault,
    pub path: Option<&'static str>,
}

#[derive(Debug)]
struct RandomFaults {
    state: u64,
    per_mille: u64,
    faults: Vec<Fault>,
}

impl RandomFaults {
    fn next(&mut self) -> u64 {
        // SplitMix64: a seed gives the same sequence of decisions every run.
        self.state = self.state.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.state;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
}

#[derive(Debug, Default)]
struct State {
    rules: Vec<(Rule, usize)>,
    random: Option<RandomFaults>,
    injected: Vec<(String, Fault)>,
    requests: usize,
    /// Set by [`Fault::ResetThenDown`].
    down: bool,
}

impl State {
    fn decide(&mut self, method: &str, line: &str) -> Option<Fault> {
        self.requests += 1;
        if self.down {
            return Some(Fault::Status(503));
        }
        for (rule, seen) in &mut self.rules {
            if !rule.methods.is_empty() && !rule.methods.contains(&method) {
                continue;
            }
            if rule.path.is_some_and(|path| !line.contains(path)) {
                continue;
            }
            *seen += 1;
            if *seen > rule.skip && *seen - rule.skip <= rule.times {
                return Some(rule.fault.clone());
            }
        }
        let random = self.random.as_mut()?;
        if random.next() % 1000 < random.per_mille {
            let pick = random.next() as usize % random.faults.len();
            return Some(random.faults[pick].clone());
        }
        None
    }
}

/// The proxy; it stops accepting when dropped.
#[derive(Debug)]
pub struct FaultProxy {
    pub port: u16,
    state: Arc<Mutex<State>>,
    stopped: Arc<AtomicBool>,
}

impl FaultProxy {
    /// A proxy on a free loopback port in front of `127.0.0.1:upstream`.
    pub fn start(upstream: u16) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").expect("binding the proxy");
        let port = listener.local_addr().expect("proxy address").port();
        let state = Arc::new(Mutex::new(State::default()));
        let stopped = Arc::new(AtomicBool::new(false));
        let (accept_state, accept_stopped) = (state.clone(), stopped.clone());
        std::thread::spawn(move || {
            for client in listener.incoming() {
                if accept_stopped.load(Ordering::SeqCst) {
                    return;
                }
                let Ok(client) = client else { continue };
                let state = accept_state.clone();
                std::thread::spawn(move || serve(client, upstream, &state));
            }
        });
        Self {
            port,
            state,
            stopped,
        }
    }

    pub fn base_url(&self) -> String {
        format!("http://127.0.0.1:{}/", self.port)
    }

    pub fn add(&self, rule: Rule) {
        self.state.lock().unwrap().rules.push((rule, 0));
    }

    /// Faults about `per_mille`/1000 of all requests, picked from `faults` by `seed`.
    pub fn random(&self, seed: u64, per_mille: u64, faults: Vec<Fault>) {
        self.state.lock().unwrap().random = Some(RandomFaults {
            state: seed,
            per_mille,
            faults,
        });
    }

    /// Back to forwarding everything untouched.
    pub fn clear(&self) {
        let mut state = self.state.lock().unwrap();
        state.rules.clear();
        state.random = None;
        state.injected.clear();
        state.down = false;
    }

    /// The faults injected so far, with the request line each hit.
    pub fn injected(&self) -> Vec<(String, Fault)> {
        self.state.lock().unwrap().injected.clone()
    }

    pub fn requests(&self) -> usize {
        self.state.lock().unwrap().requests
    }
}

impl Drop for FaultProxy {
    fn drop(&mut self) {
        self.stopped.store(true, Ordering::SeqCst);
        // Wake the accept loop so that it sees the flag.
        let _ = TcpStream::connect(("127.0.0.1", self.port));
    }
}

/// A parsed HTTP/1.1 message: the first line, headers, and the whole (de-chunked) body.
struct Message {
    first_line: String,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl Message {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// The head with our own framing headers, announcing `length` body bytes.
    fn head(&self, length: usize) -> Vec<u8> {
        let mut head = format!("{}\r\n", self.first_line);
        for (name, value) in &self.headers {
            if ["content-length", "transfer-encoding", "connection"]
                .iter()
                .any(|h| name.eq_ignore_ascii_case(h))
            {
                continue;
            }
            head.push_str(&format!("{name}: {value}\r\n"));
        }
        head.push_str(&format!(
            "Content-Length: {length}\r\nConnection: close\r\n\r\n"
        ));
        head.into_bytes()
    }
}

/// Reads one message; `None` at a clean end of the connection. `to_eof` reads a body without
/// framing headers until the peer closes (responses only). `head_answer`: the answer to a
/// HEAD, whose `Content-Length` announces a body that never comes.
fn read_message(
    reader: &mut BufReader<TcpStream>,
    to_eof: bool,
    head_answer: bool,
) -> Option<Message> {
    let mut first_line = String::new();
    if reader.read_line(&mut first_line).ok()? == 0 {
        return None;
    }
    let mut headers = Vec::new();
    loop {
        let mut line = String::new();
        reader.read_line(&mut line).ok()?;
        let line = line.trim_end();
        if line.is_empty() {
            break;
        }
        let (name, value) = line.split_once(':')?;
        headers.push((name.trim().to_owned(), value.trim().to_owned()));
    }
    let mut message = Message {
        first_line: first_line.trim_end().to_owned(),
        headers,
        body: Vec::new(),
    };
    if message
        .header("transfer-encoding")
        .is_some_and(|v| v.eq_ignore_ascii_case("chunked"))
    {
        loop {
            let mut size = String::new();
            reader.read_line(&mut size).ok()?;
            let size = usize::from_str_radix(size.trim().split(';').next()?, 16).ok()?;
            let mut chunk = vec![0; size + 2];
            reader.read_exact(&mut chunk).ok()?;
            if size == 0 {
                break;
            }
            message.body.extend_from_slice(&chunk[..size]);
        }
    } else if head_answer {
    } else if let Some(length) = message.header("content-length") {
        let mut body = vec![0; length.parse().ok()?];
        reader.read_exact(&mut body).ok()?;
        message.body = body;
    } else if to_eof {
        reader.read_to_end(&mut message.body).ok()?;
    }
    Some(message)
}

fn serve(client: TcpStream, upstream: u16, state: &Mutex<State>) {
    let Ok(reader_half) = client.try_clone() else {
        return;
    };
    let mut reader = BufReader::new(reader_half);
    let mut client = client;
    // One request per connection: every answer says `Connection: close`.
    let Some(request) = read_message(&mut reader, false, false) else {
        return;
    };
    let method = request
        .first_line
        .split(' ')
        .next()
        .unwrap_or("")
        .to_owned();
    let fault = state.lock().unwrap().decide(&method, &request.first_line);
    if let Some(fault) = &fault {
        state
            .lock()
            .unwrap()
            .injected
            .push((request.first_line.clone(), fault.clone()));
    }
    match &fault {
        Some(Fault::Status(status)) => {
            let body = format!("injected {status}");
            let _ = client.write_all(
                format!(
                    "HTTP/1.1 {status} Injected\r\nContent-Type: text/plain\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                    body.len()
                )
                .as_bytes(),
            );
            return;
        }
        Some(Fault::MultigetNotFound)
            if method == "REPORT"
                && String::from_utf8_lossy(&request.body).contains("multiget") =>
        {
            let body = not_found_multistatus(&request.body);
            let _ = client.write_all(
                format!(
                    "HTTP/1.1 207 Multi-Status\r\nContent-Type: application/xml; charset=utf-8\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                    body.len()
                )
                .as_bytes(),
            );
            let _ = client.write_all(body.as_bytes());
            return;
        }
        Some(Fault::TooManyRequests { retry_after_secs }) => {
            let _ = client.write_all(
                format!(
                    "HTTP/1.1 429 Too Many Requests\r\nRetry-After: {retry_after_secs}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
                )
                .as_bytes(),
            );
            return;
        }
        _ => {}
    }
    let Some(response) = forward(&request, upstream) else {
        let _ = client.shutdown(Shutdown::Both);
        return;
    };
    let is_head = method == "HEAD";
    let answer = |body: &[u8], client: &mut TcpStream| {
        let mut bytes = response.head(if is_head {
            response
                .header("content-length")
                .and_then(|v| v.parse().ok())
                .unwrap_or(0)
        } else {
            body.len()
        });
        if !is_head {
            bytes.extend_from_slice(body);
        }
        let _ = client.write_all(&bytes);
    };
    if fault == Some(Fault::ResetThenDown) {
        state.lock().unwrap().down = true;
    }
    match fault {
        Some(Fault::ResetMidBody | Fault::ResetThenDown) => {
            // An answer without a body (a PUT's 201) is lost whole: the server stored the
            // item, the client never hears of it.
            if !response.body.is_empty() {
                let mut bytes = response.head(response.body.len());
                bytes.extend_from_slice(&response.body[..response.body.len() / 2]);
                let _ = client.write_all(&bytes);
            }
            let _ = client.flush();
            // SO_LINGER 0: closing sends RST instead of FIN.
            let _ = socket2::SockRef::from(&client).set_linger(Some(Duration::ZERO));
            drop(client);
        }
        Some(Fault::Stall(duration)) => {
            std::thread::sleep(duration);
            answer(&response.body, &mut client);
        }
        Some(Fault::Truncate) => answer(&response.body[..response.body.len() / 2], &mut client),
        Some(Fault::MalformedXml) => answer(
            b"<?xml version=\"1.0\"?><d:multistatus xmlns:d=\"DAV:\"><d:response><d:href>/x</d:propstat></d:multistatus>",
            &mut client,
        ),
        Some(Fault::Trickle(gap)) => {
            let _ = client.write_all(&response.head(response.body.len()));
            for byte in &response.body {
                if client.write_all(&[*byte]).is_err() {
                    return;
                }
                std::thread::sleep(gap);
            }
        }
        Some(Fault::InjectItems) => {
            let body = String::from_utf8_lossy(&response.body).into_owned();
            let first = body
                .find("<response>")
                .zip(body.find("</response>"))
                .map(|(start, end)| body[start..end + "</response>".len()].to_owned());
            let body = match first {
                Some(item) => {
                    let href = item
                        .split("<href>")
                        .nth(1)
                        .and_then(|rest| rest.split("</href>").next())
                        .unwrap_or("")
                        .to_owned();
                    let injected = item.replace(&href, "/home/other/injected.vcf");
                    body.replace("</multistatus>", &format!("{item}{injected}</multistatus>"))
                }
                None => body,
            };
            answer(body.as_bytes(), &mut client);
        }
        Some(Fault::AbsoluteHrefs) => {
            let host = format!("http://127.0.0.1:{upstream}");
            let body = String::from_utf8_lossy(&response.body)
                .replace("href>/", &format!("href>{host}/"));
            answer(body.as_bytes(), &mut client);
        }
        _ => answer(&response.body, &mut client),
    }
}

/// A multistatus answering 404 for every `<…href>` of a multiget request body.
fn not_found_multistatus(request: &[u8]) -> String {
    let text = String::from_utf8_lossy(request);
    let mut body = String::from(
        "<?xml version=\"1.0\" encoding=\"utf-8\"?>\n<D:multistatus xmlns:D=\"DAV:\">",
    );
    for piece in text.split("href>").skip(1) {
        let Some(href) = piece.split('<').next().filter(|h| !h.trim().is_empty()) else {
            continue;
        };
        body.push_str(&format!(
            "<D:response><D:href>{}</D:href><D:status>HTTP/1.1 404 Not Found</D:status></D:response>",
            href.trim()
        ));
    }
    body.push_str("</D:multistatus>");
    body
}

/// Sends `request` to the upstream server on a fresh connection and reads the whole answer.
fn forward(request: &Message, upstream: u16) -> Option<Message> {
    let mut server = TcpStream::connect(("127.0.0.1", upstream)).ok()?;
    let mut bytes = request.head(request.body.len());
    bytes.extend_from_slice(&request.body);
    server.write_all(&bytes).ok()?;
    let mut reader = BufReader::new(server);
    read_message(&mut reader, true, request.first_line.starts_with("HEAD "))
}
