-- Domains this instance does not federate with: no fetches, no deliveries, inbound 403.
CREATE TABLE domain_blocks (
    id INTEGER PRIMARY KEY,
    domain TEXT NOT NULL UNIQUE,
    reason TEXT,
    created_by BIGINT REFERENCES local_accounts (id) ON DELETE SET NULL,
    created_at TIMESTAMP NOT NULL
);
