//! Desktop notifications for runs that failed or flagged a drop: the freedesktop
//! notification service over D-Bus on Linux, `osascript` on macOS. Elsewhere (and where no
//! notification service answers) the status file and the log are the record.

/// Shows a notification; failure to show one is logged, never an error.
pub fn notify(summary: &str, body: &str) {
    if let Err(error) = show(summary, body) {
        tracing::info!("no desktop notification shown ({error}): {summary}: {body}");
    }
}

#[cfg(target_os = "linux")]
fn show(summary: &str, body: &str) -> Result<(), String> {
    use std::collections::HashMap;
    let connection = zbus::blocking::Connection::session().map_err(|e| e.to_string())?;
    let hints: HashMap<&str, zbus::zvariant::Value<'_>> = HashMap::new();
    connection
        .call_method(
            Some("org.freedesktop.Notifications"),
            "/org/freedesktop/Notifications",
            Some("org.freedesktop.Notifications"),
            "Notify",
            &(
                "Lifeboat",
                0u32,
                "org.lifeboat.Lifeboat",
                summary,
                body,
                Vec::<&str>::new(),
                hints,
                -1i32,
            ),
        )
        .map(|_| ())
        .map_err(|e| e.to_string())
}

#[cfg(target_os = "macos")]
fn show(summary: &str, body: &str) -> Result<(), String> {
    let quote = |text: &str| text.replace('\\', "\\\\").replace('"', "\\\"");
    let script = format!(
        "display notification \"{}\" with title \"Lifeboat\" subtitle \"{}\"",
        quote(body),
        quote(summary)
    );
    std::process::Command::new("osascript")
        .args(["-e", &script])
        .status()
        .map_err(|e| e.to_string())
        .and_then(|s| {
            if s.success() {
                Ok(())
            } else {
                Err(format!("osascript: {s}"))
            }
        })
}

#[cfg(not(any(target_os = "linux", target_os = "macos")))]
fn show(_summary: &str, _body: &str) -> Result<(), String> {
    Err("notifications are not implemented on this platform".to_owned())
}
