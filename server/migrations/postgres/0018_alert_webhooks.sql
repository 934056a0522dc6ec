-- Where an alert's firings and clears are sent, each with its own secret
-- (the receiver checks the HMAC signature with it).
CREATE TABLE alert_destinations (
    item_id  TEXT NOT NULL REFERENCES content_items (id) ON DELETE CASCADE,
    url      TEXT NOT NULL,
    secret   TEXT NOT NULL,
    PRIMARY KEY (item_id, url)
);

-- Deliveries to send, written in the transaction that opened or cleared
-- the firing, so none is lost; one per firing, event and destination.
CREATE TABLE alert_outbox (
    id            TEXT PRIMARY KEY,
    firing_id     TEXT NOT NULL,
    event         TEXT NOT NULL CHECK (event IN ('fire', 'clear')),
    url           TEXT NOT NULL,
    secret        TEXT NOT NULL,
    body          TEXT NOT NULL,
    attempts      BIGINT NOT NULL DEFAULT 0,
    next_at       BIGINT NOT NULL,
    delivered_at  BIGINT,
    last_error    TEXT,
    UNIQUE (firing_id, event, url)
);
CREATE INDEX alert_outbox_due ON alert_outbox (next_at) WHERE delivered_at IS NULL;
