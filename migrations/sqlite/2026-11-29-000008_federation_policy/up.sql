-- Federation policy: partner domains (the allowlist), instance-wide settings such as the
-- federation mode, and instance-wide bans of people.

-- Partner domains: in allowlist mode the only ones this instance federates with, and in
-- any mode the only ones that may read and follow `partners` communities.
CREATE TABLE domain_allows (
    id INTEGER PRIMARY KEY,
    domain TEXT NOT NULL UNIQUE,
    comment TEXT,
    created_by BIGINT REFERENCES local_accounts (id) ON DELETE SET NULL,
    created_at TIMESTAMP NOT NULL
);

-- Settings an admin changes at run time (`federation_mode`: `blocklist` or `allowlist`);
-- a missing row means the default.
CREATE TABLE instance_settings (
    name TEXT PRIMARY KEY,
    value TEXT NOT NULL,
    updated_at TIMESTAMP NOT NULL
);

-- People an admin banned from the whole instance: they may not post, answer or vote in any
-- community here until the ban expires, and their activities are refused.
CREATE TABLE instance_bans (
    person_id BIGINT PRIMARY KEY REFERENCES persons (id) ON DELETE CASCADE,
    reason TEXT NOT NULL,
    expires_at TIMESTAMP,
    banned_by BIGINT REFERENCES persons (id) ON DELETE SET NULL,
    published TIMESTAMP NOT NULL
);
