//! `bedside pathway validate`: every unsupported element is named by id,
//! and the exit status says whether any file has an error.

use std::path::Path;
use std::process::Command;

const BIN: &str = env!("CARGO_BIN_EXE_bedside");

fn repo(rel: &str) -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .join(rel)
}

#[test]
fn unsupported_elements_are_named_by_id_with_a_failing_exit() {
    let out = Command::new(BIN)
        .args(["pathway", "validate"])
        .arg(repo("crates/pathways/tests/fixtures/unsupported.bpmn"))
        .output()
        .unwrap();
    assert!(!out.status.success());
    let text = String::from_utf8(out.stdout).unwrap();
    for id in [
        "StartEvent_Timer",
        "Activity_Sub",
        "Activity_Script",
        "Gateway_Inclusive",
        "Activity_Multi",
        "Event_Error",
        "Event_Throw",
        "Event_MessageEnd",
        "Activity_Call",
    ] {
        assert!(
            text.lines().any(|l| l.contains(&format!("error: {id}:"))),
            "{id} not named:\n{text}"
        );
    }
    assert!(String::from_utf8_lossy(&out.stderr).contains("unsupported.bpmn"));
}

#[test]
fn shipped_pathways_validate_clean_and_a_missing_file_is_named() {
    let out = Command::new(BIN)
        .args(["pathway", "validate"])
        .arg(repo("pathways/sepsis-escalation.bpmn"))
        .arg(repo("pathways/radiology-review.bpmn"))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    assert_eq!(
        String::from_utf8(out.stdout)
            .unwrap()
            .matches("ok: no problems")
            .count(),
        2
    );
    let out = Command::new(BIN)
        .args(["pathway", "validate", "no-such-file.bpmn"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("no-such-file.bpmn: cannot read"));
}
