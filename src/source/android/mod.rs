//! An Android phone connected over USB, reached through the adb server ([`adb`]): finding
//! the phone and saying, in words a person can follow, why it cannot be read yet; reading it
//! is [`AndroidSource`] ([`contacts`], [`calendar`] and [`sync`] for the photos).

pub mod adb;
pub mod calendar;
pub mod contacts;
pub mod content;
mod photos;
pub mod replug;
pub mod source;
pub mod sync;
mod timezone;
mod vcard_types;

use crate::error::{Error, ErrorKind, Result};

pub use adb::AdbServer;
pub use source::AndroidSource;

/// What the adb server says about one phone.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PhoneState {
    /// Ready: USB debugging is on and this computer is allowed.
    Ready,
    /// The phone has not (yet) allowed this computer: it shows "Allow USB debugging?".
    Unauthorized,
    /// Connected but not answering (asleep, just plugged in, or a bad cable).
    Offline,
    /// This computer's user may not open the USB device (Linux udev rules).
    NoPermission,
    /// Anything else adb reports (recovery, bootloader, sideload, ...).
    Other(String),
}

/// One phone the adb server knows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Phone {
    pub serial: String,
    pub state: PhoneState,
    /// "Pixel 7", from the phone's `ro.product.model`, when adb knows it.
    pub model: Option<String>,
}

impl Phone {
    /// What to call it: its model, else its serial number.
    pub fn name(&self) -> String {
        self.model
            .clone()
            .unwrap_or_else(|| format!("the phone {}", self.serial))
    }

    /// Why this phone cannot be read, in the words of the step that fixes it.
    fn not_ready(&self) -> Option<Error> {
        let name = self.name();
        let message = match &self.state {
            PhoneState::Ready => return None,
            PhoneState::Unauthorized => format!(
                "{name} has not allowed this computer yet: unlock the phone and tap Allow on the 'Allow USB debugging?' prompt"
            ),
            PhoneState::Offline => format!(
                "{name} is connected but does not answer: unlock it, or unplug it and plug it in again"
            ),
            PhoneState::NoPermission => format!(
                "this computer's user may not open {name}'s USB connection: add a udev rule for it (Android's platform-tools documents one), then plug it in again"
            ),
            PhoneState::Other(state) => {
                format!("{name} is in '{state}' mode: start it normally and unlock it")
            }
        };
        Some(Error::new(ErrorKind::PhoneNotReady, message))
    }
}

/// The phones listed by `adb devices -l` (its text, as [`AdbServer::devices`] returns it).
pub fn parse_devices(listing: &str) -> Vec<Phone> {
    listing
        .lines()
        .filter_map(|line| {
            let mut words = line.split_whitespace();
            let serial = words.next()?.to_owned();
            let rest: Vec<&str> = words.collect();
            let state = match rest.first().copied()? {
                "device" => PhoneState::Ready,
                "unauthorized" => PhoneState::Unauthorized,
                "offline" => PhoneState::Offline,
                "no" if rest.get(1) == Some(&"permissions") => PhoneState::NoPermission,
                other => PhoneState::Other(other.to_owned()),
            };
            let model = rest
                .iter()
                .find_map(|w| w.strip_prefix("model:"))
                .map(|m| m.replace('_', " "));
            Some(Phone {
                serial,
                state,
                model,
            })
        })
        .collect()
}

/// The phone to read: the one with `serial`, or the only one connected. No phone, a phone
/// not ready and several phones without a serial are each an error that says what to do.
pub async fn choose(server: &AdbServer, serial: Option<&str>) -> Result<Phone> {
    let phones = parse_devices(&server.devices().await?);
    let phone = match serial {
        Some(serial) => phones.iter().find(|p| p.serial == serial).ok_or_else(|| {
            Error::new(
                ErrorKind::PhoneNotReady,
                format!("no phone with the serial number {serial} is connected"),
            )
        })?,
        None => match phones.as_slice() {
            [] => {
                return Err(Error::new(
                    ErrorKind::PhoneNotReady,
                    "no phone is connected: plug it in by USB, unlock it and switch on USB debugging",
                ));
            }
            [only] => only,
            several => {
                let names: Vec<String> = several
                    .iter()
                    .map(|p| format!("{} ({})", p.name(), p.serial))
                    .collect();
                return Err(Error::new(
                    ErrorKind::InvalidInput,
                    format!(
                        "{} phones are connected: choose one of {}",
                        several.len(),
                        names.join(", ")
                    ),
                ));
            }
        },
    };
    match phone.not_ready() {
        Some(error) => Err(error),
        None => Ok(phone.clone()),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::{PhoneState, parse_devices};

    #[test]
    fn the_device_list_gives_serial_state_and_model() {
        // As adb 1.0.41 prints `adb devices -l`, with the states people meet.
        let listing = "\
127.0.0.1:41234        device product:panther model:Pixel_7 device:panther transport_id:1
R58N12ABCDE            unauthorized usb:1-1 transport_id:2
emulator-5554          offline transport_id:3
0123456789ABCDEF       no permissions (missing udev rules? user is in the plugdev group); see [http://developer.android.com/tools/device.html] usb:1-2
ZY22   recovery usb:1-3 product:x model:moto_g device:y transport_id:5
";
        let phones = parse_devices(listing);
        let states: Vec<&PhoneState> = phones.iter().map(|p| &p.state).collect();
        assert_eq!(
            states,
            [
                &PhoneState::Ready,
                &PhoneState::Unauthorized,
                &PhoneState::Offline,
                &PhoneState::NoPermission,
                &PhoneState::Other("recovery".to_owned()),
            ]
        );
        assert_eq!(phones[0].serial, "127.0.0.1:41234");
        assert_eq!(phones[0].name(), "Pixel 7");
        assert_eq!(phones[1].name(), "the phone R58N12ABCDE");
        assert_eq!(phones[4].model.as_deref(), Some("moto g"));
        assert!(
            phones[1]
                .not_ready()
                .unwrap()
                .to_string()
                .contains("tap Allow")
        );
        assert!(phones[0].not_ready().is_none());
    }
}
