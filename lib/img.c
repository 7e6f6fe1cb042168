/* Image decoding and re-encoding through MagickWand: only JPEG, PNG, GIF and WebP, with hard limits. */
#include <string.h>

#include <wand/MagickWand.h>

#include "img.h"
#include "log.h"

/* JPEG re-encoding quality for the stored image and the thumbnail. */
#define IMG_JPEG_QUALITY	85
#define IMG_THUMB_QUALITY	80
/* Most frames an animated image may have. */
#define IMG_MAX_FRAMES		300

static const struct {
	const char	*name;
	const char	*ext;
	const char	*coder;
} formats[IMG__MAX] = {
	[IMG_NONE] = { "", "", "" },
	[IMG_JPEG] = { "jpeg", "jpg", "JPEG" },
	[IMG_PNG] = { "png", "png", "PNG" },
	[IMG_GIF] = { "gif", "gif", "GIF" },
	[IMG_WEBP] = { "webp", "webp", "WEBP" },
};

static struct img_limits	 limits;

int
img_init(const struct img_limits *l)
{
	MagickSizeType	 mem;

	limits = *l;
	MagickWandGenesis();
	mem = (MagickSizeType)l->memory_mib * 1024 * 1024;
	/*
	 * The pixel cache lives in memory or nowhere: no disk, bounded maps.
	 * An image past these limits fails to decode instead of swapping.
	 * ImageMagick 6's time limit is not per image but counts the whole
	 * process's life, after which it exit()s: it is left unset, and the
	 * manager's request timeout bounds a runaway decode instead.
	 */
	if (MagickSetResourceLimit(MemoryResource, mem) == MagickFalse ||
	    MagickSetResourceLimit(MapResource, mem * 2) == MagickFalse ||
	    MagickSetResourceLimit(DiskResource, 0) == MagickFalse ||
	    MagickSetResourceLimit(AreaResource,
	    (MagickSizeType)l->max_pixels) == MagickFalse ||
	    MagickSetResourceLimit(WidthResource, 65535) == MagickFalse ||
	    MagickSetResourceLimit(HeightResource, 65535) == MagickFalse ||
	    MagickSetResourceLimit(ListLengthResource, IMG_MAX_FRAMES) ==
	    MagickFalse ||
	    MagickSetResourceLimit(ThreadResource, 1) == MagickFalse) {
		log_msg(LOG_ERROR, "ImageMagick refused a resource limit");
		return -1;
	}
	return 0;
}

void
img_cleanup(void)
{
	MagickWandTerminus();
}

enum img_format
img_sniff(const unsigned char *p, size_t n)
{
	if (n >= 3 && p[0] == 0xff && p[1] == 0xd8 && p[2] == 0xff)
		return IMG_JPEG;
	if (n >= 8 && memcmp(p, "\x89PNG\r\n\x1a\n", 8) == 0)
		return IMG_PNG;
	if (n >= 6 && (memcmp(p, "GIF87a", 6) == 0 ||
	    memcmp(p, "GIF89a", 6) == 0))
		return IMG_GIF;
	if (n >= 12 && memcmp(p, "RIFF", 4) == 0 && memcmp(p + 8, "WEBP", 4) == 0)
		return IMG_WEBP;
	return IMG_NONE;
}

const char *
img_name(enum img_format f)
{
	return formats[(unsigned)f < IMG__MAX ? f : IMG_NONE].name;
}

enum img_format
img_from_name(const char *name)
{
	int	 i;

	for (i = 1; i < IMG__MAX; i++)
		if (strcmp(name, formats[i].name) == 0)
			return (enum img_format)i;
	return IMG_NONE;
}

const char *
img_ext(enum img_format f)
{
	return formats[(unsigned)f < IMG__MAX ? f : IMG_NONE].ext;
}

void
img_out_init(struct img_out *o)
{
	o->format = IMG_NONE;
	o->width = o->height = 0;
	buf_init(&o->main);
	buf_init(&o->thumb);
}

void
img_out_cleanup(struct img_out *o)
{
	buf_cleanup(&o->main);
	buf_cleanup(&o->thumb);
}

static void
log_wand(MagickWand *w, const char *what)
{
	ExceptionType	 sev;
	char		*desc;

	desc = MagickGetException(w, &sev);
	log_msg(LOG_INFO, "image refused at %s: %s", what,
	    desc != NULL ? desc : "?");
	if (desc != NULL)
		MagickRelinquishMemory(desc);
}

/* Encode every frame of w as one blob into out. */
static int
encode(MagickWand *w, struct buf *out)
{
	unsigned char	*blob;
	size_t		 len = 0;

	if ((blob = MagickGetImagesBlob(w, &len)) == NULL || len == 0)
		return -1;
	buf_reset(out);
	buf_append(out, blob, len);
	MagickRelinquishMemory(blob);
	return 0;
}

