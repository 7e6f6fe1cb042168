/* A user's images: the upload pipeline (decode, files, row as one unit) and the listing. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <json-c/json.h>
#include <sodium.h>

#include "blob.h"
#include "buf.h"
#include "cfg.h"
#include "gallery.h"
#include "img.h"
#include "log.h"
#include "store.h"

/* The files of one upload, and which of them this upload created. */
struct files {
	const char		*root;
	const struct img_out	*img;
	const struct gallery_item *it;
	int			 made_main;
	int			 made_thumb;
};

static void
set_paths(struct gallery_item *it, enum img_format f)
{
	snprintf(it->rel, sizeof(it->rel), "%.2s/%.2s/%s.%s", it->sha256,
	    it->sha256 + 2, it->sha256, img_ext(f));
	snprintf(it->thumb_rel, sizeof(it->thumb_rel), "%.2s/%.2s/%s.thumb.%s",
	    it->sha256, it->sha256 + 2, it->sha256, img_ext(f));
}

static void
undo_files(void *arg)
{
	struct files	*fs = arg;

	if (fs->made_thumb)
		(void)blob_remove(fs->root, fs->it->thumb_rel);
	if (fs->made_main)
		(void)blob_remove(fs->root, fs->it->rel);
	fs->made_main = fs->made_thumb = 0;
}

static int
write_files(void *arg)
{
	struct files	*fs = arg;
	int		 rc;

	rc = blob_put(fs->root, fs->it->rel, fs->img->main.data,
	    fs->img->main.len);
	if (rc == -1)
		goto fail;
	fs->made_main = rc;
	rc = blob_put(fs->root, fs->it->thumb_rel, fs->img->thumb.data,
	    fs->img->thumb.len);
	if (rc == -1)
		goto fail;
	fs->made_thumb = rc;
	return 0;
fail:
	log_msg(LOG_ERROR, "storing image %s: %s", fs->it->rel,
	    strerror(errno));
	undo_files(fs);
	return -1;
}

enum app_err
gallery_upload(struct store *st, const struct cfg *cfg, long long uid,
    const unsigned char *p, size_t n, struct gallery_item *out)
{
	struct img_out		 img;
	struct store_image	 row;
	struct files		 fs;
	unsigned char		 sum[crypto_hash_sha256_BYTES];
	enum app_err		 e;

	memset(out, 0, sizeof(*out));
	img_out_init(&img);
	if ((e = img_process(p, n, &img)) != APP_OK)
		goto out;
	crypto_hash_sha256(sum, (const unsigned char *)img.main.data,
	    img.main.len);
	sodium_bin2hex(out->sha256, sizeof(out->sha256), sum, sizeof(sum));
	out->format = img_name(img.format);
	out->width = img.width;
	out->height = img.height;
	out->bytes = (long long)img.main.len;
	set_paths(out, img.format);

	memset(&row, 0, sizeof(row));
	memcpy(row.sha256, out->sha256, sizeof(row.sha256));
	snprintf(row.format, sizeof(row.format), "%s", out->format);
	row.width = out->width;
	row.height = out->height;
	row.bytes = out->bytes;
	memset(&fs, 0, sizeof(fs));
	fs.root = cfg->image_dir;
	fs.img = &img;
	fs.it = out;
	e = store_image_add(st, uid, &row, write_files, undo_files, &fs,
	    &out->id);
out:
	img_out_cleanup(&img);
	return e;
}

enum app_err
gallery_list(struct store *st, long long uid, long limit, long long before,
    struct gallery_item *items, int *n, long long *next)
{
	struct store_image	 rows[GALLERY_MAX_LIMIT + 1];
	enum app_err		 e;
	int			 got, i;

	*n = 0;
	*next = 0;
	if (limit < 1)
		limit = 1;
	if (limit > GALLERY_MAX_LIMIT)
		limit = GALLERY_MAX_LIMIT;
	/* One row more than asked tells whether a next page exists. */
	if ((e = store_image_list(st, uid, before, rows, (int)limit + 1,
	    &got)) != APP_OK)
		return e;
	for (i = 0; i < got && i < limit; i++) {
		memset(&items[i], 0, sizeof(items[i]));
		items[i].id = rows[i].id;
		memcpy(items[i].sha256, rows[i].sha256, sizeof(rows[i].sha256));
		items[i].format = img_name(img_from_name(rows[i].format));
		items[i].width = rows[i].width;
		items[i].height = rows[i].height;
		items[i].bytes = rows[i].bytes;
		set_paths(&items[i], img_from_name(rows[i].format));
	}
	*n = i;
	if (got > limit)
		*next = items[i - 1].id;
	return APP_OK;
}

struct json_object *
gallery_item_json(const struct gallery_item *it, const char *base)
{
	struct json_object	*o;
	struct buf		 u;

	buf_init(&u);
	o = json_object_new_object();
	json_object_object_add(o, "id", json_object_new_int64(it->id));
	buf_printf(&u, "%s/images/%s", base, it->rel);
	json_object_object_add(o, "url", json_object_new_string(u.data));
	buf_reset(&u);
	buf_printf(&u, "%s/images/%s", base, it->thumb_rel);
	json_object_object_add(o, "thumb_url", json_object_new_string(u.data));
	json_object_object_add(o, "width", json_object_new_int64(it->width));
	json_object_object_add(o, "height", json_object_new_int64(it->height));
	json_object_object_add(o, "format", json_object_new_string(it->format));
	json_object_object_add(o, "bytes", json_object_new_int64(it->bytes));
	json_object_object_add(o, "sha256", json_object_new_string(it->sha256));
	buf_cleanup(&u);
	return o;
}
