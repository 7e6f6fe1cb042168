/* Image decoding and re-encoding through MagickWand: only JPEG, PNG, GIF and WebP, with hard limits. */
#ifndef IMG_H
#define IMG_H

#include <stddef.h>

#include "app.h"
#include "buf.h"

enum img_format {
	IMG_NONE,
	IMG_JPEG,
	IMG_PNG,
	IMG_GIF,
	IMG_WEBP,
	IMG__MAX
};

struct img_limits {
	long	 max_pixels;	/* width x height of any frame */
	long	 memory_mib;	/* ImageMagick pixel cache in memory */
	long	 thumb;		/* longest side of the thumbnail */
};

/*
 * Start MagickWand for this process with the limits (memory, map, disk
 * none, width, height, area, frames, one thread). Call once per worker.
 * Returns 0 or -1.
 */
int		 img_init(const struct img_limits *l);
void		 img_cleanup(void);

/* The format the first bytes announce, IMG_NONE for anything else. */
enum img_format	 img_sniff(const unsigned char *p, size_t n);

/* "jpeg", "png", "gif", "webp" (the API's format names). */
const char	*img_name(enum img_format f);

/* The format named by img_name's string, IMG_NONE if none. */
enum img_format	 img_from_name(const char *name);

/* File extension without the dot: "jpg", "png", "gif", "webp". */
const char	*img_ext(enum img_format f);

/* A processed upload; storage is the caller's (img_out_init/cleanup). */
struct img_out {
	enum img_format	 format;
	long		 width;
	long		 height;
	struct buf	 main;	/* auto-oriented, stripped, re-encoded */
	struct buf	 thumb;	/* first frame, longest side <= thumb */
};

void		 img_out_init(struct img_out *o);
void		 img_out_cleanup(struct img_out *o);

/*
 * Decode p (n bytes) with the coder its magic bytes name (nothing else
 * ever reaches ImageMagick), then auto-orient, strip every profile and
 * comment, re-encode, and make the thumbnail. APP_OK with out filled;
 * APP_E_MEDIA_TYPE (not JPEG/PNG/GIF/WebP); APP_E_INVALID_IMAGE (does
 * not decode, or over the pixel limit); APP_E_INTERNAL.
 */
enum app_err	 img_process(const unsigned char *p, size_t n,
		    struct img_out *out);

#endif
