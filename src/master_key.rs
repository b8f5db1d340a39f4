//! The master key of encryption at rest: where it comes from and the rules
//! that keep it safe. It never lives inside the data directory (a stolen data
//! disk must not carry its own key), its file must be readable by its owner
//! only, and the first start with encryption on generates one beside the data
//! directory and says loudly to back it up.

use std::io::Write;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use base64::Engine as _;
use cluster::catalog::Catalog;
use engine::crypto::{MasterKey, MASTER_KEY_BYTES};

use crate::ServerArgs;

/// The default key file's name, beside the data directory.
const DEFAULT_KEY_FILE: &str = "maxiofs-master.key";
const ENV_MASTER_KEY: &str = "MAXIOFS_MASTER_KEY";
/// Catalog setting: the id of the master key this data directory uses.
const SETTING_MASTER_KEY_ID: &str = "master_key_id";

/// The master key to use, if any: `MAXIOFS_MASTER_KEY`, else `--master-key-file`,
/// else the default file (generated when encryption is on and it is missing).
/// The catalog records the id of the key the data directory was first served
/// with: a start with another key, or without it, is refused rather than
/// silently writing new data under a key the old data cannot be read with.
pub fn load(args: &ServerArgs, catalog: &Catalog) -> Result<Option<MasterKey>, String> {
    let recorded = catalog
        .setting(SETTING_MASTER_KEY_ID)
        .map_err(|err| err.to_string())?;
    let key = find(args, recorded.is_some())?;
    match (&recorded, &key) {
        (Some(recorded), Some(key)) if recorded != key.id() => Err(format!(
            "this data directory's objects are encrypted with master key {recorded}, but the \
             key given is {}: start with the original key",
            key.id()
        )),
        (Some(recorded), None) => Err(format!(
            "this data directory's objects are encrypted with master key {recorded}, and no \
             master key was found: restore {} or set {ENV_MASTER_KEY}",
            key_file_path(args).display()
        )),
        (None, Some(key)) => {
            catalog
                .set_setting(SETTING_MASTER_KEY_ID, key.id())
                .map_err(|err| err.to_string())?;
            Ok(Some(key.clone()))
        }
        _ => Ok(key),
    }
}

fn key_file_path(args: &ServerArgs) -> PathBuf {
    match &args.master_key_file {
        Some(path) => path.clone(),
        None => default_path(&args.data_dir),
    }
}

/// Finds (or, for a data directory that never had one, generates) the key.
fn find(args: &ServerArgs, data_dir_has_key: bool) -> Result<Option<MasterKey>, String> {
    if let Ok(encoded) = std::env::var(ENV_MASTER_KEY) {
        return decode(&encoded)
            .map(Some)
            .map_err(|why| format!("{ENV_MASTER_KEY}: {why}"));
    }
    let encrypt_new = args.encryption == "on";
    let path = key_file_path(args);
    refuse_inside_data_dir(&path, &args.data_dir)?;
    if path.exists() {
        return read_key_file(&path).map(Some);
    }
    if args.master_key_file.is_some() {
        return Err(format!("master key file {} does not exist", path.display()));
    }
    if !encrypt_new || data_dir_has_key {
        return Ok(None);
    }
    let key = MasterKey::generate();
    write_key_file(&path, &key)?;
    eprintln!(
        "\n  Generated the master key for encryption at rest: {}\n  \
         BACK IT UP NOW, separately from the data directory. Without it, no encrypted\n  \
         object can ever be read again.\n",
        path.display()
    );
    Ok(Some(key))
}

fn default_path(data_dir: &Path) -> PathBuf {
    let parent = data_dir.parent().filter(|p| !p.as_os_str().is_empty());
    parent.unwrap_or(Path::new(".")).join(DEFAULT_KEY_FILE)
}

fn refuse_inside_data_dir(path: &Path, data_dir: &Path) -> Result<(), String> {
    let absolute =
        |p: &Path| std::path::absolute(p).map_err(|err| format!("{}: {err}", p.display()));
    let (key, data) = (absolute(path)?, absolute(data_dir)?);
    if key.starts_with(&data) {
        return Err(format!(
            "the master key file {} is inside the data directory {}: keep it elsewhere",
            path.display(),
            data_dir.display()
        ));
    }
    Ok(())
}

fn decode(encoded: &str) -> Result<MasterKey, String> {
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(encoded.trim())
        .map_err(|_| "not base64".to_owned())?;
    let key: [u8; MASTER_KEY_BYTES] = bytes
        .try_into()
        .map_err(|_| format!("a master key is {MASTER_KEY_BYTES} bytes"))?;
    Ok(MasterKey::new(key))
}

fn read_key_file(path: &Path) -> Result<MasterKey, String> {
    let metadata = std::fs::metadata(path).map_err(|err| format!("{}: {err}", path.display()))?;
    if metadata.permissions().mode() & 0o077 != 0 {
        return Err(format!(
            "master key file {} is readable by others: chmod 600 it",
            path.display()
        ));
    }
    let text = std::fs::read_to_string(path).map_err(|err| format!("{}: {err}", path.display()))?;
    decode(&text).map_err(|why| format!("master key file {}: {why}", path.display()))
}

fn write_key_file(path: &Path, key: &MasterKey) -> Result<(), String> {
    let encoded = base64::engine::general_purpose::STANDARD.encode(key.bytes());
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
        .map_err(|err| format!("creating {}: {err}", path.display()))?;
    file.write_all(format!("{encoded}\n").as_bytes())
        .and_then(|()| file.sync_all())
        .map_err(|err| format!("writing {}: {err}", path.display()))
}
