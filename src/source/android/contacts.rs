//! The phone's contacts provider (`content://com.android.contacts`) turned into vCard 4.0:
//! one address book per phone account, one vCard per raw contact, written with calcard from
//! every data row the phone has for it (field numbers from `ContactsContract.CommonDataKinds`).

use std::collections::{BTreeMap, BTreeSet, HashMap};

use calcard::common::Data;
use calcard::vcard::{
    VCard, VCardEntry, VCardParameter, VCardParameterName, VCardParameterValue, VCardProperty,
    VCardValue, VCardVersion,
};

use super::content::{Row, Table};
use super::vcard_types::{address_types, email_types, partial_date, phone_types, website_types};

pub const RAW_CONTACTS_URI: &str = "content://com.android.contacts/raw_contacts";
pub const DATA_URI: &str = "content://com.android.contacts/data";
pub const GROUPS_URI: &str = "content://com.android.contacts/groups";

pub const RAW_CONTACT_COLUMNS: &[&str] = &[
    "_id",
    "contact_id",
    "account_name",
    "account_type",
    "deleted",
    "starred",
    "sourceid",
    "version",
];
pub const DATA_COLUMNS: &[&str] = &[
    "_id",
    "raw_contact_id",
    "mimetype",
    "is_primary",
    "is_super_primary",
    "data1",
    "data2",
    "data3",
    "data4",
    "data5",
    "data6",
    "data7",
    "data8",
    "data9",
    "data10",
    "data11",
    "data12",
    "data13",
    "data14",
    "data_sync1",
    "data_sync2",
    "data_sync3",
    "data_sync4",
];
pub const GROUP_COLUMNS: &[&str] = &[
    "_id",
    "title",
    "account_name",
    "account_type",
    "system_id",
    "deleted",
];

const MIME: &str = "vnd.android.cursor.item/";

/// A phone account: where a raw contact or a calendar syncs to. Local phone contacts have
/// neither name nor type.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Account {
    pub name: Option<String>,
    pub kind: Option<String>,
}

impl Account {
    /// "alice@gmail.com (Google)", or "phone" for contacts kept only on the phone.
    pub fn label(&self) -> String {
        let kind = match self.kind.as_deref() {
            Some("com.google") => Some("Google".to_owned()),
            Some(t) if t.contains("samsung") => Some("Samsung".to_owned()),
            Some(t) if t.contains("exchange") || t.contains("eas") => Some("Exchange".to_owned()),
            Some(t) => Some(t.to_owned()),
            None => None,
        };
        match (&self.name, kind) {
            (Some(name), Some(kind)) => format!("{name} ({kind})"),
            (Some(name), None) => name.clone(),
            (None, Some(kind)) => kind,
            (None, None) => "phone".to_owned(),
        }
    }

    /// A folder-safe name for the account, for hrefs.
    pub fn slug(&self) -> String {
        let text = match (&self.name, &self.kind) {
            (None, None) => "phone".to_owned(),
            (name, kind) => format!(
                "{}-{}",
                kind.as_deref().unwrap_or("account"),
                name.as_deref().unwrap_or("")
            ),
        };
        text.chars()
            .map(|c| {
                if c.is_alphanumeric() || c == '.' || c == '@' {
                    c
                } else {
                    '-'
                }
            })
            .collect()
    }
}

/// One raw contact, ready to be written (its photo is read when it is fetched).
#[derive(Debug, Clone)]
pub struct Contact {
    pub raw_id: String,
    pub uid: String,
    /// Changes whenever any of its rows does (`version` is bumped by the provider too).
    pub etag: String,
    pub has_photo: bool,
    entries: Vec<VCardEntry>,
}

impl Contact {
    /// The vCard, with the full-size `photo` when the phone gave one.
    pub fn vcard(&self, photo: Option<Vec<u8>>) -> Vec<u8> {
        let mut entries = self.entries.clone();
        if let Some(photo) = photo {
            let content_type = if photo.starts_with(b"\x89PNG") {
                "image/png"
            } else {
                "image/jpeg"
            };
            entries.push(
                VCardEntry::new(VCardProperty::Photo).with_value(VCardValue::Binary(Data {
                    content_type: Some(content_type.to_owned()),
                    data: photo,
                })),
            );
        }
        let mut out = String::new();
        // Writing into a String cannot fail.
        let _ = VCard { entries }.write_to(&mut out, VCardVersion::V4_0);
        // calcard writes the data: URI's comma escaped (`base64\,`): servers that read the
        // value as text (Radicale) would otherwise cut the photo off at that comma.
        out.into_bytes()
    }
}

