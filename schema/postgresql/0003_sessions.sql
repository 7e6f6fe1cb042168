-- Sign-in state: bearer tokens and cookie sessions, one-time home-page tickets, failed logins.
-- Tokens and tickets are stored only as SHA-256 hashes.
CREATE TABLE sessions (
	id		bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	user_id		bigint NOT NULL REFERENCES users (id) ON DELETE CASCADE,
	token_hash	bytea NOT NULL,
	kind		text NOT NULL CHECK (kind IN ('bearer', 'cookie')),
	created_at	timestamptz NOT NULL DEFAULT now(),
	expires_at	timestamptz NOT NULL,
	revoked_at	timestamptz,
	CONSTRAINT sessions_token_hash_key UNIQUE (token_hash)
);
CREATE INDEX sessions_user_idx ON sessions (user_id);

CREATE TABLE tickets (
	id		bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	user_id		bigint NOT NULL REFERENCES users (id) ON DELETE CASCADE,
	ticket_hash	bytea NOT NULL,
	created_at	timestamptz NOT NULL DEFAULT now(),
	expires_at	timestamptz NOT NULL,
	used_at		timestamptz,
	CONSTRAINT tickets_ticket_hash_key UNIQUE (ticket_hash)
);

CREATE TABLE login_failures (
	id		bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	phone		text NOT NULL,
	client_addr	text NOT NULL,
	at		timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX login_failures_phone_idx ON login_failures (phone, at);
CREATE INDEX login_failures_addr_idx ON login_failures (client_addr, at);
CREATE INDEX login_failures_at_idx ON login_failures (at);
