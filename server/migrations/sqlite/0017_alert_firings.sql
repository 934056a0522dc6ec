-- What alert evaluation remembers between periods, cluster-wide, so that
-- another node can take an evaluation over: per alert and key ('' for the
-- whole query, a group's value, or a product id), since when its condition
-- has been true or false.
CREATE TABLE alert_states (
    item_id      TEXT NOT NULL REFERENCES content_items (id) ON DELETE CASCADE,
    key          TEXT NOT NULL,
    true_since   BIGINT,
    false_since  BIGINT,
    firing       BIGINT NOT NULL DEFAULT 0,
    PRIMARY KEY (item_id, key)
);

-- Firings: at most one open per alert and key, whoever evaluates.
CREATE TABLE alert_firings (
    id          TEXT PRIMARY KEY,
    item_id     TEXT NOT NULL REFERENCES content_items (id) ON DELETE CASCADE,
    key         TEXT NOT NULL,
    node        TEXT NOT NULL,
    severity    TEXT NOT NULL,
    started_at  BIGINT NOT NULL,
    cleared_at  BIGINT,
    matched     BIGINT NOT NULL,
    -- A few rows of what matched, as JSON.
    samples     TEXT NOT NULL
);
CREATE UNIQUE INDEX alert_firings_open ON alert_firings (item_id, key) WHERE cleared_at IS NULL;
CREATE INDEX alert_firings_started ON alert_firings (started_at);

-- One row per evaluation: which node evaluated which alert over which
-- home nodes' products, and when (kept a day).
CREATE TABLE alert_evaluations (
    id        INTEGER PRIMARY KEY AUTOINCREMENT,
    item_id   TEXT NOT NULL,
    node      TEXT NOT NULL,
    at        BIGINT NOT NULL,
    homes     TEXT NOT NULL,
    keys      BIGINT NOT NULL
);
CREATE INDEX alert_evaluations_item ON alert_evaluations (item_id, at);
