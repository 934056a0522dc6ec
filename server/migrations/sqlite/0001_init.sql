-- Node registry: one row per node that ever joined the cluster.
CREATE TABLE nodes (
    name        TEXT PRIMARY KEY,
    url         TEXT NOT NULL,
    role        TEXT NOT NULL CHECK (role IN ('active', 'passive')),
    started_at  BIGINT NOT NULL,
    last_seen   BIGINT NOT NULL,
    -- Set once the node stopped or its row went stale; NULL while it runs.
    down_since  BIGINT
);

-- One counter per monitored object class; the keep-alive state string.
CREATE TABLE state_counters (
    position  BIGINT PRIMARY KEY,
    value     BIGINT NOT NULL
);
INSERT INTO state_counters (position, value) VALUES (0, 0), (1, 0), (2, 0), (3, 0), (4, 0), (5, 0);

CREATE TABLE users (
    id             INTEGER PRIMARY KEY AUTOINCREMENT,
    username       TEXT NOT NULL UNIQUE,
    password_hash  TEXT NOT NULL,
    role           TEXT NOT NULL CHECK (role IN ('admin', 'operator', 'viewer')),
    created_at     BIGINT NOT NULL
);

-- Sessions are shared by every node; only a hash of the token is stored.
CREATE TABLE sessions (
    token_hash  TEXT PRIMARY KEY,
    user_id     BIGINT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    created_at  BIGINT NOT NULL,
    expires_at  BIGINT NOT NULL,
    node        TEXT NOT NULL
);
CREATE INDEX sessions_expires_at ON sessions (expires_at);
