-- Core schema: instances, actors (persons, communities), accounts, content, votes, tags,
-- and the activity logs federation needs. Portable rules: BIGINT ids, app-set UTC
-- TIMESTAMPs, BOOLEAN, TEXT-backed enums checked by the application, no arrays.

CREATE TABLE instances (
    id INTEGER PRIMARY KEY,
    domain TEXT NOT NULL UNIQUE,
    local BOOLEAN NOT NULL DEFAULT FALSE,
    software TEXT,
    version TEXT,
    public_key_pem TEXT,
    private_key_pem TEXT,
    last_success_at TIMESTAMP,
    dead_since TIMESTAMP,
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL
);
CREATE UNIQUE INDEX instances_single_local ON instances (local) WHERE local;

-- Persons and communities share one WebFinger namespace on this instance.
CREATE TABLE local_actor_names (
    name TEXT PRIMARY KEY,
    kind TEXT NOT NULL
);

CREATE TABLE persons (
    id INTEGER PRIMARY KEY,
    ap_id TEXT NOT NULL UNIQUE,
    local BOOLEAN NOT NULL,
    instance_id BIGINT NOT NULL REFERENCES instances (id),
    name TEXT NOT NULL,
    name_lower TEXT NOT NULL,
    display_name TEXT,
    bio TEXT,
    bio_html TEXT,
    avatar_url TEXT,
    inbox_url TEXT NOT NULL,
    shared_inbox_url TEXT,
    public_key_pem TEXT NOT NULL,
    private_key_pem TEXT,
    bot BOOLEAN NOT NULL DEFAULT FALSE,
    deleted BOOLEAN NOT NULL DEFAULT FALSE,
    published TIMESTAMP NOT NULL,
    updated TIMESTAMP,
    last_refreshed_at TIMESTAMP NOT NULL,
    UNIQUE (instance_id, name_lower)
);

CREATE TABLE local_accounts (
    id INTEGER PRIMARY KEY,
    person_id BIGINT NOT NULL UNIQUE REFERENCES persons (id) ON DELETE CASCADE,
    email TEXT,
    email_lower TEXT,
    password_hash TEXT NOT NULL,
    role TEXT NOT NULL,
    status TEXT NOT NULL,
    application_answer TEXT,
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL
);
CREATE UNIQUE INDEX local_accounts_email_lower ON local_accounts (email_lower)
    WHERE email_lower IS NOT NULL;

CREATE TABLE communities (
    id INTEGER PRIMARY KEY,
    ap_id TEXT NOT NULL UNIQUE,
    local BOOLEAN NOT NULL,
    instance_id BIGINT NOT NULL REFERENCES instances (id),
    name TEXT NOT NULL,
    name_lower TEXT NOT NULL,
    title TEXT NOT NULL,
    description TEXT,
    description_html TEXT,
    rules TEXT,
    kind TEXT NOT NULL,
    visibility TEXT NOT NULL,
    posting_restricted_to_mods BOOLEAN NOT NULL DEFAULT FALSE,
    inbox_url TEXT NOT NULL,
    shared_inbox_url TEXT,
    followers_url TEXT,
    moderators_url TEXT,
    featured_url TEXT,
    public_key_pem TEXT NOT NULL,
    private_key_pem TEXT,
    deleted BOOLEAN NOT NULL DEFAULT FALSE,
    published TIMESTAMP NOT NULL,
    updated TIMESTAMP,
    last_refreshed_at TIMESTAMP NOT NULL,
    UNIQUE (instance_id, name_lower)
);

CREATE TABLE community_follows (
    id INTEGER PRIMARY KEY,
    community_id BIGINT NOT NULL REFERENCES communities (id) ON DELETE CASCADE,
    person_id BIGINT NOT NULL REFERENCES persons (id) ON DELETE CASCADE,
    state TEXT NOT NULL,
    follow_ap_id TEXT,
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL,
    UNIQUE (community_id, person_id)
);
CREATE INDEX community_follows_person ON community_follows (person_id);

CREATE TABLE community_moderators (
    community_id BIGINT NOT NULL REFERENCES communities (id) ON DELETE CASCADE,
    person_id BIGINT NOT NULL REFERENCES persons (id) ON DELETE CASCADE,
    created_at TIMESTAMP NOT NULL,
    PRIMARY KEY (community_id, person_id)
);

