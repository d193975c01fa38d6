//! `bedside replay DIR`: feed a bulk NDJSON directory in event-time order
//! through the ingest path, in-process or against a running server.

use anyhow::{bail, Context, Result};
use bedside_app::replay::{read_dir_sorted, replay_chunks};
use bedside_app::{App, ImportSummary};
use clap::Args;
use indicatif::{ProgressBar, ProgressStyle};
use std::io::IsTerminal;
use std::path::PathBuf;

#[derive(Args)]
pub struct ReplayArgs {
    /// Directory of `.ndjson` / `.ndjson.gz` files (FHIR bulk data layout).
    pub dir: PathBuf,
    /// Data directory of the embedded store (in-process replay).
    #[arg(long, env = "BEDSIDE_DATA_DIR", default_value = "bedside-data")]
    pub data_dir: PathBuf,
    /// PostgreSQL URL instead of the embedded store.
    #[arg(long, env = "BEDSIDE_DATABASE_URL")]
    pub database_url: Option<String>,
    /// Channel mapping file (default: built in).
    #[arg(long, env = "BEDSIDE_CHANNELS")]
    pub channels: Option<PathBuf>,
    /// Model packages to score with while replaying (repeatable).
    #[arg(long = "model")]
    pub models: Vec<PathBuf>,
    /// Replay against a running server (its base URL) via `POST /fhir/$import`.
    #[arg(long)]
    pub url: Option<String>,
    /// With --url: a file holding the bearer token to send (a service token
    /// with role `service`, or an access token), when the server has access
    /// control on.
    #[arg(long, env = "BEDSIDE_TOKEN_FILE")]
    pub token_file: Option<PathBuf>,
    /// Print one JSON object with the summary instead of text.
    #[arg(long)]
    pub json: bool,
}

fn progress_bar(total: u64) -> Option<ProgressBar> {
    if !std::io::stderr().is_terminal() {
        return None;
    }
    let pb = ProgressBar::new(total);
    pb.set_style(
        ProgressStyle::with_template(
            "{spinner} replay [{bar:40}] {pos}/{len} resources ({per_sec}, eta {eta})",
        )
        .expect("static template")
        .progress_chars("=> "),
    );
    Some(pb)
}

pub async fn run(a: ReplayArgs) -> Result<()> {
    let summary = match &a.url {
        Some(url) => replay_http(&a, url).await?,
        None => {
            let config = crate::offline_config(&a.data_dir, a.database_url.as_deref())?
                .channels(a.channels.clone())
                .models(&a.models);
            let app = App::open(config).await?;
            let pb = progress_bar(0);
            let cb = |done: u64, total: u64| {
                if let Some(pb) = &pb {
                    pb.set_length(total);
                    pb.set_position(done);
                }
            };
            let s = bedside_app::replay::replay_dir(&app, &a.dir, Some(&cb)).await?;
            if let Some(pb) = &pb {
                pb.finish_and_clear();
            }
            s
        }
    };
    if a.json {
        println!("{}", serde_json::to_string(&summary)?);
    } else {
        print_text(&summary);
    }
    Ok(())
}

/// Send the sorted lines to a server in the same chunks as an in-process
/// replay (bounded in size and event time), merging its per-chunk summaries.
async fn replay_http(a: &ReplayArgs, url: &str) -> Result<ImportSummary> {
    let lines = read_dir_sorted(&a.dir).map_err(|e| anyhow::anyhow!(e.message()))?;
    let pb = progress_bar(lines.len() as u64);
    let client = reqwest::Client::new();
    let token = match &a.token_file {
        Some(p) => Some(
            std::fs::read_to_string(p)
                .with_context(|| format!("--token-file {}: cannot read", p.display()))?
                .trim()
                .to_string(),
        ),
        None => None,
    };
    let endpoint = format!("{}/fhir/$import", url.trim_end_matches('/'));
    let mut total = ImportSummary::default();
    for chunk in replay_chunks(&lines) {
        let mut body = Vec::new();
        for l in chunk {
            body.extend_from_slice(&l.bytes);
            body.push(b'\n');
        }
        let mut rb = client
            .post(&endpoint)
            .header("content-type", "application/fhir+ndjson")
            .body(body);
        if let Some(t) = &token {
            rb = rb.bearer_auth(t);
        }
        let resp = rb
            .send()
            .await
            .with_context(|| format!("POST {endpoint}"))?;
        let status = resp.status();
        let text = resp.text().await?;
        if !status.is_success() {
            bail!("POST {endpoint}: {status}: {text}");
        }
        let part: ImportSummary =
            serde_json::from_str(&text).with_context(|| format!("unexpected answer: {text}"))?;
        total.merge_counts(&part);
        total.stored = part.stored;
        total.patients = part.patients;
        total.encounters = part.encounters;
        if let Some(pb) = &pb {
            pb.inc(chunk.len() as u64);
        }
    }
    if let Some(pb) = &pb {
        pb.finish_and_clear();
    }
    Ok(total)
}

fn print_text(s: &ImportSummary) {
    println!(
        "read {} resources: {} created, {} updated, {} unchanged, {} rejected",
        s.read_total(),
        s.created,
        s.updated,
        s.unchanged,
        s.rejected
    );
    for (t, n) in &s.resources {
        let stored = s.stored.get(t).copied().unwrap_or(0);
        println!("  {t:<26} read {n:>7}  stored {stored:>7}");
    }
    println!("patients {}, encounters {}", s.patients, s.encounters);
    for r in s.rejections.iter().take(20) {
        println!("  rejected {}/{}: {}", r.rtype, r.id, r.reason);
    }
    if s.rejections.len() > 20 {
        println!("  ... and {} more rejections", s.rejections.len() - 20);
    }
}
