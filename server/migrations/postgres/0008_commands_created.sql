-- Every state change of a command rewrote its entry in this index, for the
-- console's unfiltered page only, which counts all matching commands anyway
-- (a scan that sorts the page as it goes). The queue's own lookups never
-- used it.
DROP INDEX commands_created;
