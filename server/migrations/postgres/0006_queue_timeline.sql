-- The usual path of a command (claimed, notified, fetched, result) is kept
-- in columns of its row, written with the state change itself; timeline
-- rows are written only for what leaves that path (releases, lapsed leases,
-- expiry, dead), and then carry the columns of the attempt that ended.
ALTER TABLE commands ADD COLUMN claimed_at BIGINT;
ALTER TABLE commands ADD COLUMN claimed_by TEXT;
ALTER TABLE commands ADD COLUMN claim_note TEXT;
ALTER TABLE commands ADD COLUMN notified_at BIGINT;
ALTER TABLE commands ADD COLUMN notified_by TEXT;
ALTER TABLE commands ADD COLUMN notify_note TEXT;
ALTER TABLE commands ADD COLUMN delivered_at BIGINT;
ALTER TABLE commands ADD COLUMN delivered_by TEXT;
-- Set when the product's result ended the command.
ALTER TABLE commands ADD COLUMN finished_by TEXT;
-- "Queued" is read from created_at/created_on/created_by from now on.
DELETE FROM command_events WHERE state = 'queued' AND note LIKE 'queued by %';
