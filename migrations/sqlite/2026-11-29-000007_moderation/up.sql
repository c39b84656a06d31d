-- Moderation: reports, community bans and the mod log.

-- A member's report of a thread or an answer (answer_id set) to the community's moderators.
-- Remote reports arrive as Flag; local ones are forwarded as Flag when the content is remote.
CREATE TABLE reports (
    id INTEGER PRIMARY KEY,
    ap_id TEXT NOT NULL UNIQUE,
    reporter_id BIGINT NOT NULL REFERENCES persons (id) ON DELETE CASCADE,
    community_id BIGINT NOT NULL REFERENCES communities (id) ON DELETE CASCADE,
    thread_id BIGINT NOT NULL REFERENCES threads (id) ON DELETE CASCADE,
    answer_id BIGINT REFERENCES answers (id) ON DELETE CASCADE,
    reason TEXT NOT NULL,
    status TEXT NOT NULL,
    resolved_by BIGINT REFERENCES persons (id) ON DELETE SET NULL,
    resolved_at TIMESTAMP,
    published TIMESTAMP NOT NULL
);
CREATE INDEX reports_queue ON reports (status, community_id, id);

-- People banned from a community: they may not post, answer or vote there until it expires.
CREATE TABLE community_bans (
    community_id BIGINT NOT NULL REFERENCES communities (id) ON DELETE CASCADE,
    person_id BIGINT NOT NULL REFERENCES persons (id) ON DELETE CASCADE,
    reason TEXT NOT NULL,
    expires_at TIMESTAMP,
    banned_by BIGINT REFERENCES persons (id) ON DELETE SET NULL,
    published TIMESTAMP NOT NULL,
    PRIMARY KEY (community_id, person_id)
);

-- Every moderator and admin action: who, what, on what, why, when. community_id is null
-- for instance-wide actions.
CREATE TABLE mod_log (
    id INTEGER PRIMARY KEY,
    community_id BIGINT REFERENCES communities (id) ON DELETE CASCADE,
    moderator_id BIGINT REFERENCES persons (id) ON DELETE SET NULL,
    action TEXT NOT NULL,
    person_id BIGINT REFERENCES persons (id) ON DELETE SET NULL,
    thread_id BIGINT REFERENCES threads (id) ON DELETE SET NULL,
    answer_id BIGINT REFERENCES answers (id) ON DELETE SET NULL,
    reason TEXT,
    expires_at TIMESTAMP,
    published TIMESTAMP NOT NULL
);
CREATE INDEX mod_log_community ON mod_log (community_id, id);
