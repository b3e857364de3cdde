//! Registers a profile with the operating system's scheduler, so that it runs while the app
//! is closed: a systemd user timer (Linux), a launchd agent (macOS), a Task Scheduler task
//! (Windows). Generating the files is pure and tested everywhere; installing runs the
//! platform's own tool.

use std::path::{Path, PathBuf};
use std::process::Command;

use chrono::{Timelike, Weekday};

use crate::error::{Error, ErrorKind, Result};
use crate::schedule::policy::Every;

/// The name the OS scheduler knows a profile by.
pub fn job_name(profile: &str) -> String {
    format!("lifeboat-{profile}")
}

/// Quotes one argument for systemd's `ExecStart=` (a double-quoted word, `%` doubled).
fn systemd_quote(arg: &str) -> String {
    let escaped = arg
        .replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('%', "%%");
    format!("\"{escaped}\"")
}

fn systemd_weekday(day: Weekday) -> &'static str {
    match day {
        Weekday::Mon => "Mon",
        Weekday::Tue => "Tue",
        Weekday::Wed => "Wed",
        Weekday::Thu => "Thu",
        Weekday::Fri => "Fri",
        Weekday::Sat => "Sat",
        Weekday::Sun => "Sun",
    }
}

/// `OnCalendar=` for a schedule.
pub fn on_calendar(every: &Every) -> String {
    match every {
        Every::Hourly => "*-*-* *:00:00".to_owned(),
        Every::Daily { at } => format!("*-*-* {:02}:{:02}:00", at.hour(), at.minute()),
        Every::Weekly { on, at } => format!(
            "{} *-*-* {:02}:{:02}:00",
            systemd_weekday(*on),
            at.hour(),
            at.minute()
        ),
    }
}

/// The systemd user service and timer (file name, contents). `Persistent=true` makes a run
/// missed while the computer was off or asleep happen at the next boot or wake.
pub fn systemd_units(profile: &str, exe: &Path, every: &Every) -> [(String, String); 2] {
    let name = job_name(profile);
    let service = format!(
        "[Unit]\n\
Description=Lifeboat backup \"{profile}\"\n\
After=network-online.target\n\
Wants=network-online.target\n\
\n\
[Service]\n\
Type=oneshot\n\
ExecStart={} run {}\n\
Nice=10\n\
IOSchedulingClass=idle\n",
        systemd_quote(&exe.to_string_lossy()),
        systemd_quote(profile),
    );
    let timer = format!(
        "[Unit]\n\
Description=Run the Lifeboat backup \"{profile}\" {}\n\
\n\
[Timer]\n\
OnCalendar={}\n\
Persistent=true\n\
RandomizedDelaySec=120\n\
Unit={name}.service\n\
\n\
[Install]\n\
WantedBy=timers.target\n",
        every.describe(),
        on_calendar(every),
    );
    [
        (format!("{name}.service"), service),
        (format!("{name}.timer"), timer),
    ]
}

fn xml_escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// The launchd agent plist. launchd runs a job missed while the Mac slept when it wakes.
pub fn launchd_plist(profile: &str, exe: &Path, every: &Every, log: &Path) -> String {
    let interval = match every {
        Every::Hourly => "<dict><key>Minute</key><integer>0</integer></dict>".to_owned(),
        Every::Daily { at } => format!(
            "<dict><key>Hour</key><integer>{}</integer><key>Minute</key><integer>{}</integer></dict>",
            at.hour(),
            at.minute()
        ),
        Every::Weekly { on, at } => format!(
            "<dict><key>Weekday</key><integer>{}</integer><key>Hour</key><integer>{}</integer><key>Minute</key><integer>{}</integer></dict>",
            on.num_days_from_sunday(),
            at.hour(),
            at.minute()
        ),
    };
    format!(
        r#"<?xml version="1.0" encoding="UTF-8"?>
<!DOCTYPE plist PUBLIC "-//Apple//DTD PLIST 1.0//EN" "http://www.apple.com/DTDs/PropertyList-1.0.dtd">
<plist version="1.0">
<dict>
  <key>Label</key>
  <string>org.lifeboat.{label}</string>
  <key>ProgramArguments</key>
  <array>
    <string>{exe}</string>
    <string>run</string>
    <string>{profile}</string>
  </array>
  <key>StartCalendarInterval</key>
  {interval}
  <key>ProcessType</key>
  <string>Background</string>
  <key>StandardErrorPath</key>
  <string>{log}</string>
</dict>
</plist>
"#,
        label = xml_escape(&job_name(profile)),
        exe = xml_escape(&exe.to_string_lossy()),
        profile = xml_escape(profile),
        log = xml_escape(&log.to_string_lossy()),
    )
}

