//! A phone that drops off in the middle of a run (a cable pulled, a loose plug, a phone that
//! restarted its USB connection): waiting for it to come back, so that the copy goes on where
//! it stopped instead of failing a backup that may have run for an hour.

use std::time::{Duration, Instant};

use crate::error::{Error, ErrorKind, Result};
use crate::model::Warning;
use crate::progress::CancelToken;
use crate::source::ItemSink;

use super::{AdbServer, PhoneState, parse_devices};

/// How long a run waits for an unplugged phone by default: long enough to find the cable
/// and unlock the phone, short enough that a scheduled run does not hang for long.
pub const DEFAULT_WAIT: Duration = Duration::from_secs(120);
/// Sets the wait in seconds, for scripts and tests (`0`: do not wait).
pub const WAIT_ENV: &str = "LIFEBOAT_PHONE_WAIT_SECONDS";

/// How long to wait for the phone; from [`WAIT_ENV`], else [`DEFAULT_WAIT`].
pub fn wait_from_env() -> Duration {
    std::env::var(WAIT_ENV)
        .ok()
        .and_then(|s| s.trim().parse::<u64>().ok())
        .map_or(DEFAULT_WAIT, Duration::from_secs)
}

/// What happens while a phone is gone, for the person watching.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Notice {
    /// The connection broke; waiting up to this long for the phone.
    Waiting(Duration),
    /// The phone is back after this long; the copy goes on.
    Back(Duration),
}

impl Notice {
    /// The words a progress line shows.
    pub fn words(&self) -> String {
        match self {
            Self::Waiting(wait) => format!(
                "the phone was disconnected: plug it in again and unlock it, and the backup goes on where it stopped (waiting up to {})",
                spoken(*wait)
            ),
            Self::Back(_) => "the phone is back: the backup goes on".to_owned(),
        }
    }
}

fn spoken(wait: Duration) -> String {
    let seconds = wait.as_secs();
    match seconds {
        0..=90 => format!("{seconds} seconds"),
        _ => format!("{} minutes", seconds.div_ceil(60)),
    }
}

/// Whether `error` means the phone went away (rather than refusing one file, or answering
/// something garbled): the errors [`super::adb`] gives a broken or silent connection and a
/// phone the server no longer lists.
pub fn is_gone(error: &Error) -> bool {
    error.kind() == ErrorKind::PhoneNotReady
}

/// Waits until the adb server lists the phone `serial` as ready again, looking twice a
/// second for at most `wait`. `still_wanted` is asked between looks: once it says no (the
/// job was cancelled, nobody reads the answer), this ends with a cancel.
pub async fn wait_for_phone(
    server: &AdbServer,
    serial: &str,
    wait: Duration,
    still_wanted: impl Fn() -> bool,
) -> Result<Duration> {
    let started = Instant::now();
    loop {
        if let Ok(listing) = server.devices().await
            && parse_devices(&listing)
                .iter()
                .any(|p| p.serial == serial && p.state == PhoneState::Ready)
        {
            return Ok(started.elapsed());
        }
        if !still_wanted() {
            return Err(Error::cancelled());
        }
        if started.elapsed() >= wait {
            return Err(Error::new(
                ErrorKind::PhoneNotReady,
                format!(
                    "the connection to the phone broke off and the phone did not come back within {}: plug it in, unlock it and back up again",
                    spoken(wait)
                ),
            ));
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

/// How often one request is asked again after the phone came back.
const TRIES: usize = 3;

/// Runs `attempt` (a request that may be asked again: a query, a file from its start), and
/// when the phone went away meanwhile, waits for it (telling `tell`) and asks again.
pub async fn again_when_back<T, Fut>(
    server: &AdbServer,
    serial: &str,
    wait: Duration,
    cancel: &CancelToken,
    tell: impl Fn(&Notice),
    mut attempt: impl FnMut() -> Fut,
) -> Result<T>
where
    Fut: std::future::Future<Output = Result<T>>,
{
    let mut tries = 0;
    loop {
        match attempt().await {
            Err(e) if is_gone(&e) && tries < TRIES && !wait.is_zero() => {
                tries += 1;
                tell(&Notice::Waiting(wait));
                let away = wait_for_phone(server, serial, wait, || !cancel.is_cancelled()).await?;
                tell(&Notice::Back(away));
            }
            other => return other,
        }
    }
}

/// Tells the person watching through `sink`: each notice on the progress line, and the
/// summary's note when the phone came back while `href` was read.
pub fn telling<'a>(sink: &'a dyn ItemSink, href: &'a str) -> impl Fn(&Notice) + Copy + 'a {
    move |notice| {
        sink.phase(notice.words());
        if let Notice::Back(away) = notice {
            sink.warn(note(*away, href));
        }
    }
}

/// The summary's note that the phone was away for `away` while `href` was read.
fn note(away: Duration, href: &str) -> Warning {
    Warning::new(
        "phone-reconnected",
        format!(
            "the phone was disconnected for {} s while this was read; Lifeboat waited and went on where it stopped",
            away.as_secs()
        ),
    )
    .at_href(href)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn waits_are_said_in_words() {
        assert!(Notice::Waiting(DEFAULT_WAIT).words().contains("2 minutes"));
        assert!(
            Notice::Waiting(Duration::from_secs(30))
                .words()
                .contains("30 seconds")
        );
        assert!(is_gone(&Error::new(ErrorKind::PhoneNotReady, "x")));
        assert!(!is_gone(&Error::new(ErrorKind::NotFound, "x")));
    }
}
