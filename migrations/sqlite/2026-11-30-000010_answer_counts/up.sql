-- Answer counts are recomputed from the live answers of a thread on every change; this index
-- answers that aggregate without reading the answer rows (a thread with thousands of
-- answers took milliseconds per new answer: docs/benchmarks.md, "Profiles").
CREATE INDEX answers_thread_live ON answers (thread_id, deleted, removed, accepted, published);
