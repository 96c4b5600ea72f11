//! Key material: one Fernet key, and the ordered keyring the wrapper seals and opens with.

use std::fmt;
use std::time::{SystemTime, UNIX_EPOCH};

use base64::Engine;
use base64::engine::general_purpose::{URL_SAFE, URL_SAFE_NO_PAD};
use key_value_core::{Error, ErrorKind, Result};
use sha2::Sha256;
use zeroize::Zeroizing;

use crate::envelope::Plaintext;
use crate::token::{self, Age, KeyBytes};

/// PBKDF2-HMAC-SHA256 rounds for password-derived keys, as py-key-value uses.
pub const KDF_ITERATIONS: u32 = 1_200_000;

/// The length of a Fernet key in bytes (16 for signing, 16 for encryption).
const KEY_BYTES: usize = 32;

/// One Fernet key: 32 random bytes (16 for signing, 16 for encryption).
///
/// Its text form, the one to store and share, is the 32 bytes in URL-safe base64 with
/// padding: 44 characters, as Python's `Fernet.generate_key()` writes it. Make a key
/// with [`FernetKey::generate`], load one with [`FernetKey::from_base64`] or derive one
/// with [`FernetKey::derive_from_password`]; export it with [`FernetKey::to_base64`].
///
/// ```
/// use key_value_fernet::FernetKey;
///
/// let key = FernetKey::generate()?;
/// let text = key.to_base64(); // keep it somewhere safe
/// assert_eq!(text.len(), 44);
/// let same = FernetKey::from_base64(&text)?;
/// assert_eq!(*same.to_base64(), *text);
/// # Ok::<(), key_value_core::Error>(())
/// ```
///
/// There is no `Display`, and `Debug` never shows the key. The key lives in this
/// struct's [`Zeroizing`] buffer, which zeroes itself when dropped; the text and bytes
/// this crate handles on the way (a key's text, a derived key, the HMAC's padded key
/// block) are held in [`Zeroizing`] buffers too, and the AES key schedules zero
/// themselves when dropped. One kind of copy is out of reach: the `hmac` crate's state
/// while a token is signed or checked (its hashed key pads, which sign as well as the
/// key does) is freed without zeroing.
#[derive(Clone)]
pub struct FernetKey {
    bytes: Zeroizing<KeyBytes>,
}

impl fmt::Debug for FernetKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("FernetKey(<redacted>)")
    }
}

impl FernetKey {
    /// A new random key from the operating system's random source.
    ///
    /// Keep its text form ([`FernetKey::to_base64`]) somewhere safe: values sealed with
    /// it can be opened only with it. The random source failing is an
    /// [`ErrorKind::Setup`] error.
    ///
    /// ```
    /// use key_value_fernet::{FernetKey, FernetWrapper};
    /// use key_value_memory::MemoryStore;
    ///
    /// let store = FernetWrapper::new(MemoryStore::new(), FernetKey::generate()?);
    /// # Ok::<(), key_value_core::Error>(())
    /// ```
    pub fn generate() -> Result<Self> {
        let mut bytes = Zeroizing::new([0u8; KEY_BYTES]);
        getrandom::getrandom(bytes.as_mut_slice()).map_err(|e| {
            Error::new(ErrorKind::Setup, "the system's random source failed").with_source(e)
        })?;
        Ok(FernetKey { bytes })
    }

