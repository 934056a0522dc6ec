-- User names are unique whatever their case: `ADMIN` is not a second
-- `admin`. Names that already collide keep the oldest as it is and the
-- others get their id appended, so the migration never fails on old data.
UPDATE users SET username = username || '~' || id
WHERE id NOT IN (SELECT MIN(id) FROM users GROUP BY lower(username));
CREATE UNIQUE INDEX users_username_folded ON users (lower(username));

-- Failed logins per account (the folded user name, whether or not such a
-- user exists), shared by every node: the delay before the next attempt
-- grows with `failures`.
CREATE TABLE login_failures (
    account          TEXT PRIMARY KEY,
    failures         BIGINT NOT NULL,
    last_failure_at  BIGINT NOT NULL
);
CREATE INDEX login_failures_last ON login_failures (last_failure_at);

-- Browsers that signed in to an account before (a device cookie; only its
-- hash is stored). They are not held by the account's delay.
CREATE TABLE login_devices (
    token_hash  TEXT PRIMARY KEY,
    user_id     BIGINT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    expires_at  BIGINT NOT NULL
);
CREATE INDEX login_devices_expires_at ON login_devices (expires_at);
