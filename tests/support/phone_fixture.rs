//! The phone the Android tests back up, described as data: contacts in two accounts with
//! every mimetype Lifeboat maps and one it does not, a photo and a deleted contact; calendars
//! with a recurring series, its changed and cancelled occurrences, all-day and zoned events,
//! reminders and attendees; and a DCIM tree. Plus starting it and exporting it.

use std::path::Path;
use std::sync::Arc;

use super::phone::{AdbServerProcess, PhoneFile, PhoneSpec, SimulatedPhone};
use super::phone_data::{PhoneContent, Table};
use super::{lifeboat_command, photo};

pub const CONTACTS: usize = 240;
pub const PHOTO: &[u8] = b"\xFF\xD8\xFF\xE0 a full-size contact photo \xFF\xD9";

pub fn data_row(
    table: &mut Table,
    id: &mut u32,
    raw: u32,
    mimetype: &str,
    values: &[(&str, &str)],
) {
    *id += 1;
    let (id_text, raw_text) = (id.to_string(), raw.to_string());
    let mimetype = format!("vnd.android.cursor.item/{mimetype}");
    let mut all = vec![
        ("_id", id_text.as_str()),
        ("raw_contact_id", raw_text.as_str()),
        ("mimetype", mimetype.as_str()),
        ("is_primary", "0"),
        ("is_super_primary", "0"),
    ];
    all.extend_from_slice(values);
    table.add(&all);
}

pub fn contacts(phone: &mut PhoneContent) {
    use lifeboat::source::android::contacts::{DATA_COLUMNS, GROUP_COLUMNS, RAW_CONTACT_COLUMNS};
    let mut raw = Table::new(RAW_CONTACT_COLUMNS);
    // The real data table has more columns than Lifeboat asks for.
    let mut columns = DATA_COLUMNS.to_vec();
    columns.extend(["data15", "display_name", "photo_uri"]);
    let mut data = Table::new(&columns);
    let mut groups = Table::new(GROUP_COLUMNS);
    groups.add(&[
        ("_id", "1"),
        ("title", "Family"),
        ("account_name", "alice@gmail.com"),
        ("account_type", "com.google"),
    ]);
    groups.add(&[
        ("_id", "2"),
        ("title", "My Contacts"),
        ("system_id", "Contacts"),
        ("account_name", "alice@gmail.com"),
        ("account_type", "com.google"),
    ]);
    let mut id = 0;
    for n in 1..=CONTACTS as u32 {
        let google = n % 2 == 0;
        let raw_id = n.to_string();
        let source = format!("c{n:x}");
        let mut values = vec![
            ("_id", raw_id.as_str()),
            ("contact_id", raw_id.as_str()),
            ("deleted", "0"),
            ("starred", if n == 1 { "1" } else { "0" }),
            ("version", "3"),
        ];
        if google {
            values.extend([
                ("account_name", "alice@gmail.com"),
                ("account_type", "com.google"),
                ("sourceid", source.as_str()),
            ]);
        }
        raw.add(&values);
        let given = if n == 1 {
            "Zoë".to_owned()
        } else {
            format!("Given{n}")
        };
        let family = if n == 1 {
            "Ñandú-Łukasiewicz".to_owned()
        } else {
            format!("Family{n}")
        };
        let display = format!("{given} {family}");
        data_row(
            &mut data,
            &mut id,
            n,
            "name",
            &[("data1", &display), ("data2", &given), ("data3", &family)],
        );
        let number = format!("+49 170 {n:07}");
        data_row(
            &mut data,
            &mut id,
            n,
            "phone_v2",
            &[("data1", &number), ("data2", "2")],
        );
    }
    // Contact 1 has every kind of detail.
    let rows: &[(&str, &[(&str, &str)])] = &[
        ("nickname", &[("data1", "Zo")]),
        (
            "phone_v2",
            &[
                ("data1", "+49 30 123456"),
                ("data2", "0"),
                ("data3", "Grandma's landline"),
            ],
        ),
        ("phone_v2", &[("data1", "+49 30 999"), ("data2", "4")]),
        ("email_v2", &[("data1", "zoe@example.org"), ("data2", "1")]),
        (
            "postal-address_v2",
            &[
                ("data1", "Hauptstraße 5\n50667 Köln"),
                ("data2", "2"),
                ("data4", "Hauptstraße 5"),
                ("data7", "Köln"),
                ("data9", "50667"),
                ("data10", "Germany"),
            ],
        ),
        (
            "organization",
            &[
                ("data1", "Lifeboat e.V."),
                ("data4", "Rettungsschwimmerin"),
                ("data5", "Archiv"),
            ],
        ),
        (
            "website",
            &[("data1", "https://zoe.example.org"), ("data2", "1")],
        ),
        ("im", &[("data1", "zoe@jabber.example.org"), ("data5", "7")]),
        ("sip_address", &[("data1", "zoe@sip.example.org")]),
        ("relation", &[("data1", "Maria Ñandú"), ("data2", "8")]),
        ("contact_event", &[("data1", "1990-05-17"), ("data2", "3")]),
        ("contact_event", &[("data1", "--06-01"), ("data2", "1")]),
        (
            "note",
            &[(
                "data1",
                "Call back, about the flat\nsecond line; with = signs",
            )],
        ),
        ("group_membership", &[("data1", "1")]),
        ("group_membership", &[("data1", "2")]),
        ("photo", &[("data14", "7")]),
        (
            "vnd.com.whatsapp.profile",
            &[
                ("data1", "4917012345@s.whatsapp.net"),
                ("data3", "Message +49 170 12345"),
            ],
        ),
    ];
    for (mimetype, values) in rows {
        data_row(&mut data, &mut id, 1, mimetype, values);
    }
    // Contact 2 (Google) is in the Family group too.
    data_row(&mut data, &mut id, 2, "group_membership", &[("data1", "1")]);
    // A contact deleted on the phone, not yet synced away.
    let deleted_id = (CONTACTS + 1).to_string();
    raw.add(&[
        ("_id", deleted_id.as_str()),
        ("deleted", "1"),
        ("version", "9"),
    ]);
    data_row(
        &mut data,
        &mut id,
        CONTACTS as u32 + 1,
        "name",
        &[("data1", "Deleted Person")],
    );
    phone.readable.insert(
        "content://com.android.contacts/raw_contacts/1/display_photo".to_owned(),
        PHOTO.to_vec(),
    );
    phone.tables.insert(
        "content://com.android.contacts/raw_contacts".to_owned(),
        raw,
    );
    phone
        .tables
        .insert("content://com.android.contacts/data".to_owned(), data);
    phone
        .tables
        .insert("content://com.android.contacts/groups".to_owned(), groups);
}

