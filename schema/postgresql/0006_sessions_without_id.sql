-- sessions.id: a surrogate key nothing reads (a session is found by its token_hash, which is
-- UNIQUE and NOT NULL). Every login paid for it: a sequence call and an insert into a second
-- unique index, 13 µs of the database's ~110 µs per login (measured; docs/backends.md).
-- Dropping the column is a catalogue change (no rewrite) and removes its index; code from
-- before this migration never names the column, so it keeps working during an upgrade.
-- token_hash becomes the replica identity (what logical replication matches rows by).
ALTER TABLE sessions DROP COLUMN id;
ALTER TABLE sessions REPLICA IDENTITY USING INDEX sessions_token_hash_key;
