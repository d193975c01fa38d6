//! `bedside audit verify` and `bedside audit export`: the audit log read
//! straight from the store (no models, no pathways, nothing written).
//!
//! `verify` checks the whole hash chain from seq 1, page by page: prints
//! `audit log ok: N entries checked, head seq S hash H` and exits 0, or
//! names the first bad entry and why (modified, missing, reordered, broken
//! link) and exits 1.
//!
//! `export` writes NDJSON, one AuditEvent per line in seq order, each with
//! the chain's own fields as extensions (urls under [`EXT_BASE`]):
//! `audit-seq` (valueInteger), `audit-recorded-at` (valueInstant, the
//! store's time, part of the hash), `audit-prev-hash` and `audit-hash`
//! (valueString). The stored body is the line without those four
//! extensions (and without `extension` when none is left), so the chain
//! can be checked again from the export alone.

use anyhow::{bail, Context, Result};
use bedside_store::{instant_text, open, AuditEntry, ChainVerifier, Store};
use clap::{Args, Subcommand};
use serde_json::{json, Value};
use std::io::Write;
use std::path::PathBuf;
use std::sync::Arc;

/// Base of the export's extension urls.
pub const EXT_BASE: &str = "https://bedside.dev/fhir/StructureDefinition/";
/// Entries read per page.
const PAGE: u32 = 2000;

#[derive(Subcommand)]
pub enum AuditCmd {
    /// Check the audit log's hash chain; exit 1 naming the first modified,
    /// missing or reordered entry.
    Verify(StoreArgs),
    /// Write the audit log as NDJSON (one FHIR AuditEvent per line, with
    /// seq, store time and hashes as extensions).
    Export {
        #[command(flatten)]
        store: StoreArgs,
        /// Output file (default: standard output).
        #[arg(long)]
        out: Option<PathBuf>,
    },
}

#[derive(Args)]
pub struct StoreArgs {
    /// Directory of the embedded SQLite database.
    #[arg(long, env = "BEDSIDE_DATA_DIR", default_value = "bedside-data")]
    data_dir: PathBuf,
    /// PostgreSQL URL (instead of --data-dir).
    #[arg(long, env = "BEDSIDE_DATABASE_URL")]
    database_url: Option<String>,
}

impl StoreArgs {
    async fn open(&self) -> Result<Arc<dyn Store>> {
        if self.database_url.is_none() && !self.data_dir.join(bedside_store::SQLITE_FILE).is_file()
        {
            // Opening would create an empty store: say what is missing.
            bail!(
                "--data-dir {}: no Bedside database ({}) there",
                self.data_dir.display(),
                bedside_store::SQLITE_FILE
            );
        }
        let loc = crate::store_location(&self.data_dir, self.database_url.as_deref())?;
        Ok(open(&loc).await?)
    }
}

pub async fn run(cmd: AuditCmd) -> Result<()> {
    match cmd {
        AuditCmd::Verify(s) => verify(&*s.open().await?).await,
        AuditCmd::Export { store, out } => export(&*store.open().await?, out).await,
    }
}

/// Every entry in seq order, a page at a time, until `f` says stop
/// (`Ok(false)`).
async fn for_each_entry(
    store: &dyn Store,
    mut f: impl FnMut(&AuditEntry) -> Result<bool>,
) -> Result<()> {
    let mut from = 1;
    loop {
        let page = store
            .audit_entries(from, PAGE)
            .await
            .context("reading the audit log")?;
        let Some(last) = page.last() else {
            return Ok(());
        };
        from = last.seq + 1;
        for e in &page {
            if !f(e)? {
                return Ok(());
            }
        }
    }
}

async fn verify(store: &dyn Store) -> Result<()> {
    let mut v = ChainVerifier::whole_log();
    let mut bad = None;
    for_each_entry(store, |e| match v.push(e) {
        Ok(()) => Ok(true),
        Err(err) => {
            bad = Some(err);
            Ok(false)
        }
    })
    .await?;
    if let Some(err) = bad {
        bail!(
            "audit log does not verify: {err} ({} entries before it verified)",
            v.checked()
        );
    }
    match v.head() {
        Some((seq, hash)) => println!(
            "audit log ok: {} entries checked, head seq {seq} hash {hash}",
            v.checked()
        ),
        None => println!("audit log ok: 0 entries checked (empty)"),
    }
    Ok(())
}

/// One export line: the body with the chain fields as extensions.
pub fn export_line(e: &AuditEntry) -> Value {
    let mut body = e.body.clone();
    let ext = [
        json!({"url": format!("{EXT_BASE}audit-seq"), "valueInteger": e.seq}),
        json!({"url": format!("{EXT_BASE}audit-recorded-at"), "valueInstant": instant_text(e.recorded_at)}),
        json!({"url": format!("{EXT_BASE}audit-prev-hash"), "valueString": e.prev_hash}),
        json!({"url": format!("{EXT_BASE}audit-hash"), "valueString": e.hash}),
    ];
    match body.as_object_mut() {
        Some(obj) => {
            let list = obj.entry("extension").or_insert_with(|| json!([]));
            if let Some(a) = list.as_array_mut() {
                a.extend(ext);
            }
        }
        // Not an object (an entry from before AuditEvents): wrapped.
        None => body = json!({"body": body, "extension": ext}),
    }
    body
}

/// To a file: written to a temporary file next to it and renamed into
/// place when complete, so a failed export leaves no partial file.
async fn export(store: &dyn Store, out: Option<PathBuf>) -> Result<()> {
    let Some(path) = out else {
        let mut w = std::io::BufWriter::new(std::io::stdout().lock());
        write_all(store, &mut w)
            .await
            .context("writing standard output")?;
        return Ok(());
    };
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let name = path.display().to_string();
    let tmp = tempfile::NamedTempFile::new_in(&dir)
        .with_context(|| format!("--out {name}: cannot write in {}", dir.display()))?;
    let mut w = std::io::BufWriter::new(tmp);
    let n = write_all(store, &mut w)
        .await
        .with_context(|| format!("writing {name}"))?;
    let tmp = w
        .into_inner()
        .map_err(|e| anyhow::anyhow!("writing {name}: {}", e.error()))?;
    tmp.persist(&path)
        .map_err(|e| anyhow::anyhow!("--out {name}: {}", e.error))?;
    eprintln!("exported {n} audit entries to {name}");
    Ok(())
}

async fn write_all(store: &dyn Store, w: &mut impl Write) -> Result<u64> {
    let mut n = 0u64;
    for_each_entry(store, |e| {
        serde_json::to_writer(&mut *w, &export_line(e))?;
        w.write_all(b"\n")?;
        n += 1;
        Ok(true)
    })
    .await?;
    w.flush()?;
    Ok(n)
}
