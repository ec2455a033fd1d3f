//! Build script: on Windows the executables carry the app icon and version
//! information (Explorer, the taskbar and file properties show them).

fn main() {
    println!("cargo::rerun-if-changed=assets/icon.ico");
    if std::env::var("CARGO_CFG_TARGET_OS").as_deref() != Ok("windows") {
        return;
    }
    let mut resource = winresource::WindowsResource::new();
    resource
        .set_icon("assets/icon.ico")
        .set("ProductName", "stemzip")
        .set("FileDescription", "stemzip: zip files by stem, in parallel")
        .set("LegalCopyright", "MIT licence");
    if let Err(e) = resource.compile() {
        // Without windres (binutils-mingw-w64 when cross-compiling) the
        // exe would build without its icon: say so and stop.
        eprintln!("cannot compile the Windows resources (icon, version): {e}");
        std::process::exit(1);
    }
}
