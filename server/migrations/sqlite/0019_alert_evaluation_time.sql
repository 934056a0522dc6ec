-- How long each evaluation took (its queries and writes), in milliseconds:
-- what an alert costs the database, per node and per period.
ALTER TABLE alert_evaluations ADD COLUMN took_ms BIGINT NOT NULL DEFAULT 0;
