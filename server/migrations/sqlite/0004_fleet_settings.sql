-- Cluster-wide settings that an admin may change at run time (the
-- enrollment secret), with who changed them last.
CREATE TABLE cluster_settings (
    name        TEXT PRIMARY KEY,
    value       TEXT NOT NULL,
    updated_at  BIGINT NOT NULL,
    updated_by  TEXT NOT NULL
);

-- The fleet's status counts, sampled by the offline-sweep holder, for the
-- dashboard's chart of status over time.
CREATE TABLE fleet_samples (
    at         BIGINT PRIMARY KEY,
    pending    BIGINT NOT NULL,
    online     BIGINT NOT NULL,
    offline    BIGINT NOT NULL,
    unmanaged  BIGINT NOT NULL
);
