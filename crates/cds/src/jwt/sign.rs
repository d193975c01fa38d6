//! Signing: demo hook tokens ([`sign_demo_token`], [`JwkSigner`]) from an
//! EC private JWK, and `private_key_jwt` client assertions
//! ([`PemSigningKey`]) from a PEM private key.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use chrono::{DateTime, Utc};
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::Value;

/// Why a token could not be signed.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum SignError {
    #[error("private JWK: {0}")]
    Key(String),
    #[error("signing failed: {0}")]
    Sign(String),
}

fn jwk_str<'a>(jwk: &'a Value, name: &str) -> Result<&'a str, SignError> {
    jwk.get(name)
        .and_then(Value::as_str)
        .ok_or_else(|| SignError::Key(format!("`{name}` is missing")))
}

fn b64(jwk: &Value, name: &str) -> Result<Vec<u8>, SignError> {
    URL_SAFE_NO_PAD
        .decode(jwk_str(jwk, name)?)
        .map_err(|e| SignError::Key(format!("`{name}` is not base64url: {e}")))
}

/// PKCS#8 DER of an EC private JWK, after checking that `d` matches `x`/`y`.
fn ec_private_der(jwk: &Value) -> Result<(Algorithm, Vec<u8>), SignError> {
    use p256::pkcs8::EncodePrivateKey;
    if jwk_str(jwk, "kty")? != "EC" {
        return Err(SignError::Key(
            "only EC keys (P-256, P-384) are supported".into(),
        ));
    }
    let (d, x, y) = (b64(jwk, "d")?, b64(jwk, "x")?, b64(jwk, "y")?);
    let mismatch = || SignError::Key("`d` does not match `x`/`y`".into());
    let bad = |e: &dyn std::fmt::Display| SignError::Key(e.to_string());
    match jwk_str(jwk, "crv")? {
        "P-256" => {
            let sk = p256::SecretKey::from_slice(&d).map_err(|e| bad(&e))?;
            let pt = p256::elliptic_curve::sec1::ToEncodedPoint::to_encoded_point(
                &sk.public_key(),
                false,
            );
            if pt.x().map(|v| v.as_slice()) != Some(&x[..])
                || pt.y().map(|v| v.as_slice()) != Some(&y[..])
            {
                return Err(mismatch());
            }
            let der = sk.to_pkcs8_der().map_err(|e| bad(&e))?;
            Ok((Algorithm::ES256, der.as_bytes().to_vec()))
        }
        "P-384" => {
            let sk = p384::SecretKey::from_slice(&d).map_err(|e| bad(&e))?;
            let pt = p384::elliptic_curve::sec1::ToEncodedPoint::to_encoded_point(
                &sk.public_key(),
                false,
            );
            if pt.x().map(|v| v.as_slice()) != Some(&x[..])
                || pt.y().map(|v| v.as_slice()) != Some(&y[..])
            {
                return Err(mismatch());
            }
            let der = sk.to_pkcs8_der().map_err(|e| bad(&e))?;
            Ok((Algorithm::ES384, der.as_bytes().to_vec()))
        }
        other => Err(SignError::Key(format!("curve {other:?} is not supported"))),
    }
}

/// Sign arbitrary `claims` with an EC private JWK (`kty: EC`, `crv`
/// P-256 or P-384, `d`, `x`, `y`, `kid`). The header carries `alg`,
/// `typ: JWT` and the JWK's `kid`.
pub fn sign_with_jwk(private_jwk: &Value, claims: &Value) -> Result<String, SignError> {
    JwkSigner::from_jwk(private_jwk)?.sign(claims)
}

/// An EC private JWK read once, for signing many tokens (reading the key
/// checks that `d` matches `x`/`y`, which cost more than a signature).
#[derive(Clone)]
pub struct JwkSigner {
    header: Header,
    key: EncodingKey,
}

impl std::fmt::Debug for JwkSigner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("JwkSigner")
            .field("alg", &self.header.alg)
            .field("kid", &self.header.kid)
            .field("key", &"<redacted>")
            .finish()
    }
}