    /// A key from its text form: 32 bytes in URL-safe base64 (44 characters with the
    /// `=` padding, which may be left out), as Python's `Fernet.generate_key()` and
    /// [`FernetKey::to_base64`] write it. Surrounding whitespace is ignored.
    ///
    /// Anything else is an [`ErrorKind::InvalidArgument`] error (which does not repeat
    /// the text).
    ///
    /// ```
    /// use key_value_fernet::FernetKey;
    ///
    /// let key = FernetKey::from_base64("cw_0x689RpI-jtRR7oE8h_eQsKImvJapLeSbXpwF4e4=")?;
    /// assert_eq!(format!("{key:?}"), "FernetKey(<redacted>)");
    /// assert!(FernetKey::from_base64("not a key").is_err());
    /// # Ok::<(), key_value_core::Error>(())
    /// ```
    pub fn from_base64(key: &str) -> Result<Self> {
        // As Python's `Fernet(key)` reads it: URL-safe alphabet (padding optional here).
        let decoded = Zeroizing::new(
            URL_SAFE_NO_PAD
                .decode(key.trim().trim_end_matches('='))
                .unwrap_or_default(),
        );
        if decoded.len() != KEY_BYTES {
            return Err(Error::new(
                ErrorKind::InvalidArgument,
                "a Fernet key is 32 bytes in URL-safe base64 (44 characters)",
            ));
        }
        let mut bytes = Zeroizing::new([0u8; KEY_BYTES]);
        bytes.copy_from_slice(&decoded);
        Ok(FernetKey { bytes })
    }

    /// The key's text form: its 32 bytes in URL-safe base64 with padding, 44
    /// characters, as Python's `Fernet.generate_key()` writes it. Python's
    /// `Fernet(key)`, py-key-value's `FernetEncryptionWrapper(fernet=...)` and
    /// [`FernetKey::from_base64`] load it.
    ///
    /// The text is a secret: it is returned in a [`Zeroizing`] buffer that zeroes
    /// itself when dropped.
    pub fn to_base64(&self) -> Zeroizing<String> {
        Zeroizing::new(URL_SAFE.encode(self.bytes.as_slice()))
    }

    /// The key py-key-value's `FernetEncryptionWrapper(source_material=..., salt=...)`
    /// derives: PBKDF2-HMAC-SHA256 over the UTF-8 `password` with the UTF-8 `salt`,
    /// [`KDF_ITERATIONS`] rounds, 32 bytes.
    ///
    /// Like py-key-value, there is no default salt: an empty or blank password or salt
    /// is an [`ErrorKind::InvalidArgument`] error. The derivation is deliberately slow
    /// (around a second); in async code, run it on a blocking thread.
    pub fn derive_from_password(password: &str, salt: &str) -> Result<Self> {
        if password.trim().is_empty() {
            return Err(Error::new(
                ErrorKind::InvalidArgument,
                "the password to derive a key from is empty",
            ));
        }
        if salt.trim().is_empty() {
            return Err(Error::new(
                ErrorKind::InvalidArgument,
                "a password-derived key needs a non-empty salt",
            ));
        }
        let mut derived = Zeroizing::new([0u8; KEY_BYTES]);
        pbkdf2::pbkdf2_hmac::<Sha256>(
            password.as_bytes(),
            salt.as_bytes(),
            KDF_ITERATIONS,
            derived.as_mut_slice(),
        );
        Ok(FernetKey { bytes: derived })
    }
}

/// The keys a wrapper uses, newest first: values are sealed with the newest key and
/// opened with whichever key fits, so keys can be rotated without rewriting everything
/// at once (see [`FernetWrapper::reencrypt_collection`](crate::FernetWrapper::reencrypt_collection)).
///
/// A single [`FernetKey`] converts into a keyring. `Debug` shows only how many keys
/// there are.
///
/// ```
/// use key_value_fernet::{FernetKey, Keyring};
///
/// let newest = FernetKey::generate()?;
/// let older = FernetKey::generate()?;
/// let keyring = Keyring::new([newest, older])?;
/// assert_eq!(keyring.len(), 2);
/// assert!(Keyring::new([]).is_err());
/// # Ok::<(), key_value_core::Error>(())
/// ```
#[derive(Clone)]
pub struct Keyring {
    newest: FernetKey,
    older: Vec<FernetKey>,
}

impl fmt::Debug for Keyring {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Keyring")
            .field("keys", &self.len())
            .finish_non_exhaustive()
    }
}

impl From<FernetKey> for Keyring {
    fn from(key: FernetKey) -> Self {
        Keyring {
            newest: key,
            older: Vec::new(),
        }
    }
}