/// The Task Scheduler task XML. `StartWhenAvailable` runs a missed run as soon as possible.
pub fn task_scheduler_xml(profile: &str, exe: &Path, every: &Every) -> String {
    let start = |hour: u32, minute: u32| format!("2026-01-01T{hour:02}:{minute:02}:00");
    let trigger = match every {
        Every::Hourly => format!(
            "<TimeTrigger><StartBoundary>{}</StartBoundary><Repetition><Interval>PT1H</Interval></Repetition><Enabled>true</Enabled></TimeTrigger>",
            start(0, 0)
        ),
        Every::Daily { at } => format!(
            "<CalendarTrigger><StartBoundary>{}</StartBoundary><ScheduleByDay><DaysInterval>1</DaysInterval></ScheduleByDay><Enabled>true</Enabled></CalendarTrigger>",
            start(at.hour(), at.minute())
        ),
        Every::Weekly { on, at } => format!(
            "<CalendarTrigger><StartBoundary>{}</StartBoundary><ScheduleByWeek><WeeksInterval>1</WeeksInterval><DaysOfWeek><{}/></DaysOfWeek></ScheduleByWeek><Enabled>true</Enabled></CalendarTrigger>",
            start(at.hour(), at.minute()),
            match on {
                Weekday::Mon => "Monday",
                Weekday::Tue => "Tuesday",
                Weekday::Wed => "Wednesday",
                Weekday::Thu => "Thursday",
                Weekday::Fri => "Friday",
                Weekday::Sat => "Saturday",
                Weekday::Sun => "Sunday",
            }
        ),
    };
    format!(
        r#"<?xml version="1.0" encoding="UTF-16"?>
<Task version="1.2" xmlns="http://schemas.microsoft.com/windows/2004/02/mit/task">
  <RegistrationInfo>
    <Description>Lifeboat backup "{profile}" ({describe})</Description>
  </RegistrationInfo>
  <Triggers>
    {trigger}
  </Triggers>
  <Principals>
    <Principal id="Author">
      <LogonType>InteractiveToken</LogonType>
      <RunLevel>LeastPrivilege</RunLevel>
    </Principal>
  </Principals>
  <Settings>
    <MultipleInstancesPolicy>IgnoreNew</MultipleInstancesPolicy>
    <StartWhenAvailable>true</StartWhenAvailable>
    <DisallowStartIfOnBatteries>false</DisallowStartIfOnBatteries>
    <StopIfGoingOnBatteries>false</StopIfGoingOnBatteries>
    <RunOnlyIfNetworkAvailable>true</RunOnlyIfNetworkAvailable>
    <ExecutionTimeLimit>PT12H</ExecutionTimeLimit>
    <Enabled>true</Enabled>
  </Settings>
  <Actions Context="Author">
    <Exec>
      <Command>{exe}</Command>
      <Arguments>run "{profile}"</Arguments>
    </Exec>
  </Actions>
</Task>
"#,
        profile = xml_escape(profile),
        describe = xml_escape(&every.describe()),
        exe = xml_escape(&exe.to_string_lossy()),
    )
}

fn run_tool(program: &str, args: &[&str]) -> Result<()> {
    let output = Command::new(program).args(args).output().map_err(|e| {
        Error::with_source(
            ErrorKind::Io,
            format!("could not run {program} to set up the schedule"),
            e,
        )
    })?;
    if output.status.success() {
        Ok(())
    } else {
        Err(Error::new(
            ErrorKind::Io,
            format!(
                "{program} {} failed: {}",
                args.join(" "),
                String::from_utf8_lossy(&output.stderr).trim()
            ),
        ))
    }
}

fn systemd_user_dir() -> Result<PathBuf> {
    let base = std::env::var_os("XDG_CONFIG_HOME")
        .map(PathBuf::from)
        .or_else(|| directories::BaseDirs::new().map(|d| d.config_dir().to_path_buf()))
        .ok_or_else(|| Error::new(ErrorKind::Io, "no home folder to install the timer into"))?;
    Ok(base.join("systemd").join("user"))
}

fn launchd_path(profile: &str) -> Result<PathBuf> {
    let home = directories::BaseDirs::new()
        .ok_or_else(|| Error::new(ErrorKind::Io, "no home folder to install the agent into"))?;
    Ok(home
        .home_dir()
        .join("Library/LaunchAgents")
        .join(format!("org.lifeboat.{}.plist", job_name(profile))))
}

