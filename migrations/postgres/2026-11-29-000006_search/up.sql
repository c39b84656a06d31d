-- Full-text search (PostgreSQL tsvector + GIN): threads by title and tag names (weight A)
-- and body (B), answers by body. The index tables are dialect-specific by design (SQLite
-- uses FTS5 instead); triggers keep them current whatever writes threads, answers or tags,
-- local or remote. `<` and `>` are indexed as spaces: PostgreSQL's parser takes
-- `Vec<String>` for a tag and would leave `string` out of the index.
CREATE TABLE thread_search (
    thread_id BIGINT PRIMARY KEY REFERENCES threads (id) ON DELETE CASCADE,
    document tsvector NOT NULL
);
CREATE INDEX thread_search_document ON thread_search USING GIN (document);
CREATE TABLE answer_search (
    answer_id BIGINT PRIMARY KEY REFERENCES answers (id) ON DELETE CASCADE,
    document tsvector NOT NULL
);
CREATE INDEX answer_search_document ON answer_search USING GIN (document);

CREATE FUNCTION thread_search_document(id BIGINT) RETURNS tsvector LANGUAGE sql STABLE AS $$
    SELECT setweight(to_tsvector('english', translate(t.title, '<>', '  ')), 'A')
        || setweight(to_tsvector('english', coalesce((SELECT string_agg(g.name, ' ')
               FROM thread_tags tt JOIN tags g ON g.id = tt.tag_id WHERE tt.thread_id = t.id), '')), 'A')
        || setweight(to_tsvector('english', translate(t.body, '<>', '  ')), 'B')
    FROM threads t WHERE t.id = $1
$$;

CREATE FUNCTION thread_search_refresh() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO thread_search (thread_id, document) VALUES (NEW.id, thread_search_document(NEW.id))
    ON CONFLICT (thread_id) DO UPDATE SET document = EXCLUDED.document;
    RETURN NULL;
END $$;
CREATE TRIGGER thread_search_insert AFTER INSERT ON threads
    FOR EACH ROW EXECUTE FUNCTION thread_search_refresh();
CREATE TRIGGER thread_search_update AFTER UPDATE OF title, body ON threads
    FOR EACH ROW EXECUTE FUNCTION thread_search_refresh();

CREATE FUNCTION thread_search_tags_changed() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    changed BIGINT := CASE WHEN TG_OP = 'DELETE' THEN OLD.thread_id ELSE NEW.thread_id END;
BEGIN
    UPDATE thread_search SET document = thread_search_document(changed) WHERE thread_id = changed;
    RETURN NULL;
END $$;
CREATE TRIGGER thread_search_tags AFTER INSERT OR DELETE ON thread_tags
    FOR EACH ROW EXECUTE FUNCTION thread_search_tags_changed();

CREATE FUNCTION answer_search_refresh() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO answer_search (answer_id, document)
    VALUES (NEW.id, to_tsvector('english', translate(NEW.body, '<>', '  ')))
    ON CONFLICT (answer_id) DO UPDATE SET document = EXCLUDED.document;
    RETURN NULL;
END $$;
CREATE TRIGGER answer_search_insert AFTER INSERT ON answers
    FOR EACH ROW EXECUTE FUNCTION answer_search_refresh();
CREATE TRIGGER answer_search_update AFTER UPDATE OF body ON answers
    FOR EACH ROW EXECUTE FUNCTION answer_search_refresh();

INSERT INTO thread_search (thread_id, document) SELECT id, thread_search_document(id) FROM threads;
INSERT INTO answer_search (answer_id, document)
SELECT id, to_tsvector('english', translate(body, '<>', '  ')) FROM answers;
