//! The compatibility matrix: each CalDAV/CardDAV engine real providers run, seeded with items
//! whose hrefs need percent-encoding, a resource of two vCards, a folded property name,
//! non-UTF-8 and bare-LF items. On each: discovery from the bare root, from `host:port` and
//! from the DAV path; export, compared with what the server serves; verify; restore into an
//! empty second user; the same restore again; an export of that user. One row per engine is
//! printed (`cargo test --test engines -- --nocapture | grep "engine matrix"`); the quirks
//! each engine is known for are in `tests/engines/QUIRKS.md`.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::print_stdout)]

mod support;

use std::collections::BTreeMap;
use std::path::Path;

use lifeboat::model::href_key;
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};
use support::engines::{Engine, EngineAccount};
use support::*;

/// Everything but RFC 3986's unreserved characters is encoded: `+`, `@`, `%` and spaces too.
const SEGMENT: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

#[derive(Clone, Copy, PartialEq)]
enum Into {
    Contacts,
    Calendar,
    Tasks,
}

fn seeds() -> Vec<(Into, String, Vec<u8>)> {
    let mut seeds = Vec::new();
    for i in 0..12 {
        seeds.push((
            Into::Contacts,
            format!("c{i}.vcf"),
            vcard(&format!("card-{i}"), &format!("Card {i}")),
        ));
        seeds.push((
            Into::Calendar,
            format!("e{i}.ics"),
            event(&format!("event-{i}"), &format!("Event {i}")),
        ));
    }
    for i in 0..4 {
        seeds.push((
            Into::Tasks,
            format!("t{i}.ics"),
            todo(&format!("todo-{i}"), &format!("To-do {i}")),
        ));
    }
    for (i, name) in [
        "Contact 5 é.vcf",
        "plus+sign.vcf",
        "at@sign.vcf",
        "50%off.vcf",
        "a b (c).vcf",
    ]
    .into_iter()
    .enumerate()
    {
        seeds.push((
            Into::Contacts,
            name.to_owned(),
            vcard(&format!("encoded-{i}"), name),
        ));
    }
    seeds.push((
        Into::Calendar,
        "Réunion 1.ics".to_owned(),
        event("encoded-event", "Réunion"),
    ));
    let mut two = vcard("two-1", "First of two");
    two.extend_from_slice(&vcard("two-2", "Second of two"));
    seeds.push((Into::Contacts, "two-cards.vcf".to_owned(), two));
    seeds.push((
        Into::Contacts,
        "latin1.vcf".to_owned(),
        b"BEGIN:VCARD\r\nVERSION:3.0\r\nUID:latin1\r\nFN:B\xe9la\r\nN:B\xe9la;;;;\r\nEND:VCARD\r\n"
            .to_vec(),
    ));
    // A vCard 4.0 photo as a data URI (what Google and iOS write), and a duration written as
    // minutes: servers rewrite both.
    seeds.push((
        Into::Contacts,
        "photo-4.vcf".to_owned(),
        format!(
            "BEGIN:VCARD\r\nVERSION:4.0\r\nUID:photo-4\r\nFN:Photo Four\r\nPHOTO:data:image/jpeg;base64,{}\r\nEND:VCARD\r\n",
            "/9j/4AAQSkZJRgABAQ".repeat(40)
        )
        .into_bytes(),
    ));
    seeds.push((
        Into::Calendar,
        "duration.ics".to_owned(),
        b"BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//Lifeboat tests//EN\r\nBEGIN:VEVENT\r\nUID:duration-1\r\nDTSTAMP:20240101T000000Z\r\nDTSTART:20240104T100000Z\r\nDURATION:PT60M\r\nSUMMARY:One hour\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n".to_vec(),
    ));
    seeds.push((
        Into::Contacts,
        "bare-lf.vcf".to_owned(),
        b"BEGIN:VCARD\nVERSION:3.0\nUID:bare-lf\nFN:Bare LF\nN:LF;Bare;;;\nEND:VCARD\n".to_vec(),
    ));
    // Old Mac line ends (bare CR), and a bare CR inside a value.
    seeds.push((
        Into::Contacts,
        "bare-cr.vcf".to_owned(),
        b"BEGIN:VCARD\rVERSION:3.0\rUID:bare-cr\rFN:Bare CR\rN:CR;Bare;;;\rEND:VCARD\r".to_vec(),
    ));
    seeds.push((
        Into::Contacts,
        "cr-in-value.vcf".to_owned(),
        b"BEGIN:VCARD\r\nVERSION:3.0\r\nUID:cr-in-value\r\nFN:CR in value\r\nN:Value;CR;;;\r\nNOTE:one\rtwo\r\nEND:VCARD\r\n".to_vec(),
    ));
    // The shape of a real Mozilla file in the corpus: the fold cuts the property name.
    seeds.push((
        Into::Calendar,
        "folded-uid.ics".to_owned(),
        b"BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//Lifeboat tests//EN\r\nBEGIN:VEVENT\r\nUID\r\n :folded-uid-1\r\nDTSTAMP:20240101T000000Z\r\nDTSTART:20240103T100000Z\r\nDTEND:20240103T110000Z\r\nSUMMARY:Folded UID\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n".to_vec(),
    ));
    seeds.extend(corpus_seeds());
    seeds
}

