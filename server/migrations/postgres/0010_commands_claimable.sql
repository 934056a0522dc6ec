-- 1 when the command's product takes wake-ups (two-way), kept in step with
-- the product's mode: the dispatcher claims only these, oldest first from
-- their own index, instead of walking every two-way product for queued
-- commands (one-way products' queued commands wait for their poll and must
-- not be walked past at every claim).
ALTER TABLE commands ADD COLUMN wake SMALLINT NOT NULL DEFAULT 0;
UPDATE commands SET wake = 1 WHERE product_id IN (SELECT id FROM products WHERE mode = 'two_way');
DROP INDEX commands_ready;
CREATE INDEX commands_claimable ON commands (ready_at) WHERE state = 'queued' AND wake = 1;
-- Enqueueing reads the product's mode with a share lock on its row (a mode
-- change waits for it, or it for the change), which also proves the product
-- exists; the key's check locked the same row once more per command.
ALTER TABLE commands DROP CONSTRAINT commands_product_id_fkey;
