-- Moderators pin threads to the top of their community; pinned threads are the community's
-- featured collection (spec §6.6).
ALTER TABLE threads ADD COLUMN pinned BOOLEAN NOT NULL DEFAULT false;
