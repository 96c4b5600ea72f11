//! Private-key JWT client assertions (RFC 7523 §2.2), signed with ES256 in pure Rust.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use p256::ecdsa::signature::Signer;
use p256::ecdsa::{Signature, SigningKey};
use p256::pkcs8::DecodePrivateKey;
use secrecy::ExposeSecret;
use serde_json::json;

use crate::config::{JwtAlgorithm, PrivateKey};
use crate::error::{Error, Result};
use crate::storage::now_secs;

/// The `client_assertion_type` of a JWT assertion.
pub(crate) const ASSERTION_TYPE: &str = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";

/// How long an assertion is valid.
const LIFETIME_SECS: u64 = 300;

/// A signed assertion with `iss` = `sub` = the client ID and `aud` = the issuer.
pub(crate) fn client_assertion(
    key: &PrivateKey,
    client_id: &str,
    audience: &str,
) -> Result<String> {
    match key.algorithm {
        JwtAlgorithm::Es256 => {
            let signing = SigningKey::from_pkcs8_pem(key.pem.expose_secret()).map_err(|_| {
                Error::Assertion("the private key is not a PKCS#8 PEM P-256 key".into())
            })?;
            let now = now_secs() as u64;
            let header = json!({"alg": "ES256", "typ": "JWT"});
            let claims = json!({
                "iss": client_id,
                "sub": client_id,
                "aud": audience,
                "iat": now,
                "exp": now + LIFETIME_SECS,
                "jti": oauth2::CsrfToken::new_random().secret(),
            });
            let signing_input = format!(
                "{}.{}",
                URL_SAFE_NO_PAD.encode(header.to_string()),
                URL_SAFE_NO_PAD.encode(claims.to_string())
            );
            let signature: Signature = signing.sign(signing_input.as_bytes());
            Ok(format!(
                "{signing_input}.{}",
                URL_SAFE_NO_PAD.encode(signature.to_bytes())
            ))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use p256::ecdsa::VerifyingKey;
    use p256::ecdsa::signature::Verifier;
    use p256::pkcs8::{EncodePrivateKey, LineEnding};
    use secrecy::SecretString;

    #[test]
    fn signs_a_verifiable_assertion() {
        let signing = SigningKey::from_slice(&[7u8; 32]).unwrap();
        let pem = signing.to_pkcs8_pem(LineEnding::LF).unwrap();
        let key = PrivateKey {
            pem: SecretString::from(pem.to_string()),
            algorithm: JwtAlgorithm::Es256,
        };
        let jwt = client_assertion(&key, "client-1", "https://as.example.com").unwrap();
        let parts: Vec<&str> = jwt.split('.').collect();
        assert_eq!(parts.len(), 3);
        let claims: serde_json::Value =
            serde_json::from_slice(&URL_SAFE_NO_PAD.decode(parts[1]).unwrap()).unwrap();
        assert_eq!(claims["iss"], "client-1");
        assert_eq!(claims["sub"], "client-1");
        assert_eq!(claims["aud"], "https://as.example.com");
        let sig = Signature::from_slice(&URL_SAFE_NO_PAD.decode(parts[2]).unwrap()).unwrap();
        let verifying = VerifyingKey::from(&signing);
        verifying
            .verify(format!("{}.{}", parts[0], parts[1]).as_bytes(), &sig)
            .unwrap();
    }

    #[test]
    fn refuses_a_bad_key() {
        let key = PrivateKey {
            pem: SecretString::from("not a key".to_string()),
            algorithm: JwtAlgorithm::Es256,
        };
        assert!(client_assertion(&key, "c", "a").is_err());
    }
}
