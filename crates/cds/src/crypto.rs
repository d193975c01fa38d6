//! The signature backend of JWT verification: ECDSA (ES256, ES384, the
//! algorithms EHRs use for CDS Hooks) is verified with `ring`, whose
//! P-256/P-384 arithmetic is several times faster than the RustCrypto
//! crates' (a hook call verifies one token, the largest single cost of a
//! `patient-view` call under load, see bench/hooks.sh), and ECDSA signing
//! too (a load test signs tens of thousands of demo tokens; RustCrypto
//! takes ~10x longer per token). Every other algorithm stays on
//! jsonwebtoken's RustCrypto provider. Installed once per process by
//! [`install`].

use jsonwebtoken::crypto::{rust_crypto, CryptoProvider, JwtSigner, JwtVerifier};
use jsonwebtoken::errors::{Error, ErrorKind, Result};
use jsonwebtoken::signature;
use jsonwebtoken::{Algorithm, AlgorithmFamily, DecodingKey, EncodingKey};
use ring::signature::{
    EcdsaKeyPair, EcdsaVerificationAlgorithm, UnparsedPublicKey, ECDSA_P256_SHA256_FIXED,
    ECDSA_P256_SHA256_FIXED_SIGNING, ECDSA_P384_SHA384_FIXED, ECDSA_P384_SHA384_FIXED_SIGNING,
};
use std::sync::OnceLock;

/// An ECDSA public key (SEC1 point) with its JWS algorithm.
struct RingEcdsa {
    alg: Algorithm,
    scheme: &'static EcdsaVerificationAlgorithm,
    point: Vec<u8>,
}

impl signature::Verifier<Vec<u8>> for RingEcdsa {
    fn verify(&self, msg: &[u8], sig: &Vec<u8>) -> std::result::Result<(), signature::Error> {
        UnparsedPublicKey::new(self.scheme, &self.point)
            .verify(msg, sig)
            .map_err(|_| signature::Error::new())
    }
}

impl JwtVerifier for RingEcdsa {
    fn algorithm(&self) -> Algorithm {
        self.alg
    }
}

fn verifier(alg: &Algorithm, key: &DecodingKey) -> Result<Box<dyn JwtVerifier>> {
    let scheme = match alg {
        Algorithm::ES256 => &ECDSA_P256_SHA256_FIXED,
        Algorithm::ES384 => &ECDSA_P384_SHA384_FIXED,
        _ => return (rust_crypto::DEFAULT_PROVIDER.verifier_factory)(alg, key),
    };
    if key.family() != AlgorithmFamily::Ec {
        return Err(Error::from(ErrorKind::InvalidKeyFormat));
    }
    Ok(Box::new(RingEcdsa {
        alg: *alg,
        scheme,
        point: key.try_get_as_bytes()?.to_vec(),
    }))
}

/// An ECDSA private key (PKCS#8) with its JWS algorithm.
struct RingEcdsaSigner {
    alg: Algorithm,
    pair: EcdsaKeyPair,
    rng: ring::rand::SystemRandom,
}

impl signature::Signer<Vec<u8>> for RingEcdsaSigner {
    fn try_sign(&self, msg: &[u8]) -> std::result::Result<Vec<u8>, signature::Error> {
        self.pair
            .sign(&self.rng, msg)
            .map(|s| s.as_ref().to_vec())
            .map_err(|_| signature::Error::new())
    }
}

impl JwtSigner for RingEcdsaSigner {
    fn algorithm(&self) -> Algorithm {
        self.alg
    }
}

fn signer(alg: &Algorithm, key: &EncodingKey) -> Result<Box<dyn JwtSigner>> {
    let scheme = match alg {
        Algorithm::ES256 => &ECDSA_P256_SHA256_FIXED_SIGNING,
        Algorithm::ES384 => &ECDSA_P384_SHA384_FIXED_SIGNING,
        _ => return (rust_crypto::DEFAULT_PROVIDER.signer_factory)(alg, key),
    };
    if key.family() != AlgorithmFamily::Ec {
        return Err(Error::from(ErrorKind::InvalidKeyFormat));
    }
    let rng = ring::rand::SystemRandom::new();
    match EcdsaKeyPair::from_pkcs8(scheme, key.as_bytes(), &rng) {
        Ok(pair) => Ok(Box::new(RingEcdsaSigner {
            alg: *alg,
            pair,
            rng,
        })),
        // A PKCS#8 form ring does not take (e.g. without the public
        // key): RustCrypto signs it.
        Err(_) => (rust_crypto::DEFAULT_PROVIDER.signer_factory)(alg, key),
    }
}

static PROVIDER: OnceLock<CryptoProvider> = OnceLock::new();

/// Make this backend the process's jsonwebtoken provider. Idempotent; if
/// another provider was installed first, that one stays (and still
/// verifies correctly, only slower).
pub(crate) fn install() {
    let p = PROVIDER.get_or_init(|| CryptoProvider {
        signer_factory: signer,
        verifier_factory: verifier,
        key_utils: rust_crypto::DEFAULT_PROVIDER.key_utils.clone(),
    });
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        if p.install_default().is_err() {
            tracing::debug!("a jsonwebtoken crypto provider was already installed; keeping it");
        }
    });
}

#[cfg(test)]
mod tests {
    use jsonwebtoken::crypto::rust_crypto;
    use jsonwebtoken::jwk::Jwk;
    use jsonwebtoken::{Algorithm, DecodingKey};
    use serde_json::Value;

    fn demo(name: &str) -> Value {
        let p = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../../config/demo-ehr")
            .join(name);
        serde_json::from_str(&std::fs::read_to_string(p).unwrap()).unwrap()
    }

    /// A token signed here (ring) verifies with the independent RustCrypto
    /// implementation, and a changed payload does not.
    #[test]
    fn ring_signatures_verify_with_rustcrypto() {
        let signer = crate::JwkSigner::from_jwk(&demo("private-jwk.json")).unwrap();
        let token = signer
            .sign_demo("https://iss.test", "https://aud.test/x", chrono::Utc::now())
            .unwrap();
        let jwk: Jwk = serde_json::from_value(demo("jwks.json")["keys"][0].clone()).unwrap();
        let key = DecodingKey::from_jwk(&jwk).unwrap();
        let verifier =
            (rust_crypto::DEFAULT_PROVIDER.verifier_factory)(&Algorithm::ES256, &key).unwrap();
        let (msg, sig) = token.rsplit_once('.').unwrap();
        use base64::Engine as _;
        let sig = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(sig)
            .unwrap();
        assert_eq!(sig.len(), 64, "JWS ECDSA signatures are r||s");
        assert!(verifier.verify(msg.as_bytes(), &sig).is_ok());
        let tampered = format!("{msg}x");
        assert!(verifier.verify(tampered.as_bytes(), &sig).is_err());
    }
}
