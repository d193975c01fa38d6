//! Load driver of `bench/soak.sh`: mixed traffic against a running Bedside,
//! one third each of
//! - ingest: `POST /fhir/Observation`, a heart-rate Observation (expects
//!   201, or 200 for an update) of one of the demo patients or of
//!   `--synthetic-patients` more (`soak-p{k}`), round robin (a ward's feed
//!   spreads over its beds; hundreds of heart rates a minute into each of
//!   56 patients grew their states, and the cost of each write, without
//!   bound). Each patient has 4 Observations, amended in turn with a new
//!   time and value, so the retained data stays the same size,
//! - CDS Hooks: `POST /cds-services/{service}` `patient-view` for a demo
//!   patient, each with its own JWT from `bedside token --demo --count N`
//!   (the server refuses a reused jti; tokens live 5 minutes, so a fresh
//!   batch is signed every 10 s for the next 10 s), expects 200,
//! - worklist: `GET /worklist`, expects 200.
//!
//! `peak`: closed loop, `--connections` workers back to back for
//! `--seconds`; prints the throughput. `soak`: open loop at `--rate`
//! requests/s for `--seconds` (requests are sent on schedule whatever the
//! answers' latency; more than `--max-in-flight` pending counts as an
//! error), recording every latency by minute, the errors, and the server's
//! resident memory (`/proc/PID/status` VmRSS, RssAnon, RssFile): once a
//! second, reported as the first and last measured minute's medians, and
//! VmRSS once at start and at end. One JSON object on stdout.
//!
//! Hand-written rather than wrk: wrk has no fixed-rate mode, and the
//! per-minute p99 and RSS samples need the driver to own the clock.
//!
//! cargo run --release -p bedside-cli --example soak_driver -- --help

use anyhow::{bail, Context, Result};
use clap::Parser;
use serde_json::json;
use std::collections::VecDeque;
use std::path::PathBuf;
use std::process::Command;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

#[derive(Parser)]
struct Args {
    /// `peak` or `soak`.
    mode: String,
    #[arg(long)]
    base: String,
    /// The `bedside` binary (signs the tokens).
    #[arg(long)]
    bin: PathBuf,
    /// File of demo patient ids, one per line.
    #[arg(long)]
    patients: PathBuf,
    #[arg(long, default_value = "sepsis-demo-patient-view")]
    service: String,
    #[arg(long, default_value_t = 20)]
    seconds: u64,
    /// Closed-loop workers (peak).
    #[arg(long, default_value_t = 64)]
    connections: usize,
    /// Requests per second (soak).
    #[arg(long, default_value_t = 100.0)]
    rate: f64,
    #[arg(long, default_value_t = 1024)]
    max_in_flight: usize,
    /// Soak: seconds of the same traffic before the measured `--seconds`
    /// (caches fill; errors count, latencies do not; the resident memory
    /// baseline is taken at its end).
    #[arg(long, default_value_t = 0)]
    warmup: u64,
    /// Patients besides the demo ones that ingest writes to.
    #[arg(long, default_value_t = 2000)]
    synthetic_patients: usize,
    /// Server process id (soak: resident memory).
    #[arg(long)]
    pid: Option<u32>,
    /// Soak: also write every request as `seconds-from-start kind ms ok`
    /// lines to this file (for finding stalls).
    #[arg(long)]
    samples: Option<PathBuf>,
}

/// Tokens signed by `bedside token`, handed out once each.
struct Tokens {
    queue: Mutex<VecDeque<String>>,
}

impl Tokens {
    fn sign(bin: &PathBuf, aud: &str, n: u64) -> Result<Vec<String>> {
        let out = Command::new(bin)
            .args(["token", "--demo", "--aud", aud, "--count", &n.to_string()])
            .output()
            .context("run bedside token")?;
        if !out.status.success() {
            bail!("bedside token: {}", String::from_utf8_lossy(&out.stderr));
        }
        Ok(String::from_utf8(out.stdout)?
            .lines()
            .map(str::to_string)
            .collect())
    }
    fn take(&self) -> Option<String> {
        self.queue.lock().unwrap().pop_front()
    }
    fn add(&self, t: Vec<String>) {
        self.queue.lock().unwrap().extend(t);
    }
}

