-- Personal API tokens: `Authorization: Bearer vgt_…` on the console API.
-- Only the token's SHA-256 is kept; it is shown once, when made.
CREATE TABLE api_tokens (
    id           TEXT PRIMARY KEY,
    user_id      BIGINT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    name         TEXT NOT NULL,
    token_hash   TEXT NOT NULL UNIQUE,
    -- The first characters, to tell tokens apart in a list.
    prefix       TEXT NOT NULL,
    -- A narrower role than the user's, or NULL for the user's own.
    role         TEXT CHECK (role IN ('admin', 'operator', 'viewer')),
    created_at   BIGINT NOT NULL,
    expires_at   BIGINT,
    revoked_at   BIGINT
);
CREATE UNIQUE INDEX api_tokens_name ON api_tokens (user_id, name);
