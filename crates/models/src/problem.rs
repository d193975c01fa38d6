//! Problems found while loading a package, and the crate's error type.

use serde::{Deserialize, Serialize};
use std::fmt;

/// One thing wrong with a model package, with where it is.
///
/// `location` is `file` or `file:key.path` or `file:line N`, e.g.
/// `model.toml:features[3].channel` or `calibration.json:map.y[17]`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Problem {
    pub location: String,
    pub message: String,
}

impl Problem {
    pub fn new(location: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            location: location.into(),
            message: message.into(),
        }
    }
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.location, self.message)
    }
}

/// Accumulates problems; loading continues past each one so that a single
/// run reports everything wrong with a package.
#[derive(Debug, Default)]
pub struct Problems(pub Vec<Problem>);

impl Problems {
    pub fn push(&mut self, location: impl Into<String>, message: impl Into<String>) {
        self.0.push(Problem::new(location, message));
    }
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

/// Why a package could not be loaded or a prediction could not be made.
#[derive(Debug, thiserror::Error)]
pub enum ModelError {
    /// The package has problems; every one found is listed.
    #[error("invalid model package ({} problem(s)): {}", .0.len(), first(.0))]
    Invalid(Vec<Problem>),
    /// A file could not be read.
    #[error("{path}: {source}")]
    Io {
        path: String,
        #[source]
        source: std::io::Error,
    },
    /// The scorer failed at prediction time (e.g. an ONNX runtime error).
    #[error("scorer {kind}: {message}")]
    Scorer { kind: &'static str, message: String },
    /// A feature vector did not have the length the scorer expects.
    #[error("expected {expected} feature values, got {got}")]
    Arity { expected: usize, got: usize },
}

fn first(p: &[Problem]) -> String {
    p.first().map(|p| p.to_string()).unwrap_or_default()
}