CREATE TABLE threads (
    id INTEGER PRIMARY KEY,
    ap_id TEXT NOT NULL UNIQUE,
    local BOOLEAN NOT NULL,
    community_id BIGINT NOT NULL REFERENCES communities (id) ON DELETE CASCADE,
    author_id BIGINT NOT NULL REFERENCES persons (id),
    kind TEXT NOT NULL,
    title TEXT NOT NULL,
    body TEXT NOT NULL,
    body_html TEXT NOT NULL,
    locked BOOLEAN NOT NULL DEFAULT FALSE,
    deleted BOOLEAN NOT NULL DEFAULT FALSE,
    removed BOOLEAN NOT NULL DEFAULT FALSE,
    score BIGINT NOT NULL DEFAULT 0,
    upvotes BIGINT NOT NULL DEFAULT 0,
    downvotes BIGINT NOT NULL DEFAULT 0,
    answer_count BIGINT NOT NULL DEFAULT 0,
    accepted_answer_count BIGINT NOT NULL DEFAULT 0,
    last_activity_at TIMESTAMP NOT NULL,
    published TIMESTAMP NOT NULL,
    updated TIMESTAMP
);
CREATE INDEX threads_community_published ON threads (community_id, published, id);
CREATE INDEX threads_community_activity ON threads (community_id, last_activity_at, id);
CREATE INDEX threads_author ON threads (author_id);

CREATE TABLE answers (
    id INTEGER PRIMARY KEY,
    ap_id TEXT NOT NULL UNIQUE,
    local BOOLEAN NOT NULL,
    thread_id BIGINT NOT NULL REFERENCES threads (id) ON DELETE CASCADE,
    parent_id BIGINT REFERENCES answers (id) ON DELETE CASCADE,
    author_id BIGINT NOT NULL REFERENCES persons (id),
    depth BIGINT NOT NULL DEFAULT 0,
    body TEXT NOT NULL,
    body_html TEXT NOT NULL,
    accepted BOOLEAN NOT NULL DEFAULT FALSE,
    accepted_at TIMESTAMP,
    score BIGINT NOT NULL DEFAULT 0,
    upvotes BIGINT NOT NULL DEFAULT 0,
    downvotes BIGINT NOT NULL DEFAULT 0,
    deleted BOOLEAN NOT NULL DEFAULT FALSE,
    removed BOOLEAN NOT NULL DEFAULT FALSE,
    published TIMESTAMP NOT NULL,
    updated TIMESTAMP
);
CREATE INDEX answers_thread ON answers (thread_id, published, id);
CREATE INDEX answers_parent ON answers (parent_id);
CREATE INDEX answers_author ON answers (author_id);

CREATE TABLE thread_votes (
    thread_id BIGINT NOT NULL REFERENCES threads (id) ON DELETE CASCADE,
    person_id BIGINT NOT NULL REFERENCES persons (id) ON DELETE CASCADE,
    score BIGINT NOT NULL,
    ap_id TEXT UNIQUE,
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL,
    PRIMARY KEY (thread_id, person_id)
);

CREATE TABLE answer_votes (
    answer_id BIGINT NOT NULL REFERENCES answers (id) ON DELETE CASCADE,
    person_id BIGINT NOT NULL REFERENCES persons (id) ON DELETE CASCADE,
    score BIGINT NOT NULL,
    ap_id TEXT UNIQUE,
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL,
    PRIMARY KEY (answer_id, person_id)
);

CREATE TABLE tags (
    id INTEGER PRIMARY KEY,
    name TEXT NOT NULL UNIQUE,
    created_at TIMESTAMP NOT NULL
);

CREATE TABLE thread_tags (
    thread_id BIGINT NOT NULL REFERENCES threads (id) ON DELETE CASCADE,
    tag_id BIGINT NOT NULL REFERENCES tags (id) ON DELETE CASCADE,
    PRIMARY KEY (thread_id, tag_id)
);
CREATE INDEX thread_tags_tag ON thread_tags (tag_id);

-- Ids of activities already processed: a repeat delivery has no effect.
CREATE TABLE received_activities (
    id INTEGER PRIMARY KEY,
    ap_id TEXT NOT NULL UNIQUE,
    received_at TIMESTAMP NOT NULL
);
CREATE INDEX received_activities_received_at ON received_activities (received_at);

-- The durable outbox: an activity is a row before it is sent, and each target inbox
-- is a delivery row that workers claim, retry and finish.
CREATE TABLE outbox_activities (
    id INTEGER PRIMARY KEY,
    ap_id TEXT NOT NULL UNIQUE,
    actor_ap_id TEXT NOT NULL,
    kind TEXT NOT NULL,
    payload TEXT NOT NULL,
    created_at TIMESTAMP NOT NULL
);

CREATE TABLE outbox_deliveries (
    id INTEGER PRIMARY KEY,
    activity_id BIGINT NOT NULL REFERENCES outbox_activities (id) ON DELETE CASCADE,
    instance_id BIGINT NOT NULL REFERENCES instances (id),
    inbox_url TEXT NOT NULL,
    state TEXT NOT NULL,
    attempts BIGINT NOT NULL DEFAULT 0,
    next_attempt_at TIMESTAMP NOT NULL,
    last_attempt_at TIMESTAMP,
    last_status BIGINT,
    last_error TEXT,
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL,
    UNIQUE (activity_id, inbox_url)
);
CREATE INDEX outbox_deliveries_due ON outbox_deliveries (state, next_attempt_at);
CREATE INDEX outbox_deliveries_instance ON outbox_deliveries (instance_id, state);
