-- The shared command queue. States: queued → dispatched → delivered →
-- succeeded | failed, plus expired (TTL) and dead (attempts exhausted).
CREATE TABLE commands (
    id            TEXT PRIMARY KEY,
    product_id    TEXT NOT NULL REFERENCES products (id) ON DELETE CASCADE,
    kind          TEXT NOT NULL,
    -- A JSON object, as text.
    args          TEXT NOT NULL,
    state         TEXT NOT NULL CHECK (state IN ('queued', 'dispatched', 'delivered', 'succeeded', 'failed', 'expired', 'dead')),
    created_at    BIGINT NOT NULL,
    created_by    TEXT NOT NULL,
    created_on    TEXT NOT NULL,
    expires_at    BIGINT NOT NULL,
    attempts      BIGINT NOT NULL DEFAULT 0,
    max_attempts  BIGINT NOT NULL,
    -- Queued: claimable from then on (backoff); the home node's affinity
    -- window counts from it.
    ready_at      BIGINT NOT NULL,
    -- The node that holds (or last held) the item, and until when.
    holder        TEXT,
    lease_until   BIGINT,
    output        TEXT,
    finished_at   BIGINT,
    updated_at    BIGINT NOT NULL
);
-- Partial: a command leaves these indexes once it no longer needs them, so
-- finished commands (most of the table) cost nothing to keep there.
CREATE INDEX commands_ready ON commands (ready_at) WHERE state = 'queued';
CREATE INDEX commands_lease ON commands (lease_until) WHERE state IN ('dispatched', 'delivered');
CREATE INDEX commands_expiry ON commands (expires_at) WHERE state IN ('queued', 'dispatched', 'delivered');
CREATE INDEX commands_product ON commands (product_id, state);
CREATE INDEX commands_created ON commands (created_at);

-- Every change of a command, with the node that made it.
CREATE TABLE command_events (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    command_id  TEXT NOT NULL REFERENCES commands (id) ON DELETE CASCADE,
    at          BIGINT NOT NULL,
    node        TEXT NOT NULL,
    -- The command's state after the event.
    state       TEXT NOT NULL,
    note        TEXT NOT NULL
);
CREATE INDEX command_events_command ON command_events (command_id, id);

-- Provisioning requests ("hello" from a device), processed by the node that
-- received them, or by another once that node's lease ran out.
CREATE TABLE provision_requests (
    id            TEXT PRIMARY KEY,
    uuid          TEXT NOT NULL,
    ip            TEXT NOT NULL,
    received_by   TEXT NOT NULL,
    received_at   BIGINT NOT NULL,
    state         TEXT NOT NULL CHECK (state IN ('pending', 'done')),
    holder        TEXT NOT NULL,
    lease_until   BIGINT NOT NULL,
    processed_by  TEXT,
    processed_at  BIGINT,
    command_id    TEXT
);
CREATE INDEX provision_requests_pending ON provision_requests (state, lease_until);
