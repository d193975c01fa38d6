//! Checked value types.

use serde::{Deserialize, Serialize};
use std::fmt;

/// Why a value could not be built.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum TypeError {
    #[error("probability must be a number in [0, 1], got {0}")]
    Probability(f64),
    #[error("invalid FHIR id {0:?}: must be 1-64 characters of [A-Za-z0-9.-]")]
    Id(String),
}

/// A probability in `[0, 1]`; NaN is rejected.
#[derive(Debug, Clone, Copy, PartialEq, PartialOrd, Serialize, Deserialize)]
#[serde(try_from = "f64", into = "f64")]
pub struct Probability(f64);

impl Probability {
    pub fn new(p: f64) -> Result<Self, TypeError> {
        if (0.0..=1.0).contains(&p) {
            Ok(Self(p))
        } else {
            Err(TypeError::Probability(p))
        }
    }
    /// Clamp a finite number into `[0, 1]` (NaN becomes 0).
    pub fn clamped(p: f64) -> Self {
        if p.is_nan() {
            Self(0.0)
        } else {
            Self(p.clamp(0.0, 1.0))
        }
    }
    pub fn get(self) -> f64 {
        self.0
    }
}

impl TryFrom<f64> for Probability {
    type Error = TypeError;
    fn try_from(p: f64) -> Result<Self, TypeError> {
        Self::new(p)
    }
}
impl From<Probability> for f64 {
    fn from(p: Probability) -> f64 {
        p.0
    }
}

/// Is `s` a valid FHIR R4 `id` (`[A-Za-z0-9\-\.]{1,64}`)?
pub fn is_fhir_id(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 64
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'.')
}

/// A reference to a patient by its logical id (pseudonymous in logs).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct PatientRef(String);

impl PatientRef {
    /// Accepts `"abc"` or `"Patient/abc"`.
    pub fn parse(s: &str) -> Result<Self, TypeError> {
        let id = s.strip_prefix("Patient/").unwrap_or(s);
        if is_fhir_id(id) {
            Ok(Self(id.to_string()))
        } else {
            Err(TypeError::Id(s.to_string()))
        }
    }
    pub fn id(&self) -> &str {
        &self.0
    }
    /// A short stable pseudonym for logs: never log the id of a real
    /// patient together with values; this hash is enough to correlate.
    pub fn pseudonym(&self) -> String {
        // FNV-1a: stable across runs and platforms, no dependency needed.
        let mut h: u64 = 0xcbf29ce484222325;
        for b in self.0.bytes() {
            h ^= b as u64;
            h = h.wrapping_mul(0x100000001b3);
        }
        format!("p{:012x}", h & 0xffff_ffff_ffff)
    }
}
impl TryFrom<String> for PatientRef {
    type Error = TypeError;
    fn try_from(s: String) -> Result<Self, TypeError> {
        Self::parse(&s)
    }
}
impl From<PatientRef> for String {
    fn from(p: PatientRef) -> String {
        p.0
    }
}
impl fmt::Display for PatientRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Patient/{}", self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn probability_rejects_out_of_range_and_nan() {
        assert!(Probability::new(-0.01).is_err());
        assert!(Probability::new(1.01).is_err());
        assert!(Probability::new(f64::NAN).is_err());
        assert_eq!(Probability::new(0.25).unwrap().get(), 0.25);
        assert_eq!(Probability::clamped(f64::NAN).get(), 0.0);
        assert_eq!(Probability::clamped(3.0).get(), 1.0);
    }

    #[test]
    fn patient_ref_parses_both_forms() {
        assert_eq!(PatientRef::parse("Patient/a-1").unwrap().id(), "a-1");
        assert_eq!(PatientRef::parse("a-1").unwrap().id(), "a-1");
        assert!(PatientRef::parse("Patient/").is_err());
        assert!(PatientRef::parse("a b").is_err());
        assert!(PatientRef::parse(&"x".repeat(65)).is_err());
    }

    proptest! {
        #[test]
        fn probability_new_accepts_exactly_unit_interval(p in proptest::num::f64::ANY) {
            prop_assert_eq!(Probability::new(p).is_ok(), (0.0..=1.0).contains(&p));
        }
        #[test]
        fn pseudonym_is_stable_and_hides_id(s in "[a-z0-9]{1,40}") {
            let r = PatientRef::parse(&s).unwrap();
            prop_assert_eq!(r.pseudonym(), r.clone().pseudonym());
            prop_assert!(!r.pseudonym().contains(&s) || s.len() < 3);
        }
    }
}