/// 2026-12-07 09:00 Europe/Berlin, in milliseconds.
pub const MONDAY_9_BERLIN: i64 = 1_796_630_400_000;
pub const HOUR: i64 = 3_600_000;
pub const WEEK: i64 = 7 * 24 * HOUR;

pub fn calendars(phone: &mut PhoneContent) {
    use lifeboat::source::android::calendar::{
        ATTENDEE_COLUMNS, CALENDAR_COLUMNS, EVENT_COLUMNS, REMINDER_COLUMNS,
    };
    let mut calendars = Table::new(CALENDAR_COLUMNS);
    calendars.add(&[
        ("_id", "1"),
        ("calendar_displayName", "Familie"),
        ("calendar_color", "-16738680"),
        ("account_name", "alice@gmail.com"),
        ("account_type", "com.google"),
        ("deleted", "0"),
    ]);
    calendars.add(&[
        ("_id", "2"),
        ("calendar_displayName", "Phone calendar"),
        ("calendar_color", "-1"),
        ("deleted", "0"),
    ]);
    let mut events = Table::new(EVENT_COLUMNS);
    let start = MONDAY_9_BERLIN.to_string();
    let second = (MONDAY_9_BERLIN + WEEK).to_string();
    let third = (MONDAY_9_BERLIN + 2 * WEEK).to_string();
    let moved = (MONDAY_9_BERLIN + WEEK + 2 * HOUR).to_string();
    let moved_end = (MONDAY_9_BERLIN + WEEK + 3 * HOUR).to_string();
    events.add(&[
        ("_id", "10"),
        ("calendar_id", "1"),
        ("title", "Schwimmen, Bahn 3"),
        ("dtstart", &start),
        ("duration", "P3600S"),
        ("eventTimezone", "Europe/Berlin"),
        ("allDay", "0"),
        ("rrule", "FREQ=WEEKLY;BYDAY=MO;COUNT=10"),
        ("exdate", "20261228T080000Z"),
        ("uid2445", "swim-series@example.org"),
        ("deleted", "0"),
        ("eventStatus", "1"),
    ]);
    events.add(&[
        ("_id", "11"),
        ("calendar_id", "1"),
        ("title", "Schwimmen (später)"),
        ("dtstart", &moved),
        ("dtend", &moved_end),
        ("eventTimezone", "Europe/Berlin"),
        ("allDay", "0"),
        ("original_id", "10"),
        ("originalInstanceTime", &second),
        ("originalAllDay", "0"),
        ("deleted", "0"),
    ]);
    events.add(&[
        ("_id", "12"),
        ("calendar_id", "1"),
        ("title", "Schwimmen"),
        ("dtstart", &third),
        ("dtend", &third),
        ("eventTimezone", "Europe/Berlin"),
        ("allDay", "0"),
        ("original_id", "10"),
        ("originalInstanceTime", &third),
        ("eventStatus", "2"),
        ("deleted", "0"),
    ]);
    // 2026-12-24, all day (Android keeps all-day events at UTC midnight).
    events.add(&[
        ("_id", "20"),
        ("calendar_id", "2"),
        ("title", "Heiligabend"),
        ("dtstart", "1798070400000"),
        ("dtend", "1798156800000"),
        ("eventTimezone", "UTC"),
        ("allDay", "1"),
        ("deleted", "0"),
    ]);
    // 2026-12-10 15:30 in New York, with a reminder and two attendees.
    events.add(&[
        ("_id", "21"),
        ("calendar_id", "2"),
        ("title", "Call with Bo"),
        ("description", "Bring the list; and the map"),
        ("eventLocation", "Zoom"),
        ("dtstart", "1796934600000"),
        ("dtend", "1796938200000"),
        ("eventTimezone", "America/New_York"),
        ("allDay", "0"),
        ("organizer", "zoe@example.org"),
        ("accessLevel", "2"),
        ("availability", "1"),
        ("deleted", "0"),
    ]);
    events.add(&[
        ("_id", "22"),
        ("calendar_id", "2"),
        ("title", "Gone"),
        ("dtstart", "1796934600000"),
        ("dtend", "1796938200000"),
        ("deleted", "1"),
    ]);
    let mut reminders = Table::new(REMINDER_COLUMNS);
    reminders.add(&[
        ("_id", "1"),
        ("event_id", "21"),
        ("minutes", "15"),
        ("method", "1"),
    ]);
    reminders.add(&[
        ("_id", "2"),
        ("event_id", "10"),
        ("minutes", "60"),
        ("method", "1"),
    ]);
    let mut attendees = Table::new(ATTENDEE_COLUMNS);
    attendees.add(&[
        ("_id", "1"),
        ("event_id", "21"),
        ("attendeeName", "Bo Ödegaard"),
        ("attendeeEmail", "bo@example.org"),
        ("attendeeRelationship", "1"),
        ("attendeeType", "1"),
        ("attendeeStatus", "1"),
    ]);
    attendees.add(&[
        ("_id", "2"),
        ("event_id", "21"),
        ("attendeeName", "Zoë"),
        ("attendeeEmail", "zoe@example.org"),
        ("attendeeRelationship", "2"),
        ("attendeeType", "1"),
        ("attendeeStatus", "1"),
    ]);
    for (uri, table) in [
        ("calendars", calendars),
        ("events", events),
        ("reminders", reminders),
        ("attendees", attendees),
    ] {
        phone
            .tables
            .insert(format!("content://com.android.calendar/{uri}"), table);
    }
}