/// Registers `profile` with this OS's scheduler. Returns what was installed, for people.
pub fn install(profile: &str, every: &Every, log: &Path) -> Result<String> {
    let exe = std::env::current_exe()
        .map_err(|e| Error::with_source(ErrorKind::Io, "cannot find the lifeboat program", e))?;
    if cfg!(target_os = "macos") {
        let path = launchd_path(profile)?;
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).map_err(|e| Error::io("creating", dir, e))?;
        }
        std::fs::write(&path, launchd_plist(profile, &exe, every, log))
            .map_err(|e| Error::io("writing", &path, e))?;
        let _ = run_tool("launchctl", &["unload", &path.to_string_lossy()]);
        if let Err(error) = run_tool("launchctl", &["load", "-w", &path.to_string_lossy()]) {
            let _ = std::fs::remove_file(&path);
            return Err(error);
        }
        Ok(format!("launchd agent {}", path.display()))
    } else if cfg!(windows) {
        let xml = task_scheduler_xml(profile, &exe, every);
        let file = std::env::temp_dir().join(format!("{}.xml", job_name(profile)));
        // schtasks reads the file in the encoding its declaration names: UTF-16 with a BOM.
        let mut utf16 = vec![0xFF, 0xFE];
        utf16.extend(xml.encode_utf16().flat_map(u16::to_le_bytes));
        std::fs::write(&file, utf16).map_err(|e| Error::io("writing", &file, e))?;
        let result = run_tool(
            "schtasks",
            &[
                "/Create",
                "/F",
                "/TN",
                &format!("Lifeboat\\{}", job_name(profile)),
                "/XML",
                &file.to_string_lossy(),
            ],
        );
        let _ = std::fs::remove_file(&file);
        result?;
        Ok(format!(
            "Task Scheduler task Lifeboat\\{}",
            job_name(profile)
        ))
    } else {
        let dir = systemd_user_dir()?;
        std::fs::create_dir_all(&dir).map_err(|e| Error::io("creating", &dir, e))?;
        for (name, text) in systemd_units(profile, &exe, every) {
            let path = dir.join(name);
            std::fs::write(&path, text).map_err(|e| Error::io("writing", &path, e))?;
        }
        let timer = format!("{}.timer", job_name(profile));
        let enabled = run_tool("systemctl", &["--user", "daemon-reload"])
            .and_then(|()| run_tool("systemctl", &["--user", "enable", "--now", &timer]));
        if let Err(error) = enabled {
            // Units the scheduler never took must not look installed (`is_installed`).
            let _ = remove(profile);
            return Err(error);
        }
        Ok(format!("systemd user timer {}", dir.join(timer).display()))
    }
}

/// Undoes [`install`]. Removing a schedule that is not installed is not an error.
pub fn remove(profile: &str) -> Result<()> {
    if cfg!(target_os = "macos") {
        let path = launchd_path(profile)?;
        if path.exists() {
            let _ = run_tool("launchctl", &["unload", "-w", &path.to_string_lossy()]);
            std::fs::remove_file(&path).map_err(|e| Error::io("removing", &path, e))?;
        }
        Ok(())
    } else if cfg!(windows) {
        let name = format!("Lifeboat\\{}", job_name(profile));
        if run_tool("schtasks", &["/Query", "/TN", &name]).is_ok() {
            run_tool("schtasks", &["/Delete", "/F", "/TN", &name])?;
        }
        Ok(())
    } else {
        let dir = systemd_user_dir()?;
        let timer = format!("{}.timer", job_name(profile));
        if !dir.join(&timer).exists() {
            return Ok(());
        }
        let _ = run_tool("systemctl", &["--user", "disable", "--now", &timer]);
        for name in [timer, format!("{}.service", job_name(profile))] {
            let path = dir.join(name);
            if path.exists() {
                std::fs::remove_file(&path).map_err(|e| Error::io("removing", &path, e))?;
            }
        }
        let _ = run_tool("systemctl", &["--user", "daemon-reload"]);
        Ok(())
    }
}

