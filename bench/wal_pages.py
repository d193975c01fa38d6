#!/usr/bin/env python3
"""Which B-trees the frames in a SQLite WAL belong to (write amplification).

    python3 bench/wal_pages.py DATA_DIR/bedside.db

Reads the WAL beside the database (frames since the last checkpoint that
restarted it), maps each frame's page number to its table or index with
the `dbstat` virtual table, and prints frames per commit for each. Each
frame is a whole page (16 KB in Bedside's files), so an index whose entries
land on a different leaf per row (e.g. keyed by patient) costs a page per
row per transaction, where an append-only one costs a page per ~page of
rows. Read-only: it opens the database with mode=ro.
"""
import collections
import sqlite3
import struct
import sys


def main(db):
    with open(db + "-wal", "rb") as f:
        wal = f.read()
    if len(wal) < 32:
        print(f"{db}-wal is empty: nothing to attribute")
        return
    page_size = struct.unpack(">I", wal[8:12])[0]
    salt = wal[16:24]
    frames, commits = [], 0
    off = 32
    while off + 24 + page_size <= len(wal):
        page, size_after_commit = struct.unpack(">II", wal[off:off + 8])
        if wal[off + 8:off + 16] != salt:
            break  # frames of an earlier WAL generation: not current
        frames.append(page)
        commits += size_after_commit != 0
        off += 24 + page_size
    con = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    owner = {p: name for name, p in con.execute("SELECT name, pageno FROM dbstat")}
    count = collections.Counter(owner.get(p, "(freed)") for p in frames)
    per = max(commits, 1)
    print(f"WAL: {len(frames)} frames of {page_size} B in {commits} commits "
          f"({len(frames) / per:.1f} frames per commit)")
    print("| B-tree | frames | per commit |")
    print("|---|---|---|")
    for name, n in count.most_common():
        print(f"| {name} | {n} | {n / per:.1f} |")


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    main(sys.argv[1])
