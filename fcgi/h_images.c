/* Image handlers: POST /upload and GET /users/images. */
#include <errno.h>
#include <stdlib.h>

#include <json-c/json.h>

#include "appd.h"
#include "gallery.h"
#include "mpart.h"

/*
 * POST /upload (multipart/form-data, file in field "image" or "file")
 *   201 {"id", "url", "thumb_url", "width", "height", "format", "bytes",
 *        "sha256"}
 *   400 missing_field (no file part)
 *   401 unauthorized; 403 forbidden (cookie from another origin)
 *   413 payload_too_large
 *   415 unsupported_media_type (not multipart; not JPEG/PNG/GIF/WebP)
 *   422 invalid_image (malformed body, undecodable, over the pixel limit)
 *   503 unavailable (database or disk; nothing is left behind)
 */
enum app_err
h_upload(struct ctx *c, struct req *rq, struct resp *rs)
{
	struct gallery_item	 it;
	const unsigned char	*p;
	size_t			 n;
	enum app_err		 e;

	p = mpart_file(rq->upload, &n);
	e = gallery_upload(c->store, c->cfg, rq->uid, p, n, &it);
	if (e == APP_E_MEDIA_TYPE)
		resp_err(rs, e, "only JPEG, PNG, GIF and WebP images are "
		    "accepted");
	if (e != APP_OK)
		return e;
	resp_ok(rs, 201, gallery_item_json(&it, c->cfg->public_url));
	return APP_OK;
}

/* A query number: 1 and *out (at most max) when all digits, else 0. */
static int
query_num(const char *query, const char *name, long long max,
    long long *out)
{
	char		 v[24], *end;
	long long	 n;

	if (!req_query(query, name, v, sizeof(v)) || v[0] < '0' ||
	    v[0] > '9')
		return 0;
	errno = 0;
	n = strtoll(v, &end, 10);
	if (*end != '\0')
		return 0;
	*out = errno == ERANGE || n > max ? max : n;
	return 1;
}

/*
 * GET /users/images?limit=20&before=<id>
 *   200 {"images": [...], "next": <id or null>}; limit is 1..100
 *       (default 20), newest first, only the caller's images
 *   401 unauthorized
 *   503 unavailable
 */
enum app_err
h_images(struct ctx *c, struct req *rq, struct resp *rs)
{
	struct gallery_item	 items[GALLERY_MAX_LIMIT];
	struct json_object	*data, *list;
	long long		 limit = 20, before = 0, next;
	enum app_err		 e;
	int			 i, n;

	(void)query_num(rq->query, "limit", GALLERY_MAX_LIMIT, &limit);
	(void)query_num(rq->query, "before", 0x7fffffffffffffffLL, &before);
	if (limit < 1)
		limit = 1;
	e = gallery_list(c->store, rq->uid, (long)limit, before, items, &n,
	    &next);
	if (e != APP_OK)
		return e;
	list = json_object_new_array();
	for (i = 0; i < n; i++)
		json_object_array_add(list,
		    gallery_item_json(&items[i], c->cfg->public_url));
	data = json_object_new_object();
	json_object_object_add(data, "images", list);
	json_object_object_add(data, "next",
	    next > 0 ? json_object_new_int64(next) : NULL);
	resp_ok(rs, 200, data);
	return APP_OK;
}
