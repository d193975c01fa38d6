//! The whole dev cohort maps without a single rejection, and the state it
//! builds matches what the data README says is in it.

use bedside_core::PatientState;
use bedside_ingest::{apply_updates, patient_of, updates_for, ChannelMap};
use std::collections::HashMap;
use std::io::{BufRead, BufReader};
use std::path::Path;

#[test]
fn every_dev_cohort_resource_maps_and_builds_state() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/data/dev-cohort");
    if !dir.exists() {
        eprintln!("skipping: {} not present", dir.display());
        return;
    }
    let map = ChannelMap::default_map();
    let mut states: HashMap<String, PatientState> = HashMap::new();
    let mut rejections = Vec::new();
    let mut n = 0usize;
    for f in std::fs::read_dir(&dir)
        .unwrap()
        .filter_map(Result::ok)
        .map(|e| e.path())
    {
        if !f.to_string_lossy().ends_with(".ndjson.gz") {
            continue;
        }
        let r = BufReader::new(flate2::read::GzDecoder::new(
            std::fs::File::open(&f).unwrap(),
        ));
        for line in r.split(b'\n') {
            let line = line.unwrap();
            if line.is_empty() {
                continue;
            }
            n += 1;
            let p = bedside_fhir::parse_resource(&line).unwrap();
            let mapped = patient_of(&p).and_then(|pid| Ok((pid, updates_for(&p, &map)?)));
            match mapped {
                Err(e) => rejections.push(format!("{}/{:?}: {e}", p.rtype, p.id)),
                Ok((Some(pid), ups)) => {
                    let st = states
                        .entry(pid.clone())
                        .or_insert_with(|| PatientState::new(pid));
                    let src = format!("{}/{}", p.rtype, p.id.as_deref().unwrap_or(""));
                    apply_updates(st, &src, ups, map.retention(), false);
                }
                Ok((None, _)) => {}
            }
        }
    }
    assert!(n > 100_000);
    assert!(
        rejections.is_empty(),
        "{} rejected, e.g. {:?}",
        rejections.len(),
        &rejections[..rejections.len().min(5)]
    );
    assert_eq!(states.len(), 300, "one state per patient");
    let with = |k: &str| states.values().filter(|s| s.events.contains_key(k)).count();
    let with_ch = |k: &str| {
        states
            .values()
            .filter(|s| s.channels.contains_key(k))
            .count()
    };
    assert_eq!(
        with("condition_sepsis"),
        40,
        "40 septic patients per the data README"
    );
    assert_eq!(with("condition_sepsis_recorded"), 40);
    for ch in [
        "heart_rate",
        "resp_rate",
        "temperature",
        "spo2",
        "sbp",
        "dbp",
        "map",
        "avpu",
    ] {
        assert_eq!(with_ch(ch), 300, "{ch}");
    }
    assert!(with_ch("lactate") > 0 && with_ch("wbc") > 0 && with_ch("creatinine") > 0);
    assert!(
        with("antibiotic_ordered") > 40,
        "antibiotics ordered for more than the septic"
    );
    assert!(with("blood_culture_ordered") > 0 && with("lactate_ordered") > 0);
    assert!(states
        .values()
        .all(|s| s.birth_date.is_some() && s.race.is_some() && !s.encounters.is_empty()));
    // Retention bounds each channel: no channel holds more than 48 h + 1
    // points per hourly series (vitals here are at most ~hourly).
    let max_points = states
        .values()
        .flat_map(|s| s.channels.values())
        .map(|c| c.points.len())
        .max()
        .unwrap();
    assert!(
        max_points < 200,
        "retention keeps series short, got {max_points}"
    );
}
