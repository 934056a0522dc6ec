-- A node's notification of a product becomes a timeline row of its own
-- instead of a change of the command's row: the row is not locked (nothing
-- waits for the product's fetch or result holding it), and a command's
-- usual path writes one version of its row fewer.
INSERT INTO command_events (command_id, at, node, state, note)
SELECT id, notified_at, notified_by, 'dispatched', COALESCE(notify_note, 'product notified')
FROM commands WHERE notified_at IS NOT NULL AND notified_by IS NOT NULL;
ALTER TABLE commands DROP COLUMN notified_at, DROP COLUMN notified_by, DROP COLUMN notify_note;
-- The queue store writes timeline rows only for commands it has just
-- claimed or changed, and commands are never deleted; the key's check
-- locked the command's row for every notification.
ALTER TABLE command_events DROP CONSTRAINT command_events_command_id_fkey;
