//! The README.txt every archive carries, saying what it is and how to use it without
//! Lifeboat.

use super::FORMAT_VERSION;

/// The README.txt placed inside every archive, for a person without Lifeboat.
pub fn readme_text() -> String {
    format!(
        "This is a backup made by Lifeboat {version} (archive format {FORMAT_VERSION}).\n\
\n\
Everything here is in open formats; you do not need Lifeboat to use it.\n\
\n\
contacts/       One folder per address book; one .vcf file (vCard) per contact, exactly as\n\
                the server or phone held it. Each folder is a \"vdir\" that khard can read.\n\
calendars/      One folder per calendar or task list; one .ics file (iCalendar) per event\n\
                or to-do. khal and todoman can read these folders directly.\n\
merged/         The same data joined into one file per address book (.vcf) or calendar\n\
                (.ics). To move to another service, import these: Google Contacts\n\
                (Import), Google Calendar (Settings > Import), Apple Contacts and Calendar\n\
                (File > Import), Outlook, Thunderbird, or copy them onto a phone.\n\
photos/         Your photos, byte for byte as they were (EXIF intact), in their folders.\n\
originals/      Files from a phone or folder that held many items, kept whole as found.\n\
metadata/       Files that describe the items, kept as the provider wrote them: Google\n\
                Takeout's photo sidecars (.json) and Tasks.json, Apple's photo CSVs.\n\
manifest.json   The list of every file with its SHA-256 checksum, where it came from,\n\
                and any warnings (items that could not be read are still kept).\n\
\n\
To check that nothing is damaged: lifeboat verify <this archive>\n\
To put it back into an account: lifeboat restore <this archive> (or drop it on the app).\n",
        version = env!("CARGO_PKG_VERSION")
    )
}
