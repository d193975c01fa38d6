//! The EHRs (CDS clients) whose hook JWTs are trusted, read from a TOML
//! file (`hook_issuers`), and their JWK Sets fetched over HTTP: with a
//! timeout, kept in the verifier, fetched again when a token names an
//! unknown `kid` (key rotation) at most once per `jwks_min_refetch_secs`
//! per URL, failed attempts included (a dead JWKS endpoint is not hammered
//! by every call).
//!
//! ```toml
//! jwks_timeout_secs = 5         # default
//! jwks_min_refetch_secs = 60    # default
//!
//! [[issuer]]
//! iss = "https://ehr.example.org/"                   # the exact `iss`
//! jwks_url = "https://ehr.example.org/jwks.json"     # or jwks_file = "ehr-jwks.json"
//! algorithms = ["ES384", "RS384"]                   # default; ES256, RS256 may be added
//! public_url = "https://bedside.example.org"         # default: the server's public_url
//! jku = ["https://ehr.example.org/other-jwks.json"]  # default: none
//! ```
//!
//! The file is read by serde (`deny_unknown_fields`, `serde_path_to_error`):
//! an unknown key or a wrong value is refused with its key path
//! (`issuer[1].algorithms[0]: ...`).

use super::HookConfigError;
use bedside_cds::{
    parse_algorithm, AuthError, Claims, Endpoint, JwkSet, JwtVerifier, TrustedIssuer,
    SPEC_ALGORITHMS,
};
use serde::Deserialize;
use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// How long one JWK Set fetch may take, unless configured.
pub const DEFAULT_JWKS_TIMEOUT: Duration = Duration::from_secs(5);
/// The least time between two fetches of one JWK Set URL, unless
/// configured.
pub const DEFAULT_JWKS_MIN_REFETCH: Duration = Duration::from_secs(60);

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct IssuersFile {
    #[serde(default = "default_timeout")]
    jwks_timeout_secs: u64,
    #[serde(default = "default_min_refetch")]
    jwks_min_refetch_secs: u64,
    #[serde(default)]
    issuer: Vec<IssuerEntry>,
}

fn default_timeout() -> u64 {
    DEFAULT_JWKS_TIMEOUT.as_secs()
}

fn default_min_refetch() -> u64 {
    DEFAULT_JWKS_MIN_REFETCH.as_secs()
}

fn default_algorithms() -> Vec<String> {
    SPEC_ALGORITHMS.iter().map(|a| format!("{a:?}")).collect()
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct IssuerEntry {
    iss: String,
    #[serde(default)]
    jwks_url: Option<String>,
    #[serde(default)]
    jwks_file: Option<PathBuf>,
    #[serde(default = "default_algorithms")]
    algorithms: Vec<String>,
    #[serde(default)]
    public_url: Option<String>,
    #[serde(default)]
    jku: Vec<String>,
}

/// The trusted issuers of a `hook_issuers` file and how their keys are
/// fetched.
#[derive(Debug, Clone)]
pub struct Issuers {
    pub trusted: Vec<TrustedIssuer>,
    pub jwks_timeout: Duration,
    pub jwks_min_refetch: Duration,
}

/// `https://` URL, or `http://` to a loopback host (a JWK Set over plain
/// HTTP from elsewhere could be swapped on the way).
fn check_url(url: &str) -> Result<(), String> {
    let parsed = reqwest::Url::parse(url).map_err(|e| format!("{url:?} is not a URL: {e}"))?;
    let loopback = match parsed.host_str() {
        Some("localhost") => true,
        Some(h) => h
            .trim_start_matches('[')
            .trim_end_matches(']')
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback()),
        None => false,
    };
    match parsed.scheme() {
        "https" => Ok(()),
        "http" if loopback => Ok(()),
        _ => Err(format!(
            "{url:?} must be an https:// URL (http:// only to a loopback host)"
        )),
    }
}

