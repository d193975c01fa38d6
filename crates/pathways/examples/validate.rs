//! `cargo run -p bedside-pathways --example validate -- FILE...`: print the
//! problems of BPMN files as `bedside pathway validate` will.
fn main() {
    let mut failed = false;
    for path in std::env::args().skip(1) {
        match std::fs::read_to_string(&path) {
            Ok(xml) => {
                let problems = bedside_pathways::validate(&xml);
                failed |= problems
                    .iter()
                    .any(|p| p.severity == bedside_pathways::Severity::Error);
                print!("{path}:\n{}", bedside_pathways::format_problems(&problems));
            }
            Err(e) => {
                eprintln!("{path}: {e}");
                failed = true;
            }
        }
    }
    std::process::exit(i32::from(failed));
}
