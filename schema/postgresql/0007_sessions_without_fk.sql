-- sessions.user_id without a foreign key. The key's check took a FOR KEY SHARE lock on the
-- user's row at every login: a WAL record and a dirtied users page per login, and a
-- MultiXact whenever two logins of one user overlapped (about one login in four under the
-- bench's 32 connections). It cost PostgreSQL 12-14 µs of its ~100 µs per login (measured;
-- docs/backends.md). A session's user_id is right by construction: login_begin takes it from
-- the users row it read in the same statement, ticket_spend from the ticket it inserts (whose
-- own foreign key stays). What the key still did, deleting a user's sessions with the user,
-- the trigger below does. A login racing the delete of its user can leave one session row
-- behind; it opens nothing, because every read of a session joins users.
ALTER TABLE sessions DROP CONSTRAINT sessions_user_id_fkey;

CREATE FUNCTION users_delete_sessions() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
	DELETE FROM sessions WHERE user_id = OLD.id;
	RETURN NULL;
END
$$;

CREATE TRIGGER users_delete_sessions AFTER DELETE ON users
	FOR EACH ROW EXECUTE FUNCTION users_delete_sessions();
