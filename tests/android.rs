//! An Android phone over USB, proven against the real adb server and a simulated phone that
//! speaks the device side of the adb protocol (`support::phone`): finding it, naming it by
//! model, running the phone's `content` tool, and the states people meet (no phone, not
//! allowed yet, several phones, unplugged).
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::sync::Arc;

use lifeboat::error::ErrorKind;
use lifeboat::source::android::{AdbServer, PhoneState, choose, parse_devices, sync};
use support::phone::{AdbServerProcess, PhoneFile, PhoneSpec, SimulatedPhone};

fn phone(model: &str, allowed: bool) -> SimulatedPhone {
    SimulatedPhone::start(PhoneSpec {
        allowed,
        ..PhoneSpec::new(
            model,
            Arc::new(|command: &str| format!("Row: 0 command={command}\n").into_bytes().into()),
        )
    })
}

#[tokio::test]
async fn an_old_phone_unplugged_mid_answer_is_an_error_not_a_shorter_answer() {
    let Some(adb) = AdbServerProcess::start() else {
        return;
    };
    let server = AdbServer { port: adb.port };
    // Android 6 and older: no shell protocol v2, so the answer ends only with the connection.
    let old = SimulatedPhone::start(PhoneSpec {
        shell_v2: false,
        unplug_at: Some("content query".to_owned()),
        ..PhoneSpec::new(
            "Nexus 5",
            Arc::new(|_: &str| "Row: 0 _id=1\nRow: 1 _id=2\n".as_bytes().to_vec().into()),
        )
    });
    adb.connect(&old, "device");
    assert!(!server.has_shell_v2(&old.serial()).await.unwrap());
    let cut = server
        .shell(
            &old.serial(),
            "content query --uri content://com.android.contacts/data",
        )
        .await;
    assert_eq!(
        cut.as_ref().map_err(lifeboat::Error::kind),
        Err(ErrorKind::PhoneNotReady),
        "{cut:?}"
    );
}

#[tokio::test]
async fn a_video_of_5_gib_is_listed_whole_by_phones_that_list_with_version_2() {
    let Some(adb) = AdbServerProcess::start() else {
        return;
    };
    let server = AdbServer { port: adb.port };
    let block = vec![7u8; 1024 * 1024];
    let video = PhoneFile {
        repeat: 5 * 1024,
        ..PhoneFile::new(block, 1_796_212_800)
    };
    let files = [
        ("/sdcard/DCIM/Camera/VID_long.mp4".to_owned(), video),
        (
            "/sdcard/DCIM/Camera/IMG_1.jpg".to_owned(),
            PhoneFile::new(vec![1u8; 1000], 1_796_212_900),
        ),
    ];
    let pixel = SimulatedPhone::start(PhoneSpec {
        files: Arc::new(files.into_iter().collect()),
        ..PhoneSpec::new("Pixel 7", Arc::new(|_: &str| Vec::new().into()))
    });
    adb.connect(&pixel, "device");
    let cancel = lifeboat::progress::CancelToken::default();
    let sizes = |ls_v2: bool| {
        let (server, serial, cancel) = (&server, pixel.serial(), &cancel);
        async move {
            let (files, _) = sync::walk(server, &serial, &["/sdcard/DCIM"], ls_v2, cancel)
                .await
                .unwrap();
            files
                .iter()
                .map(|f| {
                    (
                        f.path.rsplit('/').next().unwrap().to_owned(),
                        f.size,
                        f.modified,
                    )
                })
                .collect::<Vec<_>>()
        }
    };
    let five_gib = 5 * 1024 * 1024 * 1024_u64;
    assert_eq!(
        sizes(true).await,
        [
            ("IMG_1.jpg".to_owned(), 1000, 1_796_212_900),
            ("VID_long.mp4".to_owned(), five_gib, 1_796_212_800)
        ]
    );
    // Version 1 has 32 bits for a size: 5 GiB reads as 1 GiB.
    assert_eq!(sizes(false).await[1].1, five_gib % (1 << 32));
}

