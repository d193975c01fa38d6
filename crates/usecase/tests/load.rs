//! The shipped use cases load; a broken one names every problem with its
//! location.

use bedside_ingest::ChannelMap;
use bedside_usecase::{LinkKind, Trigger, UseCase};
use std::path::{Path, PathBuf};

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn shipped() -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(repo().join("use-cases"))
        .unwrap()
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.join(bedside_usecase::FILE).is_file())
        .collect();
    v.sort();
    v
}

#[test]
fn every_shipped_use_case_loads() {
    let map = ChannelMap::default_map();
    let dirs = shipped();
    assert!(!dirs.is_empty(), "no use case under use-cases/");
    for d in dirs {
        if let Err(p) = UseCase::load(&d, &map) {
            panic!("{}: {p:?}", d.display());
        }
    }
}

#[test]
fn sepsis_screening_reads_as_written() {
    let uc = UseCase::load(
        &repo().join("use-cases/sepsis-screening"),
        &ChannelMap::default_map(),
    )
    .unwrap();
    assert_eq!(uc.id, "sepsis-screening");
    assert_eq!(uc.trigger, Trigger::Risk);
    let pw = uc.pathway.as_ref().unwrap();
    assert_eq!(pw.start, "sepsis-alert");
    assert_eq!(pw.actions_under_way.as_deref(), Some("bundle-ordered"));
    assert_eq!(
        uc.actions_under_way,
        ["antibiotic_ordered", "blood_culture_ordered"]
    );
    assert_eq!(uc.card.suggestions.len(), 4);
    assert_eq!(
        uc.card.suggestions[0].resource["code"]["coding"][0]["code"],
        "2524-7"
    );
    assert_eq!(
        uc.card.suggestions[0].unless_event.as_deref(),
        Some("lactate_ordered")
    );
    assert_eq!(uc.policy.stage, bedside_policy::config::Stage::Live);
}

/// Copy a shipped use case into a temporary directory whose relative
/// paths still resolve (model and pathway are made absolute).
fn copy_of(name: &str) -> (tempfile::TempDir, PathBuf) {
    let src = repo().join("use-cases").join(name);
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join(name);
    std::fs::create_dir_all(dir.join("suggestions")).unwrap();
    for e in walk(&src) {
        let rel = e.strip_prefix(&src).unwrap();
        std::fs::copy(&e, dir.join(rel)).unwrap();
    }
    let root = repo().canonicalize().unwrap();
    let text = std::fs::read_to_string(dir.join("use-case.toml"))
        .unwrap()
        .replace("\"../../", &format!("\"{}/", root.display()));
    std::fs::write(dir.join("use-case.toml"), text).unwrap();
    (tmp, dir)
}

fn walk(d: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(d).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            out.extend(walk(&p));
        } else {
            out.push(p);
        }
    }
    out
}

fn edit(path: &Path, from: &str, to: &str) {
    let t = std::fs::read_to_string(path).unwrap();
    assert!(t.contains(from), "{from} not in {}", path.display());
    std::fs::write(path, t.replacen(from, to, 1)).unwrap();
}

#[test]
fn a_broken_use_case_names_every_problem_with_its_location() {
    let (_tmp, dir) = copy_of("sepsis-screening");
    let uc = dir.join("use-case.toml");
    // Unknown event channel.
    edit(
        &uc,
        "\"blood_culture_ordered\"]",
        "\"blood_culture_orderd\"]",
    );
    // A message the pathway does not wait for.
    edit(
        &uc,
        "actions_under_way = \"bundle-ordered\"",
        "actions_under_way = \"bundle-done\"",
    );
    // A policy key typo.
    edit(
        &dir.join("policy.toml"),
        "stage = \"live\"",
        "stage = \"live\"\nre_alert_dela = 3",
    );
    // A missing model file.
    edit(&uc, "models/sepsis-demo\"", "models/no-such-model\"");
    // Task medications: an unknown channel and one that is not a drug's.
    edit(
        &uc,
        "medications_label = \"antibiotics\"",
        "medications_label = \"antibiotics\"\nmedications = [\"antibiotic_orderd\", \"lactate_ordered\"]",
    );
    let problems = UseCase::validate(&dir, &ChannelMap::default_map());
    let text: Vec<String> = problems.iter().map(|p| p.to_string()).collect();
    let has = |loc: &str, words: &str| {
        problems
            .iter()
            .any(|p| p.location == loc && p.message.contains(words))
    };
    assert!(
        has(
            "use-case.toml:actions_under_way.all_of[1]",
            "blood_culture_orderd"
        ),
        "{text:#?}"
    );
    assert!(
        has("use-case.toml:pathway.actions_under_way", "bundle-done"),
        "{text:#?}"
    );
    assert!(
        problems
            .iter()
            .any(|p| p.location.starts_with("policy.toml") && p.message.contains("re_alert_dela")),
        "{text:#?}"
    );
    assert!(has("use-case.toml:model", "no-such-model"), "{text:#?}");
    assert!(
        has("use-case.toml:task.medications[0]", "antibiotic_orderd"),
        "{text:#?}"
    );
    assert!(
        has(
            "use-case.toml:task.medications[1]",
            "not read from MedicationRequest"
        ),
        "{text:#?}"
    );
    assert_eq!(problems.len(), 6, "{text:#?}");
}

