"""Scenario 2 through Nginx: POST /upload, the stored files and thumbnails served from /images/,
GET /users/images, image_count in /users/me and the gallery on the H5 home page.

Every test image is made here with ImageMagick (Debian's /usr/bin/convert) and exiftool: no binary
is committed. Every refused upload is checked to leave nothing behind: no new file under the
image dir (APPD_IMAGE_DIR) and no new row in `images`.
"""
import concurrent.futures
import hashlib
import json
import os
import re
import struct
import subprocess
import time
import zlib
from html.parser import HTMLParser

import pytest

from util import (IMAGE_EXT, IMAGE_FIELDS, IMAGE_TYPE, IDENTIFY, assert_envelope_error,
                  assert_envelope_ok, assert_html_page, assert_nothing_new,
                  assert_session_cookie, image_dir, identify, list_files, login_user, magick,
                  make_image, multipart, no_cookie_session, psql, set_cookies,
                  storage_snapshot)

SHA_RE = r"[0-9a-f]{64}"
STORED_RE = re.compile(r"([0-9a-f]{2})/([0-9a-f]{2})/(" + SHA_RE + r")(\.thumb)?\.(jpg|png|gif|webp)")


# ---------------------------------------------------------------- fixtures and helpers

class User:
    def __init__(self, session, base_url):
        self.token, self.phone, self.password = login_user(session, base_url)
        self.auth = {"Authorization": "Bearer " + self.token}


@pytest.fixture
def user(s, base_url):
    """A fresh user with no images."""
    return User(s, base_url)


@pytest.fixture(scope="module")
def shared(base_url):
    """One user for the tests that do not count images."""
    session = no_cookie_session()
    try:
        return User(session, base_url)
    finally:
        session.close()


def upload(s, base_url, user, data, field="image", filename="photo.bin",
           ctype="application/octet-stream", headers=None):
    """POST /upload with requests' own multipart encoder."""
    h = dict(user.auth) if user is not None else {}
    h.update(headers or {})
    return s.post(base_url + "/upload", files={field: (filename, data, ctype)}, headers=h,
                  allow_redirects=False, timeout=120)


def post_raw(s, base_url, user, body, content_type, headers=None):
    """POST /upload with a body and Content-Type exactly as given."""
    h = dict(user.auth) if user is not None else {}
    if content_type is not None:
        h["Content-Type"] = content_type
    h.update(headers or {})
    return s.post(base_url + "/upload", data=body, headers=h, allow_redirects=False, timeout=120)


def stored_path(url, base_url):
    assert url.startswith(base_url + "/images/"), url
    return os.path.join(image_dir(), url[len(base_url + "/images/"):])


def assert_dir_clean():
    """Only content-named files (no temporaries) in the right fan-out folders under the image dir."""
    for rel in list_files(image_dir()):
        m = STORED_RE.fullmatch(rel)
        assert m, "unexpected file under the image dir: %r" % rel
        assert m.group(1) == m.group(3)[:2] and m.group(2) == m.group(3)[2:4], rel


def assert_upload_ok(r, base_url, fmt, width=None, height=None, user=None):
    """A 201 upload: the data object, the files on disk and the row agree; returns data."""
    data = assert_envelope_ok(r, 201)
    assert set(data) == IMAGE_FIELDS, data
    for k in ("id", "width", "height", "bytes"):
        assert type(data[k]) is int and data[k] > 0, data
    assert data["format"] == fmt, data
    sha = data["sha256"]
    assert re.fullmatch(SHA_RE, sha), data
    ext = IMAGE_EXT[fmt]
    prefix = "%s/images/%s/%s/%s" % (base_url, sha[:2], sha[2:4], sha)
    assert data["url"] == prefix + "." + ext, data
    assert data["thumb_url"] == prefix + ".thumb." + ext, data
    if width is not None:
        assert (data["width"], data["height"]) == (width, height), data
    # The stored file: its bytes are what sha256 and bytes say, 0644, one link, no temporaries.
    path = stored_path(data["url"], base_url)
    with open(path, "rb") as f:
        stored = f.read()
    assert len(stored) == data["bytes"], (len(stored), data)
    assert hashlib.sha256(stored).hexdigest() == sha
    frames = identify(stored)
    assert frames[0] == ({"jpeg": "JPEG", "png": "PNG", "gif": "GIF", "webp": "WEBP"}[fmt],
                         data["width"], data["height"]), (frames, data)
    for p in (path, stored_path(data["thumb_url"], base_url)):
        st = os.stat(p)
        assert st.st_mode & 0o7777 == 0o644, (p, oct(st.st_mode))
        assert st.st_nlink == 1, (p, st.st_nlink)
    assert_dir_clean()
    # The row.
    row = psql("select sha256, format, width, height, bytes from images where id = %d"
               % data["id"])
    assert row == "%s|%s|%d|%d|%d" % (sha, fmt, data["width"], data["height"], data["bytes"]), row
    if user is not None:
        owner = psql("select u.phone from images i join users u on u.id = i.user_id "
                     "where i.id = %d" % data["id"])
        assert owner == user.phone
    return data


