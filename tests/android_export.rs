//! Backing up an Android phone through the real adb server and the `lifeboat` binary, against
//! a simulated phone loaded with contacts in two accounts (every mimetype Lifeboat maps, one
//! it does not, a photo, a deleted contact), calendars (a recurring series with a changed and
//! a cancelled occurrence, all-day and zoned events, reminders, attendees) and a DCIM tree.
//! Every field is parsed back with calcard, every provider row is kept, photos keep bytes and
//! times, a second scheduled run copies nothing, and an unplugged phone leaves no archive.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use calcard::icalendar::ICalendar;
use calcard::vcard::VCard;
use lifeboat::schedule::status::{Outcome, Status};
use lifeboat::source::android::replug;
use support::phone::AdbServerProcess;
use support::phone_fixture::{CONTACTS, PHOTO, export, export_with, full_phone, start};
use support::*;

const VIDEO: &str = "/sdcard/DCIM/Camera/VID_20261202_120000.mp4";

fn vcard_of(items: &std::collections::BTreeMap<String, Vec<u8>>, name: &str) -> String {
    items
        .values()
        .map(|b| String::from_utf8(b.clone()).unwrap())
        .find(|t| t.contains(name))
        .unwrap_or_else(|| panic!("no vCard with {name}"))
}

#[test]
fn a_phone_is_exported_whole_and_every_field_parses_back() {
    let Some(adb) = AdbServerProcess::start() else {
        return;
    };
    let (phone, content) = start(full_phone(), None);
    adb.connect(&phone, "device");
    let config = tempfile::tempdir().unwrap();
    let out_dir = tempfile::tempdir().unwrap();
    let out = out_dir.path().join("phone");
    let output = export(&adb, config.path(), &phone.serial(), &out);
    assert!(
        output.status.success(),
        "{}\n{}",
        text(&output.stdout),
        text(&output.stderr)
    );

    let items = archived_items(&out);
    let manifest = manifest_of(&out);
    let local = items
        .iter()
        .find(|(name, _)| name.ends_with("phone"))
        .map(|(_, i)| i)
        .unwrap();
    let google = items
        .iter()
        .find(|(name, _)| name.contains("alice"))
        .map(|(_, i)| i)
        .unwrap();
    assert_eq!((local.len(), google.len()), (CONTACTS / 2, CONTACTS / 2));

    // Every vCard parses; contact 1 has every field.
    for bytes in local.values().chain(google.values()) {
        let vcard = VCard::parse(String::from_utf8(bytes.clone()).unwrap()).unwrap();
        assert!(
            vcard
                .entries
                .iter()
                .any(|e| e.name == calcard::vcard::VCardProperty::Fn)
        );
    }
    let zoe = vcard_of(local, "Zoë");
    let parsed = VCard::parse(&zoe).unwrap();
    let has = |property: &str| {
        parsed
            .entries
            .iter()
            .any(|e| e.name.as_str().eq_ignore_ascii_case(property))
    };
    for property in [
        "N",
        "FN",
        "NICKNAME",
        "TEL",
        "EMAIL",
        "ADR",
        "ORG",
        "TITLE",
        "URL",
        "IMPP",
        "RELATED",
        "BDAY",
        "ANNIVERSARY",
        "NOTE",
        "PHOTO",
        "UID",
        "X-ABLABEL",
    ] {
        assert!(has(property), "{property} missing in\n{zoe}");
    }
    let unfolded = zoe.replace("\r\n ", "");
    for expected in [
        "N:Ñandú-Łukasiewicz;Zoë;;;",
        "Grandma's landline",
        "+49 30 999",
        "zoe@example.org",
        "Hauptstraße 5",
        "Lifeboat e.V.;Archiv",
        "Rettungsschwimmerin",
        "xmpp:zoe@jabber.example.org",
        "sip:zoe@sip.example.org",
        "Maria Ñandú",
        "19900517",
        "--0601",
        "Call back\\, about the flat\\nsecond line\\; with = signs",
        "CATEGORIES:Family",
        "X-ANDROID-STARRED:1",
    ] {
        assert!(unfolded.contains(expected), "{expected} missing in\n{zoe}");
    }
    assert!(
        !unfolded.contains("My Contacts"),
        "system groups are not categories"
    );
    // The photo is the one the phone served, whole.
    let photo = parsed
        .entries
        .iter()
        .find(|e| e.name == calcard::vcard::VCardProperty::Photo)
        .unwrap();
    match &photo.values[0] {
        calcard::vcard::VCardValue::Binary(data) => assert_eq!(data.data, PHOTO),
        other => panic!("photo is {other:?}"),
    }
    assert!(vcard_of(google, "FN:Given2 Family2\r\n").contains("CATEGORIES:Family"));
    assert!(
        !local
            .values()
            .chain(google.values())
            .any(|b| text(b).contains("Deleted Person"))
    );

    // Calendars: the series with its changed occurrence as an override, the cancelled one as
    // EXDATE, the zone, the all-day event, the reminder and the attendees.
    let familie = items
        .iter()
        .find(|(name, _)| name == &"calendar-1")
        .map(|(_, i)| i)
        .unwrap();
    let series = text(&familie["swim-series@example.org"]).replace("\r\n ", "");
    let parsed = ICalendar::parse(&series).unwrap();
    assert_eq!(
        parsed
            .components
            .iter()
            .filter(|c| c.component_type == calcard::icalendar::ICalendarComponentType::VEvent)
            .count(),
        2,
        "{series}"
    );
    for expected in [
        "DTSTART;TZID=Europe/Berlin:20261207T090000",
        "DURATION:PT1H",
        "RRULE:FREQ=WEEKLY;BYDAY=MO;COUNT=10",
        "EXDATE:20261228T080000Z",
        "EXDATE;TZID=Europe/Berlin:20261221T090000",
        "RECURRENCE-ID;TZID=Europe/Berlin:20261214T090000",
        "DTSTART;TZID=Europe/Berlin:20261214T110000",
        "TRIGGER:-PT1H",
        "BEGIN:VTIMEZONE\r\nTZID:Europe/Berlin\r\n",
    ] {
        assert!(series.contains(expected), "{expected} missing in\n{series}");
    }
    let phone_calendar = items
        .iter()
        .find(|(name, _)| name == &"calendar-2")
        .map(|(_, i)| i)
        .unwrap();
    assert_eq!(phone_calendar.len(), 2, "the deleted event is left out");
    let all = phone_calendar
        .values()
        .map(|b| text(b))
        .collect::<String>()
        .replace("\r\n ", "");
    for expected in [
        "DTSTART;VALUE=DATE:20261224",
        "DTEND;VALUE=DATE:20261225",
        "DTSTART;TZID=America/New_York:20261210T153000",
        "ATTENDEE;",
        "bo@example.org",
        "PARTSTAT=ACCEPTED",
        "CN=Bo Ödegaard",
        "TRIGGER:-PT15M",
        "CLASS:PRIVATE",
        "TRANSP:TRANSPARENT",
        "ORGANIZER:mailto:zoe@example.org",
    ] {
        assert!(all.contains(expected), "{expected} missing in\n{all}");
    }
    for object in phone_calendar.values() {
        ICalendar::parse(text(object)).unwrap();
    }
    let calendar_info = manifest
        .collections
        .iter()
        .find(|c| c.info.name == "calendar-1")
        .unwrap();
    assert_eq!(calendar_info.info.color.as_deref(), Some("#009688"));

    // Every row the providers returned is kept as the phone printed it.
    let kept = support::files_under(&out);
    for name in [
        "raw_contacts.txt",
        "data.txt",
        "groups.txt",
        "calendars.txt",
        "events.txt",
        "reminders.txt",
        "attendees.txt",
    ] {
        let path = kept
            .iter()
            .find(|p| p.ends_with(name))
            .unwrap_or_else(|| panic!("{name} not kept: {kept:?}"));
        let printed = std::fs::read_to_string(out.join(path)).unwrap();
        assert!(printed.starts_with("Row: 0 _id="), "{name}: {printed:.200}");
    }
    let data =
        std::fs::read_to_string(out.join(kept.iter().find(|p| p.ends_with("data.txt")).unwrap()))
            .unwrap();
    assert!(data.contains("4917012345@s.whatsapp.net") && data.contains("Deleted Person"));
    let warnings: Vec<&str> = manifest
        .warnings
        .iter()
        .map(|w| w.message.as_str())
        .collect();
    assert!(
        warnings
            .iter()
            .any(|w| w.contains("vnd.android.cursor.item/vnd.com.whatsapp.profile (1)")),
        "{warnings:?}"
    );
    assert!(
        warnings.iter().any(|w| w.contains("1 contacts deleted")),
        "{warnings:?}"
    );
    assert!(
        warnings.iter().any(|w| w.contains("1 events deleted")),
        "{warnings:?}"
    );

    // Photos and videos from the camera and messenger folders, byte for byte, with their
    // times; hidden thumbnails and statuses are left out, and other folders are not read.
    let photos: Vec<_> = manifest
        .items
        .iter()
        .filter(|i| i.collection.ends_with("photos"))
        .collect();
    let hrefs: Vec<&str> = photos.iter().map(|i| i.href.as_str()).collect();
    assert_eq!(
        hrefs,
        [
            "Android/media/com.whatsapp/WhatsApp/Media/WhatsApp Images/IMG-20261203-WA0001.jpg",
            "DCIM/Camera/IMG_20261201_101500.jpg",
            "DCIM/Camera/VID_20261202_120000.mp4",
            "DCIM/Camera/Zoë am Strand.jpg",
            "Pictures/Screenshots/Screenshot_1.png",
        ]
    );
    for item in photos {
        let href = item.href.as_str();
        let file = &content.files[&format!("/sdcard/{href}")];
        let archived = out.join(&item.path);
        assert_eq!(std::fs::read(&archived).unwrap(), file.bytes, "{href}");
        let modified = std::fs::metadata(&archived).unwrap().modified().unwrap();
        let seconds = modified
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs();
        assert_eq!(seconds, u64::from(file.modified), "{href}");
        assert!(item.about.modified.is_some());
    }
}

