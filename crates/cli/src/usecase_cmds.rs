//! `bedside use-case validate DIR...`: read each use case as the server
//! would (its model package, policy, pathway, card content and trigger)
//! and print every problem with its location.

use anyhow::{bail, Context, Result};
use bedside_ingest::ChannelMap;
use bedside_usecase::UseCase;
use clap::Subcommand;
use std::path::PathBuf;

#[derive(Subcommand)]
pub enum UseCaseCmd {
    /// Check use case directories (each holding `use-case.toml`): every
    /// problem is named with its file and key; exits non-zero when any
    /// use case has one.
    Validate {
        /// Use case directories.
        #[arg(required = true)]
        dirs: Vec<PathBuf>,
        /// Channel mapping file the server runs with (default: built in).
        #[arg(long, env = "BEDSIDE_CHANNELS")]
        channels: Option<PathBuf>,
    },
}

pub fn use_case(cmd: UseCaseCmd) -> Result<()> {
    match cmd {
        UseCaseCmd::Validate { dirs, channels } => {
            let map = match channels {
                None => ChannelMap::default_map(),
                Some(p) => {
                    let text = std::fs::read_to_string(&p)
                        .with_context(|| format!("channels {}: cannot read", p.display()))?;
                    ChannelMap::from_toml_str(&text)
                        .with_context(|| format!("channels {}", p.display()))?
                }
            };
            let mut failed = Vec::new();
            for d in &dirs {
                let problems = UseCase::validate(d, &map);
                if problems.is_empty() {
                    println!("{}: ok", d.display());
                } else {
                    println!("{}: {} problem(s)", d.display(), problems.len());
                    for p in &problems {
                        println!("  {p}");
                    }
                    failed.push(d.display().to_string());
                }
            }
            if !failed.is_empty() {
                bail!("use case validation failed: {}", failed.join(", "));
            }
            Ok(())
        }
    }
}
