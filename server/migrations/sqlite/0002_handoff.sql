-- Single-use tokens that carry a console session to another node on failover.
CREATE TABLE handoff_tokens (
    token_hash  TEXT PRIMARY KEY,
    user_id     BIGINT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    expires_at  BIGINT NOT NULL,
    used_at     BIGINT
);
CREATE INDEX handoff_tokens_expires_at ON handoff_tokens (expires_at);
