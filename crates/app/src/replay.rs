//! Replay of a bulk NDJSON directory (FHIR bulk data layout: one file per
//! resource type, plain or gzip) in event-time order through the same
//! ingest path the HTTP endpoints use.

use crate::{ApiError, App, ImportSummary};
use bedside_core::Instant;
use bedside_fhir::ParsedEntry;
use serde::Deserialize;
use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// Resources are fed in chunks of at most this many, each committed at once.
pub const CHUNK: usize = 2000;

/// A chunk never spans more event time than this, so a replay behaves like
/// the live feed it stands for: patients are scored on the model's cadence
/// (not once per arbitrary batch), and pathway timers fire at most one step
/// late relative to the events around them (the shortest shipped escalation
/// timer is 15 minutes).
pub const STEP_SECONDS: i64 = 15 * 60;

/// Split event-time-ordered lines into replay chunks: at most [`CHUNK`]
/// lines, all without an event time (the reference data, which sorts
/// first) or all within one [`STEP_SECONDS`] bucket of event time.
pub fn replay_chunks(lines: &[Line]) -> Vec<&[Line]> {
    let mut out = Vec::new();
    let mut start = 0;
    while start < lines.len() {
        let end = chunk_end(lines, start);
        out.push(&lines[start..end]);
        start = end;
    }
    out
}

/// The end (exclusive) of the replay chunk that starts at `start` (see
/// [`replay_chunks`]).
pub fn chunk_end(lines: &[Line], start: usize) -> usize {
    chunk_end_by(lines, start, Some(STEP_SECONDS))
}

/// The end (exclusive) of the chunk that starts at `start`: at most
/// [`CHUNK`] lines, all within one `step`-second bucket of event time
/// when `step` is given (see [`replay_chunks`]), else only bounded in size.
pub fn chunk_end_by(lines: &[Line], start: usize, step: Option<i64>) -> usize {
    let cap = (start + CHUNK).min(lines.len());
    let Some(step) = step else {
        return cap;
    };
    let bucket = |l: &Line| l.time.map(|t| t.timestamp().div_euclid(step));
    let first = lines.get(start).map(bucket);
    (start + 1..cap)
        .find(|&i| Some(bucket(&lines[i])) != first)
        .unwrap_or(cap)
}

/// One line read from a file, with its ordering key.
#[derive(Debug, Clone)]
pub struct Line {
    pub rtype: String,
    pub time: Option<Instant>,
    pub seq: usize,
    pub bytes: Vec<u8>,
}

/// Reference data first (no event time), in dependency order; then the
/// rest by event time, ties broken so an Encounter precedes what happens in
/// it.
fn type_rank(rtype: &str) -> u8 {
    match rtype {
        "Organization" => 0,
        "Location" => 1,
        "Practitioner" => 2,
        "PractitionerRole" => 3,
        "Patient" => 4,
        "Encounter" => 5,
        "CareTeam" => 6,
        "Condition" => 7,
        _ => 8,
    }
}

/// The clinically relevant time of a resource, read without building the
/// whole document: the first present of the usual R4 time elements.
pub fn event_time(bytes: &[u8]) -> Option<Instant> {
    line_head(bytes).1
}