#[test]
fn unknown_keys_and_bad_shapes_are_named() {
    let (_tmp, dir) = copy_of("sepsis-screening");
    let uc = dir.join("use-case.toml");
    edit(
        &uc,
        "title = \"Sepsis risk\"",
        "title = \"Sepsis risk\"\ncolour = \"red\"",
    );
    let p = UseCase::validate(&dir, &ChannelMap::default_map());
    assert_eq!(p.len(), 1, "{p:?}");
    assert!(p[0].location.starts_with("use-case.toml"), "{p:?}");
    assert!(p[0].message.contains("colour"), "{p:?}");

    let (_tmp2, dir) = copy_of("sepsis-screening");
    let uc = dir.join("use-case.toml");
    edit(
        &uc,
        "kind = \"risk\"",
        "kind = \"resource\"\nresources = [\"diagnostic report\"]",
    );
    edit(&uc, "start = \"sepsis-alert\"", "start = \"sepsis-alarm\"");
    edit(
        &uc,
        "[[card.suggestions]]\nlabel = \"Order serum lactate\"",
        "[[card.links]]\nlabel = \"Guideline\"\nurl = \"intranet/sepsis\"\ntype = \"smart\"\n\n[[card.suggestions]]\nlabel = \"Order serum lactate\"",
    );
    let p = UseCase::validate(&dir, &ChannelMap::default_map());
    let locs: Vec<&str> = p.iter().map(|p| p.location.as_str()).collect();
    assert!(
        locs.contains(&"use-case.toml:trigger.resources[0]"),
        "{p:?}"
    );
    assert!(locs.contains(&"use-case.toml:trigger"), "{p:?}");
    assert!(locs.contains(&"use-case.toml:pathway.start"), "{p:?}");
    // The shipped file's own link is links[0]; the one added here is next.
    assert!(locs.contains(&"use-case.toml:card.links[1].url"), "{p:?}");
    assert!(!locs.contains(&"use-case.toml:card.links[0].url"), "{p:?}");
}

#[test]
fn links_and_resource_rules_are_read() {
    let (_tmp, dir) = copy_of("sepsis-screening");
    let uc = dir.join("use-case.toml");
    edit(
        &uc,
        "[[card.suggestions]]\nlabel = \"Order serum lactate\"",
        "[[card.links]]\nlabel = \"Sepsis app\"\nurl = \"https://apps.example/launch\"\ntype = \"smart\"\napp_context = \"view=sepsis\"\n\n[[card.suggestions]]\nlabel = \"Order serum lactate\"",
    );
    let u = UseCase::load(&dir, &ChannelMap::default_map()).unwrap();
    assert_eq!(u.card.links.len(), 2);
    // The shipped SMART link into Bedside's own patient page.
    assert_eq!(u.card.links[0].url, "{public_url}/smart/launch");
    assert_eq!(u.card.links[0].kind, LinkKind::Smart);
    assert_eq!(
        u.card.links[0].app_context.as_deref(),
        Some("patient={{patientId}}")
    );
    assert_eq!(u.card.links[1].kind, LinkKind::Smart);
    assert_eq!(u.card.links[1].app_context.as_deref(), Some("view=sepsis"));
}

#[test]
fn draft_requirements_are_read_and_checked() {
    // The shipped sepsis use case: antibiotics need blood cultures.
    let (_tmp, dir) = copy_of("sepsis-screening");
    let u = UseCase::load(&dir, &ChannelMap::default_map()).unwrap();
    assert_eq!(u.card.draft_requires.len(), 1);
    let r = &u.card.draft_requires[0];
    assert_eq!(r.when, vec!["antibiotic_ordered".to_string()]);
    assert_eq!(r.requires, vec!["blood_culture_ordered".to_string()]);
    assert!(r.message.starts_with("Blood cultures before antibiotics"));

    // Every mistake named by its key.
    let uc = dir.join("use-case.toml");
    edit(
        &uc,
        "when = [\"antibiotic_ordered\"]\nrequires = [\"blood_culture_ordered\"]",
        "when = [\"antibiotics_ordered\"]\nrequires = []",
    );
    edit(
        &uc,
        "message = \"Blood cultures before antibiotics",
        "message = \"   \"\nx = \"",
    );
    let p = UseCase::validate(&dir, &ChannelMap::default_map());
    let text = format!("{p:?}");
    // An unknown key first: serde stops there, naming it.
    assert!(text.contains("card.draft_requires"), "{text}");
    assert!(text.contains("unknown field `x`"), "{text}");

    let (_tmp2, dir) = copy_of("sepsis-screening");
    let uc = dir.join("use-case.toml");
    edit(
        &uc,
        "when = [\"antibiotic_ordered\"]\nrequires = [\"blood_culture_ordered\"]",
        "when = [\"antibiotics_ordered\"]\nrequires = []",
    );
    let long = "x".repeat(150);
    edit(
        &uc,
        "message = \"Blood cultures before antibiotics: draw blood cultures before the first antibiotic dose\"",
        &format!("message = \"{long}\""),
    );
    let p = UseCase::validate(&dir, &ChannelMap::default_map());
    let locs: Vec<&str> = p.iter().map(|p| p.location.as_str()).collect();
    assert!(
        locs.contains(&"use-case.toml:card.draft_requires[0].when[0]"),
        "{p:?}"
    );
    assert!(
        locs.contains(&"use-case.toml:card.draft_requires[0].requires"),
        "{p:?}"
    );
    assert!(
        locs.contains(&"use-case.toml:card.draft_requires[0].message"),
        "{p:?}"
    );
    let unknown = p.iter().find(|p| p.location.ends_with("when[0]")).unwrap();
    assert!(
        unknown
            .to_string()
            .contains("unknown event channel `antibiotics_ordered`"),
        "{unknown}"
    );
}

