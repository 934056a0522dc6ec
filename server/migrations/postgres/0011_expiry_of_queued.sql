-- A command's time to live bounds its wait for a node and its product; once
-- handed over, its lease bounds it, and one whose lease lapses past its time
-- to live expires then. So only queued commands are indexed by expiry: a
-- claim and a fetch, which write the command's row anew, no longer add an
-- entry here each.
DROP INDEX commands_expiry;
CREATE INDEX commands_expiry ON commands (expires_at) WHERE state = 'queued';
