DROP TABLE domain_blocks;
