-- Users: one row per registered phone; the password only as an argon2id hash.
CREATE TABLE users (
	id		bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	phone		text NOT NULL CHECK (phone ~ '^1[3-9][0-9]{9}$'),
	password_hash	text NOT NULL,
	created_at	timestamptz NOT NULL DEFAULT now(),
	visits		bigint NOT NULL DEFAULT 0,
	last_seen_at	timestamptz,
	CONSTRAINT users_phone_key UNIQUE (phone)
);
