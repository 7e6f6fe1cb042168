-- PostgreSQL's 0006 drops sessions.id, a surrogate key nothing reads that cost every login a
-- sequence call and a second unique index. InnoDB is different: a table is stored in the
-- order of its primary key, and the auto-increment id keeps new sessions at the end of it;
-- token_hash (random) as the clustering key would scatter every insert. So here the column
-- stays, and this number only keeps the two folders in step.
DO 0;
