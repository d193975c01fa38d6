//! The signature backend of JWT verification: ECDSA (ES256, ES384, the
//! algorithms EHRs use for CDS Hooks) is verified with `ring`, whose
//! P-256/P-384 arithmetic is several times faster than the RustCrypto
//! crates' (a hook call verifies one token, and that was the largest single
//! cost of a `patient-view` call under load, see bench/hooks.sh). Every
//! other algorithm and all signing stay on jsonwebtoken's RustCrypto
//! provider. Installed once per process by [`install`].

use jsonwebtoken::crypto::{rust_crypto, CryptoProvider, JwtVerifier};
use jsonwebtoken::errors::{Error, ErrorKind, Result};
use jsonwebtoken::signature;
use jsonwebtoken::{Algorithm, AlgorithmFamily, DecodingKey};
use ring::signature::{
    EcdsaVerificationAlgorithm, UnparsedPublicKey, ECDSA_P256_SHA256_FIXED, ECDSA_P384_SHA384_FIXED,
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

static PROVIDER: OnceLock<CryptoProvider> = OnceLock::new();

/// Make this backend the process's jsonwebtoken provider. Idempotent; if
/// another provider was installed first, that one stays (and still
/// verifies correctly, only slower).
pub(crate) fn install() {
    let p = PROVIDER.get_or_init(|| CryptoProvider {
        signer_factory: rust_crypto::DEFAULT_PROVIDER.signer_factory,
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
