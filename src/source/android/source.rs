//! [`AndroidSource`]: an Android phone over USB as a [`Source`]: one address book per phone
//! account, one calendar per phone calendar, and the camera folders' photos and videos.
//! The providers' rows are read once per run and kept verbatim under `metadata/`.

use std::sync::atomic::{AtomicBool, Ordering};

use crate::error::{ErrorKind, Result};
use crate::ids::{Etag, Href};
use crate::model::{CollectionInfo, CollectionKind, ItemRef, Warning};
use crate::progress::CancelToken;
use crate::source::{ItemSink, Source, SourceInfo};

use super::calendar::{self, Calendars};
use super::contacts::{self, Books};
use super::content::{self, Table};
use super::replug;
use super::sync::{self, RemoteFile};
use super::{AdbServer, Phone, choose};

/// The folders a phone keeps photos and videos in (its shared storage, as the shell user
/// sees it): the camera's, and the media messengers keep (WhatsApp and Telegram, where
/// Android 11 and later put them and where older versions did), which many people have
/// nowhere else. Their hidden folders (statuses, thumbnails) are left out as everywhere.
pub const PHOTO_FOLDERS: &[&str] = &[
    "/sdcard/DCIM",
    "/sdcard/Pictures",
    "/sdcard/Movies",
    "/sdcard/Android/media/com.whatsapp/WhatsApp/Media",
    "/sdcard/WhatsApp/Media",
    "/sdcard/Android/media/org.telegram.messenger/Telegram",
    "/sdcard/Telegram",
];
const STORAGE: &str = "/sdcard/";

/// A phone connected over USB (or adb over Wi-Fi), read through the adb server.
#[derive(Debug)]
pub struct AndroidSource {
    pub(super) server: AdbServer,
    pub(super) phone: Phone,
    read: tokio::sync::OnceCell<PhoneData>,
    reported_contacts: AtomicBool,
    reported_calendars: AtomicBool,
    pub(super) sessions: sync::Sessions,
    /// Asked once: every provider query and photo read would otherwise ask again.
    shell_v2: bool,
    /// Whether the phone lists folders with version 2 of the file service (whole sizes).
    ls_v2: bool,
    /// How long a copy waits for a phone that was unplugged mid-way.
    pub(super) replug_wait: std::time::Duration,
}

