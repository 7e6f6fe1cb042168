-- PostgreSQL's 0007 drops the sessions -> users foreign key, whose check wrote a row lock into
-- the user's row (WAL, a dirtied page, MultiXacts) at every login. InnoDB's check takes its
-- shared lock on the parent row in memory and writes nothing, so here the key stays, and this
-- number only keeps the two folders in step.
DO 0;
