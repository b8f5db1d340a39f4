//! The configuration file: one TOML table of server settings, each named as
//! its flag with `_` for `-` (`data_dir`, `listen`, `metrics_token`), read from
//! `--config PATH`, `MAXIOFS_CONFIG`, or `/etc/maxiofs/maxiofs.toml` when it
//! exists.
//!
//! One precedence, flag > environment > file > default, comes from applying
//! the file underneath the environment: before the command line is parsed,
//! each setting of the file becomes its `MAXIOFS_*` variable unless that is
//! already set, and clap then applies flags over variables over defaults.
//! A key no setting has is an error naming the key and its line.
//! `maxiofs config check` prints the effective settings, secrets masked.

use std::collections::BTreeMap;
use std::ffi::OsString;
use std::path::PathBuf;

/// Read when no `--config` or `MAXIOFS_CONFIG` names a file and it exists.
pub const DEFAULT_CONFIG_PATH: &str = "/etc/maxiofs/maxiofs.toml";
const ENV_CONFIG: &str = "MAXIOFS_CONFIG";
/// A configuration file larger than this is refused (it is a few KiB).
const CONFIG_BYTES_MAX: u64 = 1 << 20;
/// Settings read by the server outside its flags, allowed in the file too.
const EXTRA_SETTINGS: [(&str, &str); 3] = [
    ("root_secret_key", "MAXIOFS_ROOT_SECRET_KEY"),
    ("log", "MAXIOFS_LOG"),
    ("log_format", "MAXIOFS_LOG_FORMAT"),
];

/// What the file set: the environment variables it supplied (those the
/// environment did not set already), → (file key, value).
#[derive(Debug, Default, Clone)]
pub struct Applied {
    pub path: Option<PathBuf>,
    pub settings: BTreeMap<String, (String, String)>,
}

/// The file to read: `--config PATH` / `--config=PATH` on the command line,
/// else `MAXIOFS_CONFIG`, else the default path when it exists. The flag is
/// found by a scan because the file must be applied before clap parses.
fn config_path(args: &[OsString]) -> Option<(PathBuf, bool)> {
    let mut iter = args.iter();
    while let Some(arg) = iter.next() {
        let arg = arg.to_string_lossy();
        if arg == "--config" {
            return iter.next().map(|path| (PathBuf::from(path), true));
        }
        if let Some(path) = arg.strip_prefix("--config=") {
            return Some((PathBuf::from(path), true));
        }
    }
    if let Some(path) = std::env::var_os(ENV_CONFIG) {
        return Some((PathBuf::from(path), true));
    }
    let default = PathBuf::from(DEFAULT_CONFIG_PATH);
    default.exists().then_some((default, false))
}

/// The 1-based line of byte `offset` in `text`.
fn line_of(text: &str, offset: usize) -> usize {
    text[..offset.min(text.len())].matches('\n').count() + 1
}

/// Parses `text` (from `path`, for messages) against the known settings
/// (file key → environment variable).
pub fn parse(
    text: &str,
    path: &str,
    known: &BTreeMap<String, String>,
) -> Result<BTreeMap<String, (String, String)>, String> {
    let document = text
        .parse::<toml_edit::ImDocument<String>>()
        .map_err(|err| format!("{path}: {err}"))?;
    let mut out = BTreeMap::new();
    for (key, item) in document.as_table().iter() {
        let line = document
            .as_table()
            .key(key)
            .and_then(|k| k.span())
            .map(|span| line_of(text, span.start))
            .unwrap_or(0);
        let Some(env) = known.get(key) else {
            return Err(format!(
                "{path}:{line}: unknown setting `{key}` (settings are the server's flags \
                 with `_` for `-`, e.g. `data_dir`; see `maxiofs server --help`)"
            ));
        };
        let value = match item.as_value() {
            Some(toml_edit::Value::String(s)) => s.value().clone(),
            Some(toml_edit::Value::Integer(i)) => i.value().to_string(),
            Some(toml_edit::Value::Boolean(b)) => b.value().to_string(),
            Some(toml_edit::Value::Float(f)) => f.value().to_string(),
            _ => {
                return Err(format!(
                    "{path}:{line}: `{key}` must be a string, a number or a boolean"
                ))
            }
        };
        out.insert(env.clone(), (key.to_string(), value));
    }
    Ok(out)
}

/// Reads the configuration file, if any, and sets the variables of its
/// settings that the environment does not set already.
pub fn apply(
    args: &[OsString],
    flag_envs: impl Iterator<Item = (String, String)>,
) -> Result<Applied, String> {
    let Some((path, _explicit)) = config_path(args) else {
        return Ok(Applied::default());
    };
    let shown = path.display().to_string();
    let meta = std::fs::metadata(&path).map_err(|err| format!("{shown}: {err}"))?;
    if meta.len() > CONFIG_BYTES_MAX {
        return Err(format!("{shown}: larger than 1 MiB"));
    }
    let text = std::fs::read_to_string(&path).map_err(|err| format!("{shown}: {err}"))?;
    let mut known: BTreeMap<String, String> = flag_envs.collect();
    for (key, env) in EXTRA_SETTINGS {
        known.insert(key.to_owned(), env.to_owned());
    }
    let mut settings = parse(&text, &shown, &known)?;
    settings.retain(|env, _| std::env::var_os(env).is_none());
    for (env, (_, value)) in &settings {
        std::env::set_var(env, value);
    }
    Ok(Applied {
        path: Some(path),
        settings,
    })
}

