-- A node's notification of a product becomes a timeline row of its own
-- instead of a change of the command's row: a command's usual path writes
-- its row once fewer. (The timeline's foreign key stays here: SQLite checks
-- it without locking the command.)
INSERT INTO command_events (command_id, at, node, state, note)
SELECT id, notified_at, notified_by, 'dispatched', COALESCE(notify_note, 'product notified')
FROM commands WHERE notified_at IS NOT NULL AND notified_by IS NOT NULL;
ALTER TABLE commands DROP COLUMN notified_at;
ALTER TABLE commands DROP COLUMN notified_by;
ALTER TABLE commands DROP COLUMN notify_note;
