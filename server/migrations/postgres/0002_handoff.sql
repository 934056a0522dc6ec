-- Single-use tokens that carry a console session to another node on failover.
CREATE TABLE handoff_tokens (
    token_hash  TEXT PRIMARY KEY,
    user_id     BIGINT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    expires_at  BIGINT NOT NULL,
    used_at     BIGINT
);
CREATE INDEX handoff_tokens_expires_at ON handoff_tokens (expires_at);

-- Wake every node's waiting keep-alives when a counter moves (delivered at
-- commit). SQLite nodes poll the counters instead.
CREATE FUNCTION vigil_notify_state() RETURNS trigger AS $$
BEGIN
    PERFORM pg_notify('vigil_state', '');
    RETURN NULL;
END;
$$ LANGUAGE plpgsql;

CREATE TRIGGER state_counters_notify
    AFTER UPDATE ON state_counters
    FOR EACH STATEMENT EXECUTE FUNCTION vigil_notify_state();
