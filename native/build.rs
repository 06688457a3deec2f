//! Records a digest of the crate's sources in the library (`cleaner._native.SOURCE_DIGEST`),
//! so that a Python checkout can tell whether the extension it loads was built from its own
//! `native/` (see `cleaner.native.load`): BLAKE2b-128 over `Cargo.toml` and every
//! `src/*.rs`, in name order, each as `path \0 bytes \0`.

use std::fs;
use std::path::Path;

use blake2::digest::consts::U16;
use blake2::{Blake2b, Digest};

fn main() {
    // read at run time: `env!` would bake in the directory the build script was compiled
    // in, and a target folder copied to another checkout would digest the first one's sources
    let dir = std::env::var("CARGO_MANIFEST_DIR").expect("cargo sets CARGO_MANIFEST_DIR");
    let root = Path::new(&dir);
    let mut files: Vec<String> = vec!["Cargo.toml".into()];
    let mut sources: Vec<String> = fs::read_dir(root.join("src"))
        .expect("src/ is readable")
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".rs"))
        .map(|n| format!("src/{n}"))
        .collect();
    sources.sort();
    files.extend(sources);
    let mut h = Blake2b::<U16>::new();
    for f in &files {
        h.update(f.as_bytes());
        h.update([0u8]);
        h.update(fs::read(root.join(f)).expect("source file is readable"));
        h.update([0u8]);
        println!("cargo:rerun-if-changed={f}");
    }
    println!("cargo:rerun-if-changed=src");
    let hex: String = h.finalize().iter().map(|b| format!("{b:02x}")).collect();
    println!("cargo:rustc-env=CLEANER_NATIVE_DIGEST={hex}");
}