/// The resource type and [`event_time`] of one NDJSON line, in one scan
/// of its bytes (two when the time elements are malformed).
pub fn line_head(bytes: &[u8]) -> (Option<String>, Option<Instant>) {
    #[derive(Deserialize)]
    struct Period {
        start: Option<String>,
    }
    #[derive(Deserialize)]
    struct Collection {
        #[serde(rename = "collectedDateTime")]
        collected: Option<String>,
    }
    #[derive(Deserialize)]
    #[serde(rename_all = "camelCase")]
    struct Times {
        /// Any JSON here (a non-string type must not hide the times).
        #[serde(default, deserialize_with = "string_or_none")]
        resource_type: Option<String>,
        effective_date_time: Option<String>,
        effective_instant: Option<String>,
        effective_period: Option<Period>,
        issued: Option<String>,
        authored_on: Option<String>,
        onset_date_time: Option<String>,
        recorded_date: Option<String>,
        performed_date_time: Option<String>,
        performed_period: Option<Period>,
        period: Option<Period>,
        started: Option<String>,
        received_time: Option<String>,
        collection: Option<Collection>,
        recorded: Option<String>,
    }
    let Ok(t) = serde_json::from_slice::<Times>(bytes) else {
        return (line_type(bytes), None);
    };
    let rtype = t.resource_type;
    let s = t
        .effective_date_time
        .or(t.effective_instant)
        .or(t.effective_period.and_then(|p| p.start))
        .or(t.performed_date_time)
        .or(t.performed_period.and_then(|p| p.start))
        .or(t.onset_date_time)
        .or(t.recorded_date)
        .or(t.authored_on)
        .or(t.collection.and_then(|c| c.collected))
        .or(t.received_time)
        .or(t.started)
        .or(t.period.and_then(|p| p.start))
        .or(t.issued)
        .or(t.recorded);
    (rtype, s.as_deref().and_then(parse_time))
}

fn string_or_none<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    Ok(match serde_json::Value::deserialize(d)? {
        serde_json::Value::String(s) => Some(s),
        _ => None,
    })
}

pub use bedside_views::conditions::parse_time;

/// The `.ndjson` / `.ndjson.gz` files of a directory, sorted by name.
pub fn ndjson_files(dir: &Path) -> std::io::Result<Vec<PathBuf>> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| {
            let n = p.file_name().and_then(|n| n.to_str()).unwrap_or("");
            n.ends_with(".ndjson") || n.ends_with(".ndjson.gz")
        })
        .collect();
    files.sort();
    Ok(files)
}

/// Open a plain or gzip file (by magic bytes) as a line reader.
pub fn open_lines(path: &Path) -> std::io::Result<Box<dyn BufRead + Send>> {
    let mut f = std::fs::File::open(path)?;
    let mut magic = [0u8; 2];
    let n = f.read(&mut magic)?;
    drop(f);
    let f = std::fs::File::open(path)?;
    if n == 2 && magic == [0x1f, 0x8b] {
        Ok(Box::new(BufReader::with_capacity(
            1 << 16,
            flate2::read::MultiGzDecoder::new(f),
        )))
    } else {
        Ok(Box::new(BufReader::with_capacity(1 << 16, f)))
    }
}

/// The resource type named in one NDJSON line, if it has one.
pub fn line_type(bytes: &[u8]) -> Option<String> {
    #[derive(Deserialize)]
    struct T {
        #[serde(rename = "resourceType")]
        rtype: String,
    }
    serde_json::from_slice::<T>(bytes).ok().map(|t| t.rtype)
}

/// Read every line of every file of `dir` and sort them for replay.
/// Lines whose type cannot be read keep their file position and are
/// rejected by ingest with a precise reason.
pub fn read_dir_sorted(dir: &Path) -> Result<Vec<Line>, ApiError> {
    let files = ndjson_files(dir)
        .map_err(|e| ApiError::bad_request(format!("{}: {e}", dir.display()), None))?;
    if files.is_empty() {
        return Err(ApiError::bad_request(
            format!("{}: no .ndjson or .ndjson.gz files", dir.display()),
            None,
        ));
    }
    let mut raw: Vec<Vec<u8>> = Vec::new();
    for f in files {
        let r = open_lines(&f)
            .map_err(|e| ApiError::bad_request(format!("{}: {e}", f.display()), None))?;
        for l in r.split(b'\n') {
            let mut l =
                l.map_err(|e| ApiError::bad_request(format!("{}: {e}", f.display()), None))?;
            if l.last() == Some(&b'\r') {
                l.pop();
            }
            if l.iter().all(|b| b.is_ascii_whitespace()) {
                continue;
            }
            raw.push(l);
        }
    }
    let mut lines = heads(raw);
    sort_lines(&mut lines);
    Ok(lines)
}

