-- Alerts: an alert item (content_items.kind = 'alert') holds its query in
-- `definition`; its condition and timing are here. Its definition is
-- cluster-wide; whether it is enabled is per node.
CREATE TABLE alert_settings (
    item_id       TEXT PRIMARY KEY REFERENCES content_items (id) ON DELETE CASCADE,
    -- rows_above | no_rows | group_above | per_product
    condition     TEXT NOT NULL,
    threshold     BIGINT NOT NULL,
    period_ms     BIGINT NOT NULL,
    for_ms        BIGINT NOT NULL,
    clear_for_ms  BIGINT NOT NULL,
    severity      TEXT NOT NULL CHECK (severity IN ('info', 'warning', 'critical')),
    scope         TEXT NOT NULL CHECK (scope IN ('node', 'fleet'))
);

-- One row per (alert, node) where the alert is enabled.
CREATE TABLE alert_enabled (
    item_id     TEXT NOT NULL REFERENCES content_items (id) ON DELETE CASCADE,
    node        TEXT NOT NULL,
    enabled_at  BIGINT NOT NULL,
    enabled_by  TEXT NOT NULL,
    PRIMARY KEY (item_id, node)
);
CREATE INDEX alert_enabled_node ON alert_enabled (node);

-- Each node's `alert_limit`, as it last started with it: enabling an alert
-- on a node checks that node's limit, wherever the request arrives.
CREATE TABLE alert_limits (
    node         TEXT PRIMARY KEY,
    alert_limit  BIGINT NOT NULL
);
