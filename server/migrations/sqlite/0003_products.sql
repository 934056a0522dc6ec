-- Managed products. `id` is the product's own UUID (lowercase, hyphenated).
CREATE TABLE products (
    id                TEXT PRIMARY KEY,
    name              TEXT NOT NULL,
    product_type      TEXT NOT NULL,
    version           TEXT NOT NULL,
    callback_url      TEXT,
    -- Hex; the HMAC key of its datagrams and its bearer token.
    product_key       TEXT NOT NULL,
    nonce             TEXT NOT NULL,
    status            TEXT NOT NULL CHECK (status IN ('pending', 'online', 'offline', 'unmanaged')),
    transport         TEXT CHECK (transport IN ('udp', 'http')),
    mode              TEXT CHECK (mode IN ('one_way', 'two_way')),
    registered_at     BIGINT NOT NULL,
    last_seen         BIGINT,
    offline_after_ms  BIGINT NOT NULL,
    -- last_seen + offline_after_ms: the sweep reads only rows past it.
    deadline          BIGINT,
    home_node         TEXT,
    activity          TEXT,
    last_seq          BIGINT NOT NULL DEFAULT 0
);
CREATE INDEX products_status_deadline ON products (status, deadline);
CREATE INDEX products_name ON products (name);

CREATE TABLE product_transitions (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    product_id   TEXT NOT NULL REFERENCES products (id) ON DELETE CASCADE,
    from_status  TEXT NOT NULL,
    to_status    TEXT NOT NULL,
    -- When the change happened (for offline: the deadline that passed)…
    at           BIGINT NOT NULL,
    -- …and when it was written (database clock): the detection lag.
    recorded_at  BIGINT NOT NULL,
    cause        TEXT NOT NULL
);
CREATE INDEX product_transitions_product ON product_transitions (product_id, id);
CREATE INDEX product_transitions_at ON product_transitions (at);

CREATE TABLE product_logs (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    product_id   TEXT NOT NULL REFERENCES products (id) ON DELETE CASCADE,
    at           BIGINT NOT NULL,
    level        TEXT NOT NULL,
    message      TEXT NOT NULL,
    received_at  BIGINT NOT NULL,
    node         TEXT NOT NULL
);
CREATE INDEX product_logs_product ON product_logs (product_id, id);

-- How far each node has written the liveness it received (its own clock):
-- nothing it received before `flushed_through` is still only in its memory.
CREATE TABLE liveness_marks (
    node             TEXT PRIMARY KEY,
    flushed_through  BIGINT NOT NULL
);

-- Cluster-wide singletons: one holder at a time, until the lease runs out.
CREATE TABLE leases (
    name    TEXT PRIMARY KEY,
    holder  TEXT NOT NULL,
    until   BIGINT NOT NULL
);
