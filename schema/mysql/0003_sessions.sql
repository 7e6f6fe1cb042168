-- Sign-in state: bearer tokens and cookie sessions, one-time home-page tickets, failed logins.
-- Tokens and tickets are stored only as SHA-256 hashes.
-- Each CREATE commits on its own (MySQL DDL is not transactional); every statement here is
-- a CREATE TABLE IF NOT EXISTS, so a run that stopped half-way can simply be repeated.
CREATE TABLE IF NOT EXISTS sessions (
	id		bigint NOT NULL AUTO_INCREMENT PRIMARY KEY,
	user_id		bigint NOT NULL,
	token_hash	binary(32) NOT NULL,
	kind		varchar(8) NOT NULL CHECK (kind IN ('bearer', 'cookie')),
	created_at	datetime(6) NOT NULL DEFAULT current_timestamp(6),
	expires_at	datetime(6) NOT NULL,
	revoked_at	datetime(6) NULL,
	CONSTRAINT sessions_token_hash_key UNIQUE (token_hash),
	KEY sessions_user_idx (user_id),
	CONSTRAINT sessions_user_fk FOREIGN KEY (user_id) REFERENCES users (id)
	    ON DELETE CASCADE
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

CREATE TABLE IF NOT EXISTS tickets (
	id		bigint NOT NULL AUTO_INCREMENT PRIMARY KEY,
	user_id		bigint NOT NULL,
	ticket_hash	binary(32) NOT NULL,
	created_at	datetime(6) NOT NULL DEFAULT current_timestamp(6),
	expires_at	datetime(6) NOT NULL,
	used_at		datetime(6) NULL,
	CONSTRAINT tickets_ticket_hash_key UNIQUE (ticket_hash),
	CONSTRAINT tickets_user_fk FOREIGN KEY (user_id) REFERENCES users (id)
	    ON DELETE CASCADE
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

CREATE TABLE IF NOT EXISTS login_failures (
	id		bigint NOT NULL AUTO_INCREMENT PRIMARY KEY,
	phone		varchar(32) NOT NULL,
	client_addr	varchar(255) NOT NULL,
	at		datetime(6) NOT NULL DEFAULT current_timestamp(6),
	KEY login_failures_phone_idx (phone, at),
	KEY login_failures_addr_idx (client_addr, at),
	KEY login_failures_at_idx (at)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;