#[test]
fn a_second_scheduled_run_copies_nothing_and_an_unplugged_phone_leaves_no_archive() {
    let Some(adb) = AdbServerProcess::start() else {
        return;
    };
    let (phone, _content) = start(full_phone(), None);
    adb.connect(&phone, "device");
    let config = tempfile::tempdir().unwrap();
    let dest_dir = tempfile::tempdir().unwrap();
    let dest = dest_dir.path().join("snapshots");
    let port = adb.port.to_string();
    let env = [("ANDROID_ADB_SERVER_PORT", port.as_str())];
    let run = |args: &[&str]| {
        let output = lifeboat_command(config.path(), args, &env)
            .output()
            .unwrap();
        assert!(
            output.status.success(),
            "{}\n{}",
            text(&output.stdout),
            text(&output.stderr)
        );
    };
    run(&[
        "profile",
        "add",
        "phone",
        "--android",
        &phone.serial(),
        "--dest",
        dest.to_str().unwrap(),
        "--every",
        "daily",
    ]);
    let last = || {
        let path = config.path().join("profiles/phone.status.json");
        let status: Status = serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap();
        status.runs.last().cloned().unwrap()
    };
    run(&["run", "phone"]);
    let first = last();
    assert_eq!(first.outcome, Outcome::Success, "{}", first.message);
    // Contacts, the three events and the five photos and videos.
    let total = (CONTACTS + 3 + 5) as u64;
    assert_eq!((first.fetched_items, first.linked_items), (total, 0));
    run(&["run", "phone"]);
    let second = last();
    assert_eq!(
        (second.fetched_items, second.linked_items),
        (0, total),
        "{}",
        second.message
    );

    // Unplugged while a video is copied and not plugged in again: after the wait the export
    // fails with words that say so, and no archive is left that looks complete.
    let (flaky, _content) = start(full_phone(), Some(VIDEO));
    adb.connect(&flaky, "device");
    let out_dir = tempfile::tempdir().unwrap();
    let out = out_dir.path().join("phone");
    let output = export_with(
        &adb,
        config.path(),
        &flaky.serial(),
        &out,
        &[(replug::WAIT_ENV, "2")],
    );
    assert!(!output.status.success());
    let said = text(&output.stderr);
    assert!(
        said.contains("broke off") && said.contains("did not come back within 2 seconds"),
        "{said}"
    );
    assert!(!out.join("manifest.json").exists());
}

