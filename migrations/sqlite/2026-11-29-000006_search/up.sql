-- Full-text search (SQLite FTS5): threads by title, body and tag names, answers by body.
-- The index tables are dialect-specific by design (PostgreSQL keeps tsvectors instead);
-- triggers keep them current whatever writes threads, answers or tags, local or remote.
-- rowid is the thread's or answer's id.
CREATE VIRTUAL TABLE thread_search USING fts5(
    title, body, tags,
    tokenize = 'porter unicode61 remove_diacritics 2'
);
CREATE VIRTUAL TABLE answer_search USING fts5(
    body,
    tokenize = 'porter unicode61 remove_diacritics 2'
);

INSERT INTO thread_search (rowid, title, body, tags)
SELECT t.id, t.title, t.body,
       coalesce((SELECT group_concat(g.name, ' ') FROM thread_tags tt JOIN tags g ON g.id = tt.tag_id
                 WHERE tt.thread_id = t.id), '')
FROM threads t;
INSERT INTO answer_search (rowid, body) SELECT id, body FROM answers;

CREATE TRIGGER thread_search_insert AFTER INSERT ON threads BEGIN
    INSERT INTO thread_search (rowid, title, body, tags) VALUES (new.id, new.title, new.body, '');
END;
CREATE TRIGGER thread_search_update AFTER UPDATE OF title, body ON threads BEGIN
    UPDATE thread_search SET title = new.title, body = new.body WHERE rowid = new.id;
END;
CREATE TRIGGER thread_search_delete AFTER DELETE ON threads BEGIN
    DELETE FROM thread_search WHERE rowid = old.id;
END;
CREATE TRIGGER thread_search_tag_added AFTER INSERT ON thread_tags BEGIN
    UPDATE thread_search SET tags = coalesce((SELECT group_concat(g.name, ' ') FROM thread_tags tt
        JOIN tags g ON g.id = tt.tag_id WHERE tt.thread_id = new.thread_id), '')
    WHERE rowid = new.thread_id;
END;
CREATE TRIGGER thread_search_tag_removed AFTER DELETE ON thread_tags BEGIN
    UPDATE thread_search SET tags = coalesce((SELECT group_concat(g.name, ' ') FROM thread_tags tt
        JOIN tags g ON g.id = tt.tag_id WHERE tt.thread_id = old.thread_id), '')
    WHERE rowid = old.thread_id;
END;
CREATE TRIGGER answer_search_insert AFTER INSERT ON answers BEGIN
    INSERT INTO answer_search (rowid, body) VALUES (new.id, new.body);
END;
CREATE TRIGGER answer_search_update AFTER UPDATE OF body ON answers BEGIN
    UPDATE answer_search SET body = new.body WHERE rowid = new.id;
END;
CREATE TRIGGER answer_search_delete AFTER DELETE ON answers BEGIN
    DELETE FROM answer_search WHERE rowid = old.id;
END;
