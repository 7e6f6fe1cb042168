-- Verification codes: only a keyed hash of each code is kept, with its expiry and tries.
CREATE TABLE sms_codes (
	id		bigint NOT NULL AUTO_INCREMENT PRIMARY KEY,
	phone		varchar(32) NOT NULL,
	code_hash	binary(32) NOT NULL,
	client_addr	varchar(255) NOT NULL,
	created_at	datetime(6) NOT NULL DEFAULT current_timestamp(6),
	expires_at	datetime(6) NOT NULL,
	attempts	integer NOT NULL DEFAULT 0,
	used_at		datetime(6) NULL,
	KEY sms_codes_phone_idx (phone, created_at),
	KEY sms_codes_addr_idx (client_addr, created_at)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;
