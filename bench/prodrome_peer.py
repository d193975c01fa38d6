#!/usr/bin/env python3
"""The peer of bench/hooks.sh: the PyPI package `prodrome` (`prodrome[serve]`),
a FastAPI sepsis scoring service, scoring one 24-hour stay on `POST /score`.

    python bench/prodrome_peer.py setup WORKDIR   # configs, corpus, train, calibrate (idempotent)
    python bench/prodrome_peer.py stay OUT.json   # one 24-hour stay as a /score body
    python bench/prodrome_peer.py serve WORKDIR PORT

Run with the interpreter of the venv that has `prodrome[serve]` installed
(bench/hooks.sh makes one under bench/out/).

Data: the machine has no network beyond loopback and package registries, so
the PhysioNet 2019 corpus (`prodrome data fetch`) cannot be downloaded.
`setup` writes prodrome's own synthetic corpus in the prepared layout
(`prodrome.data.synthetic.write_synthetic_corpus`, the one its test suite
uses; 600 stays, the real 40-channel schema) and then runs the real
`prodrome train` and `prodrome calibrate` of the shipped default
configuration (LightGBM on causal window features). Model quality is
irrelevant here; what is measured is the service's cost per stay.

Serving: `prodrome serve` as published (0.1.0) answers every `/score` body
with 422: `prodrome/serve/app.py` starts with `from __future__ import
annotations`, so the annotation of `score(request: ScoreRequest)` is the
string "ScoreRequest", which FastAPI cannot resolve (the class is local to
`build_app`) and treats as a required query parameter. `serve` loads that
module's source with only that one line removed (annotations are then
evaluated where the class is in scope) and calls its own `run_server`;
nothing else about the service changes.
"""
import importlib.util
import json
import math
import subprocess
import sys
import types
from pathlib import Path


def setup(workdir: Path) -> None:
    from prodrome.core.config import load_config
    from prodrome.data.synthetic import write_synthetic_corpus

    workdir.mkdir(parents=True, exist_ok=True)
    cli = str(Path(sys.executable).with_name("prodrome"))
    config = workdir / "configs" / "default.yaml"
    if not config.exists():
        subprocess.run([cli, "init", "--dir", str(workdir)], check=True, capture_output=True)
    cfg = load_config(config)
    if not (cfg.prepared_dir() / "siteA.parquet").exists():
        write_synthetic_corpus(cfg.prepared_dir(), n_per_site=300)
    if not cfg.policy_path().exists():
        for step in ("train", "calibrate"):
            subprocess.run([cli, step, "--config", str(config), "--json"], check=True, capture_output=True)


def stay(out: Path) -> None:
    from prodrome.core.channels import LABEL, RAW_COLUMNS
    from prodrome.data.synthetic import synthetic_frame

    cols = [c for c in RAW_COLUMNS if c != LABEL]
    frame = synthetic_frame(n_per_site=20, seed=11)
    for _, g in frame.groupby("patient_id"):
        if len(g) >= 24:
            break
    else:
        raise SystemExit("no synthetic stay of 24 hours")
    hours = [
        {c: (None if math.isnan(float(v)) else float(v)) for c, v in row.items()}
        for row in g.head(24)[cols].to_dict("records")
    ]
    out.write_text(json.dumps({"patient_id": "bench-stay", "hours": hours}, separators=(",", ":")) + "\n")


def serve(workdir: Path, port: int) -> None:
    spec = importlib.util.find_spec("prodrome.serve.app")
    src = Path(spec.origin).read_text()
    line = "from __future__ import annotations\n"
    if line not in src:
        raise SystemExit(f"{spec.origin}: expected `{line.strip()}` (prodrome changed; re-check the workaround)")
    mod = types.ModuleType("prodrome.serve.app")
    mod.__file__ = spec.origin
    sys.modules["prodrome.serve.app"] = mod
    exec(compile(src.replace(line, "", 1), spec.origin, "exec"), mod.__dict__)
    from prodrome.core.config import load_config

    mod.run_server(load_config(workdir / "configs" / "default.yaml"), host="127.0.0.1", port=port)


if __name__ == "__main__":
    if len(sys.argv) < 3 or sys.argv[1] not in ("setup", "stay", "serve"):
        raise SystemExit(__doc__)
    cmd, arg = sys.argv[1], Path(sys.argv[2])
    if cmd == "setup":
        setup(arg)
    elif cmd == "stay":
        stay(arg)
    else:
        serve(arg, int(sys.argv[3]))