impl JwkSigner {
    pub fn from_jwk(private_jwk: &Value) -> Result<Self, SignError> {
        crate::crypto::install();
        let (alg, der) = ec_private_der(private_jwk)?;
        let mut header = Header::new(alg);
        header.kid = Some(jwk_str(private_jwk, "kid")?.to_string());
        header.typ = Some("JWT".into());
        Ok(Self {
            header,
            key: EncodingKey::from_ec_der(&der),
        })
    }

    pub fn sign(&self, claims: &Value) -> Result<String, SignError> {
        jsonwebtoken::encode(&self.header, claims, &self.key)
            .map_err(|e| SignError::Sign(e.to_string()))
    }

    /// A hook token as [`sign_demo_token`] makes one.
    pub fn sign_demo(&self, iss: &str, aud: &str, now: DateTime<Utc>) -> Result<String, SignError> {
        self.sign(&demo_claims(iss, aud, now))
    }
}

/// A private key read from PEM, for signing `private_key_jwt` client
/// assertions (SMART Backend Services). PKCS#8 (`PRIVATE KEY`) with an EC
/// P-384 / P-256 or RSA key, SEC1 (`EC PRIVATE KEY`) or PKCS#1 (`RSA
/// PRIVATE KEY`); the algorithm follows from the key: ES384, ES256 or
/// RS384. `Debug` never shows the key.
#[derive(Clone)]
pub struct PemSigningKey {
    alg: Algorithm,
    key: EncodingKey,
    kid: Option<String>,
}

impl std::fmt::Debug for PemSigningKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PemSigningKey")
            .field("alg", &self.alg)
            .field("kid", &self.kid)
            .field("key", &"<redacted>")
            .finish()
    }
}

const OID_RSA: &str = "1.2.840.113549.1.1.1";
const OID_EC: &str = "1.2.840.10045.2.1";
const OID_P256: &str = "1.2.840.10045.3.1.7";
const OID_P384: &str = "1.3.132.0.34";

impl PemSigningKey {
    /// Parse `pem`; `kid` goes into the header of every token signed.
    pub fn from_pem(pem: &str, kid: Option<&str>) -> Result<Self, SignError> {
        use p256::pkcs8::{der::Decode, EncodePrivateKey, PrivateKeyInfo};
        let (label, der) = pem_rfc7468::decode_vec(pem.trim().as_bytes())
            .map_err(|e| SignError::Key(format!("not a PEM private key: {e}")))?;
        let bad = |e: &dyn std::fmt::Display| SignError::Key(e.to_string());
        let (alg, key) = match label {
            "PRIVATE KEY" => {
                let info = PrivateKeyInfo::from_der(&der)
                    .map_err(|e| SignError::Key(format!("PKCS#8: {e}")))?;
                let oid = info.algorithm.oid.to_string();
                if oid == OID_RSA {
                    (
                        Algorithm::RS384,
                        EncodingKey::from_rsa_der(info.private_key),
                    )
                } else if oid == OID_EC {
                    let curve = info
                        .algorithm
                        .parameters_oid()
                        .map(|o| o.to_string())
                        .map_err(|e| SignError::Key(format!("EC key without a curve: {e}")))?;
                    let alg = match curve.as_str() {
                        OID_P384 => Algorithm::ES384,
                        OID_P256 => Algorithm::ES256,
                        other => {
                            return Err(SignError::Key(format!(
                                "EC curve {other} is not supported (use P-384)"
                            )))
                        }
                    };
                    (alg, EncodingKey::from_ec_der(&der))
                } else {
                    return Err(SignError::Key(format!(
                        "key algorithm {oid} is not supported (use EC P-384 or RSA)"
                    )));
                }
            }
            "EC PRIVATE KEY" => {
                if let Ok(k) = p384::SecretKey::from_sec1_der(&der) {
                    let d = k.to_pkcs8_der().map_err(|e| bad(&e))?;
                    (Algorithm::ES384, EncodingKey::from_ec_der(d.as_bytes()))
                } else {
                    let k = p256::SecretKey::from_sec1_der(&der)
                        .map_err(|e| SignError::Key(format!("SEC1 EC key: {e}")))?;
                    let d = k.to_pkcs8_der().map_err(|e| bad(&e))?;
                    (Algorithm::ES256, EncodingKey::from_ec_der(d.as_bytes()))
                }
            }
            "RSA PRIVATE KEY" => (Algorithm::RS384, EncodingKey::from_rsa_der(&der)),
            other => {
                return Err(SignError::Key(format!(
                    "PEM label {other:?} is not a private key (want PRIVATE KEY, EC PRIVATE KEY or RSA PRIVATE KEY)"
                )))
            }
        };
        let k = Self {
            alg,
            key,
            kid: kid.map(str::to_string),
        };
        // Fail now, not at the first write-back, if the key cannot sign.
        k.sign(&serde_json::json!({"probe": true}))?;
        Ok(k)
    }

