-- When the product's key last changed (database clock, ms). Nodes ask for
-- the rows changed since they last looked: they drop cached keys that were
-- replaced or revoked, and learn products registered on other nodes.
ALTER TABLE products ADD COLUMN key_changed_at BIGINT NOT NULL DEFAULT 0;
-- Set by an admin's re-enrolment: the next registration of this UUID with
-- the enrollment secret alone may take the product over (cleared then).
ALTER TABLE products ADD COLUMN reenroll_allowed BOOLEAN NOT NULL DEFAULT FALSE;
CREATE INDEX products_key_changed ON products (key_changed_at);
