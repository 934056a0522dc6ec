-- Ids (UUIDs as text) compare byte for byte. Under the database's locale
-- (often a linguistic one) every lookup, join and sort on them went through
-- the C library's collation: about a third of a fetch's time. Names and
-- other text shown to people keep the database's collation.
ALTER TABLE products ALTER COLUMN id TYPE TEXT COLLATE "C";
ALTER TABLE product_transitions ALTER COLUMN product_id TYPE TEXT COLLATE "C";
ALTER TABLE product_logs ALTER COLUMN product_id TYPE TEXT COLLATE "C";
ALTER TABLE commands ALTER COLUMN id TYPE TEXT COLLATE "C",
    ALTER COLUMN product_id TYPE TEXT COLLATE "C";
ALTER TABLE command_events ALTER COLUMN command_id TYPE TEXT COLLATE "C";
