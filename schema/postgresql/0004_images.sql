-- Uploaded images: one row per upload; files are content-addressed, so rows may share them.
CREATE TABLE images (
	id		bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	user_id		bigint NOT NULL REFERENCES users (id) ON DELETE CASCADE,
	sha256		text NOT NULL CHECK (sha256 ~ '^[0-9a-f]{64}$'),
	format		text NOT NULL,
	width		integer NOT NULL,
	height		integer NOT NULL,
	bytes		bigint NOT NULL,
	created_at	timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX images_user_idx ON images (user_id, id DESC);
CREATE INDEX images_sha256_idx ON images (sha256);