/// Exports `phone` while its cable comes out where `unplug_at` says and goes back in a second
/// later; the export must succeed.
fn export_replugged(
    adb: &AdbServerProcess,
    phone: &support::phone::SimulatedPhone,
    out: &std::path::Path,
) -> lifeboat::archive::Manifest {
    adb.connect(phone, "device");
    let config = tempfile::tempdir().unwrap();
    let output = std::thread::scope(|scope| {
        scope.spawn(|| {
            let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
            while phone.cable.is_plugged() && std::time::Instant::now() < deadline {
                std::thread::sleep(std::time::Duration::from_millis(20));
            }
            std::thread::sleep(std::time::Duration::from_secs(1));
            phone.cable.plug_in();
            adb.connect(phone, "device");
        });
        export(adb, config.path(), &phone.serial(), out)
    });
    assert!(
        output.status.success(),
        "{}\n{}",
        text(&output.stdout),
        text(&output.stderr)
    );
    assert!(phone.cable.is_plugged(), "the cable never came out");
    manifest_of(out)
}

fn reconnected(manifest: &lifeboat::archive::Manifest) -> Vec<Option<&str>> {
    manifest
        .warnings
        .iter()
        .filter(|w| w.code == "phone-reconnected")
        .map(|w| w.href.as_deref())
        .collect()
}

