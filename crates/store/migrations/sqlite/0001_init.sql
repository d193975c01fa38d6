-- Bedside store, SQLite engine. Instants are INTEGER microseconds since the
-- Unix epoch (UTC); JSON is stored as TEXT.

CREATE TABLE resources (
    rtype        TEXT NOT NULL,
    id           TEXT NOT NULL,
    version_id   TEXT,
    last_updated TEXT,
    hash         TEXT NOT NULL,
    patient_id   TEXT,
    event_time   INTEGER,
    body         TEXT NOT NULL,
    PRIMARY KEY (rtype, id)
);
CREATE INDEX resources_patient ON resources (rtype, patient_id, event_time);

CREATE TABLE patient_states (
    patient_id TEXT PRIMARY KEY NOT NULL,
    version    INTEGER NOT NULL,
    state      BLOB NOT NULL,
    updated_at INTEGER NOT NULL
);

CREATE TABLE documents (
    kind       TEXT NOT NULL,
    id         TEXT NOT NULL,
    patient_id TEXT,
    status     TEXT,
    owner      TEXT,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL,
    body       TEXT NOT NULL,
    PRIMARY KEY (kind, id)
);
CREATE INDEX documents_created ON documents (kind, created_at, id);
CREATE INDEX documents_patient ON documents (kind, patient_id, created_at);
CREATE INDEX documents_status ON documents (kind, status, created_at);
CREATE INDEX documents_owner ON documents (kind, owner, created_at);

CREATE TABLE jobs (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    kind        TEXT NOT NULL,
    due_at      INTEGER NOT NULL,
    dedupe_key  TEXT UNIQUE,
    payload     TEXT NOT NULL,
    attempts    INTEGER NOT NULL DEFAULT 0,
    lease_until INTEGER,
    done        INTEGER NOT NULL DEFAULT 0,
    created_at  INTEGER NOT NULL,
    done_at     INTEGER
);
CREATE INDEX jobs_pending_due ON jobs (due_at, id) WHERE done = 0;

CREATE TABLE audit (
    seq         INTEGER PRIMARY KEY NOT NULL,
    recorded_at INTEGER NOT NULL,
    body        TEXT NOT NULL,
    prev_hash   TEXT NOT NULL,
    hash        TEXT NOT NULL
);
