//! Keyed pseudonyms for the analysts' tier: HMAC-SHA256 of an identifier under a key only the
//! operator holds (`--pseudonym-key FILE`, or the key itself in `SDU_PSEUDONYM_KEY`). The same
//! key gives the same pseudonym in every run, so analysts join across days and pilots; without
//! the key a pseudonym cannot be turned back into an IIN (a plain hash could: IINs are few
//! enough to try them all). The key is never written to any output or log.

use hmac::{Hmac, Mac};
use sha2::Sha256;
use std::path::{Path, PathBuf};

/// The environment variable that may hold the key itself.
pub const KEY_VARIABLE: &str = "SDU_PSEUDONYM_KEY";

/// A key is at least this long (bytes): HMAC's strength is the key's.
pub const MIN_KEY_BYTES: usize = 16;

#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    /// The file is not named: a key put where its file's name belongs would be shown.
    #[error("cannot read the pseudonym key file: {source}")]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("the pseudonym key is given twice (--pseudonym-key or SDU_PSEUDONYM_KEY_FILE, and {KEY_VARIABLE}); give one")]
    Twice,
    #[error("{from}: the pseudonym key has {bytes} bytes; at least {MIN_KEY_BYTES} are needed")]
    TooShort { from: String, bytes: usize },
}

/// Makes pseudonyms under one key.
#[derive(Clone)]
pub struct Pseudonymizer {
    key: Vec<u8>,
}

impl std::fmt::Debug for Pseudonymizer {
    /// Never the key.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Pseudonymizer(key withheld)")
    }
}

impl Pseudonymizer {
    /// A key's bytes (a final line end is not part of it), named `from` in errors.
    pub fn new(key: &[u8], from: &str) -> Result<Pseudonymizer, KeyError> {
        let key = key.strip_suffix(b"\n").unwrap_or(key);
        let key = key.strip_suffix(b"\r").unwrap_or(key);
        if key.len() < MIN_KEY_BYTES {
            return Err(KeyError::TooShort { from: from.to_string(), bytes: key.len() });
        }
        Ok(Pseudonymizer { key: key.to_vec() })
    }

    /// The key in a file.
    pub fn from_file(path: &Path) -> Result<Pseudonymizer, KeyError> {
        let bytes =
            std::fs::read(path).map_err(|source| KeyError::Read { path: path.to_path_buf(), source })?;
        Pseudonymizer::new(&bytes, &path.display().to_string())
    }

    /// The key from the file if one is named, else from [`KEY_VARIABLE`], else none.
    pub fn configured(file: Option<&Path>) -> Result<Option<Pseudonymizer>, KeyError> {
        let variable = std::env::var_os(KEY_VARIABLE).filter(|v| !v.is_empty());
        match (file, variable) {
            (Some(_), Some(_)) => Err(KeyError::Twice),
            (Some(path), None) => Pseudonymizer::from_file(path).map(Some),
            (None, Some(v)) => Pseudonymizer::new(v.as_encoded_bytes(), KEY_VARIABLE).map(Some),
            (None, None) => Ok(None),
        }
    }

    /// What tells keys apart without revealing them (16 hex digits of the HMAC of a fixed
    /// label): written in the analysts' tier's manifests, so one output folder never mixes
    /// two keys' pseudonyms.
    pub fn fingerprint(&self) -> String {
        self.of("sdu", "pseudonym key fingerprint")[..16].to_string()
    }

    /// The pseudonym of identifier `id` of kind `kind` (`iin`, `case`, `event`): 32 hex
    /// digits (128 bits) of HMAC-SHA256 over `kind:id`, so an IIN and a case id that happened
    /// to be equal would still differ.
    pub fn of(&self, kind: &str, id: &str) -> String {
        let mut mac = Hmac::<Sha256>::new_from_slice(&self.key).expect("HMAC takes a key of any length");
        mac.update(kind.as_bytes());
        mac.update(b":");
        mac.update(id.as_bytes());
        mac.finalize().into_bytes()[..16].iter().map(|b| format!("{b:02x}")).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 4231, test case 2 (HMAC-SHA256 with the key "Jefe"), checked through the crate the
    /// pseudonyms use, so a wrong construction cannot pass.
    #[test]
    fn hmac_is_the_standard_one() {
        let mut mac = Hmac::<Sha256>::new_from_slice(b"Jefe").unwrap();
        mac.update(b"what do ya want for nothing?");
        let hex: String = mac.finalize().into_bytes().iter().map(|b| format!("{b:02x}")).collect();
        assert_eq!(hex, "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
    }

    #[test]
    fn pseudonyms_are_stable_under_a_key_and_change_with_it() {
        let a = Pseudonymizer::new(b"0123456789abcdef-key-a\n", "test").unwrap();
        let a2 = Pseudonymizer::new(b"0123456789abcdef-key-a", "test").unwrap();
        let b = Pseudonymizer::new(b"0123456789abcdef-key-b", "test").unwrap();
        let iin = "820701400068";
        assert_eq!(a.of("iin", iin), a2.of("iin", iin), "a final line end is not part of the key");
        assert_ne!(a.of("iin", iin), b.of("iin", iin));
        assert_ne!(a.of("iin", iin), a.of("case", iin));
        assert_eq!(a.of("iin", iin).len(), 32);
        assert!(!format!("{a:?}").contains("key-a"));
        let short = Pseudonymizer::new(b"short", "SDU_PSEUDONYM_KEY").unwrap_err().to_string();
        assert!(short.contains("5 bytes") && !short.contains("short\""), "{short}");
    }
}