#[test]
fn a_phone_plugged_in_again_goes_on_where_it_stopped() {
    let Some(adb) = AdbServerProcess::start() else {
        return;
    };
    let out_dir = tempfile::tempdir().unwrap();

    // Half the video is copied when the cable comes out: the video is whole, once.
    let (phone, content) = start(full_phone(), Some(VIDEO));
    let out = out_dir.path().join("mid-video");
    let manifest = export_replugged(&adb, &phone, &out);
    let photos: Vec<_> = manifest
        .items
        .iter()
        .filter(|i| i.collection.ends_with("photos"))
        .collect();
    assert_eq!(photos.len(), 5, "the photos after the video too");
    let video = photos
        .iter()
        .find(|i| VIDEO.ends_with(i.href.as_str()))
        .unwrap();
    let archived = std::fs::read(out.join(&video.path)).unwrap();
    assert_eq!(archived, content.files[VIDEO].bytes);
    assert_eq!(
        reconnected(&manifest),
        [Some("DCIM/Camera/VID_20261202_120000.mp4")]
    );

    // Out while a contact's photo is asked for: asked again, and the contact has it.
    let (phone, _content) = start(full_phone(), Some("raw_contacts/1/display_photo"));
    let out = out_dir.path().join("contact-photo");
    let manifest = export_replugged(&adb, &phone, &out);
    assert_eq!(reconnected(&manifest).len(), 1, "{:?}", manifest.warnings);
    let photos_in_vcards = archived_items(&out)
        .values()
        .flat_map(|items| items.values())
        .filter(|b| String::from_utf8_lossy(b).contains("\nPHOTO"))
        .count();
    assert_eq!(
        photos_in_vcards, 1,
        "the contact photo was read after the phone came back"
    );
}