#[derive(Debug)]
pub(super) struct PhoneData {
    books: Books,
    calendars: Calendars,
    pub(super) photos: Vec<RemoteFile>,
    photo_problems: Vec<Warning>,
    /// What each query printed, by the name it is kept under.
    contact_tables: Vec<(&'static str, Vec<u8>)>,
    calendar_tables: Vec<(&'static str, Vec<u8>)>,
}

impl AndroidSource {
    /// The phone with `serial`, or the only one connected; an error says what to do when it
    /// cannot be read (none, not allowed yet, several).
    pub async fn connect(server: AdbServer, serial: Option<&str>) -> Result<Self> {
        let phone = choose(&server, serial).await?;
        let features = server.features(&phone.serial).await?;
        let offers = |feature: &str| features.iter().any(|f| f == feature);
        let (shell_v2, ls_v2) = (offers("shell_v2"), offers("ls_v2"));
        Ok(Self {
            shell_v2,
            ls_v2,
            replug_wait: replug::wait_from_env(),
            server,
            phone,
            read: tokio::sync::OnceCell::new(),
            reported_contacts: AtomicBool::new(false),
            reported_calendars: AtomicBool::new(false),
            sessions: sync::Sessions::default(),
        })
    }

    pub fn phone(&self) -> &Phone {
        &self.phone
    }

    /// A provider's table; asked again if the phone was unplugged meanwhile and came back.
    async fn table(&self, uri: &str, columns: &[&'static str]) -> Result<Table> {
        let serial = &self.phone.serial;
        replug::again_when_back(
            &self.server,
            serial,
            self.replug_wait,
            &CancelToken::default(),
            |_| {},
            || content::table(&self.server, serial, self.shell_v2, uri, columns),
        )
        .await
    }

    async fn data(&self) -> Result<&PhoneData> {
        self.read
            .get_or_try_init(|| async {
                let device = format!("android {}", self.phone.serial);
                let raw = self
                    .table(contacts::RAW_CONTACTS_URI, contacts::RAW_CONTACT_COLUMNS)
                    .await?;
                let data = self
                    .table(contacts::DATA_URI, contacts::DATA_COLUMNS)
                    .await?;
                let groups = self
                    .table(contacts::GROUPS_URI, contacts::GROUP_COLUMNS)
                    .await?;
                let calendars = self
                    .table(calendar::CALENDARS_URI, calendar::CALENDAR_COLUMNS)
                    .await?;
                let events = self
                    .table(calendar::EVENTS_URI, calendar::EVENT_COLUMNS)
                    .await?;
                let reminders = self
                    .table(calendar::REMINDERS_URI, calendar::REMINDER_COLUMNS)
                    .await?;
                let attendees = self
                    .table(calendar::ATTENDEES_URI, calendar::ATTENDEE_COLUMNS)
                    .await?;
                let none = CancelToken::default();
                let (photos, photo_problems) = replug::again_when_back(
                    &self.server,
                    &self.phone.serial,
                    self.replug_wait,
                    &none,
                    |_| {},
                    || {
                        sync::walk(
                            &self.server,
                            &self.phone.serial,
                            PHOTO_FOLDERS,
                            self.ls_v2,
                            &none,
                        )
                    },
                )
                .await?;
                Ok::<PhoneData, crate::Error>(PhoneData {
                    books: contacts::books(&raw, &data, &groups, &device),
                    calendars: calendar::calendars(
                        &calendars, &events, &reminders, &attendees, &device,
                    ),
                    photos,
                    photo_problems,
                    contact_tables: vec![
                        ("raw_contacts.txt", raw.printed),
                        ("data.txt", data.printed),
                        ("groups.txt", groups.printed),
                    ],
                    calendar_tables: vec![
                        ("calendars.txt", calendars.printed),
                        ("events.txt", events.printed),
                        ("reminders.txt", reminders.printed),
                        ("attendees.txt", attendees.printed),
                    ],
                })
            })
            .await
    }

    /// The rows as printed, and what the conversion left out, once per run.
    async fn report(
        &self,
        flag: &AtomicBool,
        tables: &[(&'static str, Vec<u8>)],
        collection: &CollectionInfo,
        warnings: Vec<Warning>,
        sink: &dyn ItemSink,
    ) -> Result<()> {
        if flag.swap(true, Ordering::SeqCst) {
            return Ok(());
        }
        for (name, printed) in tables {
            sink.metadata(&format!("{}phone-rows/{name}", collection.href), printed)
                .await?;
        }
        for warning in warnings {
            sink.warn(warning);
        }
        Ok(())
    }
}

fn contacts_href(account: &contacts::Account) -> String {
    format!("contacts/{}/", account.slug())
}

fn calendar_href(calendar: &calendar::PhoneCalendar) -> String {
    format!("calendars/{}/", calendar.id)
}

fn collection(kind: CollectionKind, href: String, name: String, display: String) -> CollectionInfo {
    CollectionInfo {
        kind,
        href: Href::new(href),
        name,
        display_name: Some(display),
        description: None,
        color: None,
        components: if kind == CollectionKind::Calendar {
            vec!["VEVENT".to_owned()]
        } else {
            Vec::new()
        },
        sync_token: None,
    }
}

fn contact_warnings(books: &Books) -> Vec<Warning> {
    let mut warnings = Vec::new();
    if !books.unmapped.is_empty() {
        let kinds: Vec<String> = books
            .unmapped
            .iter()
            .map(|(mimetype, count)| format!("{mimetype} ({count})"))
            .collect();
        warnings.push(Warning::new(
            "not-mapped",
            format!(
                "some contact details are kept only as the phone gave them, not as vCard fields: {}",
                kinds.join(", ")
            ),
        ));
    }
    if books.deleted > 0 {
        warnings.push(Warning::new(
            "deleted-left-out",
            format!(
                "{} contacts deleted on the phone (waiting to be removed from their account) were left out",
                books.deleted
            ),
        ));
    }
    warnings
}

fn calendar_warnings(calendars: &Calendars) -> Vec<Warning> {
    let mut warnings = Vec::new();
    if calendars.deleted > 0 {
        warnings.push(Warning::new(
            "deleted-left-out",
            format!(
                "{} events deleted on the phone (waiting to be removed from their account) were left out",
                calendars.deleted
            ),
        ));
    }
    if calendars.orphans > 0 {
        warnings.push(Warning::new(
            "not-mapped",
            format!(
                "{} changed occurrences belong to a series that is not on the phone; each is kept as an event of its own",
                calendars.orphans
            ),
        ));
    }
    warnings
}

#[async_trait::async_trait]
impl Source for AndroidSource {
    fn info(&self) -> SourceInfo {
        SourceInfo {
            kind: "android".to_owned(),
            label: self.phone.name(),
            location: format!("android:{}", self.phone.serial),
        }
    }

    async fn collections(&self) -> Result<Vec<CollectionInfo>> {
        let data = self.data().await?;
        let phone = self.phone.name();
        let mut out = Vec::new();
        for account in data.books.books.keys() {
            out.push(collection(
                CollectionKind::Contacts,
                contacts_href(account),
                format!("contacts-{}", account.slug()),
                format!("{phone} contacts ({})", account.label()),
            ));
        }
        for calendar in &data.calendars.calendars {
            let mut info = collection(
                CollectionKind::Calendar,
                calendar_href(calendar),
                format!("calendar-{}", calendar.id),
                format!("{} ({})", calendar.name, calendar.account.label()),
            );
            info.color.clone_from(&calendar.color);
            out.push(info);
        }
        if !data.photos.is_empty() || !data.photo_problems.is_empty() {
            out.push(collection(
                CollectionKind::Photos,
                "photos/".to_owned(),
                "photos".to_owned(),
                format!("photos and videos on {phone}"),
            ));
        }
        Ok(out)
    }

    async fn list(&self, collection: &CollectionInfo) -> Result<Vec<ItemRef>> {
        let data = self.data().await?;
        let href = collection.href.as_str();
        let listed = match collection.kind {
            CollectionKind::Contacts => data
                .books
                .books
                .iter()
                .filter(|(account, _)| contacts_href(account) == href)
                .flat_map(|(_, contacts)| contacts)
                .map(|c| (format!("{href}{}.vcf", c.raw_id), c.etag.clone(), None))
                .collect(),
            CollectionKind::Calendar => data
                .calendars
                .calendars
                .iter()
                .filter(|c| calendar_href(c) == href)
                .flat_map(|c| &c.events)
                .map(|e| (format!("{href}{}.ics", e.event_id), e.etag.clone(), None))
                .collect(),
            _ => data
                .photos
                .iter()
                .map(|p| {
                    (
                        photo_href(p),
                        format!("{}-{}", p.size, p.modified),
                        Some(p.size),
                    )
                })
                .collect::<Vec<_>>(),
        };
        Ok(listed
            .into_iter()
            .map(|(href, etag, size)| ItemRef {
                href: Href::new(href),
                etag: Some(Etag::new(etag)),
                size,
            })
            .collect())
    }

    async fn fetch(
        &self,
        collection: &CollectionInfo,
        items: &[ItemRef],
        sink: &dyn ItemSink,
        cancel: &CancelToken,
    ) -> Result<()> {
        let data = self.data().await?;
        match collection.kind {
            CollectionKind::Contacts => {
                let warnings = contact_warnings(&data.books);
                self.report(
                    &self.reported_contacts,
                    &data.contact_tables,
                    collection,
                    warnings,
                    sink,
                )
                .await?;
                self.fetch_contacts(data, collection, items, sink, cancel)
                    .await
            }
            CollectionKind::Calendar => {
                let warnings = calendar_warnings(&data.calendars);
                self.report(
                    &self.reported_calendars,
                    &data.calendar_tables,
                    collection,
                    warnings,
                    sink,
                )
                .await?;
                let wanted: std::collections::HashSet<&str> =
                    items.iter().map(|i| i.href.as_str()).collect();
                for calendar in data
                    .calendars
                    .calendars
                    .iter()
                    .filter(|c| calendar_href(c) == collection.href.as_str())
                {
                    for event in &calendar.events {
                        cancel.check()?;
                        let href = format!("{}{}.ics", collection.href, event.event_id);
                        if wanted.contains(href.as_str()) {
                            sink.item(
                                Href::new(href),
                                Some(Etag::new(event.etag.clone())),
                                event.ics.clone(),
                            )
                            .await?;
                        }
                    }
                }
                Ok(())
            }
            _ => {
                for problem in &data.photo_problems {
                    sink.warn(problem.clone());
                }
                self.fetch_photos(data, items, sink, cancel).await
            }
        }
    }
}

pub(super) fn photo_href(file: &RemoteFile) -> String {
    file.path
        .strip_prefix(STORAGE)
        .unwrap_or(&file.path)
        .to_owned()
}

impl AndroidSource {
    async fn fetch_contacts(
        &self,
        data: &PhoneData,
        collection: &CollectionInfo,
        items: &[ItemRef],
        sink: &dyn ItemSink,
        cancel: &CancelToken,
    ) -> Result<()> {
        let wanted: std::collections::HashSet<&str> =
            items.iter().map(|i| i.href.as_str()).collect();
        let books = data
            .books
            .books
            .iter()
            .filter(|(account, _)| contacts_href(account) == collection.href.as_str());
        for contact in books.flat_map(|(_, contacts)| contacts) {
            let href = format!("{}{}.vcf", collection.href, contact.raw_id);
            if !wanted.contains(href.as_str()) {
                continue;
            }
            cancel.check()?;
            let photo = if contact.has_photo {
                let uri = format!(
                    "{}/{}/display_photo",
                    contacts::RAW_CONTACTS_URI,
                    contact.raw_id
                );
                let serial = &self.phone.serial;
                let read = replug::again_when_back(
                    &self.server,
                    serial,
                    self.replug_wait,
                    cancel,
                    replug::telling(sink, &href),
                    || content::read(&self.server, serial, self.shell_v2, &uri),
                )
                .await;
                match read {
                    Ok(bytes) if !bytes.is_empty() => Some(bytes),
                    Ok(_) => None,
                    // Unplugged and not back: the whole run stops, and no archive looks
                    // complete.
                    Err(e) if e.kind() == ErrorKind::PhoneNotReady => return Err(e),
                    Err(e) => {
                        sink.warn(
                            Warning::new(
                                "unavailable",
                                format!("this contact's full-size photo could not be read from the phone: {e}"),
                            )
                            .at_href(&href),
                        );
                        None
                    }
                }
            } else {
                None
            };
            sink.item(
                Href::new(href),
                Some(Etag::new(contact.etag.clone())),
                contact.vcard(photo),
            )
            .await?;
        }
        Ok(())
    }
}