impl Issuers {
    /// Parse and check a `hook_issuers` file; `jwks_file` paths are read
    /// relative to `base_dir` (the file's directory). Errors name the key
    /// path and the reason.
    pub fn from_toml_str(text: &str, base_dir: &Path) -> Result<Self, String> {
        let de = toml::Deserializer::parse(text).map_err(|e| format!("not valid TOML: {e}"))?;
        let file: IssuersFile = serde_path_to_error::deserialize(de).map_err(|e| {
            let key = e.path().to_string();
            format!("`{key}`: {}", e.into_inner().message().trim_end())
        })?;
        if file.jwks_timeout_secs == 0 {
            return Err("`jwks_timeout_secs`: must be at least 1".into());
        }
        if file.jwks_min_refetch_secs == 0 {
            return Err("`jwks_min_refetch_secs`: must be at least 1".into());
        }
        let mut seen = HashSet::new();
        let mut trusted = Vec::new();
        for (i, e) in file.issuer.into_iter().enumerate() {
            let key = |k: &str| format!("`issuer[{i}].{k}`");
            if e.iss.trim().is_empty() {
                return Err(format!("{}: must not be blank", key("iss")));
            }
            if !seen.insert(e.iss.clone()) {
                return Err(format!("{}: {:?} is configured twice", key("iss"), e.iss));
            }
            let jwks = match (&e.jwks_url, &e.jwks_file) {
                (Some(url), None) => {
                    check_url(url).map_err(|r| format!("{}: {r}", key("jwks_url")))?;
                    None
                }
                (None, Some(f)) => Some(
                    read_jwks(&base_dir.join(f))
                        .map_err(|r| format!("{}: {r}", key("jwks_file")))?,
                ),
                _ => {
                    return Err(format!(
                        "`issuer[{i}]`: give exactly one of jwks_url and jwks_file"
                    ))
                }
            };
            if e.algorithms.is_empty() {
                return Err(format!("{}: must name at least one", key("algorithms")));
            }
            let mut algorithms = Vec::new();
            for (j, name) in e.algorithms.iter().enumerate() {
                algorithms.push(
                    parse_algorithm(name)
                        .map_err(|r| format!("{}: {r}", key(&format!("algorithms[{j}]"))))?,
                );
            }
            for (j, u) in e.jku.iter().enumerate() {
                check_url(u).map_err(|r| format!("{}: {r}", key(&format!("jku[{j}]"))))?;
            }
            if let Some(u) = &e.public_url {
                if !(u.starts_with("http://") || u.starts_with("https://")) {
                    return Err(format!(
                        "{}: must start with http:// or https://",
                        key("public_url")
                    ));
                }
            }
            trusted.push(TrustedIssuer {
                iss: e.iss,
                jwks,
                jwks_url: e.jwks_url,
                jku_allowed: e.jku,
                algorithms,
                public_url: e.public_url,
            });
        }
        Ok(Self {
            trusted,
            jwks_timeout: Duration::from_secs(file.jwks_timeout_secs),
            jwks_min_refetch: Duration::from_secs(file.jwks_min_refetch_secs),
        })
    }

    /// Read and check the file at `path`.
    pub fn load(path: &Path) -> Result<Self, HookConfigError> {
        let err = |reason: String| HookConfigError::File {
            path: path.display().to_string(),
            reason,
        };
        let text = std::fs::read_to_string(path).map_err(|e| err(e.to_string()))?;
        Self::from_toml_str(&text, path.parent().unwrap_or(Path::new("."))).map_err(err)
    }
}

/// A JWK Set file whose keys all have a `kid` (a token names its key by
/// `kid`, so a key without one could never be used).
fn read_jwks(path: &Path) -> Result<JwkSet, String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let set: JwkSet = serde_json::from_str(&text)
        .map_err(|e| format!("{}: not a JWK Set: {e}", path.display()))?;
    if set.keys.is_empty() {
        return Err(format!("{}: the JWK Set has no keys", path.display()));
    }
    if let Some(i) = set.keys.iter().position(|k| k.common.key_id.is_none()) {
        return Err(format!("{}: keys[{i}] has no kid", path.display()));
    }
    Ok(set)
}

/// The last fetch attempt of one URL: when, and why it failed.
struct Attempt {
    at: Instant,
    error: Option<String>,
}

enum Refresh {
    Fetched,
    RateLimited,
    Failed(String),
}

