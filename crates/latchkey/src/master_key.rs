//! Finding the key-encryption key: `LATCHKEY_MASTER_KEY`, or on SQLite a `0600` file
//! beside the database, generated on first use with a warning.

use std::io::Write as _;
use std::path::{Path, PathBuf};

use anyhow::{Context as _, bail};
use latchkey_core::secret::MasterKey;

/// Where the master key came from.
#[derive(Debug)]
pub enum MasterKeySource {
    /// The environment variable.
    Environment,
    /// An existing key file.
    File(PathBuf),
    /// A key file written just now.
    Generated(PathBuf),
    /// An in-memory database: a throwaway key.
    Ephemeral,
}

/// The master key for the database at `database_url`.
pub fn load(database_url: &str) -> anyhow::Result<(MasterKey, MasterKeySource)> {
    if let Ok(text) = std::env::var("LATCHKEY_MASTER_KEY") {
        let key = MasterKey::from_base64(&text).context("LATCHKEY_MASTER_KEY")?;
        return Ok((key, MasterKeySource::Environment));
    }
    if !database_url.starts_with("sqlite:") {
        bail!(
            "LATCHKEY_MASTER_KEY is required with this database (32 random bytes, base64: `head -c 32 /dev/urandom | base64`)"
        );
    }
    let Some(db_path) = latchkey_store::sqlite::database_path(database_url)? else {
        return Ok((MasterKey::generate(), MasterKeySource::Ephemeral));
    };
    let path = key_file_for(&db_path);
    match std::fs::read_to_string(&path) {
        Ok(text) => {
            let key = MasterKey::from_base64(&text)
                .with_context(|| format!("master key file {}", path.display()))?;
            Ok((key, MasterKeySource::File(path)))
        }
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => {
            let key = MasterKey::generate();
            write_new(&path, &key)?;
            Ok((key, MasterKeySource::Generated(path)))
        }
        Err(error) => Err(error).with_context(|| format!("cannot read master key file {}", path.display())),
    }
}

/// `latchkey.db` → `latchkey.db.key`.
pub fn key_file_for(db_path: &Path) -> PathBuf {
    let mut name = db_path.as_os_str().to_owned();
    name.push(".key");
    PathBuf::from(name)
}

fn write_new(path: &Path, key: &MasterKey) -> anyhow::Result<()> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt as _;
        options.mode(0o600);
    }
    let mut file = options
        .open(path)
        .with_context(|| format!("cannot create master key file {}", path.display()))?;
    writeln!(file, "{}", key.to_base64()).with_context(|| format!("cannot write {}", path.display()))?;
    Ok(())
}

/// Removes a key file generated in this run (used when it turns out the database already
/// had keys sealed under another master key).
pub fn discard_generated(source: &MasterKeySource) {
    if let MasterKeySource::Generated(path) = source {
        let _ = std::fs::remove_file(path);
    }
}