enum app_err
img_process(const unsigned char *p, size_t n, struct img_out *out)
{
	MagickWand	*w = NULL, *t = NULL;
	const Image	*im;
	enum img_format	 f;
	enum app_err	 rc = APP_E_INVALID_IMAGE;
	char		 coder[16];
	size_t		 tw, th;
	long		 side;

	if ((f = img_sniff(p, n)) == IMG_NONE)
		return APP_E_MEDIA_TYPE;
	/* "PNG:" names the coder explicitly: no format detection at all. */
	snprintf(coder, sizeof(coder), "%s:", formats[f].coder);
	w = NewMagickWand();
	if (MagickSetFilename(w, coder) == MagickFalse)
		goto out;
	/* Dimensions first, from the headers: refuse before decoding. */
	if (MagickPingImageBlob(w, p, n) == MagickFalse) {
		log_wand(w, "ping");
		goto out;
	}
	MagickResetIterator(w);
	while (MagickNextImage(w) != MagickFalse)
		if ((double)MagickGetImageWidth(w) *
		    (double)MagickGetImageHeight(w) > (double)limits.max_pixels) {
			log_msg(LOG_INFO, "image refused: %zux%zu is over %ld "
			    "pixels", MagickGetImageWidth(w),
			    MagickGetImageHeight(w), limits.max_pixels);
			goto out;
		}
	ClearMagickWand(w);
	if (MagickSetFilename(w, coder) == MagickFalse)
		goto out;
	if (MagickReadImageBlob(w, p, n) == MagickFalse) {
		log_wand(w, "decode");
		goto out;
	}
	/*
	 * A truncated or damaged file decodes "successfully" with the rest
	 * filled in grey and only a warning, recorded on the frame rather
	 * than the wand: that is not an image we keep.
	 */
	MagickResetIterator(w);
	while (MagickNextImage(w) != MagickFalse) {
		im = GetImageFromMagickWand(w);
		if (im != NULL && (im->exception.severity ==
		    CorruptImageWarning || im->exception.severity >=
		    ErrorException)) {
			log_msg(LOG_INFO, "image refused at decode: %s",
			    im->exception.reason != NULL ?
			    im->exception.reason : "corrupt");
			goto out;
		}
	}
	MagickResetIterator(w);
	while (MagickNextImage(w) != MagickFalse)
		if (MagickAutoOrientImage(w) == MagickFalse ||
		    MagickStripImage(w) == MagickFalse ||
		    MagickSetImageFormat(w, formats[f].coder) == MagickFalse ||
		    (f == IMG_JPEG && MagickSetImageCompressionQuality(w,
		    IMG_JPEG_QUALITY) == MagickFalse)) {
			log_wand(w, "transform");
			goto out;
		}
	MagickSetFirstIterator(w);
	out->format = f;
	out->width = (long)MagickGetImageWidth(w);
	out->height = (long)MagickGetImageHeight(w);
	if (encode(w, &out->main) == -1) {
		log_wand(w, "encode");
		goto out;
	}
	/*
	 * The thumbnail: the first frame alone, longest side <= thumb. A
	 * single frame is scaled in place: a copy of a large image would
	 * double the pixel cache and hit the memory limit.
	 */
	if (MagickGetNumberImages(w) > 1)
		t = MagickGetImage(w);
	else {
		t = w;
		w = NULL;
	}
	side = out->width > out->height ? out->width : out->height;
	tw = (size_t)out->width;
	th = (size_t)out->height;
	if (side > limits.thumb) {
		tw = (size_t)((double)out->width * limits.thumb / side + 0.5);
		th = (size_t)((double)out->height * limits.thumb / side + 0.5);
		tw = tw < 1 ? 1 : tw;
		th = th < 1 ? 1 : th;
	}
	if (t == NULL || MagickThumbnailImage(t, tw, th) == MagickFalse ||
	    MagickStripImage(t) == MagickFalse ||
	    MagickSetImageFormat(t, formats[f].coder) == MagickFalse ||
	    (f == IMG_JPEG && MagickSetImageCompressionQuality(t,
	    IMG_THUMB_QUALITY) == MagickFalse) || encode(t, &out->thumb) == -1) {
		/*
		 * The image decoded, so a failure here is ImageMagick running
		 * out of its memory limit (scaling needs the source and the
		 * result at once; the reason may sit on the frame rather
		 * than the wand): "too large to process", not a server fault.
		 */
		if (t != NULL)
			log_wand(t, "thumbnail");
		goto out;
	}
	rc = APP_OK;
out:
	if (t != NULL)
		DestroyMagickWand(t);
	if (w != NULL)
		DestroyMagickWand(w);
	return rc;
}