struct Ctx {
    client: reqwest::Client,
    base: String,
    hook_url: String,
    patients: Vec<String>,
    /// The demo patients, then the synthetic ones (ingest).
    ingest_patients: Vec<String>,
    tokens: Tokens,
    run: String,
}

#[derive(Default)]
struct Tally {
    ok: AtomicU64,
    errors: AtomicU64,
    by_kind_ok: [AtomicU64; 3],
    first_errors: Mutex<Vec<String>>,
}

impl Tally {
    fn error(&self, what: String) {
        self.errors.fetch_add(1, Ordering::Relaxed);
        let mut f = self.first_errors.lock().unwrap();
        if f.len() < 10 {
            f.push(what);
        }
    }
}

const KINDS: [&str; 3] = ["ingest", "hook", "worklist"];

/// One request: seconds from the measured start, kind, latency ms, ok.
type Sample = (f64, usize, f64, bool);

/// Soak minute and `[VmRSS, RssAnon, RssFile]` KiB.
type MemSample = (usize, [u64; 3]);

/// Observations per ingest patient, amended in turn.
const OBS_PER_PATIENT: usize = 4;

/// Send request number `n` (its kind is `n % 3`); `Ok` on the expected status.
async fn one(ctx: &Ctx, n: u64) -> Result<(), String> {
    let kind = (n % 3) as usize;
    let pid = &ctx.patients[(n / 3) as usize % ctx.patients.len()];
    let req = match kind {
        0 => {
            let visit = (n / 3) as usize;
            let pid = &ctx.ingest_patients[visit % ctx.ingest_patients.len()];
            // Each patient's monitor amends a rolling window of
            // OBS_PER_PATIENT heart rates (new time, new value: an update),
            // so the data retained stays the same size and memory growth
            // measures leaks, not a growing record.
            let slot = (visit / ctx.ingest_patients.len()) % OBS_PER_PATIENT;
            let id = format!("soak-{}-{pid}-{slot}", ctx.run);
            let obs = json!({
                "resourceType": "Observation", "id": id, "status": "final",
                "category": [{"coding": [{"system": "http://terminology.hl7.org/CodeSystem/observation-category", "code": "vital-signs"}]}],
                "code": {"coding": [{"system": "http://loinc.org", "code": "8867-4"}]},
                "subject": {"reference": format!("Patient/{pid}")},
                "effectiveDateTime": chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
                "valueQuantity": {"value": 70 + (n % 50), "unit": "/min", "system": "http://unitsofmeasure.org", "code": "/min"},
            });
            ctx.client
                .post(format!("{}/fhir/Observation", ctx.base))
                .header("content-type", "application/fhir+json")
                .body(obs.to_string())
        }
        1 => {
            let Some(tok) = ctx.tokens.take() else {
                return Err("hook: tokens exhausted".into());
            };
            let body = json!({
                "hook": "patient-view",
                "hookInstance": uuid_like(n),
                "context": {"userId": "Practitioner/soak", "patientId": pid},
            });
            ctx.client
                .post(&ctx.hook_url)
                .header("content-type", "application/json")
                .header("authorization", format!("Bearer {tok}"))
                .body(body.to_string())
        }
        _ => ctx.client.get(format!("{}/worklist", ctx.base)),
    };
    let want = if kind == 0 { 201 } else { 200 };
    let r = req
        .send()
        .await
        .map_err(|e| format!("{}: {e}", KINDS[kind]))?;
    let status = r.status().as_u16();
    let body = r
        .bytes()
        .await
        .map_err(|e| format!("{}: {e}", KINDS[kind]))?;
    if status == want || (kind == 0 && status == 200) {
        Ok(())
    } else {
        Err(format!(
            "{}: {status} {}",
            KINDS[kind],
            String::from_utf8_lossy(&body[..body.len().min(200)])
        ))
    }
}