/// The corpus files that are not malformed, cut into one resource per item as a client
/// would upload them; each engine keeps what it accepts.
fn corpus_seeds() -> Vec<(Into, String, Vec<u8>)> {
    let Some(corpus) = corpus_dir() else {
        return Vec::new();
    };
    let provenance = std::fs::read_to_string(corpus.join("PROVENANCE.tsv")).unwrap();
    let mut seeds = Vec::new();
    for row in provenance.lines().skip(1) {
        let columns: Vec<&str> = row.split('\t').collect();
        let (Some(file), Some(&"no")) = (columns.first(), columns.get(6)) else {
            continue;
        };
        let bytes = std::fs::read(corpus.join(file)).unwrap();
        let stem = Path::new(file).file_stem().unwrap().to_string_lossy();
        let contacts = file.starts_with("vcard/");
        for (n, item) in lifeboat::vobject::split_items(&bytes)
            .items
            .into_iter()
            .enumerate()
        {
            let into = if contacts {
                Into::Contacts
            } else if lifeboat::vobject::components_of(&item)
                .windows(11)
                .any(|w| w == b"BEGIN:VTODO")
            {
                Into::Tasks
            } else {
                Into::Calendar
            };
            let extension = if contacts { "vcf" } else { "ics" };
            seeds.push((into, format!("corpus-{stem}-{n}.{extension}"), item));
        }
    }
    seeds
}

/// The URL of `href` (an absolute path) on the account's server.
fn url_of(account: &EngineAccount, href: &str) -> String {
    format!("{}{}", account.root.trim_end_matches('/'), href)
}