def max_age(cache_control):
    m = re.search(r"(?:^|[,\s])max-age=(\d+)", cache_control)
    assert m, cache_control
    return int(m.group(1))


def fetch_image(s, url, fmt):
    """GET a stored image through Nginx; returns its bytes."""
    r = s.get(url, allow_redirects=False)
    assert r.status_code == 200, (url, r.status_code, r.text[:300])
    assert r.headers["Content-Type"] == IMAGE_TYPE[fmt], r.headers
    assert r.headers.get("X-Content-Type-Options") == "nosniff", r.headers
    cc = r.headers.get("Cache-Control", "")
    assert "immutable" in cc, cc
    assert max_age(cc) >= 30 * 86400, cc
    assert "no-cache" not in cc and "no-store" not in cc and "private" not in cc, cc
    return r.content


def fetch_both(s, data, base_url):
    """The full image and the thumbnail, fetched and checked against the files; returns both."""
    main = fetch_image(s, data["url"], data["format"])
    assert hashlib.sha256(main).hexdigest() == data["sha256"]
    assert len(main) == data["bytes"]
    thumb = fetch_image(s, data["thumb_url"], data["format"])
    with open(stored_path(data["thumb_url"], base_url), "rb") as f:
        assert f.read() == thumb
    return main, thumb


def expected_thumb(w, h, limit=256):
    longest = max(w, h)
    if longest <= limit:
        return w, h
    k = limit / longest
    return (limit, h * k) if w >= h else (w * k, limit)


def assert_thumb_size(thumb, w, h, fmt_name):
    frames = identify(thumb)
    assert len(frames) == 1, frames
    m, tw, th = frames[0]
    assert m == fmt_name, frames
    ew, eh = expected_thumb(w, h)
    assert max(tw, th) == min(256, max(w, h)), (frames, w, h)
    assert abs(tw - ew) <= 1 and abs(th - eh) <= 1, (frames, (ew, eh))
    return tw, th


def pixel(data, x, y):
    """(r, g, b) 8-bit of the first frame of an image at x, y."""
    out = magick("-[0]", "-crop", "1x1+%d+%d" % (x, y), "+repage", "-depth", "8", "rgb:-",
                 stdin=data)
    assert len(out) == 3, out
    return tuple(out)


def is_red(p):
    return p[0] > 200 and p[1] < 70 and p[2] < 70


def is_blue(p):
    return p[2] > 200 and p[0] < 70 and p[1] < 70


def exif_json(data):
    out = subprocess.run(["exiftool", "-j", "-G0", "-a", "-u", "-"], input=data,
                         capture_output=True, timeout=60)
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout)[0]


METADATA_GROUPS = {"EXIF", "GPS", "XMP", "IPTC", "ICC_Profile", "MakerNotes", "Photoshop",
                   "FlashPix"}


def assert_no_metadata(data, secrets=()):
    tags = exif_json(data)
    for key in tags:
        group = key.partition(":")[0]
        assert group not in METADATA_GROUPS, (key, tags)
        assert "GPS" not in key, (key, tags)
        assert not key.endswith("Comment"), (key, tags)
        assert "Orientation" not in key, (key, tags)
    for sec in secrets:
        assert sec.encode() not in data, sec
    assert b"Exif\x00\x00" not in data


def list_images(s, base_url, user, query=""):
    r = s.get(base_url + "/users/images" + query, headers=user.auth)
    data = assert_envelope_ok(r)
    assert set(data) == {"images", "next"}, data
    assert isinstance(data["images"], list)
    assert data["next"] is None or type(data["next"]) is int, data
    return data


def all_images(s, base_url, user, limit):
    """Walk every page with before=next; returns (items, page sizes)."""
    items, sizes, query = [], [], "?limit=%d" % limit
    for _ in range(1000):
        page = list_images(s, base_url, user, query)
        items += page["images"]
        sizes.append(len(page["images"]))
        if page["next"] is None:
            return items, sizes
        query = "?limit=%d&before=%d" % (limit, page["next"])
    raise AssertionError("paging never ended")


def png_file(width, height, idat):
    def chunk(kind, body):
        return (struct.pack(">I", len(body)) + kind + body
                + struct.pack(">I", zlib.crc32(kind + body) & 0xffffffff))
    ihdr = struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0)   # 1-bit greyscale
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", idat)
            + chunk(b"IEND", b""))


