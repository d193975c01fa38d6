//! `bedside pathway validate FILE...`: import each BPMN file as the server
//! would and print every problem with the id of the element at fault.

use anyhow::{bail, Context, Result};
use clap::Subcommand;
use std::path::PathBuf;

#[derive(Subcommand)]
pub enum PathwayCmd {
    /// Check BPMN files: every unsupported element and structural problem
    /// is named by id; exits non-zero when any file has an error.
    Validate {
        /// BPMN 2.0 files (as saved by bpmn.io or Camunda Modeler).
        #[arg(required = true)]
        files: Vec<PathBuf>,
    },
}

pub fn pathway(cmd: PathwayCmd) -> Result<()> {
    match cmd {
        PathwayCmd::Validate { files } => validate(&files),
    }
}

fn validate(files: &[PathBuf]) -> Result<()> {
    let mut failed = Vec::new();
    for f in files {
        let text = std::fs::read_to_string(f)
            .with_context(|| format!("pathway {}: cannot read", f.display()))?;
        let problems = bedside_pathways::validate(&text);
        let errors = problems
            .iter()
            .filter(|p| p.severity == bedside_pathways::Severity::Error)
            .count();
        println!("{}:", f.display());
        for line in bedside_pathways::format_problems(&problems).lines() {
            println!("  {line}");
        }
        if errors > 0 {
            failed.push(f.display().to_string());
        }
    }
    if !failed.is_empty() {
        bail!("pathway validation failed: {}", failed.join(", "));
    }
    Ok(())
}
