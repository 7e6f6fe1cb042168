-- users.image_count: how many images the user has, kept by triggers on images, so that
-- GET /users/me and the H5 page read one column instead of counting rows (see
-- schema/postgresql/0005_image_count.sql). Every statement is harmless to repeat; the last
-- one recounts. (MariaDB's cascaded deletes fire no trigger: only a deleted user's images
-- go that way, and the user's row with them.)
ALTER TABLE users ADD COLUMN IF NOT EXISTS image_count bigint NOT NULL DEFAULT 0;

CREATE TRIGGER IF NOT EXISTS images_count_add AFTER INSERT ON images FOR EACH ROW
	UPDATE users SET image_count = image_count + 1 WHERE id = NEW.user_id;

CREATE TRIGGER IF NOT EXISTS images_count_del AFTER DELETE ON images FOR EACH ROW
	UPDATE users SET image_count = image_count - 1 WHERE id = OLD.user_id;

UPDATE users u SET image_count = (SELECT COUNT(*) FROM images i WHERE i.user_id = u.id);
