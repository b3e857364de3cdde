//! Build script: on Windows, embeds the app icon and version information in lifeboat.exe
//! (what Explorer and the task bar show); on every other OS it does nothing.

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    #[cfg(windows)]
    embed_windows_resources();
}

#[cfg(windows)]
fn embed_windows_resources() {
    println!("cargo:rerun-if-changed=assets/icons/lifeboat.ico");
    let mut resources = winresource::WindowsResource::new();
    resources
        .set_icon("assets/icons/lifeboat.ico")
        .set("ProductName", "Lifeboat")
        .set(
            "FileDescription",
            "Lifeboat: back up contacts, calendars, to-dos and photos",
        )
        .set("CompanyName", "The Lifeboat developers")
        .set(
            "LegalCopyright",
            "The Lifeboat developers; MIT or Apache-2.0",
        );
    if let Err(error) = resources.compile() {
        panic!("could not embed the Windows icon and version info: {error}");
    }
}