    /// The JWS algorithm this key signs with.
    pub fn alg(&self) -> &'static str {
        match self.alg {
            Algorithm::ES384 => "ES384",
            Algorithm::ES256 => "ES256",
            _ => "RS384",
        }
    }

    /// Sign `claims` (header: `alg`, `typ: JWT`, `kid` when set).
    pub fn sign(&self, claims: &Value) -> Result<String, SignError> {
        crate::crypto::install();
        let mut header = Header::new(self.alg);
        header.kid = self.kid.clone();
        header.typ = Some("JWT".into());
        jsonwebtoken::encode(&header, claims, &self.key).map_err(|e| SignError::Sign(e.to_string()))
    }
}

/// How long a demo token is valid.
pub const DEMO_TOKEN_TTL_SECS: i64 = 300;

/// A hook JWT for `aud` (the service URL) from issuer `iss`, valid for
/// five minutes from `now`, with a fresh random `jti`. For
/// `bedside token --demo` and tests; the key is the demo EHR key.
pub fn sign_demo_token(
    private_jwk: &Value,
    iss: &str,
    aud: &str,
    now: DateTime<Utc>,
) -> Result<String, SignError> {
    sign_with_jwk(private_jwk, &demo_claims(iss, aud, now))
}

fn demo_claims(iss: &str, aud: &str, now: DateTime<Utc>) -> Value {
    let t = now.timestamp();
    serde_json::json!({
        "iss": iss,
        "aud": aud,
        "iat": t,
        "exp": t + DEMO_TOKEN_TTL_SECS,
        "jti": uuid::Uuid::new_v4().to_string(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::jwt::{inspect, verify_signature};
    use jsonwebtoken::jwk::Jwk;

    /// A PEM key (SEC1 and PKCS#8) signs tokens its public JWK verifies.
    #[test]
    fn pem_keys_sign_verifiable_tokens() {
        use p384::elliptic_curve::sec1::ToEncodedPoint;
        use p384::pkcs8::{EncodePrivateKey, LineEnding};
        let sk = p384::SecretKey::from_slice(&[7u8; 48]).unwrap();
        let pt = sk.public_key().to_encoded_point(false);
        let jwk: Jwk = serde_json::from_value(serde_json::json!({
            "kty": "EC", "crv": "P-384", "kid": "w1",
            "x": URL_SAFE_NO_PAD.encode(pt.x().unwrap()),
            "y": URL_SAFE_NO_PAD.encode(pt.y().unwrap()),
        }))
        .unwrap();
        let sec1 = sk.to_sec1_pem(LineEnding::LF).unwrap();
        let pkcs8 = sk.to_pkcs8_pem(LineEnding::LF).unwrap();
        for pem in [sec1.as_str(), pkcs8.as_str()] {
            let k = PemSigningKey::from_pem(pem, Some("w1")).unwrap();
            assert_eq!(k.alg(), "ES384");
            assert!(!format!("{k:?}").contains("BEGIN"));
            let t = k.sign(&serde_json::json!({"iss": "c"})).unwrap();
            let u = inspect(&t).unwrap();
            assert_eq!(u.kid, "w1");
            assert_eq!(verify_signature(&t, &u, &jwk).unwrap()["iss"], "c");
        }
        let e = PemSigningKey::from_pem(
            "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n",
            None,
        )
        .unwrap_err();
        assert!(e.to_string().contains("not a private key"), "{e}");
    }
}