fn uuid_like(n: u64) -> String {
    format!("00000000-0000-4000-8000-{n:012x}")
}

fn rss_kib(pid: u32) -> Option<u64> {
    status_kib(pid, "VmRSS:")
}

/// A `/proc/PID/status` field in KiB (`VmRSS:`, `RssAnon:`, `RssFile:`).
fn status_kib(pid: u32, field: &str) -> Option<u64> {
    let s = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    s.lines()
        .find(|l| l.starts_with(field))?
        .split_whitespace()
        .nth(1)?
        .parse()
        .ok()
}

fn median(v: &[u64]) -> Option<u64> {
    let mut v = v.to_vec();
    v.sort_unstable();
    v.get(v.len() / 2).copied()
}

fn p99(v: &mut [f64]) -> f64 {
    if v.is_empty() {
        return 0.0;
    }
    v.sort_by(|a, b| a.total_cmp(b));
    v[((v.len() as f64 * 0.99).ceil() as usize).clamp(1, v.len()) - 1]
}

#[tokio::main]
async fn main() -> Result<()> {
    let a = Args::parse();
    let patients: Vec<String> = std::fs::read_to_string(&a.patients)?
        .lines()
        .filter(|l| !l.is_empty())
        .map(str::to_string)
        .collect();
    if patients.is_empty() {
        bail!("{}: no patient ids", a.patients.display());
    }
    let base = a.base.trim_end_matches('/').to_string();
    let hook_url = format!("{base}/cds-services/{}", a.service);
    let ctx = Arc::new(Ctx {
        client: reqwest::Client::builder()
            .pool_max_idle_per_host(a.max_in_flight.max(a.connections))
            .timeout(Duration::from_secs(30))
            .build()?,
        base,
        hook_url: hook_url.clone(),
        ingest_patients: patients
            .iter()
            .cloned()
            .chain((0..a.synthetic_patients).map(|k| format!("soak-p{k}")))
            .collect(),
        patients,
        tokens: Tokens {
            queue: Mutex::new(VecDeque::new()),
        },
        run: format!("{}", std::process::id()),
    });
    let tally = Arc::new(Tally::default());
    match a.mode.as_str() {
        "peak" => {
            // Enough tokens for 5 000 hook calls/s.
            ctx.tokens.add(Tokens::sign(
                &a.bin,
                &hook_url,
                5_000 * a.seconds / 3 + 1_000,
            )?);
            let next = Arc::new(AtomicU64::new(0));
            let stop = Instant::now() + Duration::from_secs(a.seconds);
            let start = Instant::now();
            let mut workers = Vec::new();
            for _ in 0..a.connections {
                let (ctx, tally, next) = (ctx.clone(), tally.clone(), next.clone());
                workers.push(tokio::spawn(async move {
                    while Instant::now() < stop {
                        let n = next.fetch_add(1, Ordering::Relaxed);
                        match one(&ctx, n).await {
                            Ok(()) => {
                                tally.ok.fetch_add(1, Ordering::Relaxed);
                                tally.by_kind_ok[(n % 3) as usize].fetch_add(1, Ordering::Relaxed);
                            }
                            Err(e) => tally.error(e),
                        }
                    }
                }));
            }
            for w in workers {
                w.await?;
            }
            let secs = start.elapsed().as_secs_f64();
            let ok = tally.ok.load(Ordering::Relaxed);
            println!(
                "{}",
                json!({
                    "mode": "peak", "seconds": secs, "connections": a.connections,
                    "ok": ok, "errors": tally.errors.load(Ordering::Relaxed),
                    "rps": ok as f64 / secs,
                    "ok_by_kind": KINDS.iter().enumerate().map(|(i, k)| (k.to_string(), json!(tally.by_kind_ok[i].load(Ordering::Relaxed)))).collect::<serde_json::Map<_, _>>(),
                    "first_errors": *tally.first_errors.lock().unwrap(),
                })
            );
        }
        "soak" => {
            // Tokens for the first two signing periods now, then each
            // period's in the background one period ahead: small batches,
            // so signing never takes the cores from the server for long.
            const SIGN_EVERY_SECS: u64 = 10;
            let per_batch = (a.rate * SIGN_EVERY_SECS as f64 / 3.0).ceil() as u64 + 100;
            ctx.tokens
                .add(Tokens::sign(&a.bin, &hook_url, 2 * per_batch)?);
            let minutes = a.seconds.div_ceil(60) as usize;
            let lat: Arc<Vec<Mutex<Vec<f64>>>> = Arc::new(
                (0..minutes.max(1))
                    .map(|_| Mutex::new(Vec::new()))
                    .collect(),
            );
            let in_flight = Arc::new(AtomicUsize::new(0));
            let samples: Arc<Mutex<Vec<Sample>>> = Arc::default();
            let mut rss_start = None;
            let start = Instant::now();
            let measured = start + Duration::from_secs(a.warmup);
            // VmRSS, RssAnon and RssFile once a second through the measured
            // part, by minute: single readings move by +-10 MB within
            // seconds at a steady load (the database's mapped pages are
            // reclaimed and faulted back), so the growth is also given
            // between the first and the last minute's medians.
            let mem: Arc<Mutex<Vec<MemSample>>> = Arc::default();
            let sampler = a.pid.map(|pid| {
                let mem = mem.clone();
                tokio::spawn(async move {
                    let at = tokio::time::Instant::from_std(measured);
                    tokio::time::sleep_until(at).await;
                    let mut tick = tokio::time::interval(Duration::from_secs(1));
                    loop {
                        tick.tick().await;
                        let f = |k| status_kib(pid, k).unwrap_or(0);
                        let m = (measured.elapsed().as_secs() / 60) as usize;
                        mem.lock()
                            .unwrap()
                            .push((m, [f("VmRSS:"), f("RssAnon:"), f("RssFile:")]));
                    }
                })
            });
            let total = (a.rate * (a.warmup + a.seconds) as f64) as u64;
            let interval = Duration::from_secs_f64(1.0 / a.rate);
            let mut signed_batches = 1u64;
            let mut signer: Option<tokio::task::JoinHandle<Result<Vec<String>>>> = None;
            let mut handles = Vec::new();
            for n in 0..total {
                let due = start + interval.mul_f64(n as f64);
                tokio::time::sleep_until(due.into()).await;
                let warming = due < measured;
                if !warming && rss_start.is_none() {
                    rss_start = Some(a.pid.and_then(rss_kib));
                }
                let period = start.elapsed().as_secs() / SIGN_EVERY_SECS;
                // Sign the next period's tokens in the background.
                if period >= signed_batches && signer.is_none() {
                    let (bin, url) = (a.bin.clone(), hook_url.clone());
                    signer = Some(tokio::task::spawn_blocking(move || {
                        Tokens::sign(&bin, &url, per_batch)
                    }));
                    signed_batches += 1;
                }
                if signer.as_ref().is_some_and(|s| s.is_finished()) {
                    ctx.tokens.add(signer.take().unwrap().await??);
                }
                if in_flight.load(Ordering::Relaxed) >= a.max_in_flight {
                    tally.error(format!("more than {} requests in flight", a.max_in_flight));
                    continue;
                }
                in_flight.fetch_add(1, Ordering::Relaxed);
                let (ctx, tally, lat, in_flight, samples) = (
                    ctx.clone(),
                    tally.clone(),
                    lat.clone(),
                    in_flight.clone(),
                    samples.clone(),
                );
                handles.push(tokio::spawn(async move {
                    let t = Instant::now();
                    let r = one(&ctx, n).await;
                    let ms = t.elapsed().as_secs_f64() * 1000.0;
                    in_flight.fetch_sub(1, Ordering::Relaxed);
                    if warming {
                        if let Err(e) = r {
                            tally.error(format!("warm-up: {e}"));
                        }
                        return;
                    }
                    samples.lock().unwrap().push((
                        due.duration_since(measured).as_secs_f64(),
                        (n % 3) as usize,
                        ms,
                        r.is_ok(),
                    ));
                    match r {
                        Ok(()) => {
                            tally.ok.fetch_add(1, Ordering::Relaxed);
                            tally.by_kind_ok[(n % 3) as usize].fetch_add(1, Ordering::Relaxed);
                        }
                        Err(e) => tally.error(e),
                    }
                    let m = (due.duration_since(measured).as_secs() / 60) as usize;
                    lat[m.min(lat.len() - 1)].lock().unwrap().push(ms);
                }));
                if handles.len() >= 4096 {
                    handles.retain(|h| !h.is_finished());
                }
            }
            for h in handles {
                h.await?;
            }
            let secs = measured.elapsed().as_secs_f64();
            let rss_end = a.pid.and_then(rss_kib);
            let rss_start = rss_start.flatten();
            if let Some(h) = sampler {
                h.abort();
            }
            let mem = mem.lock().unwrap().clone();
            let last_minute = mem
                .iter()
                .map(|(m, _)| *m)
                .max()
                .unwrap_or(0)
                .min(minutes.max(1) - 1);
            let minute_median = |minute: usize, i: usize| {
                median(
                    &mem.iter()
                        .filter(|(m, _)| *m == minute)
                        .map(|(_, v)| v[i])
                        .collect::<Vec<_>>(),
                )
            };
            let memory = json!({
                "samples": mem.len(),
                "vmrss_first_minute_median_kib": minute_median(0, 0),
                "vmrss_last_minute_median_kib": minute_median(last_minute, 0),
                "rss_anon_first_minute_median_kib": minute_median(0, 1),
                "rss_anon_last_minute_median_kib": minute_median(last_minute, 1),
                "rss_file_first_minute_median_kib": minute_median(0, 2),
                "rss_file_last_minute_median_kib": minute_median(last_minute, 2),
            });
            if let Some(path) = &a.samples {
                let mut out = String::new();
                for (t, k, ms, ok) in samples.lock().unwrap().iter() {
                    out.push_str(&format!("{t:.3} {} {ms:.2} {}\n", KINDS[*k], u8::from(*ok)));
                }
                std::fs::write(path, out).with_context(|| format!("write {}", path.display()))?;
            }
            let per_minute: Vec<serde_json::Value> = lat
                .iter()
                .enumerate()
                .map(|(i, m)| {
                    let mut v = m.lock().unwrap().clone();
                    json!({"minute": i + 1, "requests": v.len(), "p99_ms": p99(&mut v)})
                })
                .collect();
            let first = per_minute
                .first()
                .map(|m| m["p99_ms"].as_f64().unwrap_or(0.0));
            let last = per_minute
                .last()
                .map(|m| m["p99_ms"].as_f64().unwrap_or(0.0));
            let ok = tally.ok.load(Ordering::Relaxed);
            println!(
                "{}",
                json!({
                    "mode": "soak", "seconds": secs, "warmup_seconds": a.warmup, "rate": a.rate,
                    "ok": ok, "errors": tally.errors.load(Ordering::Relaxed),
                    "achieved_rps": ok as f64 / secs,
                    "ok_by_kind": KINDS.iter().enumerate().map(|(i, k)| (k.to_string(), json!(tally.by_kind_ok[i].load(Ordering::Relaxed)))).collect::<serde_json::Map<_, _>>(),
                    "per_minute": per_minute,
                    "first_minute_p99_ms": first, "last_minute_p99_ms": last,
                    "rss_start_kib": rss_start, "rss_end_kib": rss_end,
                    "memory": memory,
                    "first_errors": *tally.first_errors.lock().unwrap(),
                })
            );
        }
        m => bail!("mode {m:?}: expected peak or soak"),
    }
    Ok(())
}