impl Keyring {
    /// A keyring of `keys`, newest first. No keys is an
    /// [`ErrorKind::InvalidArgument`] error.
    pub fn new(keys: impl IntoIterator<Item = FernetKey>) -> Result<Self> {
        let mut keys = keys.into_iter();
        let newest = keys.next().ok_or_else(|| {
            Error::new(
                ErrorKind::InvalidArgument,
                "a keyring needs at least one key",
            )
        })?;
        Ok(Keyring {
            newest,
            older: keys.collect(),
        })
    }

    /// How many keys the keyring holds (at least one).
    #[allow(clippy::len_without_is_empty)] // a keyring is never empty
    pub fn len(&self) -> usize {
        1 + self.older.len()
    }

    /// Seals `plaintext` into a Fernet token (its bytes) with the newest key, stamped
    /// now, with a random IV. The system's random source failing is an
    /// [`ErrorKind::Encryption`] error.
    pub(crate) fn seal(&self, plaintext: &[u8]) -> Result<Vec<u8>> {
        let mut iv = [0u8; 16];
        getrandom::getrandom(&mut iv).map_err(|e| {
            Error::new(
                ErrorKind::Encryption,
                "the system's random source failed to give an IV",
            )
            .with_source(e)
        })?;
        // A clock before 1970 stamps 0: the wrapper never checks a token's age.
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |since| since.as_secs());
        token::seal(&self.newest.bytes, plaintext, now, iv)
            .ok_or_else(|| Error::new(ErrorKind::Encryption, "AES-CBC refused the value's buffer"))
    }

    /// [`Keyring::seal`] at a fixed time with a fixed IV, for the specification's test
    /// vectors.
    #[cfg(test)]
    pub(crate) fn seal_at(&self, plaintext: &[u8], now_unix: u64, iv: [u8; 16]) -> Vec<u8> {
        token::seal(&self.newest.bytes, plaintext, now_unix, iv).unwrap_or_default()
    }

    /// Opens a token's text with the first key that authenticates it, whatever its age
    /// (py-key-value sets no token lifetime); `true` when that key is the newest.
    pub(crate) fn open(&self, text: Vec<u8>) -> Option<(Plaintext, bool)> {
        self.open_aged(text, Age::Any)
    }

    /// [`Keyring::open`] at a fixed time with a token lifetime, for the specification's
    /// test vectors.
    #[cfg(test)]
    pub(crate) fn open_at(
        &self,
        text: &str,
        ttl_secs: u64,
        now_unix: u64,
    ) -> Option<(Plaintext, bool)> {
        let age = Age::Within {
            ttl_secs,
            now: now_unix,
        };
        self.open_aged(text.as_bytes().to_vec(), age)
    }

    /// The one place that decides which key opens a token, for every open path.
    fn open_aged(&self, text: Vec<u8>, age: Age) -> Option<(Plaintext, bool)> {
        let token = token::decode_text(text)?;
        // The first key whose MAC fits decides: another key with the same signing
        // half is not tried after a padding failure (keys are random, so none has).
        let (index, key) = std::iter::once(&self.newest)
            .chain(&self.older)
            .enumerate()
            .find(|(_, key)| token::authenticates(&key.bytes, &token, age))?;
        // Held as plaintext from here: a failed decryption's bytes are zeroed too.
        let mut plaintext = Plaintext::new(token);
        let range = token::decrypt_in_place(&key.bytes, plaintext.buffer())?;
        Some((plaintext.narrowed(range), index == 0))
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)] // tests fail loudly

    use super::*;

    #[test]
    fn generated_keys_differ_and_export_as_python_writes_them() {
        let a = FernetKey::generate().unwrap().to_base64();
        let b = FernetKey::generate().unwrap().to_base64();
        assert_ne!(*a, *b);
        for text in [&a, &b] {
            // base64.urlsafe_b64encode(os.urandom(32)): 43 characters and one `=`.
            assert_eq!(text.len(), 44, "{}", text.as_str());
            assert!(text.ends_with('='));
            assert!(
                text[..43]
                    .bytes()
                    .all(|c| c.is_ascii_alphanumeric() || c == b'-' || c == b'_')
            );
        }
    }

    #[test]
    fn text_form_round_trips() {
        let text = "cw_0x689RpI-jtRR7oE8h_eQsKImvJapLeSbXpwF4e4=";
        // Padded or not, with surrounding whitespace: the same key, exported padded.
        for given in [
            text,
            &text[..43],
            " cw_0x689RpI-jtRR7oE8h_eQsKImvJapLeSbXpwF4e4=\n",
        ] {
            assert_eq!(*FernetKey::from_base64(given).unwrap().to_base64(), text);
        }
        let key = FernetKey::generate().unwrap();
        let reloaded = FernetKey::from_base64(&key.to_base64()).unwrap();
        let token = token::to_text(&Keyring::from(key).seal(b"x").unwrap());
        let (plaintext, _) = Keyring::from(reloaded).open(token.into_bytes()).unwrap();
        assert_eq!(&*plaintext, b"x");
    }

    #[test]
    fn bad_keys_are_refused_without_echo() {
        for bad in [
            "",
            "short",
            "cw_0x689RpI-jtRR7oE8h_eQsKImvJapLeSbXpwF4e4=AAAA",
            // The standard alphabet, 33 bytes, 31 bytes.
            "cw/0x689RpI+jtRR7oE8h/eQsKImvJapLeSbXpwF4e4=",
            "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
            "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA==",
            "%%%%",
        ] {
            let err = FernetKey::from_base64(bad).unwrap_err();
            assert_eq!(err.kind(), ErrorKind::InvalidArgument);
            if !bad.is_empty() {
                assert!(!err.to_string().contains(bad), "{err}");
            }
        }
    }

    #[test]
    fn derived_key_is_python_s() {
        // base64.urlsafe_b64encode(hashlib.pbkdf2_hmac("sha256", password, salt,
        // 1_200_000, 32)), which is what py-key-value hands to Fernet.
        let key = FernetKey::derive_from_password(
            "correct horse battery staple",
            "key-value-rs interop salt",
        )
        .unwrap();
        assert_eq!(
            *key.to_base64(),
            "17aJTkXnvnbDCQde79a1UDrXbCJLQO0oGEpi93Vum-I="
        );
    }

    #[test]
    fn blank_password_or_salt_is_refused() {
        for (password, salt) in [("", "salt"), ("  ", "salt"), ("pw", ""), ("pw", " \t")] {
            let err = FernetKey::derive_from_password(password, salt).unwrap_err();
            assert_eq!(err.kind(), ErrorKind::InvalidArgument);
        }
    }

    #[test]
    fn older_keys_open_and_report_so() {
        let newest = FernetKey::generate().unwrap();
        let older = FernetKey::generate().unwrap();
        let old_ring = Keyring::from(older.clone());
        let ring = Keyring::new([newest, older]).unwrap();
        let sealed = |ring: &Keyring, plaintext: &[u8]| {
            token::to_text(&ring.seal(plaintext).unwrap()).into_bytes()
        };
        let (plaintext, by_newest) = ring.open(sealed(&old_ring, b"x")).unwrap();
        assert_eq!(&*plaintext, b"x");
        assert!(!by_newest);
        let (_, by_newest) = ring.open(sealed(&ring, b"y")).unwrap();
        assert!(by_newest);
        assert!(old_ring.open(sealed(&ring, b"z")).is_none());
    }

    #[test]
    fn debug_shows_no_key() {
        let key = FernetKey::generate().unwrap();
        let text = key.to_base64();
        let ring = Keyring::new([key.clone(), key.clone()]).unwrap();
        let shown = format!("{key:?} {ring:?} {key:#?} {ring:#?}");
        assert!(!shown.contains(text.as_str()), "{shown}");
        assert!(!shown.contains(&text[..10]), "{shown}");
        assert_eq!(format!("{ring:?}"), "Keyring { keys: 2, .. }");
    }
}
