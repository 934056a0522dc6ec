-- Standalone databases centralized into this one, one at a time in the
-- order their nodes connected (seed 003, SPEC section 8).
CREATE TABLE centralize_sources (
    -- The source database's identity (its own 'database_id').
    database_id   TEXT PRIMARY KEY,
    node          TEXT NOT NULL,
    status        TEXT NOT NULL CHECK (status IN ('pending', 'running', 'done', 'failed')),
    error         TEXT,
    connected_at  BIGINT NOT NULL,
    attempts      BIGINT NOT NULL DEFAULT 0,
    -- Renewed every second by the node that reads the source, while it
    -- waits for its turn or runs: a source whose node is gone does not
    -- hold up the others, and a run whose node died is seen as failed.
    heartbeat_at  BIGINT NOT NULL,
    started_at    BIGINT,
    finished_at   BIGINT,
    done          BIGINT NOT NULL DEFAULT 0,
    total         BIGINT NOT NULL DEFAULT 0,
    -- JSON: the dry run made when the node connected, and what the last
    -- finished run did.
    plan          TEXT,
    report        TEXT
);
CREATE INDEX centralize_sources_order ON centralize_sources (connected_at, node);

-- On a source: the clusters it was centralized into (the other marker).
CREATE TABLE centralized_into (
    database_id  TEXT PRIMARY KEY,
    at           BIGINT NOT NULL
);

-- Product histories already copied from a source (the journal that makes
-- a second run copy nothing twice).
CREATE TABLE centralize_journal (
    database_id  TEXT NOT NULL,
    product_id   TEXT NOT NULL,
    PRIMARY KEY (database_id, product_id)
);

-- This database's identity.
INSERT INTO cluster_settings (name, value, updated_at, updated_by)
VALUES ('database_id', lower(hex(randomblob(16))), 0, 'vigil');
