//! The project-wide patient-level split (same rule as `tools/split.py`):
//! the first byte of SHA-256(patient id) modulo 10: 0-5 train, 6-7
//! calibration, 8-9 test. Stable across runs, machines and languages.

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Split {
    Train,
    Calibration,
    Test,
}

impl Split {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Train => "train",
            Self::Calibration => "calibration",
            Self::Test => "test",
        }
    }
}

/// Which split a patient (by logical id, without `Patient/`) belongs to.
pub fn split(patient_id: &str) -> Split {
    let b = Sha256::digest(patient_id.as_bytes())[0] % 10;
    match b {
        0..=5 => Split::Train,
        6 | 7 => Split::Calibration,
        _ => Split::Test,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_tools_split_py() {
        // Values printed by tools/split.py.
        let cases = [
            ("pt-01e515300f19-s101", Split::Train),
            ("a", Split::Train),
            ("Patient-1", Split::Train),
            ("xyz-42", Split::Test),
            ("pt-2cb19aa71d1d-s101", Split::Calibration),
            ("c", Split::Calibration),
            ("d", Split::Train),
        ];
        for (id, want) in cases {
            assert_eq!(split(id), want, "{id}");
        }
    }
}
