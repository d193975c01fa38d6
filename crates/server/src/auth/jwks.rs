//! The identity provider's JWK Set: configured inline, or fetched from its
//! URL with a timeout, cached, and refetched on an unknown `kid` at most
//! once per `jwks_min_refetch`.

use bedside_cds::JwkSet;
use jsonwebtoken::jwk::Jwk;
use std::sync::RwLock;
use std::time::{Duration, Instant};

/// Where the identity provider's keys come from.
#[derive(Debug, Clone)]
pub enum JwksSource {
    /// Fetched over HTTP(S) (the provider's `jwks_uri`).
    Url(String),
    /// Read from a file at startup.
    Inline(JwkSet),
}

#[derive(Default)]
struct Cached {
    keys: Option<JwkSet>,
    last_fetch: Option<Instant>,
}

/// The keys of one provider, shared by all requests.
pub(super) struct Jwks {
    /// The URL to fetch from (`None`: inline keys or no provider).
    url: Option<String>,
    min_refetch: Duration,
    cached: RwLock<Cached>,
    fetch_lock: tokio::sync::Mutex<()>,
    client: reqwest::Client,
}

impl Jwks {
    /// The cache for `source` (`None`: no provider, no keys); inline keys
    /// are loaded at once, a URL's at the first [`Jwks::prefetch`] or
    /// unknown `kid`.
    pub(super) fn new(
        source: Option<&JwksSource>,
        timeout: Duration,
        min_refetch: Duration,
    ) -> Result<Self, String> {
        let client = reqwest::Client::builder()
            .timeout(timeout)
            .build()
            .map_err(|e| format!("JWKS HTTP client: {e}"))?;
        let (url, keys) = match source {
            Some(JwksSource::Url(u)) => (Some(u.clone()), None),
            Some(JwksSource::Inline(k)) => (None, Some(k.clone())),
            None => (None, None),
        };
        Ok(Self {
            url,
            min_refetch,
            cached: RwLock::new(Cached {
                keys,
                last_fetch: None,
            }),
            fetch_lock: tokio::sync::Mutex::new(()),
            client,
        })
    }

    /// Fetch the JWK Set now when it comes from a URL (at startup, to find
    /// a wrong URL early).
    pub(super) async fn prefetch(&self) -> Result<(), String> {
        match &self.url {
            Some(u) => self.fetch(u).await,
            None => Ok(()),
        }
    }

    async fn fetch(&self, url: &str) -> Result<(), String> {
        let resp = self
            .client
            .get(url)
            .send()
            .await
            .map_err(|e| format!("JWKS {url}: {e}"))?;
        if !resp.status().is_success() {
            return Err(format!("JWKS {url}: HTTP {}", resp.status().as_u16()));
        }
        let set: JwkSet = resp
            .json()
            .await
            .map_err(|e| format!("JWKS {url}: not a JWK Set: {e}"))?;
        let mut c = self.cached.write().unwrap_or_else(|p| p.into_inner());
        c.keys = Some(set);
        c.last_fetch = Some(Instant::now());
        Ok(())
    }

    fn find_key(&self, kid: &str) -> Option<Jwk> {
        let c = self.cached.read().unwrap_or_else(|p| p.into_inner());
        c.keys.as_ref().and_then(|k| k.find(kid)).cloned()
    }

    /// The key `kid`, refetching the JWK Set (rate-limited) when unknown.
    pub(super) async fn key(&self, kid: &str) -> Result<Jwk, String> {
        if let Some(k) = self.find_key(kid) {
            return Ok(k);
        }
        let Some(url) = &self.url else {
            return Err(format!(
                "unknown kid {kid:?}: not in the configured JWK Set"
            ));
        };
        let _one_fetch = self.fetch_lock.lock().await;
        if let Some(k) = self.find_key(kid) {
            return Ok(k);
        }
        let recent = {
            let c = self.cached.read().unwrap_or_else(|p| p.into_inner());
            c.last_fetch.is_some_and(|t| t.elapsed() < self.min_refetch)
        };
        if !recent {
            if let Err(e) = self.fetch(url).await {
                tracing::warn!(error = %e, "cannot fetch the identity provider's JWK Set");
                // Count the failed attempt too, so a dead provider is not
                // hammered by every request.
                self.cached
                    .write()
                    .unwrap_or_else(|p| p.into_inner())
                    .last_fetch = Some(Instant::now());
                return Err(format!(
                    "unknown kid {kid:?}: the identity provider's keys cannot be fetched"
                ));
            }
        }
        self.find_key(kid)
            .ok_or_else(|| format!("unknown kid {kid:?}: not in the identity provider's JWK Set"))
    }
}