/// Whether this OS's scheduler has the profile (its files are in place).
pub fn is_installed(profile: &str) -> bool {
    if cfg!(target_os = "macos") {
        launchd_path(profile).is_ok_and(|p| p.exists())
    } else if cfg!(windows) {
        run_tool(
            "schtasks",
            &["/Query", "/TN", &format!("Lifeboat\\{}", job_name(profile))],
        )
        .is_ok()
    } else {
        systemd_user_dir().is_ok_and(|d| d.join(format!("{}.timer", job_name(profile))).exists())
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::schedule::policy::parse_time;

    fn weekly() -> Every {
        Every::Weekly {
            on: Weekday::Sun,
            at: parse_time("04:30").unwrap(),
        }
    }

    /// The text of the first element named `name`.
    fn text_of<'a>(doc: &'a roxmltree::Document<'_>, name: &str) -> Vec<&'a str> {
        doc.descendants()
            .filter(|n| n.tag_name().name() == name)
            .filter_map(|n| n.text())
            .collect()
    }

    #[test]
    fn calendar_specs() {
        assert_eq!(on_calendar(&Every::Hourly), "*-*-* *:00:00");
        assert_eq!(
            on_calendar(&Every::Daily {
                at: parse_time("03:05").unwrap()
            }),
            "*-*-* 03:05:00"
        );
        assert_eq!(on_calendar(&weekly()), "Sun *-*-* 04:30:00");
    }

    #[test]
    fn systemd_units_run_the_profile_and_catch_up() {
        let [(service_name, service), (timer_name, timer)] =
            systemd_units("home-1", Path::new("/opt/life boat/lifeboat"), &weekly());
        assert_eq!(service_name, "lifeboat-home-1.service");
        assert_eq!(timer_name, "lifeboat-home-1.timer");
        assert!(
            service.contains("ExecStart=\"/opt/life boat/lifeboat\" run \"home-1\"\n"),
            "{service}"
        );
        assert!(timer.contains("Persistent=true\n"), "{timer}");
        assert!(timer.contains("Unit=lifeboat-home-1.service\n"), "{timer}");
    }

    #[test]
    fn the_launchd_plist_parses_and_names_the_calendar_interval() {
        let plist = launchd_plist(
            "home",
            Path::new("/Applications/Lifeboat.app/Contents/MacOS/lifeboat"),
            &weekly(),
            Path::new("/Users/a/Library/Logs/home & more.log"),
        );
        // Apple's plists carry a DOCTYPE; roxmltree refuses DTDs unless told.
        let options = roxmltree::ParsingOptions {
            allow_dtd: true,
            ..roxmltree::ParsingOptions::default()
        };
        let doc = roxmltree::Document::parse_with_options(&plist, options).unwrap();
        let strings = text_of(&doc, "string");
        assert_eq!(
            strings[..4],
            [
                "org.lifeboat.lifeboat-home",
                "/Applications/Lifeboat.app/Contents/MacOS/lifeboat",
                "run",
                "home"
            ]
        );
        assert!(strings.contains(&"/Users/a/Library/Logs/home & more.log"));
        // Keys and values alternate inside StartCalendarInterval's dict.
        let interval = doc
            .descendants()
            .find(|n| n.text() == Some("StartCalendarInterval"))
            .and_then(|key| key.next_sibling_element())
            .unwrap();
        let pairs: Vec<&str> = interval
            .children()
            .filter(|n| n.is_element())
            .filter_map(|n| n.text())
            .collect();
        assert_eq!(pairs, ["Weekday", "0", "Hour", "4", "Minute", "30"]);
    }

    #[test]
    fn the_task_scheduler_xml_parses_and_starts_missed_runs() {
        for every in [
            Every::Hourly,
            Every::Daily {
                at: parse_time("03:00").unwrap(),
            },
            weekly(),
        ] {
            let xml = task_scheduler_xml(
                "home",
                Path::new(r"C:\Program Files\Lifeboat\lifeboat.exe"),
                &every,
            );
            let doc = roxmltree::Document::parse(&xml).unwrap();
            assert_eq!(text_of(&doc, "StartWhenAvailable"), ["true"]);
            assert_eq!(
                text_of(&doc, "Command"),
                [r"C:\Program Files\Lifeboat\lifeboat.exe"]
            );
            assert_eq!(text_of(&doc, "Arguments"), ["run \"home\""]);
            let triggers = doc
                .descendants()
                .find(|n| n.tag_name().name() == "Triggers")
                .unwrap();
            assert_eq!(triggers.children().filter(|n| n.is_element()).count(), 1);
        }
        let xml = task_scheduler_xml("home", Path::new("lifeboat.exe"), &weekly());
        let doc = roxmltree::Document::parse(&xml).unwrap();
        assert!(doc.descendants().any(|n| n.tag_name().name() == "Sunday"));
        assert_eq!(text_of(&doc, "StartBoundary"), ["2026-01-01T04:30:00"]);
    }
}