#[test]
fn the_imaging_rule_is_configuration() {
    let u = UseCase::load(
        &repo().join("use-cases/imaging-ai-review"),
        &ChannelMap::default_map(),
    )
    .unwrap();
    let Trigger::Resource(r) = &u.trigger else {
        panic!("{:?}", u.trigger)
    };
    assert_eq!(r.on.as_deref(), Some("ImagingStudy"));
    assert_eq!(r.tags[0].1, "AIAST");
    assert_eq!(r.also.len(), 1);
    assert_eq!(r.also[0].message, "imaging-qc-failure");
    assert_eq!(r.context.responsible, "responsible_radiologist");
    assert!(r
        .context
        .responsible_codes
        .contains(&("http://snomed.info/sct".into(), "66862007".into())));
    assert_eq!(r.context.responsible_texts, vec!["radiolog".to_string()]);
    assert!(r.context.allergy_texts.contains(&"gadolin".to_string()));
    assert_eq!(r.context.prior, "prior_imaging");
}

#[test]
fn broken_resource_rules_and_discovery_are_named() {
    let (_tmp, dir) = copy_of("imaging-ai-review");
    let uc = dir.join("use-case.toml");
    edit(
        &uc,
        "message = \"imaging-qc-failure\"",
        "message = \"qc-fail\"",
    );
    edit(
        &uc,
        "codes = [\"https://bedside.dev/imaging-qc|qc-failure\"]",
        "codes = [\"qc-failure\"]",
    );
    edit(&uc, "on = \"study\"", "on = \"the study\"");
    edit(
        &uc,
        "responsible_codes = [\"http://snomed.info/sct|66862007\"",
        "responsible_codes = [\"66862007\"",
    );
    edit(
        &uc,
        "responsible_texts = [\"radiolog\"]",
        "responsible_texts = [\"radiolog\"]\ncolour = 1",
    );
    let p = UseCase::validate(&dir, &ChannelMap::default_map());
    // An unknown key stops the read: it is named alone.
    assert_eq!(p.len(), 1, "{p:?}");
    assert!(
        p[0].location.contains("trigger") && p[0].message.contains("colour"),
        "{p:?}"
    );
    edit(
        &uc,
        "responsible_texts = [\"radiolog\"]\ncolour = 1",
        "responsible_texts = [\"radiolog\"]",
    );
    let long = "x".repeat(101);
    std::fs::write(
        &uc,
        std::fs::read_to_string(&uc).unwrap()
            + &format!("\n[discovery]\npatient-view = \"{long}\"\npatient-open = \"Risk\"\n"),
    )
    .unwrap();
    let p = UseCase::validate(&dir, &ChannelMap::default_map());
    let locs: Vec<&str> = p.iter().map(|p| p.location.as_str()).collect();
    for want in [
        "use-case.toml:trigger.also[0].message",
        "use-case.toml:trigger.also[0].codes[0]",
        "use-case.toml:trigger.context.on",
        "use-case.toml:trigger.context.responsible_codes[0]",
        "use-case.toml:discovery.patient-view",
        "use-case.toml:discovery.patient-open",
    ] {
        assert!(locs.contains(&want), "{want} not in {p:?}");
    }
}

#[test]
fn discovery_descriptions_come_from_the_file() {
    let u = UseCase::load(
        &repo().join("use-cases/deterioration"),
        &ChannelMap::default_map(),
    )
    .unwrap();
    assert_eq!(
        u.hook_description("patient-view"),
        "Deterioration risk for this patient, with the reasons"
    );
    for h in bedside_usecase::HOOKS {
        let d = u.hook_description(h);
        assert!(!d.is_empty() && d.chars().count() <= 100, "{h}: {d}");
        assert!(!d.to_lowercase().contains("sepsis"), "{h}: {d}");
    }
}
