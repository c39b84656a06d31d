DROP TABLE instance_bans;
DROP TABLE instance_settings;
DROP TABLE domain_allows;
