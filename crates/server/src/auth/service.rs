//! Static service-account tokens (`name:role:token`), held only as their
//! SHA-256 and compared in constant time.

use super::{Principal, Role, Secret};
use sha2::{Digest, Sha256};
use std::fmt;

/// A static service-account credential.
#[derive(Clone)]
pub struct ServiceToken {
    pub name: String,
    pub roles: Vec<Role>,
    hash: [u8; 32],
}

impl fmt::Debug for ServiceToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ServiceToken")
            .field("name", &self.name)
            .field("roles", &self.roles)
            .finish_non_exhaustive()
    }
}

/// Shortest static token accepted (a `openssl rand -hex 32` has 64).
pub const MIN_SERVICE_TOKEN_LEN: usize = 32;

fn token_char_ok(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | '~' | '+' | '/' | '=')
}

impl ServiceToken {
    pub fn new(name: &str, roles: Vec<Role>, token: &Secret) -> Result<Self, String> {
        let t = token.expose();
        if name.is_empty() {
            return Err("service token: the name is empty".into());
        }
        if t.chars().count() < MIN_SERVICE_TOKEN_LEN {
            return Err(format!(
                "service token `{name}`: at least {MIN_SERVICE_TOKEN_LEN} characters (e.g. `openssl rand -hex 32`)"
            ));
        }
        if !t.chars().all(token_char_ok) {
            return Err(format!(
                "service token `{name}`: only letters, digits and - _ . ~ + / = are allowed"
            ));
        }
        if roles.is_empty() {
            return Err(format!("service token `{name}`: no role"));
        }
        Ok(Self {
            name: name.to_string(),
            roles,
            hash: Sha256::digest(t.as_bytes()).into(),
        })
    }

    /// Parse `name:role[+role]:token` entries, one per line (or separated
    /// by commas); `#` starts a comment. `origin` names the source in
    /// errors (never the token).
    pub fn parse_list(text: &Secret, origin: &str) -> Result<Vec<Self>, String> {
        let mut out: Vec<Self> = Vec::new();
        for (i, raw) in text.expose().split(['\n', ',']).map(str::trim).enumerate() {
            if raw.is_empty() || raw.starts_with('#') {
                continue;
            }
            let mut parts = raw.splitn(3, ':');
            let (Some(name), Some(roles), Some(token)) = (parts.next(), parts.next(), parts.next())
            else {
                return Err(format!(
                    "{origin}: entry {} is not `name:role:token`",
                    i + 1
                ));
            };
            let roles = roles
                .split('+')
                .map(|r| {
                    Role::parse(r.trim()).ok_or_else(|| {
                        format!(
                            "{origin}: service token `{name}`: unknown role `{r}` (known: clinician, informatics, governance, admin, service)"
                        )
                    })
                })
                .collect::<Result<Vec<_>, _>>()?;
            let t = ServiceToken::new(name.trim(), roles, &Secret::new(token.trim()))
                .map_err(|e| format!("{origin}: {e}"))?;
            if out.iter().any(|o| o.name == t.name) {
                return Err(format!(
                    "{origin}: service token `{}` appears twice",
                    t.name
                ));
            }
            out.push(t);
        }
        Ok(out)
    }
}

/// The service account whose token is `token`, if any. Every entry is
/// compared (no early exit), each in constant time.
pub(super) fn service_account(tokens: &[ServiceToken], token: &str) -> Option<Principal> {
    use subtle::ConstantTimeEq;
    let h: [u8; 32] = Sha256::digest(token.as_bytes()).into();
    let mut found = None;
    for t in tokens {
        if bool::from(t.hash.ct_eq(&h)) {
            found = Some(t);
        }
    }
    found.map(|t| Principal {
        practitioner: None,
        subject: t.name.clone(),
        roles: t.roles.clone(),
        service_account: true,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bad_service_token_lists_are_named() {
        let e = |s: &str| ServiceToken::parse_list(&Secret::new(s), "f").unwrap_err();
        assert!(
            e("a:service:short").contains("at least 32"),
            "{}",
            e("a:service:short")
        );
        assert!(e("a:root:0123456789abcdef0123456789abcdef").contains("unknown role `root`"));
        assert!(e("nocolons").contains("entry 1 is not `name:role:token`"));
        let dup =
            "a:service:0123456789abcdef0123456789abcdef\na:admin:0123456789abcdef0123456789abcdeX";
        assert!(e(dup).contains("appears twice"));
        // The token itself is never in an error.
        assert!(!e("a:root:0123456789abcdef0123456789abcdef").contains("0123456789abcdef"));
    }
}