/// The address books found on the phone.
#[derive(Debug, Clone, Default)]
pub struct Books {
    pub books: BTreeMap<Account, Vec<Contact>>,
    /// Raw contacts marked deleted (waiting for their account to sync the deletion).
    pub deleted: usize,
    /// Mimetypes that were kept in the rows but not turned into vCard fields, with counts.
    pub unmapped: BTreeMap<String, usize>,
}

/// Builds every address book from the three tables. `device` makes UIDs of contacts that
/// no account knows unique to this phone.
pub fn books(raw: &Table, data: &Table, groups: &Table, device: &str) -> Books {
    let titles: HashMap<&str, &str> = groups
        .rows
        .iter()
        .filter(|g| groups.get(g, "system_id").is_none() && groups.get(g, "deleted") != Some("1"))
        .filter_map(|g| Some((groups.get(g, "_id")?, groups.get(g, "title")?)))
        .collect();
    let mut rows_of: HashMap<&str, Vec<&Row>> = HashMap::new();
    for row in &data.rows {
        if let Some(id) = data.get(row, "raw_contact_id") {
            rows_of.entry(id).or_default().push(row);
        }
    }
    let mut out = Books::default();
    for contact in &raw.rows {
        let Some(id) = raw.get(contact, "_id") else {
            continue;
        };
        if raw.get(contact, "deleted") == Some("1") {
            out.deleted += 1;
            continue;
        }
        let account = Account {
            name: raw.get(contact, "account_name").map(str::to_owned),
            kind: raw.get(contact, "account_type").map(str::to_owned),
        };
        let rows = rows_of.remove(id).unwrap_or_default();
        let built = build(
            raw,
            contact,
            data,
            &rows,
            &titles,
            &account,
            device,
            &mut out.unmapped,
        );
        out.books.entry(account).or_default().push(built);
    }
    out
}

/// A stable UID: the account's own id for the contact where it has one, else this phone's.
fn uid_for(account: &Account, source_id: Option<&str>, raw_id: &str, device: &str) -> String {
    let key = match source_id {
        Some(id) => format!(
            "{}\n{}\n{id}",
            account.kind.as_deref().unwrap_or(""),
            account.name.as_deref().unwrap_or("")
        ),
        None => format!("{device}\nraw contact {raw_id}"),
    };
    let hex = crate::ids::Sha256::of(key.as_bytes()).to_string();
    format!(
        "{}-{}-{}-{}-{}",
        &hex[0..8],
        &hex[8..12],
        &hex[12..16],
        &hex[16..20],
        &hex[20..32]
    )
}

#[allow(clippy::too_many_arguments)]
fn build(
    raw: &Table,
    contact: &Row,
    data: &Table,
    rows: &[&Row],
    titles: &HashMap<&str, &str>,
    account: &Account,
    device: &str,
    unmapped: &mut BTreeMap<String, usize>,
) -> Contact {
    let raw_id = raw.get(contact, "_id").unwrap_or_default().to_owned();
    let uid = uid_for(account, raw.get(contact, "sourceid"), &raw_id, device);
    let mut fingerprint = format!("{contact:?}");
    let mut card = Card::default();
    let mut categories = BTreeSet::new();
    let mut has_photo = false;
    for row in rows {
        fingerprint.push_str(&format!("{row:?}"));
        let fields = Fields { table: data, row };
        let get = |column: &str| fields.get(column);
        let mimetype = data.get(row, "mimetype").unwrap_or_default();
        let kind = mimetype.strip_prefix(MIME).unwrap_or(mimetype);
        let typ = get("data2");
        let label = get("data3");
        match kind {
            "name" => card.name(&fields),
            "nickname" => card.text(VCardProperty::Nickname, get("data1")),
            "phone_v2" => card.typed(VCardProperty::Tel, get("data1"), phone_types(typ), label),
            "email_v2" => card.typed(VCardProperty::Email, get("data1"), email_types(typ), label),
            "postal-address_v2" => card.address(&fields),
            "organization" => card.organisation(&fields),
            "website" => card.typed(VCardProperty::Url, get("data1"), website_types(typ), None),
            "im" => card.im(&fields),
            "sip_address" => {
                let address = get("data1").map(|a| {
                    if a.starts_with("sip:") {
                        a.to_owned()
                    } else {
                        format!("sip:{a}")
                    }
                });
                card.typed(
                    VCardProperty::Impp,
                    address.as_deref(),
                    address_types(typ),
                    label,
                );
            }
            "relation" => card.relation(get("data1"), typ, label),
            "contact_event" => card.date(get("data1"), typ, label),
            "note" => card.text(VCardProperty::Note, get("data1")),
            "group_membership" => {
                if let Some(title) = get("data1").and_then(|g| titles.get(g)) {
                    categories.insert((*title).to_owned());
                }
                fingerprint.push_str(&format!("{:?}", get("data1").and_then(|g| titles.get(g))));
            }
            "photo" => has_photo |= get("data14").is_some() || data.get(row, "data15").is_some(),
            _ => *unmapped.entry(mimetype.to_owned()).or_default() += 1,
        }
    }
    let mut entries = vec![
        VCardEntry::new(VCardProperty::Prodid)
            .with_value("-//Lifeboat//Android contacts//EN".to_owned()),
        VCardEntry::new(VCardProperty::Uid).with_value(uid.clone()),
    ];
    let fallback = card
        .display
        .clone()
        .or_else(|| card.first_text())
        .unwrap_or_else(|| "Unnamed contact".to_owned());
    entries.push(VCardEntry::new(VCardProperty::Fn).with_value(fallback));
    entries.append(&mut card.entries);
    if !categories.is_empty() {
        entries.push(
            VCardEntry::new(VCardProperty::Categories)
                .with_values(categories.into_iter().map(VCardValue::Text).collect()),
        );
    }
    if raw.get(contact, "starred") == Some("1") {
        entries.push(
            VCardEntry::new(VCardProperty::Other("X-ANDROID-STARRED".to_owned()))
                .with_value("1".to_owned()),
        );
    }
    let etag = crate::ids::Sha256::of(fingerprint.as_bytes())
        .short(16)
        .to_owned();
    Contact {
        raw_id,
        uid,
        etag,
        has_photo,
        entries,
    }
}