/// [`line_head`] of every line, on all cores (a scan of every byte; the
/// replay cannot start before the lines are sorted).
fn heads(raw: Vec<Vec<u8>>) -> Vec<Line> {
    let head = |(seq, bytes): (usize, Vec<u8>)| {
        let (rtype, time) = line_head(&bytes);
        Line {
            rtype: rtype.unwrap_or_else(|| "(unreadable)".into()),
            time,
            seq,
            bytes,
        }
    };
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    if threads < 2 || raw.len() < 10_000 {
        return raw.into_iter().enumerate().map(head).collect();
    }
    let per = raw.len().div_ceil(threads);
    let mut parts: Vec<Vec<(usize, Vec<u8>)>> = Vec::new();
    let mut it = raw.into_iter().enumerate().peekable();
    while it.peek().is_some() {
        parts.push(it.by_ref().take(per).collect());
    }
    std::thread::scope(|s| {
        let handles: Vec<_> = parts
            .into_iter()
            .map(|part| s.spawn(move || part.into_iter().map(head).collect::<Vec<Line>>()))
            .collect();
        handles
            .into_iter()
            .flat_map(|h| h.join().unwrap_or_default())
            .collect()
    })
}

/// Event-time order: reference data first, then by time, type rank, file
/// position.
pub fn sort_lines(lines: &mut [Line]) {
    lines.sort_by(|a, b| {
        let ka = (a.time.is_some(), a.time, type_rank(&a.rtype), a.seq);
        let kb = (b.time.is_some(), b.time, type_rank(&b.rtype), b.seq);
        ka.cmp(&kb)
    });
}

/// Replay a directory in-process. `progress(done, total)` is called after
/// each chunk.
pub async fn replay_dir(
    app: &App,
    dir: &Path,
    progress: Option<&(dyn Fn(u64, u64) + Send + Sync)>,
) -> Result<ImportSummary, ApiError> {
    let started = std::time::Instant::now();
    let lines = read_dir_sorted(dir)?;
    replay_lines(app, lines, progress, started).await
}

/// [`replay_dir`] with every time moved so that the cohort's last event
/// time is `now` (see [`crate::time_shift`]). Returns the summary and the
/// offset applied.
pub async fn replay_dir_ending_at(
    app: &App,
    dir: &Path,
    now: Instant,
    progress: Option<&(dyn Fn(u64, u64) + Send + Sync)>,
) -> Result<(ImportSummary, chrono::Duration), ApiError> {
    let started = std::time::Instant::now();
    let mut lines = read_dir_sorted(dir)?;
    let offset = match lines.iter().filter_map(|l| l.time).max() {
        Some(last) => crate::time_shift::offset_to(last, now),
        None => chrono::Duration::zero(),
    };
    // A uniform shift keeps the event-time order the lines are sorted in.
    for l in &mut lines {
        l.bytes = crate::time_shift::shift_line(&l.bytes, offset);
        l.time = l.time.map(|t| t + offset);
    }
    let summary = replay_lines(app, lines, progress, started).await?;
    Ok((summary, offset))
}

async fn replay_lines(
    app: &App,
    lines: Vec<Line>,
    progress: Option<&(dyn Fn(u64, u64) + Send + Sync)>,
    started: std::time::Instant,
) -> Result<ImportSummary, ApiError> {
    let lines: Arc<[Line]> = lines.into();
    tracing::debug!(
        lines = lines.len(),
        seconds = started.elapsed().as_secs_f64(),
        "replay: read and sorted"
    );
    // Lines are parsed on their own thread, in replay order, while earlier
    // chunks are applied and committed (parsing is pure and the largest
    // cost after the store); at most PARSE_AHEAD entries wait.
    let (tx, mut parsed) = tokio::sync::mpsc::channel::<ParsedEntry>(PARSE_AHEAD);
    let ahead = lines.clone();
    let parser = std::thread::Builder::new()
        .name("replay-parse".into())
        .spawn(move || {
            for l in ahead.iter() {
                if tx
                    .blocking_send(ParsedEntry::from_ndjson_line(0, &l.bytes))
                    .is_err()
                {
                    return; // the replay stopped early
                }
            }
        })
        .map_err(|e| ApiError::internal(format!("cannot start the replay parser: {e}")))?;
    let result = replay_parsed(app, &lines, &mut parsed, progress).await;
    tracing::debug!(
        seconds = started.elapsed().as_secs_f64(),
        "replay: ingested"
    );
    drop(parsed);
    let _ = parser.join();
    result
}

