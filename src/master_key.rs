//! The master key of encryption at rest and of the secrets the catalog stores
//! (sealed with it, so a copy of the data directory alone opens nothing):
//! where it comes from and the rules that keep it safe. It never lives inside the data directory (a stolen data
//! disk must not carry its own key), its file must be readable by its owner
//! only, and the first start with encryption on generates one beside the data
//! directory and says loudly to back it up.
//!
//! The key file holds one base64 key per line: the first is current (wraps
//! every new data key), the others are earlier keys kept to open older data
//! until the server's background re-wrap has moved it to the current key.
//! `maxiofs admin rotate-key` puts a fresh key first.

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
pub fn load(args: &ServerArgs, catalog: &Catalog) -> Result<MasterKey, String> {
    let source = KeySource {
        data_dir: &args.data_dir,
        master_key_file: args.master_key_file.as_deref(),
    };
    let recorded = catalog
        .setting(SETTING_MASTER_KEY_ID)
        .map_err(|err| err.to_string())?;
    // Every data directory has a key from its first start, whatever
    // --encryption says: it seals the stored secrets.
    let key = find(&source, recorded.is_none())?;
    match (&recorded, &key) {
        (Some(recorded), Some(key)) if !key.all().any(|k| k.id() == recorded) => Err(format!(
            "this data directory's objects are encrypted with master key {recorded}, but the \
             key given is {}: start with the original key",
            key.id()
        )),
        (Some(recorded), None) => Err(format!(
            "this data directory's objects are encrypted with master key {recorded}, and no \
             master key was found: restore {} or set {ENV_MASTER_KEY}",
            source.key_file_path().display()
        )),
        (recorded, Some(key)) if recorded.as_deref() != Some(key.id()) => {
            // First start, or the operator put a new key first by hand (an
            // earlier key in the ring is the recorded one): it is current now.
            catalog
                .set_setting(SETTING_MASTER_KEY_ID, key.id())
                .map_err(|err| err.to_string())?;
            Ok(key.clone())
        }
        (_, Some(key)) => Ok(key.clone()),
        (None, None) => unreachable!("find generates a key when none is recorded"),
    }
}

/// Where the master key may come from.
pub struct KeySource<'a> {
    pub data_dir: &'a Path,
    pub master_key_file: Option<&'a Path>,
}

impl KeySource<'_> {
    fn key_file_path(&self) -> PathBuf {
        match self.master_key_file {
            Some(path) => path.to_path_buf(),
            None => default_path(self.data_dir),
        }
    }
}

/// The key ring for offline tools (`check`): None when there is none.
pub fn find_existing(source: &KeySource<'_>) -> Result<Option<MasterKey>, String> {
    find(source, false)
}

/// Finds the key ring; when `generate` (encryption on, a data directory that
/// never had a key) and there is none, generates and writes one.
fn find(source: &KeySource<'_>, generate: bool) -> Result<Option<MasterKey>, String> {
    if let Ok(encoded) = std::env::var(ENV_MASTER_KEY) {
        return decode_ring(&encoded)
            .map(Some)
            .map_err(|why| format!("{ENV_MASTER_KEY}: {why}"));
    }
    let path = source.key_file_path();
    refuse_inside_data_dir(&path, source.data_dir)?;
    if path.exists() {
        return read_key_file(&path).map(Some);
    }
    if source.master_key_file.is_some() {
        return Err(format!("master key file {} does not exist", path.display()));
    }
    if !generate {
        return Ok(None);
    }
    let key = MasterKey::generate();
    write_key_file(&path, &key)?;
    eprintln!(
        "\n  Generated the master key (it encrypts objects at rest and seals the stored\n  \
         secrets): {}\n  BACK IT UP NOW, separately from the data directory. Without it,\n  \
         no encrypted object can ever be read again and the server does not start.\n",
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

/// Keys separated by newlines, commas or spaces, current first; `#` starts a
/// comment line.
fn decode_ring(text: &str) -> Result<MasterKey, String> {
    let mut keys = text
        .lines()
        .filter(|line| !line.trim_start().starts_with('#'))
        .flat_map(|line| line.split([',', ' ', '\t']))
        .filter(|field| !field.trim().is_empty())
        .map(decode);
    let current = keys.next().ok_or_else(|| "no key".to_owned())??;
    let previous = keys.collect::<Result<Vec<_>, _>>()?;
    Ok(current.with_previous(previous))
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
    decode_ring(&text).map_err(|why| format!("master key file {}: {why}", path.display()))
}

/// Writes the ring (current key first) to a new file at `path`.
fn write_key_file(path: &Path, key: &MasterKey) -> Result<(), String> {
    let mut text = String::new();
    for key in key.all() {
        text.push_str(&base64::engine::general_purpose::STANDARD.encode(key.bytes()));
        text.push('\n');
    }
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
        .map_err(|err| format!("creating {}: {err}", path.display()))?;
    file.write_all(text.as_bytes())
        .and_then(|()| file.sync_all())
        .map_err(|err| format!("writing {}: {err}", path.display()))
}

/// `maxiofs admin rotate-key`: a fresh master key becomes current; the
/// earlier ones stay in the key file (the server re-wraps their data keys in
/// the background, then logs that they are no longer needed). Runs with the
/// server stopped (it takes the data directory's lock).
pub fn rotate(source: &KeySource<'_>, catalog: &Catalog) -> Result<MasterKey, String> {
    if std::env::var(ENV_MASTER_KEY).is_ok() {
        return Err(format!(
            "the key comes from {ENV_MASTER_KEY}: rotate it there (new key first, then the \
             earlier ones, comma separated)"
        ));
    }
    let path = source.key_file_path();
    refuse_inside_data_dir(&path, source.data_dir)?;
    let recorded = catalog
        .setting(SETTING_MASTER_KEY_ID)
        .map_err(|err| err.to_string())?
        .ok_or_else(|| "this data directory has never used a master key".to_owned())?;
    if !path.exists() {
        return Err(format!("master key file {} does not exist", path.display()));
    }
    let ring = read_key_file(&path)?;
    if ring.id() != recorded {
        return Err(format!(
            "the key file's current key is {}, the data directory's is {recorded}",
            ring.id()
        ));
    }
    let earlier: Vec<MasterKey> = ring.all().cloned().collect();
    let rotated = MasterKey::generate().with_previous(earlier);
    // Written beside, then renamed over: a crash leaves the old or the new
    // file, never half of one.
    let staged = path.with_extension("key.new");
    let _ = std::fs::remove_file(&staged);
    write_key_file(&staged, &rotated)?;
    std::fs::rename(&staged, &path)
        .map_err(|err| format!("replacing {}: {err}", path.display()))?;
    if let Some(dir) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::File::open(dir)
            .and_then(|d| d.sync_all())
            .map_err(|err| format!("{}: {err}", dir.display()))?;
    }
    catalog
        .set_setting(SETTING_MASTER_KEY_ID, rotated.id())
        .map_err(|err| err.to_string())?;
    Ok(rotated)
}

/// Where the key file is, for messages.
pub fn key_file_display(source: &KeySource<'_>) -> String {
    source.key_file_path().display().to_string()
}
