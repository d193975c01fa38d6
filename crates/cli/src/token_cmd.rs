//! `bedside token --demo --aud URL [--count N]`: print hook JWTs signed by
//! the demo EHR key (`config/demo-ehr/`), one per line, each with its own
//! `jti`, for scripts, the UI sandbox and the `bench/hooks.sh` load test
//! (the server refuses a reused `jti`, so a load test needs many).

use anyhow::{bail, Context, Result};
use bedside_app::hooks::HookConfig;
use clap::Args;
use std::io::{BufWriter, Write};
use std::path::PathBuf;

#[derive(Args)]
pub struct TokenArgs {
    /// Sign with the demo EHR key pair (the only key this command holds;
    /// never trusted outside the demo).
    #[arg(long)]
    pub demo: bool,
    /// The audience: the full URL of the CDS service the token is for,
    /// e.g. http://127.0.0.1:8080/cds-services/sepsis-demo-patient-view.
    #[arg(long)]
    pub aud: String,
    /// How many tokens to print (distinct `jti`s), one per line.
    #[arg(long, default_value_t = 1)]
    pub count: u64,
    /// Directory of the demo EHR key pair.
    #[arg(long, default_value = crate::DEMO_EHR)]
    pub demo_ehr: PathBuf,
}

pub fn run(a: TokenArgs) -> Result<()> {
    if !a.demo {
        bail!("token: only demo tokens can be signed here; pass --demo (a real EHR signs its own tokens)");
    }
    if !(a.aud.starts_with("http://") || a.aud.starts_with("https://")) {
        bail!(
            "token: --aud {:?} is not a URL; use the CDS service URL, e.g. http://127.0.0.1:8080/cds-services/ID",
            a.aud
        );
    }
    let cfg = HookConfig::demo(&a.demo_ehr)
        .with_context(|| format!("demo EHR keys in {}", a.demo_ehr.display()))?;
    let (iss, key) = cfg
        .demo_key
        .context("token: the demo configuration holds no private key")?;
    let signer = bedside_cds::JwkSigner::from_jwk(&key)
        .map_err(|e| anyhow::anyhow!("token: cannot read the demo key: {e}"))?;
    let now = chrono::Utc::now();
    // Signing is CPU-bound and a load test wants many: one share per core.
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get()) as u64;
    let shares: Vec<Result<Vec<String>>> = std::thread::scope(|sc| {
        let handles: Vec<_> = (0..threads)
            .map(|i| {
                let n = a.count / threads + u64::from(i < a.count % threads);
                let (signer, iss, aud) = (&signer, &iss, &a.aud);
                sc.spawn(move || {
                    (0..n)
                        .map(|_| {
                            signer.sign_demo(iss, aud, now).map_err(|e| {
                                anyhow::anyhow!("token: cannot sign with the demo key: {e}")
                            })
                        })
                        .collect::<Result<Vec<String>>>()
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| {
                h.join()
                    .unwrap_or_else(|_| Err(anyhow::anyhow!("token: a signing thread panicked")))
            })
            .collect()
    });
    let stdout = std::io::stdout();
    let mut out = BufWriter::new(stdout.lock());
    for share in shares {
        for t in share? {
            writeln!(out, "{t}").context("token: cannot write to stdout")?;
        }
    }
    out.flush().context("token: cannot write to stdout")?;
    Ok(())
}