/// Entries parsed ahead of the commits by [`replay_dir`].
const PARSE_AHEAD: usize = 2 * CHUNK;

async fn replay_parsed(
    app: &App,
    lines: &[Line],
    parsed: &mut tokio::sync::mpsc::Receiver<ParsedEntry>,
    progress: Option<&(dyn Fn(u64, u64) + Send + Sync)>,
) -> Result<ImportSummary, ApiError> {
    if !app.runs_on_event_time() {
        return replay_bulk(app, lines, parsed, progress, None).await;
    }
    // An offline run (features recorded, no pathway: nothing is scored,
    // decided or timed during the replay, see `AppConfig::record_features`)
    // steps through event time as a live feed would, so rows fall on the
    // scoring cadence, but needs nothing between its steps: the steps are
    // pipelined like a bulk load's chunks.
    if app.feature_sink.is_some() && app.pathways.definitions.is_empty() {
        return replay_bulk(app, lines, parsed, progress, Some(STEP_SECONDS)).await;
    }
    let total = lines.len() as u64;
    let mut summary = read_counts(lines);
    let mut done = 0u64;
    let mut i = 0;
    // A due time timers were already run at (so a job that cannot complete
    // does not stop the replay).
    let mut forced: Option<bedside_core::Instant> = None;
    while i < lines.len() {
        let mut end = chunk_end(lines, i);
        // Timers fire in event-time order with the data: a chunk stops
        // before the first line after the next due timer.
        if !app.pathways.definitions.is_empty() {
            if let Some(due) = app.store.next_due().await? {
                let after = lines[i..end]
                    .iter()
                    .position(|l| l.time.is_some_and(|t| t > due));
                match after {
                    Some(0) if forced != Some(due) => {
                        forced = Some(due);
                        app.run_due_timers(due).await?;
                        continue;
                    }
                    Some(k) if k > 0 => end = i + k,
                    _ => {}
                }
            }
        }
        let chunk = &lines[i..end];
        let entries = recv_chunk(parsed, chunk.len()).await?;
        app.ingest_parsed(entries, &mut summary).await?;
        app.after_replay_chunk(chunk.iter().filter_map(|l| l.time).max())
            .await?;
        done += chunk.len() as u64;
        i = end;
        if let Some(p) = progress {
            p(done, total);
        }
    }
    app.finish_summary(&mut summary).await?;
    Ok(summary)
}

/// The next `n` parsed entries, indexed from 0 within their chunk.
async fn recv_chunk(
    parsed: &mut tokio::sync::mpsc::Receiver<ParsedEntry>,
    n: usize,
) -> Result<Vec<ParsedEntry>, ApiError> {
    let mut entries = Vec::with_capacity(n);
    for index in 0..n {
        let mut e = parsed
            .recv()
            .await
            .ok_or_else(|| ApiError::internal("the replay parser stopped before the last line"))?;
        e.index = index;
        entries.push(e);
    }
    Ok(entries)
}

/// The resources read, by type.
fn read_counts(lines: &[Line]) -> ImportSummary {
    let mut summary = ImportSummary::default();
    for l in lines {
        *summary.resources.entry(l.rtype.clone()).or_default() += 1;
    }
    summary
}

