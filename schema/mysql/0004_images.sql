-- Uploaded images: one row per upload; files are content-addressed, so rows may share them.
CREATE TABLE images (
	id		bigint NOT NULL AUTO_INCREMENT PRIMARY KEY,
	user_id		bigint NOT NULL,
	sha256		char(64) NOT NULL CHECK (sha256 REGEXP '^[0-9a-f]{64}$'),
	format		varchar(8) NOT NULL,
	width		integer NOT NULL,
	height		integer NOT NULL,
	bytes		bigint NOT NULL,
	created_at	datetime(6) NOT NULL DEFAULT current_timestamp(6),
	KEY images_user_idx (user_id, id),
	KEY images_sha256_idx (sha256),
	CONSTRAINT images_user_fk FOREIGN KEY (user_id) REFERENCES users (id)
	    ON DELETE CASCADE
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;