/// One data row's non-empty values.
struct Fields<'a> {
    table: &'a Table,
    row: &'a Row,
}

impl<'a> Fields<'a> {
    fn get(&self, column: &str) -> Option<&'a str> {
        self.table.get(self.row, column).filter(|v| !v.is_empty())
    }
}

/// The vCard being built: its entries, and labels that need an `itemN` group.
#[derive(Default)]
struct Card {
    entries: Vec<VCardEntry>,
    display: Option<String>,
    groups: usize,
    has_birthday: bool,
}

fn text(value: &str) -> VCardValue {
    VCardValue::Text(value.to_owned())
}

fn components(values: &[Option<&str>]) -> Vec<VCardValue> {
    values.iter().map(|v| text(v.unwrap_or(""))).collect()
}

impl Card {
    fn first_text(&self) -> Option<String> {
        self.entries.iter().find_map(|e| match e.values.first() {
            Some(VCardValue::Text(t)) if !t.is_empty() => Some(t.clone()),
            _ => None,
        })
    }

    fn push(&mut self, entry: VCardEntry, label: Option<&str>) {
        match label {
            // A custom label ("Grandma's landline") as Apple and DAVx5 write it.
            Some(label) => {
                self.groups += 1;
                let group = format!("item{}", self.groups);
                self.entries.push(entry.with_group(Some(group.clone())));
                self.entries.push(
                    VCardEntry::new(VCardProperty::Other("X-ABLabel".to_owned()))
                        .with_group(Some(group))
                        .with_value(label.to_owned()),
                );
            }
            None => self.entries.push(entry),
        }
    }

    fn text(&mut self, property: VCardProperty, value: Option<&str>) {
        if let Some(value) = value {
            self.entries
                .push(VCardEntry::new(property).with_value(value.to_owned()));
        }
    }

    fn typed(
        &mut self,
        property: VCardProperty,
        value: Option<&str>,
        types: Vec<VCardParameterValue>,
        label: Option<&str>,
    ) {
        let Some(value) = value else { return };
        let mut entry = VCardEntry::new(property).with_value(value.to_owned());
        for typ in types {
            entry.add_param(VCardParameter {
                name: VCardParameterName::Type,
                value: typ,
            });
        }
        self.push(entry, label);
    }

    fn name(&mut self, fields: &Fields<'_>) {
        self.display = fields.get("data1").map(str::to_owned);
        // N: family; given; middle; prefix; suffix.
        let parts = [
            fields.get("data3"),
            fields.get("data2"),
            fields.get("data5"),
            fields.get("data4"),
            fields.get("data6"),
        ];
        if parts.iter().any(Option::is_some) {
            self.entries
                .push(VCardEntry::new(VCardProperty::N).with_values(components(&parts)));
        }
        for (column, property) in [
            ("data7", "X-PHONETIC-FIRST-NAME"),
            ("data8", "X-PHONETIC-MIDDLE-NAME"),
            ("data9", "X-PHONETIC-LAST-NAME"),
        ] {
            self.text(
                VCardProperty::Other(property.to_owned()),
                fields.get(column),
            );
        }
    }