/// Fetches the JWK Sets a verifier asks for (see the module doc). The
/// cache itself is the verifier's (`JwtVerifier::set_jwks_at`); this holds
/// the HTTP client and the time of the last attempt per URL.
pub(crate) struct KeyFetcher {
    client: reqwest::Client,
    min_refetch: Duration,
    attempts: std::sync::Mutex<HashMap<String, Attempt>>,
    /// One fetch of a URL at a time: calls that wait for it see its
    /// result. (One lock per configured URL, so the map stays small.)
    fetching: std::sync::Mutex<HashMap<String, Arc<tokio::sync::Mutex<()>>>>,
}

impl KeyFetcher {
    pub(crate) fn new(timeout: Duration, min_refetch: Duration) -> Self {
        let client = reqwest::Client::builder()
            .timeout(timeout)
            .build()
            // Building fails only when the TLS backend cannot start; the
            // default client (no timeout of its own) is the fallback.
            .unwrap_or_default();
        Self {
            client,
            min_refetch,
            attempts: std::sync::Mutex::new(HashMap::new()),
            fetching: std::sync::Mutex::new(HashMap::new()),
        }
    }

    /// Verify a hook token at `endpoint`; when it fails only for want of
    /// its issuer's key, fetch the JWK Set (rate-limited) and verify again.
    pub(crate) async fn verify(
        &self,
        verifier: &JwtVerifier,
        token: &str,
        endpoint: Endpoint<'_>,
        now: chrono::DateTime<chrono::Utc>,
    ) -> Result<Claims, AuthError> {
        let asked = Instant::now();
        let e = match verifier.verify_endpoint(token, endpoint, now) {
            Err(e) => e,
            ok => return ok,
        };
        let Some((iss, url)) = e.key_wanted() else {
            return Err(e);
        };
        let (iss, url) = (iss.to_string(), url.to_string());
        match self.refresh(verifier, &url, asked).await {
            Refresh::Fetched => verifier.verify_endpoint(token, endpoint, now),
            Refresh::RateLimited => Err(e),
            Refresh::Failed(reason) => Err(AuthError::JwksUnavailable { iss, url, reason }),
        }
    }

    async fn refresh(&self, verifier: &JwtVerifier, url: &str, asked: Instant) -> Refresh {
        let lock = self
            .fetching
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .entry(url.to_string())
            .or_default()
            .clone();
        let _one = lock.lock().await;
        {
            let attempts = self.attempts.lock().unwrap_or_else(|p| p.into_inner());
            if let Some(a) = attempts.get(url) {
                // Another call fetched while this one waited: use its result.
                let recent = a.at > asked || a.at.elapsed() < self.min_refetch;
                if recent {
                    return match (&a.error, a.at > asked) {
                        (Some(err), _) => Refresh::Failed(err.clone()),
                        (None, true) => Refresh::Fetched,
                        (None, false) => Refresh::RateLimited,
                    };
                }
            }
        }
        let result = self.fetch(url).await;
        let error = result.as_ref().err().cloned();
        self.attempts
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(
                url.to_string(),
                Attempt {
                    at: Instant::now(),
                    error,
                },
            );
        match result {
            Ok(set) => {
                tracing::info!(url, keys = set.keys.len(), "hook issuer JWK Set fetched");
                verifier.set_jwks_at(url, set);
                Refresh::Fetched
            }
            Err(reason) => {
                tracing::warn!(url, %reason, "cannot fetch a hook issuer's JWK Set");
                Refresh::Failed(reason)
            }
        }
    }