pub fn files(phone: &mut PhoneContent) {
    let mut add = |path: &str, seed: u64, size: usize, modified: u32| {
        phone
            .files
            .insert(path.to_owned(), PhoneFile::new(photo(seed, size), modified));
    };
    add(
        "/sdcard/DCIM/Camera/IMG_20261201_101500.jpg",
        1,
        300_000,
        1_796_120_100,
    );
    add(
        "/sdcard/DCIM/Camera/VID_20261202_120000.mp4",
        2,
        1_200_000,
        1_796_212_800,
    );
    add(
        "/sdcard/DCIM/Camera/Zoë am Strand.jpg",
        3,
        40_000,
        1_700_000_000,
    );
    add("/sdcard/DCIM/.thumbnails/1.jpg", 4, 1_000, 1_796_120_100);
    add(
        "/sdcard/Android/media/com.whatsapp/WhatsApp/Media/WhatsApp Images/IMG-20261203-WA0001.jpg",
        7,
        30_000,
        1_796_300_000,
    );
    add(
        "/sdcard/Android/media/com.whatsapp/WhatsApp/Media/.Statuses/status.jpg",
        8,
        1_000,
        1_796_300_000,
    );
    add(
        "/sdcard/Pictures/Screenshots/Screenshot_1.png",
        5,
        20_000,
        1_795_000_000,
    );
    add(
        "/sdcard/Download/not-a-camera-folder.jpg",
        6,
        1_000,
        1_795_000_000,
    );
}

pub fn full_phone() -> PhoneContent {
    let mut phone = PhoneContent::default();
    contacts(&mut phone);
    calendars(&mut phone);
    files(&mut phone);
    phone
}

pub fn start(phone: PhoneContent, unplug_at: Option<&str>) -> (SimulatedPhone, Arc<PhoneContent>) {
    let content = Arc::new(phone);
    let spec = PhoneSpec {
        files: Arc::new(content.files.clone()),
        unplug_at: unplug_at.map(str::to_owned),
        ..PhoneSpec::new("Pixel 7", content.shell())
    };
    (SimulatedPhone::start(spec), content)
}

pub fn export(
    adb: &AdbServerProcess,
    config: &Path,
    serial: &str,
    out: &Path,
) -> std::process::Output {
    export_with(adb, config, serial, out, &[])
}

/// [`export`] with more variables in its environment.
pub fn export_with(
    adb: &AdbServerProcess,
    config: &Path,
    serial: &str,
    out: &Path,
    env: &[(&str, &str)],
) -> std::process::Output {
    let port = adb.port.to_string();
    let env: Vec<(&str, &str)> = [("ANDROID_ADB_SERVER_PORT", port.as_str())]
        .into_iter()
        .chain(env.iter().copied())
        .collect();
    lifeboat_command(
        config,
        &[
            "export",
            "--android",
            serial,
            "--out",
            out.to_str().unwrap(),
        ],
        &env,
    )
    .output()
    .unwrap()
}
