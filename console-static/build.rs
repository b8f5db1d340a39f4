//! Embeds `assets/` into the crate: every file with its content type, an ETag (a hash of its
//! bytes) and a gzip copy made here, so the binary serves the console without a build step of
//! its own and without compressing at run time. Rebuilt when any asset changes.

use std::fmt::Write as _;
use std::hash::{Hash, Hasher};
use std::io::Write as _;
use std::path::{Path, PathBuf};

fn main() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("assets");
    let out = PathBuf::from(std::env::var("OUT_DIR").expect("cargo sets OUT_DIR"));
    println!("cargo:rerun-if-changed={}", root.display());
    let mut files = Vec::new();
    collect(&root, &root, &mut files);
    files.sort();
    let mut table = String::from("pub static FILES: &[StaticFile] = &[\n");
    for (index, (path, full)) in files.iter().enumerate() {
        println!("cargo:rerun-if-changed={}", full.display());
        let bytes = std::fs::read(full).expect("an asset is readable");
        let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
        encoder.write_all(&bytes).expect("compressing in memory");
        let gzip = encoder.finish().expect("compressing in memory");
        let gzip_path = out.join(format!("asset-{index}.gz"));
        std::fs::write(&gzip_path, &gzip).expect("OUT_DIR is writable");
        let mut hasher = std::collections::hash_map::DefaultHasher::new();
        bytes.hash(&mut hasher);
        let _ = writeln!(
            table,
            "    StaticFile {{ path: {path:?}, content_type: {:?}, etag: \"\\\"{:016x}\\\"\", \
             bytes: include_bytes!({:?}), gzip: include_bytes!({:?}) }},",
            content_type(path),
            hasher.finish(),
            full.display().to_string(),
            gzip_path.display().to_string(),
        );
    }
    table.push_str("];\n");
    std::fs::write(out.join("files.rs"), table).expect("OUT_DIR is writable");
}

fn collect(root: &Path, dir: &Path, files: &mut Vec<(String, PathBuf)>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            collect(root, &path, files);
        } else if let Ok(relative) = path.strip_prefix(root) {
            let name = relative.to_string_lossy().replace('\\', "/");
            files.push((format!("/{name}"), path));
        }
    }
}

/// Shared with `lib.rs` (which includes this file's function for the dev override).
fn content_type(path: &str) -> &'static str {
    include!("src/content_type.rs")
}
