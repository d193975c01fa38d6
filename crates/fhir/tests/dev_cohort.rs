//! Every line of every dev-cohort file parses (warnings allowed), from
//! its bytes exactly as from its JSON tree (`parse_value`).

use std::io::{BufRead, BufReader};
use std::path::Path;

fn check(file: &str, lines: &[Vec<u8>]) -> (usize, Vec<String>) {
    let expected = file.replace(".ndjson.gz", "");
    let mut warnings = 0;
    let mut errors = Vec::new();
    for (i, line) in lines.iter().enumerate() {
        match bedside_fhir::parse_resource(line) {
            Ok(p) if p.rtype == expected && p.id.is_some() => {
                warnings += p.warnings.len();
                if p.body().as_bytes() != &line[..] {
                    errors.push(format!("{file}:{}: body is not the line", i + 1));
                }
                // Every 4th line against the tree parse (bounds the time).
                if i % 4 != 0 {
                    continue;
                }
                let tree = serde_json::from_slice(line).unwrap();
                let t = bedside_fhir::parse_value(tree).unwrap();
                // Warnings come in document order from bytes, in key order
                // from a tree.
                let sorted = |w: &[bedside_fhir::Issue]| {
                    let mut w: Vec<String> = w.iter().map(|i| format!("{i:?}")).collect();
                    w.sort();
                    w
                };
                if (&p.resource, &p.meta, sorted(&p.warnings))
                    != (&t.resource, &t.meta, sorted(&t.warnings))
                {
                    errors.push(format!("{file}:{}: bytes and tree differ", i + 1));
                }
            }
            Ok(p) => errors.push(format!("{file}:{}: type {} id {:?}", i + 1, p.rtype, p.id)),
            Err(e) => errors.push(format!("{file}:{}: {e}", i + 1)),
        }
    }
    (warnings, errors)
}

#[test]
fn every_dev_cohort_line_parses() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/data/dev-cohort");
    let Ok(rd) = std::fs::read_dir(&dir) else {
        eprintln!("skipping: {} not present", dir.display());
        return;
    };
    let mut work: Vec<(String, Vec<Vec<u8>>)> = Vec::new();
    for f in rd.filter_map(Result::ok).map(|e| e.path()) {
        let name = f.file_name().unwrap().to_string_lossy().to_string();
        if !name.ends_with(".ndjson.gz") {
            continue;
        }
        let r = BufReader::new(flate2::read::GzDecoder::new(
            std::fs::File::open(&f).unwrap(),
        ));
        let lines: Vec<Vec<u8>> = r
            .split(b'\n')
            .map(Result::unwrap)
            .filter(|l| !l.is_empty())
            .collect();
        work.push((name, lines));
    }
    let total: usize = work.iter().map(|(_, l)| l.len()).sum();
    // Two threads, each half of every file (CI has 2 cores).
    let results: Vec<(usize, Vec<String>)> = std::thread::scope(|s| {
        let hs: Vec<_> = (0..2)
            .map(|k| {
                let work = &work;
                s.spawn(move || {
                    let mut out = (0, Vec::new());
                    for (name, lines) in work {
                        let mid = lines.len() / 2;
                        let part = if k == 0 { &lines[..mid] } else { &lines[mid..] };
                        let (w, e) = check(name, part);
                        out.0 += w;
                        out.1.extend(e);
                    }
                    out
                })
            })
            .collect();
        hs.into_iter().map(|h| h.join().unwrap()).collect()
    });
    let warnings: usize = results.iter().map(|r| r.0).sum();
    let errors: Vec<&String> = results.iter().flat_map(|r| &r.1).collect();
    assert!(total > 100_000, "read {total} lines");
    assert!(
        errors.is_empty(),
        "{} errors, first: {:?}",
        errors.len(),
        &errors[..errors.len().min(5)]
    );
    eprintln!("{total} resources, {warnings} warnings");
}
