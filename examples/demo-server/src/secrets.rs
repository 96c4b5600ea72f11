//! Random tokens, their hashes, PKCE and constant-time comparison.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

/// A new random secret: 32 bytes from the OS, URL-safe base64, after `prefix`.
pub(crate) fn random_token(prefix: &str) -> Result<String, getrandom::Error> {
    let mut bytes = [0u8; 32];
    getrandom::getrandom(&mut bytes)?;
    Ok(format!("{prefix}{}", URL_SAFE_NO_PAD.encode(bytes)))
}

/// The hex SHA-256 of a secret: the key it is stored under (the secret itself never is).
pub(crate) fn hash(secret: &str) -> String {
    Sha256::digest(secret.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// Whether `a` equals `b`, in time independent of where they differ.
pub(crate) fn equal(a: &str, b: &str) -> bool {
    a.as_bytes().ct_eq(b.as_bytes()).into()
}

/// Whether a PKCE `code_verifier` is well formed (RFC 7636: 43 to 128 unreserved characters).
pub(crate) fn valid_verifier(verifier: &str) -> bool {
    (43..=128).contains(&verifier.len())
        && verifier
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~'))
}

/// Whether `verifier` matches the S256 `challenge`.
pub(crate) fn pkce_matches(verifier: &str, challenge: &str) -> bool {
    let computed = URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()));
    valid_verifier(verifier) && equal(&computed, challenge)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pkce_s256_matches_the_rfc_7636_example() {
        // RFC 7636, appendix B.
        let verifier = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
        assert!(pkce_matches(
            verifier,
            "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
        ));
        assert!(!pkce_matches(
            verifier,
            "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cN"
        ));
        assert!(!pkce_matches("short", "x"));
    }

    #[test]
    fn tokens_are_random_and_hashes_hex() {
        let a = random_token("at_").unwrap_or_default();
        let b = random_token("at_").unwrap_or_default();
        assert!(a.starts_with("at_") && a.len() > 40);
        assert_ne!(a, b);
        assert_eq!(hash("x").len(), 64);
        assert!(equal("abc", "abc") && !equal("abc", "abd") && !equal("abc", "ab"));
    }
}
