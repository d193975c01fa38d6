-- Bedside store, PostgreSQL engine. Keys use the "C" collation so that
-- ordering by id is byte order, as on SQLite. JSON is stored as TEXT so
-- that the audit hash covers exactly the stored bytes.

CREATE TABLE resources (
    rtype        TEXT COLLATE "C" NOT NULL,
    id           TEXT COLLATE "C" NOT NULL,
    version_id   TEXT,
    last_updated TEXT,
    hash         TEXT NOT NULL,
    patient_id   TEXT COLLATE "C",
    event_time   TIMESTAMPTZ,
    body         TEXT NOT NULL,
    PRIMARY KEY (rtype, id)
);
CREATE INDEX resources_patient ON resources (rtype, patient_id, event_time);

CREATE TABLE patient_states (
    patient_id TEXT COLLATE "C" PRIMARY KEY,
    version    BIGINT NOT NULL,
    state      BYTEA NOT NULL,
    updated_at TIMESTAMPTZ NOT NULL
);

CREATE TABLE documents (
    kind       TEXT COLLATE "C" NOT NULL,
    id         TEXT COLLATE "C" NOT NULL,
    patient_id TEXT COLLATE "C",
    status     TEXT COLLATE "C",
    owner      TEXT COLLATE "C",
    created_at TIMESTAMPTZ NOT NULL,
    updated_at TIMESTAMPTZ NOT NULL,
    body       TEXT NOT NULL,
    PRIMARY KEY (kind, id)
);
CREATE INDEX documents_created ON documents (kind, created_at, id);
CREATE INDEX documents_patient ON documents (kind, patient_id, created_at);
CREATE INDEX documents_status ON documents (kind, status, created_at);
CREATE INDEX documents_owner ON documents (kind, owner, created_at);

CREATE TABLE jobs (
    id          BIGSERIAL PRIMARY KEY,
    kind        TEXT NOT NULL,
    due_at      TIMESTAMPTZ NOT NULL,
    dedupe_key  TEXT UNIQUE,
    payload     TEXT NOT NULL,
    attempts    INTEGER NOT NULL DEFAULT 0,
    lease_until TIMESTAMPTZ,
    done        BOOLEAN NOT NULL DEFAULT FALSE,
    created_at  TIMESTAMPTZ NOT NULL,
    done_at     TIMESTAMPTZ
);
CREATE INDEX jobs_pending_due ON jobs (due_at, id) WHERE NOT done;

CREATE TABLE audit (
    seq         BIGINT PRIMARY KEY,
    recorded_at TIMESTAMPTZ NOT NULL,
    body        TEXT NOT NULL,
    prev_hash   TEXT NOT NULL,
    hash        TEXT NOT NULL
);