/// [`replay_parsed`] when nothing runs on event time (no model, pathway or
/// feature recording; see [`App::runs_on_event_time`]): a plain load of
/// data, so chunks are bounded by size alone (`step` None), and chunk k+1
/// is prepared while chunk k is being written (`bedside_ingest::Pending`).
/// The commits go to the store one after the other, in replay order.
///
/// An offline feature-recording run passes its event-time `step`: each
/// step is prepared on the state after the one before (its rows fall on
/// the scoring cadence), but the steps prepared while a commit is being
/// written are folded into one batch ([`bedside_ingest::Ingestor::fold`]),
/// written as one commit when the store is free: a patient's state once
/// per batch instead of once per step it changed in (the dev cohort's
/// 11,000 steps took as many commits, the store's time twice the rest's).
async fn replay_bulk(
    app: &App,
    lines: &[Line],
    parsed: &mut tokio::sync::mpsc::Receiver<ParsedEntry>,
    progress: Option<&(dyn Fn(u64, u64) + Send + Sync)>,
    step: Option<i64>,
) -> Result<ImportSummary, ApiError> {
    use bedside_ingest::{Batch, EntryOutcome, Mode, Pending};
    type Written = tokio::task::JoinHandle<Result<(), bedside_store::StoreError>>;
    let total = lines.len() as u64;
    let mut summary = read_counts(lines);
    let mut inflight: Option<(Pending, Vec<EntryOutcome>, Written, usize)> = None;
    // The batch gathered behind the commit being written, with its lines.
    let mut batch: Option<(Batch, usize)> = None;
    let (mut i, mut done) = (0, 0u64);
    let fail = |app: &App, batch: Option<(Batch, usize)>, e: ApiError| {
        if let Some((b, _)) = batch {
            app.ingestor.abandon(b.into_parts().2);
        }
        e
    };
    while i < lines.len() || inflight.is_some() || batch.is_some() {
        if i < lines.len() {
            let end = chunk_end_by(lines, i, step);
            let entries = recv_chunk(parsed, end - i).await?;
            let chain: Vec<&Pending> = inflight
                .iter()
                .map(|f| &f.0)
                .chain(batch.iter().map(|b| b.0.pending()))
                .collect();
            let prepared = app
                .ingestor
                .prepare_step(&entries, Mode::PerEntry, &chain)
                .await;
            let mut prepared = match prepared {
                Ok(p) => p,
                Err(e) => return Err(fail(app, batch, crate::ingest_ops::ingest_error(e))),
            };
            // Freeing the parsed entries is not on the way to the commit.
            tokio::task::spawn_blocking(move || drop(entries));
            if let Err(e) = app.after_ingest(prepared.prepared_mut()).await {
                return Err(fail(app, batch, e));
            }
            let n = end - i;
            i = end;
            match batch.as_mut() {
                Some((b, lines)) => {
                    app.ingestor.fold(b, prepared);
                    *lines += n;
                }
                None => batch = Some((app.ingestor.stage(prepared), n)),
            }
            // In event-time steps, gather while the store is busy (up to
            // `BATCH_LINES` lines per batch).
            let busy = inflight.as_ref().is_some_and(|f| !f.2.is_finished());
            let room = batch.as_ref().is_some_and(|b| b.1 < BATCH_LINES);
            if step.is_some() && busy && room && i < lines.len() {
                continue;
            }
        }
        let mut lock = None;
        if let Some((pending, outcomes, written, n)) = inflight.take() {
            let r = written
                .await
                .map_err(|e| ApiError::internal(format!("commit task failed: {e}")));
            match r {
                Ok(Ok(())) => {
                    lock = app.ingestor.settle(pending);
                    App::tally(&mut summary, &outcomes);
                    done += n as u64;
                    if let Some(p) = progress {
                        p(done, total);
                    }
                }
                Ok(Err(e)) => {
                    app.ingestor.abandon(pending);
                    return Err(fail(app, batch, match e {
                        bedside_store::StoreError::Conflict(what) => ApiError::new(
                            409,
                            "conflict",
                            format!("another writer changed {what} during the replay; run it again (what was written stays, and is not written twice)"),
                            None,
                        ),
                        e => e.into(),
                    }));
                }
                Err(e) => {
                    app.ingestor.abandon(pending);
                    return Err(fail(app, batch, e));
                }
            }
        }
        if let Some((mut b, lines)) = batch.take() {
            if let Some(lock) = lock {
                b.hold(lock);
            }
            let holds = b.holds_lock();
            let (mut commit, outcomes, pending) = b.into_parts();
            if !holds {
                app.ingestor.abandon(pending);
                return Err(ApiError::internal("the ingest lock was lost"));
            }
            app.seal(&mut commit);
            let store = app.store.clone();
            let written = tokio::spawn(async move { store.commit(commit).await });
            inflight = Some((pending, outcomes, written, lines));
        }
    }
    app.finish_summary(&mut summary).await?;
    Ok(summary)
}

