DROP INDEX community_follows_community;
DROP INDEX threads_community_score;
DROP TABLE mentions;
DROP TABLE answer_revisions;
DROP TABLE thread_revisions;