/// The items of a collection as the server lists (hrefs exactly as written) and serves them.
async fn served(
    account: &EngineAccount,
    collection: &str,
) -> (Vec<(String, Vec<u8>)>, Vec<String>) {
    let response = client()
        .request(reqwest::Method::from_bytes(b"PROPFIND").unwrap(), collection)
        .basic_auth(account.user, Some(PASSWORD))
        .header("Depth", "1")
        .header("Content-Type", "application/xml")
        .body(r#"<?xml version="1.0"?><propfind xmlns="DAV:"><prop><resourcetype/></prop></propfind>"#)
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    let xml = response.text().await.unwrap();
    assert_eq!(status, 207, "PROPFIND {collection}: {xml}");
    let document = roxmltree::Document::parse(&xml).unwrap();
    let own = collection.split_once("://").unwrap().1;
    let own = &own[own.find('/').unwrap()..];
    let mut items = Vec::new();
    let mut unservable = Vec::new();
    for response in document
        .descendants()
        .filter(|n| n.has_tag_name(("DAV:", "response")))
    {
        let href = response
            .descendants()
            .find(|n| n.has_tag_name(("DAV:", "href")))
            .and_then(|n| n.text())
            .unwrap()
            .trim();
        // RFC 4918 lets hrefs be absolute URLs (Xandikos writes them so): their path is
        // what Lifeboat records.
        let href = match href.split_once("://") {
            Some((_, rest)) => rest[rest.find('/').unwrap_or(rest.len())..].to_owned(),
            None => href.to_owned(),
        };
        let folder = response
            .descendants()
            .any(|n| n.has_tag_name(("DAV:", "collection")));
        if folder || href.trim_end_matches('/') == own.trim_end_matches('/') {
            continue;
        }
        // SOGo's workers crash now and then under this load (Apache answers 502 until one
        // is back); Lifeboat retries a 5xx too.
        let mut attempt = 0;
        let (status, bytes) = loop {
            attempt += 1;
            let answer = request_as(
                account.user,
                "GET",
                &url_of(account, &href),
                Vec::new(),
                "text/plain",
            )
            .await;
            if answer.0 < 500 || attempt == 6 {
                break answer;
            }
            tokio::time::sleep(std::time::Duration::from_secs(2)).await;
        };
        if status >= 500 {
            // Xandikos answers 500 to the GET of some items it accepted by PUT.
            println!("the server itself will not serve {href} ({status})");
            unservable.push(href);
            continue;
        }
        assert_eq!(status, 200, "GET {href}");
        items.push((href, bytes));
    }
    (items, unservable)
}

/// What the account serves: its items, and the hrefs it lists but will not serve.
fn manifest_path_exists(archive: &Path) -> bool {
    archive.join("manifest.json").exists()
}

async fn served_all(account: &EngineAccount) -> (Vec<(String, Vec<u8>)>, Vec<String>) {
    let mut all = Vec::new();
    let mut unservable = Vec::new();
    let mut seen = Vec::new();
    for collection in [&account.addressbook, &account.calendar, &account.tasks] {
        if !seen.contains(&collection) {
            seen.push(collection);
            let (items, failing) = served(account, collection).await;
            all.extend(items);
            unservable.extend(failing);
        }
    }
    (all, unservable)
}

/// Whether `bytes` hold a line end other than CRLF, which an XML multiget answer cannot
/// carry (XML turns CR and CRLF into LF): Lifeboat fetches such items by GET.
fn has_bare_line_end(bytes: &[u8]) -> bool {
    bytes.iter().enumerate().any(|(i, &b)| {
        (b == b'\n' && (i == 0 || bytes[i - 1] != b'\r'))
            || (b == b'\r' && bytes.get(i + 1) != Some(&b'\n'))
    })
}

/// How many archived items carry each UID; an item without one counts under the UID a
/// restore gives it (`lifeboat-` and its checksum's first 32 digits).
fn uid_counts(archive: &Path) -> BTreeMap<String, usize> {
    let mut counts = BTreeMap::new();
    for item in manifest_of(archive).items {
        *counts.entry(uid_or_given(&item)).or_default() += 1;
    }
    counts
}

fn uid_or_given(item: &lifeboat::archive::manifest::ManifestItem) -> String {
    item.uid.as_ref().map_or_else(
        || format!("lifeboat-{}", item.sha256.short(32)),
        ToString::to_string,
    )
}

/// The messages of a `restore --json` summary's `verify-failed` warnings: what the target
/// changed, one item each.
fn read_back_changes(summary: &serde_json::Value) -> Vec<String> {
    summary["summary"]["warnings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|w| w["code"] == "verify-failed")
        .map(|w| w["message"].as_str().unwrap_or_default().to_owned())
        .collect()
}

/// One engine through the whole matrix; returns its row and what went wrong.
async fn run_matrix(engine: &Engine) -> (String, Vec<String>) {
    let [from, into] = &engine.accounts;
    let mut problems = Vec::new();
    for (kind, name, bytes) in seeds() {
        let collection = match kind {
            Into::Contacts => &from.addressbook,
            Into::Calendar => &from.calendar,
            Into::Tasks => &from.tasks,
        };
        let content_type = if kind == Into::Contacts {
            "text/vcard"
        } else {
            "text/calendar"
        };
        let url = format!("{collection}{}", utf8_percent_encode(&name, SEGMENT));
        let (status, _) = request_as(from.user, "PUT", &url, bytes, content_type).await;
        println!("{}: PUT {name} → {status}", engine.name);
    }
    let (reference, unservable) = served_all(from).await;
    let work = tempfile::tempdir().unwrap();

    // Discovery three ways, as people type addresses.
    let mut discovery = Vec::new();
    for (how, url) in [
        ("root", from.root.clone()),
        ("host:port", from.host_port()),
        ("DAV path", from.dav.clone()),
    ] {
        let out = work.path().join(format!("dry-{}", discovery.len()));
        let output = lifeboat(&[
            "export",
            "--dry-run",
            "--url",
            &url,
            "--user",
            from.user,
            "--out",
            out.to_str().unwrap(),
        ]);
        let ok = output.status.success();
        if !ok {
            problems.push(format!(
                "discovery from {how} ({url}) failed: {}",
                text(&output.stderr)
            ));
        }
        discovery.push(format!("{how} {}", if ok { "ok" } else { "FAILED" }));
    }

    let first = work.path().join("first");
    let exported = export_as(from.user, &from.root, &first);
    // What the server will not serve is missing, and said to be: the export must not
    // claim success, and must name each such item.
    let named = |href: &String| text(&exported.stdout).contains(&format!("missing: {href} "));
    let partial = !unservable.is_empty()
        && exported.status.code() != Some(0)
        && unservable.iter().all(named)
        && manifest_path_exists(&first);
    if !exported.status.success() && !partial {
        problems.push(format!(
            "export failed ({}): {}",
            exported.status,
            text(&exported.stderr)
        ));
        return (
            format!("engine matrix | {} | export failed", engine.name),
            problems,
        );
    }
    let manifest = manifest_of(&first);
    let mut missing = Vec::new();
    let mut kept_exactly = 0;
    for (href, bytes) in &reference {
        let exact = manifest.items.iter().find(|i| &i.href == href);
        let parts = manifest
            .items
            .iter()
            .filter(|i| i.href.starts_with(&format!("{href}#")))
            .count();
        match exact {
            Some(item) => {
                let archived = std::fs::read(first.join(&item.path)).unwrap();
                if archived == *bytes {
                    kept_exactly += usize::from(has_bare_line_end(bytes));
                } else {
                    problems.push(format!(
                        "{href}: archived bytes differ from what the server serves"
                    ));
                }
            }
            None if parts >= 2 => {}
            None => missing.push(href.clone()),
        }
    }
    for item in &manifest.items {
        let listed = item
            .href
            .split_once('#')
            .map_or(item.href.as_str(), |(h, _)| h);
        if !reference.iter().any(|(href, _)| href == listed)
            && !unservable.iter().any(|h| h == listed)
        {
            problems.push(format!(
                "archived under an href the server never listed: {}",
                item.href
            ));
        }
    }
    if !missing.is_empty() {
        problems.push(format!("missing from the export: {missing:?}"));
    }
    let verified = lifeboat(&["verify", first.to_str().unwrap()]);
    if !verified.status.success() {
        problems.push(format!("verify failed: {}", text(&verified.stdout)));
    }

    // Into an empty second user, twice.
    let restored = restore_as(into.user, &first, &into.root, &["--json"]);
    let summary = json_of(&restored);
    let code = restored.status.code();
    let changed = restore_total(&summary, "verify_failed");
    // Every item the server changed is named with what changed, property by property.
    let reported = read_back_changes(&summary);
    for message in &reported {
        println!("{}: read-back: {message}", engine.name);
        if !message.contains("the server ") {
            problems.push(format!("a change reported without its property: {message}"));
        }
    }
    if reported.len() as u64 != changed {
        problems.push(format!(
            "{changed} items changed, {} reported",
            reported.len()
        ));
    }
    // Items the server refuses although it served them itself (Cyrus, its own rewrite of a
    // vCard 4.0 photo) stay in the archive and are reported, never silently lost.
    let uid_at: BTreeMap<String, Option<String>> = manifest
        .items
        .iter()
        .map(|i| (i.path.clone(), Some(uid_or_given(i))))
        .collect();
    let refused: Vec<String> = summary["summary"]["warnings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|w| w["code"] != "verify-failed")
        .filter_map(|w| uid_at.get(w["path"].as_str()?)?.clone())
        .collect();
    let expected_code = if changed == 0 && refused.is_empty() {
        0
    } else {
        2
    };
    if code != Some(expected_code) {
        problems.push(format!(
            "restore exited {code:?} with {changed} items changed, {} refused: {}",
            refused.len(),
            text(&restored.stderr)
        ));
    }
    let again = restore_as(into.user, &first, &into.root, &["--json"]);
    let rerun_summary = json_of(&again);
    let rerun = restore_total(&rerun_summary, "uploaded");
    if rerun != 0 {
        problems.push(format!("the re-run uploaded {rerun} items again"));
    }
    // A re-run still says what the server changed: it is not restored as sent.
    let still = restore_total(&rerun_summary, "verify_failed");
    // Each run's exit status says what that run found: an item refused on the first run may
    // be there after all (Xandikos stores some PUTs it answers 500 and will not GET them).
    let rerun_refused = restore_total(&rerun_summary, "refused");
    let rerun_code = if still == 0 && rerun_refused == 0 {
        0
    } else {
        2
    };
    if rerun_refused > restore_total(&summary, "refused") {
        problems.push(format!(
            "the re-run refused {rerun_refused} items, the first run {}",
            restore_total(&summary, "refused")
        ));
    }
    if still != changed || again.status.code() != Some(rerun_code) {
        problems.push(format!(
            "the re-run reported {still} changed items (exit {:?}), the first run {changed}",
            again.status.code()
        ));
    }
    let second = work.path().join("second");
    let exported = export_as(into.user, &into.root, &second);
    if !exported.status.success() {
        problems.push(format!(
            "export of the restored user failed: {}",
            text(&exported.stderr)
        ));
    }
    let (before, after) = (uid_counts(&first), uid_counts(&second));
    // An item without a UID of its own that the restore does not give one (a VFREEBUSY) is
    // found by where the restore report says it went.
    let report: serde_json::Value = serde_json::from_slice(
        &std::fs::read(summary["summary"]["report"].as_str().unwrap()).unwrap(),
    )
    .unwrap();
    let stored_at = |path: &str| -> Option<String> {
        report["targets"]
            .as_object()?
            .values()
            .find_map(|t| t["items"][path]["href"].as_str().map(href_key))
    };
    let second_hrefs: std::collections::HashSet<String> = manifest_of(&second)
        .items
        .iter()
        .map(|i| href_key(i.href.split('#').next().unwrap()))
        .collect();
    let found_by_href = |uid: &String| {
        manifest.items.iter().any(|i| {
            i.uid.is_none()
                && uid_or_given(i) == *uid
                && stored_at(&i.path).is_some_and(|href| second_hrefs.contains(&href))
        })
    };
    let lost: Vec<&String> = before
        .keys()
        .filter(|uid| !after.contains_key(*uid) && !refused.contains(uid))
        .filter(|uid| !found_by_href(uid))
        .collect();
    // An item the server rewrote into something else (DAViCal makes a bare-CR vCard into
    // nested cards of its own) was reported as changed; its new UIDs are the server's.
    let rewritten: Vec<String> = manifest_of(&second)
        .items
        .iter()
        .filter(|i| {
            let href = i.href.split_once('#').map_or(i.href.as_str(), |(h, _)| h);
            reported.iter().any(|m| m.ends_with(&format!(": {href}")))
        })
        .filter_map(|i| i.uid.as_ref().map(ToString::to_string))
        .collect();
    let doubled: Vec<&String> = after
        .iter()
        .filter(|(uid, n)| **n > before.get(*uid).copied().unwrap_or(0))
        .map(|(uid, _)| uid)
        .filter(|uid| !rewritten.contains(uid))
        .collect();
    if !lost.is_empty() {
        let paths: Vec<String> = manifest
            .items
            .iter()
            .filter(|i| lost.contains(&&uid_or_given(i)))
            .map(|i| i.path.clone())
            .collect();
        problems.push(format!("not restored: {lost:?} ({paths:?})"));
    }
    if !doubled.is_empty() {
        problems.push(format!("restored twice: {doubled:?}"));
    }
    // Back into the account it came from: everything is already there (found by hrefs as
    // the server writes them), nothing is uploaded, and the server's items are untouched.
    let home = restore_as(from.user, &first, &from.root, &["--json"]);
    let home_summary = json_of(&home);
    let home_uploaded = restore_total(&home_summary, "uploaded");
    // Two accounts on one server keep their own records in the restore report: one user's
    // records never decide what happens in the other's account.
    let report: serde_json::Value = serde_json::from_slice(
        &std::fs::read(home_summary["summary"]["report"].as_str().unwrap()).unwrap(),
    )
    .unwrap();
    let accounts = report["targets"]
        .as_object()
        .map_or(0, serde_json::Map::len);
    if accounts != 2 {
        problems.push(format!(
            "the restore report keeps {accounts} targets for two accounts on one server"
        ));
    }
    let after_home = served_all(from).await.0;
    let changed_at_home: Vec<&String> = after_home
        .iter()
        .filter(|item| !reference.contains(item))
        .map(|(href, _)| href)
        .collect();
    if home_uploaded != 0 || after_home.len() != reference.len() || !changed_at_home.is_empty() {
        problems.push(format!(
            "restoring into the account it came from uploaded {home_uploaded} items or changed what it serves ({} items before, {} after, changed: {changed_at_home:?}): {}",
            reference.len(),
            after_home.len(),
            text(&home.stderr)
        ));
    }
    let foreign = foreign_restore(engine, work.path(), &mut problems);
    // The target contract on the engine itself: a create never replaces, a stale ETag never
    // overwrites, even where the server ignores If-None-Match / If-Match (SOGo).
    if let Err(broken) = target_contract(into).await {
        problems.push(format!("the target contract fails: {broken}"));
    }
    let row = format!(
        "engine matrix | {} | discovery: {} | export {} items, {} missing, {kept_exactly} with bare CR or LF kept exactly | restore {} missing, {} duplicated, {} refused and {changed} changed by the server (reported) | re-run +{rerun} | into its own account +{home_uploaded} | foreign items: {foreign}",
        engine.name,
        discovery.join(", "),
        manifest.items.len(),
        missing.len(),
        lost.len(),
        doubled.len(),
        refused.len(),
    );
    (row, problems)
}

/// Items written elsewhere (a phone's own files) restored into the engine, which rewrites
/// them: a vCard 4.0 photo as a data URI, a duration in minutes. What the engine really
/// changed is reported by property, on the first run and on a re-run; a duration written
/// another way is no change at all.
fn foreign_restore(engine: &Engine, work: &Path, problems: &mut Vec<String>) -> String {
    let phone = work.join("phone");
    std::fs::create_dir_all(&phone).unwrap();
    std::fs::write(
        phone.join("contacts.vcf"),
        format!(
            "BEGIN:VCARD\r\nVERSION:4.0\r\nUID:phone-photo\r\nFN:Phone Photo\r\nN:Photo;Phone;;;\r\nPHOTO:data:image/jpeg;base64,{}\r\nEND:VCARD\r\n",
            "/9j/4AAQSkZJRgABAQ".repeat(60)
        ),
    )
    .unwrap();
    std::fs::write(
        phone.join("calendar.ics"),
        "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//Phone//EN\r\nBEGIN:VEVENT\r\nUID:phone-duration\r\nDTSTAMP:20240101T000000Z\r\nDTSTART:20240105T100000Z\r\nDURATION:PT60M\r\nSUMMARY:An hour\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n",
    )
    .unwrap();
    let archive = work.join("phone-archive");
    let exported = lifeboat(&[
        "export",
        "--device",
        phone.to_str().unwrap(),
        "--out",
        archive.to_str().unwrap(),
    ]);
    assert!(exported.status.success(), "{}", text(&exported.stderr));
    let account = &engine.accounts[0];
    let mut rows = Vec::new();
    let mut counts = Vec::new();
    for run in ["first run", "re-run"] {
        let restored = restore_as(account.user, &archive, &account.root, &["--json"]);
        let summary = json_of(&restored);
        let changed = restore_total(&summary, "verify_failed");
        let messages = read_back_changes(&summary);
        for message in &messages {
            println!("{}: {run}: read-back: {message}", engine.name);
            if !message.contains("the server ") || message.contains("the DURATION") {
                problems.push(format!("{run}: not a change named by property: {message}"));
            }
        }
        let code = restored.status.code();
        if messages.len() as u64 != changed || code != Some(if changed == 0 { 0 } else { 2 }) {
            problems.push(format!(
                "{run}: {changed} changed, {} reported, exit {code:?}",
                messages.len()
            ));
        }
        counts.push(changed);
        rows.push(format!("{run} {changed} changed"));
    }
    if counts[0] != counts[1] {
        problems.push(format!(
            "the re-run reported {} changed items, the first run {}",
            counts[1], counts[0]
        ));
    }
    rows.join(", ")
}

async fn target_contract(account: &EngineAccount) -> Result<(), String> {
    use lifeboat::dav::http::{Credentials, HttpClient, HttpSettings};
    use lifeboat::destination::contract::check_target;
    use lifeboat::model::CollectionKind;
    let http = HttpClient::new(
        Credentials::Basic {
            user: account.user.into(),
            password: PASSWORD.into(),
        },
        &HttpSettings::default(),
    )
    .unwrap();
    let target = lifeboat::destination::dav::DavTarget::connect(&account.root, http)
        .await
        .map_err(|e| e.to_string())?;
    check_target(
        &target,
        CollectionKind::Contacts,
        "contract-book",
        &vcard("contract-1", "One"),
        &vcard("contract-1", "One edited"),
    )
    .await
    .map_err(|e| format!("address book: {e}"))?;
    check_target(
        &target,
        CollectionKind::Calendar,
        "contract-diary",
        &event("contract-2", "Two"),
        &event("contract-2", "Two edited"),
    )
    .await
    .map_err(|e| format!("calendar: {e}"))
}

async fn check(engine: Option<Engine>) {
    let Some(engine) = engine else { return };
    let (row, problems) = run_matrix(&engine).await;
    println!("{row}");
    assert!(
        problems.is_empty(),
        "{}: {}",
        engine.name,
        problems.join("\n")
    );
}

#[tokio::test]
async fn radicale_loses_and_duplicates_nothing() {
    check(Some(support::engines::radicale().await)).await;
}

#[tokio::test]
async fn xandikos_loses_and_duplicates_nothing() {
    check(support::engines::xandikos()).await;
}

#[tokio::test]
async fn cyrus_loses_and_duplicates_nothing() {
    check(support::engines::cyrus()).await;
}

#[tokio::test]
async fn davical_loses_and_duplicates_nothing() {
    check(support::engines::davical().await).await;
}

#[tokio::test]
async fn sogo_loses_and_duplicates_nothing() {
    check(support::engines::sogo()).await;
}
