-- What threads and answers need beyond the core tables: edit history and mentions.

-- Each edit stores the version it replaced: who wrote it, when, and what it said.
CREATE TABLE thread_revisions (
    id INTEGER PRIMARY KEY,
    thread_id BIGINT NOT NULL REFERENCES threads (id) ON DELETE CASCADE,
    editor_id BIGINT NOT NULL REFERENCES persons (id),
    title TEXT NOT NULL,
    body TEXT NOT NULL,
    created_at TIMESTAMP NOT NULL
);
CREATE INDEX thread_revisions_thread ON thread_revisions (thread_id, id);

CREATE TABLE answer_revisions (
    id INTEGER PRIMARY KEY,
    answer_id BIGINT NOT NULL REFERENCES answers (id) ON DELETE CASCADE,
    editor_id BIGINT NOT NULL REFERENCES persons (id),
    body TEXT NOT NULL,
    created_at TIMESTAMP NOT NULL
);
CREATE INDEX answer_revisions_answer ON answer_revisions (answer_id, id);

-- `@user@domain` and `!community@domain` found in a text, kept for federation (Mention tags).
CREATE TABLE mentions (
    id INTEGER PRIMARY KEY,
    thread_id BIGINT REFERENCES threads (id) ON DELETE CASCADE,
    answer_id BIGINT REFERENCES answers (id) ON DELETE CASCADE,
    kind TEXT NOT NULL,
    name TEXT NOT NULL,
    domain TEXT NOT NULL
);
CREATE INDEX mentions_thread ON mentions (thread_id);
CREATE INDEX mentions_answer ON mentions (answer_id);

CREATE INDEX threads_community_score ON threads (community_id, score, id);
CREATE INDEX community_follows_community ON community_follows (community_id, state);
