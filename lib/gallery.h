/* A user's images: the upload pipeline (decode, files, row as one unit) and the listing. */
#ifndef GALLERY_H
#define GALLERY_H

#include <stddef.h>

#include "app.h"

struct cfg;
struct json_object;
struct store;

/* Relative path of a stored file: "ab/cd/<sha256>[.thumb].<ext>". */
#define GALLERY_REL_LEN	96

/* One image as the API shows it. */
struct gallery_item {
	long long	 id;
	char		 sha256[65];
	const char	*format;	/* static: "jpeg", "png", "gif", "webp" */
	long		 width;
	long		 height;
	long long	 bytes;
	char		 rel[GALLERY_REL_LEN];
	char		 thumb_rel[GALLERY_REL_LEN];
};

/*
 * POST /upload: process the file (n bytes) and store it for uid with its
 * thumbnail under cfg->image_dir; files and row commit together. APP_OK
 * with *out; APP_E_MEDIA_TYPE; APP_E_INVALID_IMAGE; APP_E_UNAVAILABLE
 * (database, or the disk: nothing is left behind); APP_E_INTERNAL.
 */
enum app_err	 gallery_upload(struct store *st, const struct cfg *cfg,
		    long long uid, const unsigned char *p, size_t n,
		    struct gallery_item *out);

/*
 * uid's images, newest first, before id `before` (0: newest), at most
 * limit (<= GALLERY_MAX_LIMIT) into items; *next is the id to pass as
 * `before` for the next page, 0 when there is none.
 */
#define GALLERY_MAX_LIMIT	100
enum app_err	 gallery_list(struct store *st, long long uid, long limit,
		    long long before, struct gallery_item *items, int *n,
		    long long *next);

/* The API object for an item with absolute URLs under base; new. */
struct json_object *gallery_item_json(const struct gallery_item *it,
		    const char *base);

#endif
