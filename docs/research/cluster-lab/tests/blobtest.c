/* The app's blob_put() pattern (lib/blob.c) on a given directory: mkostemp, write, fchmod,
 * fsync, close, link() into place (EEXIST = someone stored it), unlink the temp file,
 * fsync the directory; plus rename() over an existing name. Then read everything back
 * (optionally through a second mount) and compare.
 *   blobtest put ROOT N SEED        store N files under ROOT/ab/cd/<name>
 *   blobtest check ROOT N SEED      verify them (e.g. through another mount)
 *   blobtest rename ROOT N          N rename(tmp, fixed-name) rounds
 *   blobtest watch ROOT N           meanwhile read that name N times: never missing, never torn
 */
#define _GNU_SOURCE
#include <sys/stat.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static int sync_dir(const char *file) {
	char dir[PATH_MAX], *s; int fd, rc;
	snprintf(dir, sizeof dir, "%s", file);
	if (!(s = strrchr(dir, '/'))) return 0;
	*s = 0;
	if ((fd = open(dir, O_RDONLY | O_DIRECTORY)) == -1) return -1;
	rc = fsync(fd); close(fd); return rc;
}
static int make_dirs(char *path) {
	for (char *s = strchr(path + 1, '/'); s; s = strchr(s + 1, '/')) {
		*s = 0;
		if (mkdir(path, 0755) == -1 && errno != EEXIST) { *s = '/'; return -1; }
		*s = '/';
	}
	return 0;
}
static int blob_put(const char *path, const char *p, size_t n) {
	char tmp[PATH_MAX], buf[PATH_MAX]; int fd, rc;
	snprintf(buf, sizeof buf, "%s", path);
	if (access(path, F_OK) == 0) return 0;
	if (make_dirs(buf) == -1) return -1;
	snprintf(tmp, sizeof tmp, "%s", path);
	strcpy(strrchr(tmp, '/') + 1, ".tmp-XXXXXX");
	if ((fd = mkostemp(tmp, O_CLOEXEC)) == -1) return -1;
	if (write(fd, p, n) != (ssize_t)n || fchmod(fd, 0644) || fsync(fd) || close(fd)) { unlink(tmp); return -1; }
	if (link(tmp, path) == -1) { if (errno != EEXIST) { unlink(tmp); return -1; } rc = 0; }
	else rc = 1;
	if (unlink(tmp) == -1) return -1;
	if (rc == 1 && sync_dir(path) == -1) return -1;
	return rc;
}
static void content(unsigned seed, int i, char *b, size_t *n) {
	unsigned x = seed * 2654435761u + (unsigned)i * 40503u + 1;
	*n = 1000 + (x % 60000);
	for (size_t k = 0; k < *n; k++) { x = x * 1103515245u + 12345u; b[k] = (char)(x >> 16); }
	memcpy(b, &i, sizeof i);	/* lets a reader tell which version it sees */
}
static void name(const char *root, unsigned seed, int i, char *path) {
	unsigned h = seed * 2246822519u ^ (unsigned)i * 3266489917u;
	snprintf(path, PATH_MAX, "%s/%02x/%02x/%08x-%d.bin", root, h & 0xff, (h >> 8) & 0xff, h, i);
}
int main(int argc, char **argv) {
	static char b[70000], r[70000]; char path[PATH_MAX]; size_t n; int bad = 0, made = 0, dup = 0;
	if (argc < 4) return 2;
	const char *root = argv[2]; int cnt = atoi(argv[3]); unsigned seed = argc > 4 ? (unsigned)atoi(argv[4]) : 1;
	if (!strcmp(argv[1], "put")) {
		for (int i = 0; i < cnt; i++) {
			content(seed, i, b, &n); name(root, seed, i, path);
			int rc = blob_put(path, b, n);
			if (rc < 0) { fprintf(stderr, "put %s: %s\n", path, strerror(errno)); bad++; }
			else if (rc == 1) made++; else dup++;
		}
		printf("put: %d stored, %d already there, %d errors\n", made, dup, bad);
	} else if (!strcmp(argv[1], "check")) {
		for (int i = 0; i < cnt; i++) {
			content(seed, i, b, &n); name(root, seed, i, path);
			int fd = open(path, O_RDONLY); ssize_t got = fd < 0 ? -1 : read(fd, r, sizeof r);
			if (fd >= 0) close(fd);
			if (got != (ssize_t)n || memcmp(b, r, n)) { fprintf(stderr, "bad %s (%zd/%zu)\n", path, got, n); bad++; }
		}
		printf("check: %d files, %d bad\n", cnt, bad);
	} else if (!strcmp(argv[1], "rename")) {
		snprintf(path, sizeof path, "%s/renamed.bin", root);
		for (int i = 0; i < cnt; i++) {
			char tmp[PATH_MAX]; snprintf(tmp, sizeof tmp, "%s/.tmp-rn-%d", root, i);
			content(seed, i, b, &n);
			int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC, 0644);
			if (fd < 0 || write(fd, b, n) != (ssize_t)n || fsync(fd) || close(fd) || rename(tmp, path) || sync_dir(path)) {
				fprintf(stderr, "rename round %d: %s\n", i, strerror(errno)); bad++;
			}
		}
		printf("rename: %d rounds, %d errors\n", cnt, bad);
	} else if (!strcmp(argv[1], "watch")) {
		int missing = 0, torn = 0, seen = -1, versions = 0;
		snprintf(path, sizeof path, "%s/renamed.bin", root);
		for (int k = 0; k < cnt; k++) {
			int fd = open(path, O_RDONLY);
			if (fd < 0) { missing++; continue; }
			ssize_t got = read(fd, r, sizeof r); close(fd);
			int i; memcpy(&i, r, sizeof i);
			content(seed, i, b, &n);
			if (got != (ssize_t)n || memcmp(b, r, n)) torn++;
			if (i != seen) { versions++; seen = i; }
		}
		printf("watch: %d reads, %d versions seen, %d missing, %d torn\n", cnt, versions, missing, torn);
		bad = missing + torn;
	}
	return bad != 0;
}