#[tokio::test]
async fn the_phone_source_passes_the_contract() {
    use lifeboat::model::CollectionKind;
    use lifeboat::source::android::{AdbServer, AndroidSource};
    use lifeboat::source::contract::{ExpectedCollection, check_source};
    let Some(adb) = AdbServerProcess::start() else {
        return;
    };
    let (phone, content) = start(full_phone(), None);
    adb.connect(&phone, "device");
    let source = AndroidSource::connect(AdbServer { port: adb.port }, Some(&phone.serial()))
        .await
        .unwrap();
    let mut photos: Vec<Vec<u8>> = content
        .files
        .iter()
        .filter(|(path, _)| !path.contains("/.") && !path.starts_with("/sdcard/Download/"))
        .map(|(_, file)| file.bytes.to_vec())
        .collect();
    photos.sort();
    let expected = [ExpectedCollection {
        kind: CollectionKind::Photos,
        name_contains: "photos".into(),
        items: photos,
    }];
    check_source(&source, &expected).await.unwrap();
}

#[tokio::test]
async fn a_phone_restored_into_radicale_comes_back_whole() {
    let Some(adb) = AdbServerProcess::start() else {
        return;
    };
    let (phone, _content) = start(full_phone(), None);
    adb.connect(&phone, "device");
    let config = tempfile::tempdir().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let archive = dir.path().join("phone");
    let output = export(&adb, config.path(), &phone.serial(), &archive);
    assert!(output.status.success(), "{}", text(&output.stderr));
    let first = archived_items(&archive);

    let radicale = Server::radicale();
    let photos_to = tempfile::tempdir().unwrap();
    let webdav = Server::webdav(photos_to.path());
    let restored = restore_as(
        USER,
        &archive,
        &radicale.base_url(),
        &["--photos-url", &webdav.base_url(), "--json"],
    );
    assert!(
        restored.status.success(),
        "{}\n{}",
        text(&restored.stdout),
        text(&restored.stderr)
    );
    let back_dir = dir.path().join("back");
    let output = export_as(USER, &radicale.base_url(), &back_dir);
    assert!(output.status.success(), "{}", text(&output.stderr));
    let back = archived_items(&back_dir);
    // Every contact and every event series comes back under its UID, and what the server
    // serves still holds what the phone had.
    let uids = |items: &std::collections::BTreeMap<
        String,
        std::collections::BTreeMap<String, Vec<u8>>,
    >| {
        items
            .iter()
            .filter(|(name, _)| !name.contains("photo") && !name.contains("Photo"))
            .flat_map(|(_, items)| items.keys().cloned())
            .collect::<std::collections::BTreeSet<String>>()
    };
    let sent = uids(&first);
    assert_eq!(sent.len(), CONTACTS + 3);
    assert_eq!(uids(&back), sent);
    let served: Vec<String> = back
        .values()
        .flat_map(|items| items.values())
        .map(|b| text(b).replace("\r\n ", ""))
        .collect();
    let zoe = served
        .iter()
        .find(|t| t.starts_with("BEGIN:VCARD") && t.contains("FN:Zoë"))
        .unwrap();
    let zoe_card = VCard::parse(zoe).unwrap();
    assert!(
        zoe_card
            .entries
            .iter()
            .any(|e| e.name == calcard::vcard::VCardProperty::Photo)
    );
    for expected in [
        "Grandma's landline",
        "Lifeboat e.V.",
        "sip:zoe@sip.example.org",
    ] {
        assert!(zoe.contains(expected), "{expected} missing in {zoe}");
    }
    let series = served
        .iter()
        .find(|t| t.contains("swim-series@example.org"))
        .unwrap();
    ICalendar::parse(series).unwrap();
    for expected in ["RRULE:FREQ=WEEKLY", "RECURRENCE-ID", "EXDATE", "VALARM"] {
        assert!(series.contains(expected), "{expected} missing in {series}");
    }
}
