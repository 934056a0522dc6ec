-- The audit trail: every state-changing action of a person or a token,
-- appended, never changed through Vigil (no route writes but appends).
CREATE TABLE audit_events (
    id       INTEGER PRIMARY KEY AUTOINCREMENT,
    at       BIGINT NOT NULL,
    -- Who: a user name, and how: 'session',
    -- 'token:<id>' or 'password' (a sign-in). Requests from nobody signed
    -- in are not recorded.
    actor    TEXT NOT NULL,
    via      TEXT NOT NULL,
    client   TEXT NOT NULL,
    node     TEXT NOT NULL,
    action   TEXT NOT NULL,
    target   TEXT NOT NULL,
    -- 'ok', 'refused' (4xx) or 'failed' (5xx), and the HTTP status.
    outcome  TEXT NOT NULL,
    status   BIGINT NOT NULL
);
CREATE INDEX audit_events_at ON audit_events (at);
CREATE INDEX audit_events_actor ON audit_events (actor, at);
CREATE INDEX audit_events_action ON audit_events (action, at);

-- The audit trail's state counter (position 6): the Audit page is live.
INSERT INTO state_counters (position, value) VALUES (6, 0);
