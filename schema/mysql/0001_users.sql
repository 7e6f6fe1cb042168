-- Users: one row per registered phone; the password only as an argon2id hash.
-- Times are UTC: appd sets its session's time_zone to '+00:00' (datetime stores no zone).
CREATE TABLE users (
	id		bigint NOT NULL AUTO_INCREMENT PRIMARY KEY,
	phone		varchar(16) NOT NULL CHECK (phone REGEXP '^1[3-9][0-9]{9}$'),
	password_hash	varchar(255) NOT NULL,
	created_at	datetime(6) NOT NULL DEFAULT current_timestamp(6),
	visits		bigint NOT NULL DEFAULT 0,
	last_seen_at	datetime(6) NULL,
	CONSTRAINT users_phone_key UNIQUE (phone)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;
