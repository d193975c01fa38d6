//! The parse-only floor of `bench/ingest.sh`: `serde_json::Value` over
//! every line of an NDJSON file (plain or gzip), the least any ingest of
//! those bytes must do. Prints one JSON object.
//!
//! `cargo run --release -p bedside-cli --example parse_floor -- FILE [REPEATS]`
//!
//! `parse_only`: the lines are decompressed into memory first (not timed),
//! then parsed; best of REPEATS (default 3). `gunzip_and_parse`: reading
//! and decompressing the file is timed too (what `bedside replay` must also
//! do); best of REPEATS.

use std::io::{BufRead, BufReader, Read};
use std::time::Instant;

fn reader(path: &str) -> std::io::Result<Box<dyn BufRead>> {
    let mut magic = [0u8; 2];
    let n = std::fs::File::open(path)?.read(&mut magic)?;
    let f = std::fs::File::open(path)?;
    Ok(if n == 2 && magic == [0x1f, 0x8b] {
        Box::new(BufReader::with_capacity(
            1 << 16,
            flate2::read::MultiGzDecoder::new(f),
        ))
    } else {
        Box::new(BufReader::with_capacity(1 << 16, f))
    })
}

/// Parse every non-empty line; returns (lines, bytes).
fn parse_all<B: AsRef<[u8]>, I: Iterator<Item = std::io::Result<B>>>(
    it: I,
) -> Result<(u64, u64), String> {
    let (mut n, mut bytes) = (0u64, 0u64);
    for (i, l) in it.enumerate() {
        let l = l.map_err(|e| format!("line {}: {e}", i + 1))?;
        let l = l.as_ref();
        if l.iter().all(|b| b.is_ascii_whitespace()) {
            continue;
        }
        let v: serde_json::Value =
            serde_json::from_slice(l).map_err(|e| format!("line {}: not JSON: {e}", i + 1))?;
        std::hint::black_box(v);
        n += 1;
        bytes += l.len() as u64;
    }
    Ok((n, bytes))
}

fn run(path: &str, repeats: usize) -> Result<serde_json::Value, String> {
    let err = |e: std::io::Error| format!("{path}: {e}");
    let lines: Vec<Vec<u8>> = reader(path)
        .map_err(err)?
        .split(b'\n')
        .collect::<Result<_, _>>()
        .map_err(err)?;
    let mut best_mem = f64::INFINITY;
    let mut best_file = f64::INFINITY;
    let mut counted = (0, 0);
    for _ in 0..repeats.max(1) {
        let t = Instant::now();
        counted = parse_all(lines.iter().map(Ok::<_, std::io::Error>))?;
        best_mem = best_mem.min(t.elapsed().as_secs_f64());
        let t = Instant::now();
        parse_all(reader(path).map_err(err)?.split(b'\n'))?;
        best_file = best_file.min(t.elapsed().as_secs_f64());
    }
    let (n, bytes) = counted;
    Ok(serde_json::json!({
        "file": path,
        "lines": n,
        "bytes": bytes,
        "parse_only": {"seconds": best_mem, "per_sec": n as f64 / best_mem},
        "gunzip_and_parse": {"seconds": best_file, "per_sec": n as f64 / best_file},
    }))
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let Some(path) = args.first() else {
        eprintln!("usage: parse_floor FILE [REPEATS]");
        std::process::exit(2);
    };
    let repeats = match args.get(1).map(|s| s.parse::<usize>()) {
        None => 3,
        Some(Ok(r)) => r,
        Some(Err(_)) => {
            eprintln!("parse_floor: REPEATS {:?} is not a number", args[1]);
            std::process::exit(2);
        }
    };
    match run(path, repeats) {
        Ok(v) => println!("{v}"),
        Err(e) => {
            eprintln!("parse_floor: {e}");
            std::process::exit(1);
        }
    }
}