    fn address(&mut self, fields: &Fields<'_>) {
        // ADR: PO box; extended (the neighbourhood); street; city; region; code; country.
        let parts = [
            fields.get("data5"),
            fields.get("data6"),
            fields.get("data4"),
            fields.get("data7"),
            fields.get("data8"),
            fields.get("data9"),
            fields.get("data10"),
        ];
        if parts.iter().all(Option::is_none) && fields.get("data1").is_none() {
            return;
        }
        let mut entry = VCardEntry::new(VCardProperty::Adr).with_values(components(&parts));
        if let Some(formatted) = fields.get("data1") {
            entry.add_param(VCardParameter::label(formatted.to_owned()));
        }
        for typ in address_types(fields.get("data2")) {
            entry.add_param(VCardParameter {
                name: VCardParameterName::Type,
                value: typ,
            });
        }
        self.push(entry, fields.get("data3"));
    }

    fn organisation(&mut self, fields: &Fields<'_>) {
        if fields.get("data1").is_some() || fields.get("data5").is_some() {
            self.entries.push(
                VCardEntry::new(VCardProperty::Org)
                    .with_values(components(&[fields.get("data1"), fields.get("data5")])),
            );
        }
        self.text(VCardProperty::Title, fields.get("data4"));
        self.text(VCardProperty::Role, fields.get("data6"));
    }

    fn im(&mut self, fields: &Fields<'_>) {
        let Some(handle) = fields.get("data1") else {
            return;
        };
        // data5: the protocol (ContactsContract.CommonDataKinds.Im.PROTOCOL_*), data6 a custom one.
        let (scheme, service) = match fields.get("data5") {
            Some("0") => ("aim", "AIM"),
            Some("1") => ("msnim", "MSN"),
            Some("2") => ("ymsgr", "Yahoo"),
            Some("3") => ("skype", "Skype"),
            Some("4") => ("mqq", "QQ"),
            Some("5") => ("xmpp", "GoogleTalk"),
            Some("6") => ("icq", "ICQ"),
            Some("7") => ("xmpp", "Jabber"),
            Some("8") => ("callto", "NetMeeting"),
            _ => ("x-im", fields.get("data6").unwrap_or("other")),
        };
        let mut entry =
            VCardEntry::new(VCardProperty::Impp).with_value(format!("{scheme}:{handle}"));
        entry.add_param(VCardParameter::service_type(service.to_owned()));
        for typ in address_types(fields.get("data2")) {
            entry.add_param(VCardParameter {
                name: VCardParameterName::Type,
                value: typ,
            });
        }
        self.push(entry, fields.get("data3"));
    }

    fn relation(&mut self, name: Option<&str>, typ: Option<&str>, label: Option<&str>) {
        let Some(name) = name else { return };
        let types: &[&str] = match typ {
            Some("1") => &["x-assistant"],
            Some("2") => &["sibling", "x-brother"],
            Some("3") => &["child"],
            Some("4") => &["x-domestic-partner"],
            Some("5") => &["parent", "x-father"],
            Some("6") => &["friend"],
            Some("7") => &["x-manager"],
            Some("8") => &["parent", "x-mother"],
            Some("9") => &["parent"],
            Some("10") => &["x-partner"],
            Some("11") => &["x-referred-by"],
            Some("12") => &["kin"],
            Some("13") => &["sibling", "x-sister"],
            Some("14") => &["spouse"],
            _ => &[],
        };
        let mut entry = VCardEntry::new(VCardProperty::Related)
            .with_param(VCardParameter::value(VCardParameterValue::ValueType(
                calcard::vcard::VCardValueType::Text,
            )))
            .with_value(name.to_owned());
        for typ in types {
            entry.add_param(VCardParameter::typ((*typ).to_owned()));
        }
        self.push(entry, label);
    }

    fn date(&mut self, date: Option<&str>, typ: Option<&str>, label: Option<&str>) {
        let Some(date) = date else { return };
        let property = match typ {
            Some("3") if !self.has_birthday => {
                self.has_birthday = true;
                VCardProperty::Bday
            }
            Some("1") => VCardProperty::Anniversary,
            _ => VCardProperty::Other("X-ABDATE".to_owned()),
        };
        let entry = match partial_date(date) {
            Some(parsed) => {
                VCardEntry::new(property).with_value(VCardValue::PartialDateTime(parsed))
            }
            // The phone keeps what was typed ("next spring"): kept as text.
            None => VCardEntry::new(property)
                .with_param(VCardParameter::value(VCardParameterValue::ValueType(
                    calcard::vcard::VCardValueType::Text,
                )))
                .with_value(date.to_owned()),
        };
        let label = match typ {
            Some("2") => Some(label.unwrap_or("other")),
            Some("0") => label,
            _ => None,
        };
        self.push(entry, label);
    }
}