def white_png(width, height):
    """A real, complete white PNG of any size (all rows present), compressed to a few KiB.
    Debian's ImageMagick policy (area/memory/disk limits) refuses `convert -size 10000x10000
    xc:white` here with "cache resources exhausted", so the rows are deflated directly."""
    row = b"\x00" + b"\xff" * ((width + 7) // 8)
    z = zlib.compressobj(9)
    idat = b"".join(z.compress(row) for _ in range(height)) + z.flush()
    return png_file(width, height, idat)


# ---------------------------------------------------------------- accepted uploads

@pytest.mark.parametrize("fmt", ["jpeg", "png", "gif", "webp"])
def test_each_format_end_to_end(s, base_url, user, fmt):
    img = make_image(fmt, 120, 80)
    before_rows = int(psql("select count(*) from images"))
    r = upload(s, base_url, user, img, filename="photo." + IMAGE_EXT[fmt], ctype=IMAGE_TYPE[fmt])
    data = assert_upload_ok(r, base_url, fmt, 120, 80, user=user)
    assert int(psql("select count(*) from images")) == before_rows + 1
    main, thumb = fetch_both(s, data, base_url)
    name = {"jpeg": "JPEG", "png": "PNG", "gif": "GIF", "webp": "WEBP"}[fmt]
    assert identify(main)[0] == (name, 120, 80)
    assert_thumb_size(thumb, 120, 80, name)


def test_format_comes_from_the_bytes_not_the_name_or_part_type(s, base_url, shared):
    png = make_image("png", 40, 30)
    r = upload(s, base_url, shared, png, filename="holiday.jpg", ctype="image/jpeg")
    data = assert_upload_ok(r, base_url, "png", 40, 30)
    assert data["url"].endswith(".png")
    jpg = make_image("jpeg", 40, 30)
    r = upload(s, base_url, shared, jpg, filename="notes.gif", ctype="text/plain")
    data = assert_upload_ok(r, base_url, "jpeg", 40, 30)
    assert data["url"].endswith(".jpg") and data["thumb_url"].endswith(".thumb.jpg")


def test_jpeg_metadata_gps_and_comment_are_stripped(s, base_url, shared, tmp_path):
    path = tmp_path / "gps.jpg"
    path.write_bytes(make_image("jpeg", 400, 300))
    out = subprocess.run(["exiftool", "-GPSLatitude=31.2304", "-GPSLatitudeRef=N",
                          "-GPSLongitude=121.4737", "-GPSLongitudeRef=E",
                          "-Comment=secret-comment-4711", "-Artist=secret-artist-4711",
                          "-overwrite_original", str(path)], capture_output=True, timeout=60)
    assert out.returncode == 0, out.stderr
    img = path.read_bytes()
    # The test image really carries what must go.
    tags = exif_json(img)
    assert "EXIF:GPSLatitude" in tags and tags.get("File:Comment") == "secret-comment-4711", tags
    r = upload(s, base_url, shared, img, filename="gps.jpg", ctype="image/jpeg")
    data = assert_upload_ok(r, base_url, "jpeg", 400, 300)
    assert data["sha256"] != hashlib.sha256(img).hexdigest()    # re-encoded, not stored as sent
    main, thumb = fetch_both(s, data, base_url)
    for served in (main, thumb):
        assert_no_metadata(served, ["secret-comment-4711", "secret-artist-4711"])
        # identify -verbose agrees: no comment, no EXIF properties.
        verbose = magick("-verbose", "-", stdin=served, tool=IDENTIFY).decode(errors="replace")
        assert "secret" not in verbose and "exif:" not in verbose.lower(), verbose


def test_png_text_chunks_are_stripped(s, base_url, shared):
    img = make_image("png", 80, 60, extra=("-set", "comment", "secret-png-comment-99",
                                            "-set", "png:Author", "secret-png-author-99"))
    assert b"secret-png-comment-99" in img
    r = upload(s, base_url, shared, img, filename="c.png", ctype="image/png")
    data = assert_upload_ok(r, base_url, "png", 80, 60)
    for served in fetch_both(s, data, base_url):
        assert_no_metadata(served, ["secret-png-comment-99", "secret-png-author-99"])


def test_exif_orientation_is_applied(s, base_url, shared, tmp_path):
    # 300x200: left half red, right half blue; Orientation 6 = rotate 90 degrees clockwise to
    # show, so the shown picture is 200x300 with red on top and blue below.
    path = tmp_path / "o.jpg"
    path.write_bytes(magick("-size", "150x200", "xc:red", "-size", "150x200", "xc:blue",
                            "+append", "-quality", "95", "jpeg:-"))
    out = subprocess.run(["exiftool", "-Orientation=6", "-n", "-overwrite_original", str(path)],
                         capture_output=True, timeout=60)
    assert out.returncode == 0, out.stderr
    img = path.read_bytes()
    assert exif_json(img).get("EXIF:Orientation") == "Rotate 90 CW"
    assert identify(img)[0] == ("JPEG", 300, 200)
    r = upload(s, base_url, shared, img, filename="o.jpg", ctype="image/jpeg")
    data = assert_upload_ok(r, base_url, "jpeg", 200, 300)
    main, thumb = fetch_both(s, data, base_url)
    assert identify(main)[0] == ("JPEG", 200, 300)
    assert_no_metadata(main)        # no Orientation left to rotate it a second time
    assert is_red(pixel(main, 100, 40)), pixel(main, 100, 40)
    assert is_blue(pixel(main, 100, 260)), pixel(main, 100, 260)
    tw, th = assert_thumb_size(thumb, 200, 300, "JPEG")
    assert is_red(pixel(thumb, tw // 2, th // 6)) and is_blue(pixel(thumb, tw // 2, th * 5 // 6))


@pytest.mark.parametrize("w,h", [(1000, 500), (500, 1000), (100, 50), (256, 256), (257, 100),
                                 (300, 7)])
def test_thumbnail_size(s, base_url, shared, w, h):
    r = upload(s, base_url, shared, make_image("png", w, h), filename="t.png")
    data = assert_upload_ok(r, base_url, "png", w, h)
    _, thumb = fetch_both(s, data, base_url)
    tw, th = assert_thumb_size(thumb, w, h, "PNG")
    if (w, h) == (1000, 500):
        assert (tw, th) == (256, 128)
    if (w, h) == (100, 50):
        assert (tw, th) == (100, 50)


def test_animated_gif_keeps_its_frames_thumbnail_is_the_first(s, base_url, shared):
    img = magick("-delay", "20", "-size", "90x60", "xc:red", "xc:lime", "xc:blue", "-loop", "0",
                 "gif:-")
    assert len(identify(img)) == 3
    r = upload(s, base_url, shared, img, filename="a.gif", ctype="image/gif")
    data = assert_upload_ok(r, base_url, "gif", 90, 60)
    main, thumb = fetch_both(s, data, base_url)
    frames = identify(main)
    assert len(frames) == 3 and all(f[0] == "GIF" for f in frames), frames
    assert identify(thumb) == [("GIF", 90, 60)]
    assert is_red(pixel(thumb, 45, 30)), pixel(thumb, 45, 30)


def test_identical_uploads_share_files_but_not_rows(s, base_url, user, shared):
    img = make_image("jpeg", 70, 50)
    files0, rows0 = storage_snapshot()
    a = assert_upload_ok(upload(s, base_url, user, img, filename="a.jpg"), base_url, "jpeg",
                         user=user)
    b = assert_upload_ok(upload(s, base_url, user, img, filename="b.jpg"), base_url, "jpeg",
                         user=user)
    c = assert_upload_ok(upload(s, base_url, shared, img, filename="c.jpg"), base_url, "jpeg",
                         user=shared)
    assert len({a["id"], b["id"], c["id"]}) == 3
    for k in ("url", "thumb_url", "sha256", "bytes", "width", "height", "format"):
        assert a[k] == b[k] == c[k], k
    files1, rows1 = storage_snapshot()
    rel = a["url"].split("/images/", 1)[1]
    rel_thumb = a["thumb_url"].split("/images/", 1)[1]
    assert files1 - files0 == {rel, rel_thumb}, sorted(files1 - files0)
    assert rows1 == rows0 + 3
    ids = [i["id"] for i in list_images(s, base_url, user)["images"]]
    assert ids == [b["id"], a["id"]]


def test_field_named_file_and_an_odd_filename(s, base_url, shared):
    r = upload(s, base_url, shared, make_image("webp", 33, 44), field="file",
               filename="图片 \"x\"; name=image.webp", ctype="image/webp")
    assert_upload_ok(r, base_url, "webp", 33, 44)


def test_filename_with_dot_dot_writes_nothing_outside(s, base_url, shared, stack):
    with open("/etc/passwd", "rb") as f:
        passwd = f.read()
    files0, _ = storage_snapshot()
    img = make_image("png", 20, 20)
    r = upload(s, base_url, shared, img, filename="../../etc/passwd.png", ctype="image/png")
    data = assert_upload_ok(r, base_url, "png", 20, 20)
    new = list_files(image_dir()) - files0
    assert new == {data["url"].split("/images/", 1)[1], data["thumb_url"].split("/images/", 1)[1]}
    with open("/etc/passwd", "rb") as f:
        assert f.read() == passwd
    assert not os.path.exists("/etc/passwd.png")
    for root in (stack.dir, stack.root):
        for d, _, names in os.walk(root):
            assert "passwd.png" not in names, d
    # The same with the `file` field and an absolute path.
    r = upload(s, base_url, shared, make_image("png", 21, 20), field="file",
               filename="/tmp/evil-e2e-upload.png", ctype="image/png")
    assert_upload_ok(r, base_url, "png", 21, 20)
    assert not os.path.exists("/tmp/evil-e2e-upload.png")


def test_large_body_under_the_limit_is_accepted(s, base_url, shared):
    """About 6 MB: over Nginx's 1m default, under the 10 MiB limit."""
    img = magick("-seed", str(int.from_bytes(os.urandom(3), "big")), "-size", "1000x1000",
                 "xc:", "+noise", "Random", "png:-")
    assert 4 * 2**20 < len(img) < 9 * 2**20, len(img)
    r = upload(s, base_url, shared, img, filename="noise.png", ctype="image/png")
    data = assert_upload_ok(r, base_url, "png", 1000, 1000)
    _, thumb = fetch_both(s, data, base_url)
    assert_thumb_size(thumb, 1000, 1000, "PNG")


def test_cookie_upload_same_origin_ok_cross_origin_forbidden(s, base_url):
    token, phone, password = login_user(s, base_url)
    r = s.post(base_url + "/users/login", data={"phone": phone, "password": password},
               allow_redirects=False)
    assert r.status_code == 303, r.text
    sid = assert_session_cookie(set_cookies(r)[0])
    cookie = {"Cookie": "__Host-sid=" + sid}
    img = make_image("png", 30, 30)

    before = storage_snapshot()
    r = s.post(base_url + "/upload", files={"image": ("x.png", img, "image/png")},
               headers=dict(cookie, Origin="https://evil.example"))
    assert_envelope_error(r, 403, "forbidden")
    assert_nothing_new(before)

    r = s.post(base_url + "/upload", files={"image": ("x.png", img, "image/png")},
               headers=dict(cookie, Origin=base_url))
    data = assert_upload_ok(r, base_url, "png", 30, 30)
    owner = psql("select u.phone from images i join users u on u.id = i.user_id where i.id = %d"
                 % data["id"])
    assert owner == phone


def test_parallel_uploads_by_one_user(base_url, user):
    imgs = [make_image("png", 50 + i, 40) for i in range(10)]
    rows0 = int(psql("select count(*) from images"))

    def one(img):
        sess = no_cookie_session()
        try:
            return upload(sess, base_url, user, img, filename="p.png")
        finally:
            sess.close()

    with concurrent.futures.ThreadPoolExecutor(10) as ex:
        responses = list(ex.map(one, imgs))
    datas = [assert_upload_ok(r, base_url, "png", 50 + i, 40, user=user)
             for i, r in enumerate(responses)]
    assert len({d["id"] for d in datas}) == 10
    assert len({d["sha256"] for d in datas}) == 10
    assert int(psql("select count(*) from images")) == rows0 + 10
    s = no_cookie_session()
    try:
        listed = list_images(s, base_url, user, "?limit=100")
    finally:
        s.close()
    assert listed["next"] is None
    assert sorted(listed["images"], key=lambda d: d["id"]) == sorted(datas, key=lambda d: d["id"])


# ---------------------------------------------------------------- refused uploads

def test_no_or_bad_token_is_unauthorized(s, base_url):
    img = make_image("png", 20, 20)
    before = storage_snapshot()
    assert_envelope_error(upload(s, base_url, None, img), 401, "unauthorized")
    for auth in ("Bearer " + "A" * 43, "Bearer ", "Basic dXNlcjpwdw==", "bearer"):
        r = upload(s, base_url, None, img, headers={"Authorization": auth})
        assert_envelope_error(r, 401, "unauthorized")
    # 401 comes before the body is looked at.
    assert_envelope_error(post_raw(s, base_url, None, b"{}", "application/json"), 401,
                          "unauthorized")
    assert_envelope_error(post_raw(s, base_url, None, b"garbage", "multipart/form-data"), 401,
                          "unauthorized")
    assert_nothing_new(before)


def test_revoked_token_is_unauthorized(s, base_url):
    u = User(s, base_url)
    r = s.post(base_url + "/users/logout", headers=u.auth)
    assert r.status_code == 200, r.text
    before = storage_snapshot()
    assert_envelope_error(upload(s, base_url, u, make_image("png", 20, 20)), 401, "unauthorized")
    assert_nothing_new(before)


def test_not_multipart_is_unsupported_media_type(s, base_url, shared):
    img = make_image("png", 20, 20)
    before = storage_snapshot()
    for body, ctype in ((b'{"image": "x"}', "application/json"),
                        (img, "image/png"),
                        (img, "application/octet-stream"),
                        (b"image=x", "application/x-www-form-urlencoded"),
                        (img, None),
                        (img, "multipart/form-data"),
                        (img, "multipart/form-data; charset=utf-8"),
                        (img, "multipart/mixed; boundary=abc")):
        r = post_raw(s, base_url, shared, body, ctype)
        assert_envelope_error(r, 415, "unsupported_media_type")
    assert_nothing_new(before)


def test_no_image_part_is_missing_field(s, base_url, shared):
    img = make_image("png", 20, 20)
    before = storage_snapshot()
    for parts in ([("name", None, None, b"hello")],
                  [("photo", "x.png", "image/png", img)],
                  [("image", "x.png", "image/png", b"")],
                  [("file", "x.png", "image/png", b""), ("other", None, None, b"x")]):
        body, ctype = multipart(parts)
        r = post_raw(s, base_url, shared, body, ctype)
        assert_envelope_error(r, 400, "missing_field")
    assert_nothing_new(before)


def test_malformed_multipart_is_invalid_image(s, base_url, shared):
    img = make_image("png", 20, 20)
    b = "e2eBoundary7MA4YWxk"
    ctype = "multipart/form-data; boundary=" + b
    head = ('--%s\r\nContent-Disposition: form-data; name="image"; filename="x.png"\r\n'
            'Content-Type: image/png\r\n\r\n' % b).encode()
    before = storage_snapshot()
    for body in (head + img,                                     # the part never ends
                 ('--%s\r\nContent-Disposition: form-data; name="image"; filename="x.png"\r\n'
                  % b).encode() + img):                          # part headers never end
        r = post_raw(s, base_url, shared, body, ctype)
        assert_envelope_error(r, 422, "invalid_image")
    assert_nothing_new(before)


SVG = (b'<?xml version="1.0" standalone="no"?>\n'
       b'<svg xmlns="http://www.w3.org/2000/svg" width="100" height="100">'
       b'<script type="text/javascript">alert(document.domain)</script>'
       b'<rect width="100" height="100" fill="red"/></svg>\n')
POSTSCRIPT = (b"%!PS-Adobe-3.0\n/Helvetica findfont 12 scalefont setfont\n"
              b"10 10 moveto (hello) show\nshowpage\n")
MVG = (b"push graphic-context\nviewbox 0 0 640 480\n"
       b"fill 'url(https://example.com/x.jpg\"|ls \"-la)'\npop graphic-context\n")


@pytest.mark.parametrize("kind", ["text", "svg", "postscript", "mvg", "bmp", "tiff", "html"])
def test_other_formats_are_unsupported(s, base_url, shared, kind):
    body = {"text": b"this is just some text, not a picture\n" * 20,
            "svg": SVG, "postscript": POSTSCRIPT, "mvg": MVG,
            "html": b"<!doctype html><html><body><script>alert(1)</script></body></html>\n",
            }.get(kind)
    if body is None:
        body = make_image(kind, 30, 30)
    before = storage_snapshot()
    for filename, ctype in (("x.png", "image/png"), ("x." + kind, "application/octet-stream")):
        r = upload(s, base_url, shared, body, filename=filename, ctype=ctype)
        assert_envelope_error(r, 415, "unsupported_media_type")
    assert_nothing_new(before)


def test_truncated_png_is_invalid_image(s, base_url, shared):
    img = make_image("png", 200, 150)
    before = storage_snapshot()
    for cut in (len(img) // 2, len(img) - 20, 40):
        r = upload(s, base_url, shared, img[:cut], filename="t.png", ctype="image/png")
        assert_envelope_error(r, 422, "invalid_image")
    assert_nothing_new(before)


def test_truncated_jpeg_is_invalid_image(s, base_url, shared):
    img = make_image("jpeg", 300, 200)
    before = storage_snapshot()
    r = upload(s, base_url, shared, img[:len(img) * 6 // 10], filename="t.jpg", ctype="image/jpeg")
    assert_envelope_error(r, 422, "invalid_image")
    assert_nothing_new(before)


@pytest.mark.parametrize("kind", ["png", "jpeg", "gif", "webp"])
def test_right_magic_wrong_body_is_invalid_image(s, base_url, shared, kind):
    junk = os.urandom(2000)
    body = {"png": b"\x89PNG\r\n\x1a\n" + junk,
            "jpeg": b"\xff\xd8\xff\xe0" + junk,
            "gif": b"GIF89a" + junk,
            "webp": b"RIFF" + struct.pack("<I", 4 + 8 + len(junk)) + b"WEBPVP8 "
                    + struct.pack("<I", len(junk)) + junk}[kind]
    before = storage_snapshot()
    r = upload(s, base_url, shared, body, filename="j." + IMAGE_EXT[kind], ctype=IMAGE_TYPE[kind])
    assert_envelope_error(r, 422, "invalid_image")
    assert_nothing_new(before)


@pytest.mark.parametrize("fmt", ["png", "jpeg"])
def test_large_image_under_the_pixel_limit_is_stored_or_refused_never_500(s, base_url, shared, fmt):
    """32.5 MP: under APPD_IMAGE_MAX_PIXELS, but its pixel cache (8 bytes a pixel) nears
    Debian's 256 MiB ImageMagick memory cap: stored, or refused as too large; never a 500.
    (The JPEG decodes, then scaling the thumbnail runs out of that memory.)"""
    before = storage_snapshot()
    if fmt == "png":
        big = white_png(5700, 5700)
    else:
        big = subprocess.run(["/usr/bin/convert", "-size", "5700x5700", "gradient:red-blue", "-quality", "90",
                              "jpeg:-"], check=True, capture_output=True, timeout=120).stdout
    r = upload(s, base_url, shared, big, filename="large." + fmt, ctype="image/" + fmt)
    assert r.status_code in (201, 422), r.text
    if r.status_code == 422:
        assert_envelope_error(r, 422, "invalid_image")
        assert_nothing_new(before)
    else:
        data = assert_envelope_ok(r, 201)
        assert (data["width"], data["height"]) == (5700, 5700)
    assert s.get(base_url + "/healthz").status_code == 200


def test_over_the_pixel_limit_is_invalid_image(s, base_url, shared):
    big = white_png(10000, 10000)     # 100 megapixels, a few KiB
    ping = magick("-ping", "-format", "%m %w %h", "-", stdin=big, tool=IDENTIFY).decode()
    assert ping == "PNG 10000 10000", ping
    before = storage_snapshot()
    t0 = time.monotonic()
    r = upload(s, base_url, shared, big, filename="big.png", ctype="image/png")
    assert_envelope_error(r, 422, "invalid_image")
    assert time.monotonic() - t0 < 30
    # Only the header: IHDR claims 10000x10000, the pixel data is a stub.
    r = upload(s, base_url, shared, png_file(10000, 10000, zlib.compress(b"\x00\xff" * 10)),
               filename="claim.png", ctype="image/png")
    assert_envelope_error(r, 422, "invalid_image")
    assert_nothing_new(before)
    # 60000x1000: 60 megapixels in a long strip.
    r = upload(s, base_url, shared, white_png(60000, 1000), filename="wide.png", ctype="image/png")
    assert_envelope_error(r, 422, "invalid_image")
    assert_nothing_new(before)


def test_body_over_10_mib_is_payload_too_large(s, base_url, shared):
    body = os.urandom(12 * 2**20)
    before = storage_snapshot()
    r = upload(s, base_url, shared, body, filename="big.png", ctype="image/png")
    assert_envelope_error(r, 413, "payload_too_large")
    assert_nothing_new(before)


# ---------------------------------------------------------------- serving files

def test_missing_files_under_images_are_json_404(s, base_url, shared):
    sha = hashlib.sha256(os.urandom(16)).hexdigest()
    for path in ("/images/%s/%s/%s.png" % (sha[:2], sha[2:4], sha),
                 "/images/%s/%s/%s.thumb.jpg" % (sha[:2], sha[2:4], sha),
                 "/images/%s/%s/%s.webp" % (sha[:2], sha[2:4], sha),
                 "/images/nothing-here.gif"):
        r = s.get(base_url + path)
        assert_envelope_error(r, 404, "not_found")
        assert r.headers.get("X-Content-Type-Options") == "nosniff"


def test_stored_files_are_served_as_bytes_on_head_too(s, base_url, shared):
    data = assert_upload_ok(upload(s, base_url, shared, make_image("gif", 20, 20)), base_url,
                            "gif", 20, 20)
    r = s.head(data["url"])
    assert r.status_code == 200
    assert r.headers["Content-Type"] == "image/gif"
    assert int(r.headers["Content-Length"]) == data["bytes"]
    r = s.post(data["url"], data=b"x")
    assert r.status_code == 405, r.status_code
    with open(stored_path(data["url"], base_url), "rb") as f:
        assert hashlib.sha256(f.read()).hexdigest() == data["sha256"]


# ---------------------------------------------------------------- listing, image_count, H5 page

def test_listing_pages_newest_first_and_only_the_callers(s, base_url):
    a, b = User(s, base_url), User(s, base_url)
    mine = [assert_upload_ok(upload(s, base_url, a, make_image("png", 20 + i, 20)), base_url,
                             "png") for i in range(7)]
    theirs = [assert_upload_ok(upload(s, base_url, b, make_image("png", 20, 30 + i)), base_url,
                               "png") for i in range(2)]
    newest_first = sorted(mine, key=lambda d: -d["id"])
    # One page holds them all (default limit 20).
    page = list_images(s, base_url, a)
    assert page == {"images": newest_first, "next": None}
    # Pages of 3 walk every image exactly once, newest first.
    items, sizes = all_images(s, base_url, a, 3)
    assert sizes == [3, 3, 1], sizes
    assert items == newest_first
    # next is an id to pass as before: the next page is strictly older.
    first = list_images(s, base_url, a, "?limit=3")
    assert first["next"] is not None
    second = list_images(s, base_url, a, "?limit=3&before=%d" % first["next"])
    assert all(d["id"] < first["images"][-1]["id"] for d in second["images"])
    assert second["images"] == newest_first[3:6]
    # The other user sees only theirs, whatever before says.
    assert list_images(s, base_url, b) == {"images": sorted(theirs, key=lambda d: -d["id"]),
                                           "next": None}
    page = list_images(s, base_url, b, "?before=%d" % (newest_first[0]["id"] + 1000))
    assert {d["id"] for d in page["images"]} == {d["id"] for d in theirs}
    page = list_images(s, base_url, b, "?before=%d" % newest_first[0]["id"])
    assert not {d["id"] for d in page["images"]} & {d["id"] for d in mine}
    # A fresh user has none.
    c = User(s, base_url)
    assert list_images(s, base_url, c) == {"images": [], "next": None}


def test_listing_limit_default_and_clamps(s, base_url, user):
    made = [assert_upload_ok(upload(s, base_url, user, make_image("gif", 10 + i, 10)), base_url,
                             "gif") for i in range(23)]
    newest_first = sorted(made, key=lambda d: -d["id"])
    page = list_images(s, base_url, user)                       # default 20
    assert page["images"] == newest_first[:20]
    assert page["next"] is not None
    rest = list_images(s, base_url, user, "?before=%d" % page["next"])
    assert rest == {"images": newest_first[20:], "next": None}
    for limit in ("100", "101", "1000"):                         # clamped to 100: all 23
        page = list_images(s, base_url, user, "?limit=" + limit)
        assert page == {"images": newest_first, "next": None}, limit
    page = list_images(s, base_url, user, "?limit=0")            # clamped to 1
    assert page["images"] == newest_first[:1] and page["next"] is not None
    page = list_images(s, base_url, user, "?limit=1")
    assert page["images"] == newest_first[:1]
    items, sizes = all_images(s, base_url, user, 1)
    assert items == newest_first and sizes == [1] * 23


def test_listing_needs_a_token(s, base_url):
    assert_envelope_error(s.get(base_url + "/users/images"), 401, "unauthorized")
    r = s.get(base_url + "/users/images", headers={"Authorization": "Bearer " + "B" * 43})
    assert_envelope_error(r, 401, "unauthorized")


def test_image_count_in_me(s, base_url, user):
    def count():
        data = assert_envelope_ok(s.get(base_url + "/users/me", headers=user.auth))
        assert type(data["image_count"]) is int
        return data["image_count"]

    assert count() == 0
    img = make_image("png", 25, 25)
    for _ in range(2):
        assert_upload_ok(upload(s, base_url, user, img), base_url, "png")
    assert_upload_ok(upload(s, base_url, user, make_image("jpeg", 25, 25)), base_url, "jpeg")
    assert count() == 3
    # Refused uploads do not count.
    assert_envelope_error(upload(s, base_url, user, b"not an image"), 415,
                          "unsupported_media_type")
    assert count() == 3


def test_image_count_follows_the_rows_whoever_writes_them(s, base_url, user):
    """image_count is a column kept by a trigger on images (schema 0005): rows written or
    deleted outside appd count too, and another user's rows do not."""
    def count(who):
        return assert_envelope_ok(s.get(base_url + "/users/me", headers=who.auth))["image_count"]

    other = User(s, base_url)
    uid = psql("select id from users where phone = '%s'" % user.phone)
    oid = psql("select id from users where phone = '%s'" % other.phone)
    row = "(%s, '%s', 'png', 1, 1, 1)"
    psql("insert into images (user_id, sha256, format, width, height, bytes) values %s"
         % ", ".join([row % (uid, "%064x" % i) for i in range(3)] + [row % (oid, "f" * 64)]))
    assert (count(user), count(other)) == (3, 1)
    psql("delete from images where user_id = %s and sha256 = '%064x'" % (uid, 0))
    assert (count(user), count(other)) == (2, 1)


class _Gallery(HTMLParser):
    """(href of the enclosing <a>, src) of every <img> inside the element with id="gallery"."""

    VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta",
            "source", "track", "wbr"}

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.stack = []       # [tag, is_gallery, href]
        self.found = None     # None: no gallery element seen
        self.images = []

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if a.get("id") == "gallery":
            self.found = True
        inside = any(e[1] for e in self.stack) or a.get("id") == "gallery"
        if tag == "img" and inside:
            href = next((e[2] for e in reversed(self.stack) if e[0] == "a"), None)
            self.images.append((href, a.get("src")))
        if tag not in self.VOID:
            self.stack.append([tag, a.get("id") == "gallery", a.get("href")])

    def handle_endtag(self, tag):
        for i in range(len(self.stack) - 1, -1, -1):
            if self.stack[i][0] == tag:
                del self.stack[i:]
                break


def gallery_of(resp):
    assert_html_page(resp, 200)
    csp = resp.headers["Content-Security-Policy"]
    img_src = [d.split()[1:] for d in csp.split(";") if d.split()[:1] == ["img-src"]]
    assert img_src and "'self'" in img_src[0], csp      # the thumbnails may load
    p = _Gallery()
    p.feed(resp.text)
    p.close()
    assert p.found, "no id=gallery on the home page"
    return p.images


def test_home_page_gallery(s, base_url, user):
    assert gallery_of(s.get(base_url + "/users/home", headers=user.auth)) == []
    made = [assert_upload_ok(upload(s, base_url, user, make_image(f, 300, 200)), base_url, f)
            for f in ("png", "jpeg", "webp")]
    shown = gallery_of(s.get(base_url + "/users/home", headers=user.auth))
    assert sorted(shown) == sorted((d["url"], d["thumb_url"]) for d in made), shown
    # Another user's page shows none of them.
    other = User(s, base_url)
    assert gallery_of(s.get(base_url + "/users/home", headers=other.auth)) == []
