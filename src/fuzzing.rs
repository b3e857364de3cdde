//! Entry points for hostile input, shared by the `cargo fuzz` targets (`fuzz/`) and the
//! property tests (`tests/hostile_input.rs`): each feeds arbitrary bytes to one reader of
//! untrusted data and checks what must hold for any input. A violation panics, which is what
//! both drivers look for; a clean error return is a pass.

use std::path::Path;

use crate::archive::manifest::Manifest;
use crate::archive::reader::{ArchiveReader, unsafe_name};

/// The most any one entry is read into memory here; the real readers have their own caps.
const ENTRY_CAP: u64 = 1 << 20;

/// `manifest.json` from an archive nobody vouches for.
pub fn manifest(data: &[u8]) {
    if let Ok(manifest) = Manifest::parse(data) {
        // What parsed must survive a round trip: the restore report and `ls --json` rely on it.
        let again = serde_json::to_vec(&manifest).unwrap_or_default();
        assert_eq!(
            Manifest::parse(&again).ok().as_ref(),
            Some(&manifest),
            "a parsed manifest did not survive a round trip"
        );
    }
}

/// A `.zip` someone dropped on the window: listing, hashing, reading with a cap, verifying.
pub fn zip_archive(data: &[u8]) {
    let Ok(dir) = tempfile::tempdir() else {
        return;
    };
    let path = dir.path().join("dropped.zip");
    if std::fs::write(&path, data).is_err() {
        return;
    }
    let Ok(mut reader) = ArchiveReader::open(&path) else {
        return;
    };
    let Ok(entries) = reader.entries() else {
        return;
    };
    for entry in entries {
        if entry.unsafe_reason.is_none() {
            assert_stays_inside(&entry.path);
            let _ = reader.hash(&entry.path);
            if let Ok(Some(bytes)) = reader.read(&entry.path, ENTRY_CAP) {
                assert!(bytes.len() as u64 <= ENTRY_CAP, "a read went past its cap");
            }
        }
    }
    if let Ok(manifest) = reader.manifest() {
        let _ = crate::archive::verify::check(&mut reader, &manifest);
    }
    // Nothing may have been written beside the archive.
    let beside: Vec<_> = std::fs::read_dir(dir.path())
        .map(|entries| entries.flatten().map(|e| e.file_name()).collect())
        .unwrap_or_default();
    assert_eq!(beside.len(), 1, "reading the zip wrote files: {beside:?}");
}

/// Panics when a name that [`unsafe_name`] let through could leave the folder it is joined to,
/// on any of the systems Lifeboat runs on.
pub fn assert_stays_inside(name: &str) {
    assert!(
        unsafe_name(name).is_none(),
        "assert_stays_inside({name:?}) on an unsafe name"
    );
    for part in name.split(['/', '\\']) {
        assert!(part != "..", "{name:?} climbs out");
        assert!(!part.contains(':'), "{name:?} names a drive or stream");
        assert!(!part.contains('\0'), "{name:?} has a NUL");
    }
    assert!(
        Path::new(name).is_relative() && !name.starts_with(['/', '\\']),
        "{name:?} is absolute"
    );
}

/// A server's multistatus answer, through every parser that reads one: libdav's (listing,
/// multiget, sync-collection) and ours (collections in a home, a photo folder's entries).
pub fn multistatus(data: &[u8]) {
    use libdav::requests::DavRequest as _;
    let parts = http::Response::builder()
        .status(207)
        .body(())
        .map(|r| r.into_parts().0);
    let Ok(parts) = parts else {
        return;
    };
    let _ = libdav::dav::ListResources::new("/home/c/").parse_response(&parts, data);
    let _ = libdav::carddav::GetAddressBookResources::new("/home/c/")
        .with_hrefs(["/home/c/a.vcf"])
        .parse_response(&parts, data);
    let _ = libdav::caldav::GetCalendarResources::new("/home/c/")
        .with_hrefs(["/home/c/a.ics"])
        .parse_response(&parts, data);
    let _ = libdav::dav::SyncCollection::new("/home/c/").parse_response(&parts, data);
    // Item and photo listings are read as a stream (source/listing.rs).
    let _ = crate::dav::listing::listing_from_bytes(data);
    let Ok(response) = libdav::dav::Propfind::new("/home/").parse_response(&parts, data) else {
        return;
    };
    if let Ok(found) = crate::source::dav::collections_in(&response) {
        for (collection, _) in found {
            // A collection's name becomes a folder name in the archive.
            let folder = crate::archive::layout::safe_segment(&collection.name);
            assert_stays_inside(&folder);
        }
    }
}

/// A `.vcf` or `.ics` file from a device folder: splitting and inspecting. When the splitter
/// says it cut without loss, the pieces put together must be the file, byte for byte.
pub fn vobject(data: &[u8]) {
    for split in [
        crate::vobject::split_vcards(data),
        crate::vobject::split_calendar(data),
    ] {
        if split.lossless && split.items.len() > 1 {
            assert_eq!(
                split.items.concat(),
                data,
                "a lossless split lost or changed bytes"
            );
        }
        for item in &split.items {
            let _ = crate::vobject::inspect(item);
            let _ = crate::vobject::uid_of(item);
            let _ = crate::vobject::components_of(item);
            let _ = crate::vobject::properties(item);
        }
    }
    let _ = crate::vobject::inspect(data);
}
