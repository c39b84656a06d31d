ALTER TABLE local_accounts DROP COLUMN rejection_reason;
ALTER TABLE local_accounts DROP COLUMN invite_id;
DROP TABLE invites;
DROP TABLE auth_tokens;