/// The most lines one batch of an offline replay gathers (see
/// [`replay_bulk`]): a few bulk chunks, so memory stays bounded.
const BATCH_LINES: usize = 4 * CHUNK;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn event_time_picks_the_clinical_time() {
        let t = event_time(br#"{"resourceType":"Observation","effectiveDateTime":"2024-01-02T03:04:05Z","issued":"2024-02-01T00:00:00Z"}"#);
        assert_eq!(t.unwrap().to_rfc3339(), "2024-01-02T03:04:05+00:00");
        let t = event_time(br#"{"resourceType":"Encounter","period":{"start":"2024-01-02"}}"#);
        assert_eq!(t.unwrap().to_rfc3339(), "2024-01-02T00:00:00+00:00");
        assert!(event_time(br#"{"resourceType":"Patient","birthDate":"1950-01-01"}"#).is_none());
        assert!(event_time(b"not json").is_none());
    }

    #[test]
    fn chunks_stay_within_one_time_step_and_the_line_cap() {
        let base = parse_time("2024-01-01T10:00:00Z").unwrap();
        let mk = |minute: Option<i64>, seq| Line {
            rtype: "Observation".into(),
            time: minute.map(|m| base + chrono::Duration::minutes(m)),
            seq,
            bytes: vec![],
        };
        let mut v = vec![mk(None, 0), mk(None, 1), mk(Some(0), 2), mk(Some(14), 3)];
        v.extend((0..3).map(|i| mk(Some(15), 4 + i)));
        v.push(mk(Some(200), 7));
        let sizes: Vec<usize> = replay_chunks(&v).iter().map(|c| c.len()).collect();
        // untimed (reference data) first; then 10:00-10:14, 10:15, 13:20.
        assert_eq!(sizes, vec![2, 2, 3, 1]);
        let many: Vec<Line> = (0..CHUNK + 5).map(|i| mk(Some(1), i)).collect();
        let sizes: Vec<usize> = replay_chunks(&many).iter().map(|c| c.len()).collect();
        assert_eq!(sizes, vec![CHUNK, 5]);
        assert!(replay_chunks(&[]).is_empty());
    }

    #[test]
    fn reference_data_first_then_time_then_encounter_before_observation() {
        let mk = |rtype: &str, t: Option<&str>, seq| Line {
            rtype: rtype.into(),
            time: t.and_then(parse_time),
            seq,
            bytes: vec![],
        };
        let mut v = vec![
            mk("Observation", Some("2024-01-01T10:00:00Z"), 0),
            mk("Encounter", Some("2024-01-01T10:00:00Z"), 1),
            mk("Observation", Some("2024-01-01T09:00:00Z"), 2),
            mk("Patient", None, 3),
            mk("Practitioner", None, 4),
        ];
        sort_lines(&mut v);
        let order: Vec<usize> = v.iter().map(|l| l.seq).collect();
        assert_eq!(order, vec![4, 3, 2, 1, 0]);
    }
}
