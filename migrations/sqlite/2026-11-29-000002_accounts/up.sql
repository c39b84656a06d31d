-- Sign-in credentials (API bearer tokens and web sessions) and invite codes.

-- Only the SHA-256 of a token is stored; the token itself is shown once, at sign-in.
CREATE TABLE auth_tokens (
    id INTEGER PRIMARY KEY,
    account_id BIGINT NOT NULL REFERENCES local_accounts (id) ON DELETE CASCADE,
    token_hash TEXT NOT NULL UNIQUE,
    kind TEXT NOT NULL,
    label TEXT,
    csrf_token TEXT,
    created_at TIMESTAMP NOT NULL,
    last_used_at TIMESTAMP NOT NULL,
    expires_at TIMESTAMP NOT NULL,
    revoked_at TIMESTAMP
);
CREATE INDEX auth_tokens_account ON auth_tokens (account_id);

CREATE TABLE invites (
    id INTEGER PRIMARY KEY,
    code TEXT NOT NULL UNIQUE,
    created_by BIGINT REFERENCES local_accounts (id) ON DELETE SET NULL,
    max_uses BIGINT,
    uses BIGINT NOT NULL DEFAULT 0,
    expires_at TIMESTAMP,
    revoked_at TIMESTAMP,
    created_at TIMESTAMP NOT NULL
);

-- Invites are revoked, never deleted, so the reference needs no foreign key (which SQLite
-- could not drop again in down.sql).
ALTER TABLE local_accounts ADD COLUMN invite_id BIGINT;
ALTER TABLE local_accounts ADD COLUMN rejection_reason TEXT;
