DROP TABLE mod_log;
DROP TABLE community_bans;
DROP TABLE reports;
