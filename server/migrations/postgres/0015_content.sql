-- Per-user content (investigations, one-click investigations, alerts) and
-- the Global tree. `user_id` is the owner; NULL is the Global tree, visible
-- to every user. A name is unique within its folder; `parent` / `folder`
-- is '' at the top of a tree.

-- Who may manage the Global tree. Admins start with it.
ALTER TABLE users ADD COLUMN manage_global_content BIGINT NOT NULL DEFAULT 0;
UPDATE users SET manage_global_content = 1 WHERE role = 'admin';

CREATE TABLE content_folders (
    id          TEXT PRIMARY KEY,
    user_id     BIGINT REFERENCES users (id) ON DELETE CASCADE,
    parent      TEXT NOT NULL,
    name        TEXT NOT NULL,
    created_at  BIGINT NOT NULL,
    updated_at  BIGINT NOT NULL
);
CREATE UNIQUE INDEX content_folders_name ON content_folders (COALESCE(user_id, 0), parent, name);

CREATE TABLE content_items (
    id          TEXT PRIMARY KEY,
    user_id     BIGINT REFERENCES users (id) ON DELETE CASCADE,
    folder      TEXT NOT NULL,
    kind        TEXT NOT NULL CHECK (kind IN ('investigation', 'one_click', 'alert')),
    name        TEXT NOT NULL,
    -- As the user wrote it, its canonical form and that form's SHA-256.
    definition  TEXT NOT NULL,
    canonical   TEXT NOT NULL,
    hash        TEXT NOT NULL,
    created_at  BIGINT NOT NULL,
    updated_at  BIGINT NOT NULL,
    updated_by  TEXT NOT NULL
);
CREATE UNIQUE INDEX content_items_name ON content_items (COALESCE(user_id, 0), folder, name);
CREATE INDEX content_items_hash ON content_items (hash);

-- Investigations over logs are bounded in time (`logs during last 1h`).
CREATE INDEX product_logs_at ON product_logs (at);