#[tokio::test]
async fn a_phone_is_found_by_model_and_its_shell_answers() {
    let Some(adb) = AdbServerProcess::start() else {
        return;
    };
    let server = AdbServer { port: adb.port };
    // No phone yet: a clear error that says what to do.
    let error = choose(&server, None).await.unwrap_err();
    assert_eq!(error.kind(), ErrorKind::PhoneNotReady);
    assert!(
        error.to_string().contains("no phone is connected"),
        "{error}"
    );

    let pixel = phone("Pixel 7", true);
    adb.connect(&pixel, "device");
    let found = choose(&server, None).await.unwrap();
    assert_eq!(found.serial, pixel.serial());
    assert_eq!(found.state, PhoneState::Ready);
    assert_eq!(found.name(), "Pixel 7");
    // The phone offers the shell protocol v2, as every Android since 7 does, so a cut-off
    // answer is told apart from a whole one by its exit status.
    assert!(server.has_shell_v2(&found.serial).await.unwrap());
    // The server passes the phone's features on, version 2 of the file service among them.
    let features = server.features(&found.serial).await.unwrap();
    assert!(features.iter().any(|f| f == "ls_v2"), "{features:?}");
    let said = server
        .shell(
            &found.serial,
            "content query --uri content://com.android.contacts/data",
        )
        .await
        .unwrap();
    assert_eq!(
        String::from_utf8(said).unwrap(),
        "Row: 0 command=content query --uri content://com.android.contacts/data\n"
    );

    // A second phone: without a serial, the choice is the person's.
    let second = phone("moto g", true);
    adb.connect(&second, "device");
    let error = choose(&server, None).await.unwrap_err();
    assert!(
        error.to_string().contains("2 phones are connected")
            && error.to_string().contains("Pixel 7")
            && error.to_string().contains("moto g"),
        "{error}"
    );
    assert_eq!(
        choose(&server, Some(&second.serial()))
            .await
            .unwrap()
            .name(),
        "moto g"
    );

    // Unplugged: gone from the list, and asking for it by serial says so.
    adb.disconnect(&second);
    let error = choose(&server, Some(&second.serial())).await.unwrap_err();
    assert_eq!(error.kind(), ErrorKind::PhoneNotReady);
    assert!(
        error.to_string().contains("no phone with the serial"),
        "{error}"
    );
}

#[tokio::test]
async fn a_phone_that_has_not_allowed_this_computer_says_how_to_allow_it() {
    let Some(adb) = AdbServerProcess::start() else {
        return;
    };
    let server = AdbServer { port: adb.port };
    let locked = phone("Pixel 7", false);
    adb.connect(&locked, "unauthorized");
    let listed = parse_devices(&server.devices().await.unwrap());
    assert_eq!(listed[0].state, PhoneState::Unauthorized);
    let error = choose(&server, None).await.unwrap_err();
    assert_eq!(error.kind(), ErrorKind::PhoneNotReady);
    assert!(
        error.to_string().contains("unlock the phone and tap Allow"),
        "{error}"
    );
    assert!(error.hint().unwrap().contains("USB debugging"));
}

#[tokio::test]
async fn content_query_reads_the_rows_the_phone_prints() {
    let Some(adb) = AdbServerProcess::start() else {
        return;
    };
    let server = AdbServer { port: adb.port };
    // The phone answers exactly the command Lifeboat sends, as Android's `content` prints.
    let pixel = SimulatedPhone::start(PhoneSpec::new(
        "Pixel 7",
        Arc::new(|command: &str| {
            let expected = "content query --uri 'content://com.android.contacts/data' \
                --projection '_id:display_name:data1'";
            if command == expected {
                "Row: 0 _id=1, display_name=Zoë Ñandú, data1=Note, with a comma\nand a line\n\
                 Row: 1 _id=2, display_name=Bo, data1=NULL\n"
                    .as_bytes()
                    .to_vec()
            } else {
                format!("/system/bin/sh: unexpected: {command}\n").into_bytes()
            }
            .into()
        }),
    ));
    adb.connect(&pixel, "device");
    let rows = lifeboat::source::android::content::query(
        &server,
        &pixel.serial(),
        "content://com.android.contacts/data",
        &["_id", "display_name", "data1"],
    )
    .await
    .unwrap();
    assert_eq!(
        rows,
        vec![
            vec![
                Some("1".to_owned()),
                Some("Zoë Ñandú".to_owned()),
                Some("Note, with a comma\nand a line".to_owned())
            ],
            vec![Some("2".to_owned()), Some("Bo".to_owned()), None],
        ]
    );
}
