ALTER TABLE threads DROP COLUMN pinned;