    async fn fetch(&self, url: &str) -> Result<JwkSet, String> {
        let resp = self
            .client
            .get(url)
            .header("accept", "application/json")
            .send()
            .await
            .map_err(|e| format!("request failed: {e}"))?;
        if !resp.status().is_success() {
            return Err(format!("HTTP {}", resp.status().as_u16()));
        }
        resp.json::<JwkSet>()
            .await
            .map_err(|e| format!("not a JWK Set: {e}"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<Issuers, String> {
        Issuers::from_toml_str(text, Path::new("."))
    }

    #[test]
    fn defaults_and_errors_name_the_key() {
        let ok = parse("[[issuer]]\niss = \"https://ehr.example.org/\"\njwks_url = \"https://ehr.example.org/jwks\"\n").unwrap();
        assert_eq!(ok.jwks_min_refetch, DEFAULT_JWKS_MIN_REFETCH);
        assert_eq!(ok.jwks_timeout, DEFAULT_JWKS_TIMEOUT);
        assert_eq!(ok.trusted[0].algorithms, SPEC_ALGORITHMS.to_vec());
        assert!(ok.trusted[0].jwks.is_none());
        let cases = [
            ("[[issuer]]\niss = \"a\"\njwks_url = \"https://x/j\"\nalgs = []\n", "`issuer[0].algs`: unknown field"),
            ("[[issuer]]\niss = \"a\"\njwks_url = \"https://x/j\"\nalgorithms = [\"ES384\", \"HS256\"]\n", "`issuer[0].algorithms[1]`: HS256 is symmetric"),
            ("[[issuer]]\niss = \"a\"\njwks_url = \"https://x/j\"\nalgorithms = [\"none\"]\n", "`issuer[0].algorithms[0]`: alg none"),
            ("[[issuer]]\niss = \"a\"\njwks_url = \"http://ehr.example.org/j\"\n", "`issuer[0].jwks_url`: \"http://ehr.example.org/j\" must be an https:// URL"),
            ("[[issuer]]\niss = \"a\"\n", "`issuer[0]`: give exactly one of jwks_url and jwks_file"),
            ("[[issuer]]\niss = \"a\"\njwks_url = \"https://x/j\"\njwks_file = \"j.json\"\n", "exactly one"),
            ("[[issuer]]\niss = \"a\"\njwks_file = \"no-such-file.json\"\n", "`issuer[0].jwks_file`: "),
            ("[[issuer]]\niss = \"a\"\njwks_url = \"https://x/j\"\njku = [\"ftp://x\"]\n", "`issuer[0].jku[0]`"),
            ("[[issuer]]\niss = \"a\"\njwks_url = \"https://x/j\"\n[[issuer]]\niss = \"a\"\njwks_url = \"https://x/k\"\n", "`issuer[1].iss`: \"a\" is configured twice"),
            ("jwks_min_refetch_secs = 0\n", "`jwks_min_refetch_secs`: must be at least 1"),
            ("jwks_timeout_secs = \"5\"\n", "`jwks_timeout_secs`: invalid type"),
            ("[[issuer]]\njwks_url = \"https://x/j\"\n", "missing field `iss`"),
        ];
        for (text, want) in cases {
            let e = parse(text).map(|_| ()).unwrap_err();
            assert!(e.contains(want), "{text:?}: {e}");
        }
        // Loopback may be plain HTTP (a JWKS on the same host, tests).
        assert!(parse("[[issuer]]\niss = \"a\"\njwks_url = \"http://127.0.0.1:9/j\"\n").is_ok());
    }

    #[test]
    fn a_jwks_file_is_read_relative_to_the_config_and_needs_kids() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("keys.json"),
            r#"{"keys":[{"kty":"EC","crv":"P-384","kid":"k1","x":"46SDH7Znh821wblCBglA61sNE9ZrHYKKt3qRtRTmSXyOI_FIGBLWrWa0GPUkDCEk","y":"XMcRuuoGW7CXjQdy-F5i3FeBE0x9hPLdeFdSoDd3ELmx404tLX0VRRcqzAsPhXcI"}]}"#,
        )
        .unwrap();
        std::fs::write(
            dir.path().join("nokid.json"),
            r#"{"keys":[{"kty":"EC","crv":"P-384","x":"46SDH7Znh821wblCBglA61sNE9ZrHYKKt3qRtRTmSXyOI_FIGBLWrWa0GPUkDCEk","y":"XMcRuuoGW7CXjQdy-F5i3FeBE0x9hPLdeFdSoDd3ELmx404tLX0VRRcqzAsPhXcI"}]}"#,
        )
        .unwrap();
        let path = dir.path().join("issuers.toml");
        std::fs::write(
            &path,
            "[[issuer]]\niss = \"a\"\njwks_file = \"keys.json\"\n",
        )
        .unwrap();
        let i = Issuers::load(&path).unwrap();
        assert_eq!(i.trusted[0].jwks.as_ref().unwrap().keys.len(), 1);
        std::fs::write(
            &path,
            "[[issuer]]\niss = \"a\"\njwks_file = \"nokid.json\"\n",
        )
        .unwrap();
        let e = Issuers::load(&path).unwrap_err().to_string();
        assert!(e.contains("keys[0] has no kid"), "{e}");
        assert!(e.starts_with(&path.display().to_string()), "{e}");
    }
}