/// The filter the logs should use after a SIGHUP: the configuration file's
/// `log` as it reads now (`info` when it has none), unless `MAXIOFS_LOG` came
/// from the environment, which wins over the file.
pub fn reloaded_log_filter(applied: &Applied) -> Result<String, String> {
    const ENV_LOG: &str = "MAXIOFS_LOG";
    let from_environment =
        std::env::var_os(ENV_LOG).is_some() && !applied.settings.contains_key(ENV_LOG);
    if from_environment {
        return std::env::var(ENV_LOG).map_err(|err| err.to_string());
    }
    Ok(file_setting_now(applied, "log")?.unwrap_or_else(|| "info".to_owned()))
}

/// What a reload does with one setting.
#[derive(Debug, PartialEq, Eq)]
pub enum Reloaded {
    /// The command line or the environment set it: it keeps its value.
    Keep,
    /// The file sets it to this.
    Value(String),
    /// The file no longer sets it: back to the default.
    Default,
}

/// The value setting `key` should have after a SIGHUP, by the precedence of
/// the start: flag > environment > file > default.
pub fn reloaded_setting(
    applied: &Applied,
    key: &str,
    on_command_line: bool,
) -> Result<Reloaded, String> {
    let env = format!("MAXIOFS_{}", key.to_uppercase());
    let from_environment = std::env::var_os(&env).is_some() && !applied.settings.contains_key(&env);
    if on_command_line || from_environment || applied.path.is_none() {
        return Ok(Reloaded::Keep);
    }
    Ok(match file_setting_now(applied, key)? {
        Some(value) => Reloaded::Value(value),
        None => Reloaded::Default,
    })
}

/// Setting `key` of the configuration file as it reads now, as text.
fn file_setting_now(applied: &Applied, key: &str) -> Result<Option<String>, String> {
    let Some(path) = &applied.path else {
        return Ok(None);
    };
    let shown = path.display().to_string();
    let text = std::fs::read_to_string(path).map_err(|err| format!("{shown}: {err}"))?;
    let document = text
        .parse::<toml_edit::ImDocument<String>>()
        .map_err(|err| format!("{shown}: {err}"))?;
    match document
        .as_table()
        .get(key)
        .and_then(|item| item.as_value())
    {
        None => Ok(None),
        Some(toml_edit::Value::String(s)) => Ok(Some(s.value().clone())),
        Some(toml_edit::Value::Integer(i)) => Ok(Some(i.value().to_string())),
        Some(toml_edit::Value::Boolean(b)) => Ok(Some(b.value().to_string())),
        Some(_) => Err(format!(
            "{shown}: `{key}` must be a string, a number or a boolean"
        )),
    }
}

/// Whether a setting holds a secret (`config check` masks its value).
pub fn is_secret(key: &str) -> bool {
    key.contains("token") || (key.contains("secret") && !key.ends_with("_file"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn known() -> BTreeMap<String, String> {
        [
            ("data_dir", "MAXIOFS_DATA_DIR"),
            ("shards", "MAXIOFS_SHARDS"),
        ]
        .into_iter()
        .map(|(k, e)| (k.to_owned(), e.to_owned()))
        .collect()
    }

    #[test]
    fn settings_become_variables_and_unknown_keys_name_their_line() {
        let parsed = parse(
            "# storage\ndata_dir = \"/srv/data\"\nshards = 4\n",
            "f",
            &known(),
        )
        .unwrap();
        assert_eq!(
            parsed["MAXIOFS_DATA_DIR"],
            ("data_dir".into(), "/srv/data".into())
        );
        assert_eq!(parsed["MAXIOFS_SHARDS"].1, "4");
        let err = parse("shards = 4\n\ndata_dri = \"x\"\n", "f", &known()).unwrap_err();
        assert!(err.starts_with("f:3: unknown setting `data_dri`"), "{err}");
        let err = parse("shards = [1, 2]\n", "f", &known()).unwrap_err();
        assert!(err.contains("f:1: `shards` must be"), "{err}");
        assert!(parse("shards = \n", "f", &known()).is_err());
    }

    #[test]
    fn secrets_are_recognised() {
        assert!(is_secret("metrics_token"));
        assert!(is_secret("root_secret_key"));
        assert!(!is_secret("root_secret_key_file"));
        assert!(!is_secret("data_dir"));
    }
}
