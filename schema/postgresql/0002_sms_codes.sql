-- Verification codes: only a keyed hash of each code is kept, with its expiry and tries.
CREATE TABLE sms_codes (
	id		bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	phone		text NOT NULL,
	code_hash	bytea NOT NULL,
	client_addr	text NOT NULL,
	created_at	timestamptz NOT NULL DEFAULT now(),
	expires_at	timestamptz NOT NULL,
	attempts	integer NOT NULL DEFAULT 0,
	used_at		timestamptz
);
CREATE INDEX sms_codes_phone_idx ON sms_codes (phone, created_at DESC);
CREATE INDEX sms_codes_addr_idx ON sms_codes (client_addr, created_at);
