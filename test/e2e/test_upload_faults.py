"""Scenario 2 under faults: a full disk (a second appd on a tiny tmpfs, driven at the FastCGI
level), the body limit and the order of checks at the FastCGI level, and the database (the e2e
stack's own PostgreSQL or MariaDB server, restarted in a finally) going away before and in the
middle of an upload.

A failed upload must answer 503 unavailable and leave nothing behind: no file (nor temporary
file) in the image dir, no row in `images`; files that an earlier upload shares stay.
"""
import concurrent.futures
import os
import subprocess
import tempfile
import time

import pytest

from fcgi_client import DirectAppd, Response
from util import (assert_envelope_error, assert_envelope_ok, assert_nothing_new, db_backend,
                  image_dir, images_rows, list_files, login_user, magick, make_image, multipart,
                  mysql_client, no_cookie_session, psql, storage_snapshot, wait_for)

MAX_BODY = 10 * 2**20


class UploadAppd(DirectAppd):
    """DirectAppd whose requests may carry HTTP headers (Authorization, Cookie, Origin)."""

    def request(self, method, path, body=b"", content_type="application/json",
                remote_addr="203.0.113.10", timeout=60, headers=None):
        env = {"REQUEST_METHOD": method, "DOCUMENT_URI": path, "SCRIPT_NAME": path,
               "REQUEST_URI": path, "REMOTE_ADDR": remote_addr, "REQUEST_ID": "direct-upload",
               "CONTENT_LENGTH": str(len(body)), "SERVER_PROTOCOL": "HTTP/1.1",
               "REQUEST_SCHEME": "https", "HTTPS": "on"}
        if content_type:
            env["CONTENT_TYPE"] = content_type
        for name, value in (headers or {}).items():
            env["HTTP_" + name.upper().replace("-", "_")] = value
        out = subprocess.run(["/usr/bin/cgi-fcgi", "-bind", "-connect", self.socket],
                             input=body, env=env, capture_output=True, timeout=timeout)
        return Response(out.stdout)

    def upload(self, token, data, field="image", filename="x.png", ctype="image/png"):
        body, content_type = multipart([(field, filename, ctype, data)])
        return self.request("POST", "/upload", body, content_type,
                            headers={"Authorization": "Bearer " + token})


def assert_fcgi_error(r, status, slug):
    assert r.status == status, (r.status, r.body[:500])
    assert r.headers.get("Content-Type") == "application/json; charset=utf-8", r.headers
    body = r.json()
    assert body["code"] == status and body["error"] == slug, body
    assert set(body) == {"code", "msg", "error"} and body["msg"], body
    return body


def assert_fcgi_created(r, root):
    assert r.status == 201, (r.status, r.body[:500])
    data = r.json()["data"]
    rel = data["url"].split("/images/", 1)[1]
    with open(os.path.join(root, rel), "rb") as f:
        assert len(f.read()) == data["bytes"]
    assert os.path.exists(os.path.join(root, data["thumb_url"].split("/images/", 1)[1]))
    return data


@pytest.fixture(scope="module")
def token(base_url):
    s = no_cookie_session()
    try:
        return login_user(s, base_url)[0]
    finally:
        s.close()


# ---------------------------------------------------------------- full disk

@pytest.fixture
def tiny_disk():
    """A 64 KiB tmpfs, unmounted afterwards."""
    d = tempfile.mkdtemp(prefix="appd-tiny-disk-")
    out = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=64k,mode=0755", "tmpfs", d],
                         capture_output=True, text=True)
    if out.returncode != 0:
        os.rmdir(d)
        pytest.skip("cannot mount a tmpfs here (needs root and mount rights): %s"
                    % out.stderr.strip())
    yield d
    for args in (["umount", d], ["umount", "-l", d]):
        if subprocess.run(args, capture_output=True).returncode == 0:
            break
    os.rmdir(d)


def free_bytes(d):
    st = os.statvfs(d)
    return st.f_bfree * st.f_frsize


def test_disk_full_is_unavailable_and_leaves_nothing(tiny_disk, token):
    appd = UploadAppd(APPD_IMAGE_DIR=tiny_disk)
    try:
        # The tmpfs works: a small image fits.
        small = make_image("png", 16, 16)
        assert_fcgi_created(appd.upload(token, small), tiny_disk)

        noisy = magick("-seed", str(int.from_bytes(os.urandom(3), "big")), "-size", "800x800",
                       "xc:", "+noise", "Random", "png:-")
        assert len(noisy) > 10 * 64 * 1024
        before = storage_snapshot(tiny_disk)
        free0 = free_bytes(tiny_disk)
        t0 = time.monotonic()
        r = appd.upload(token, noisy, filename="noise.png")
        assert_fcgi_error(r, 503, "unavailable")
        assert time.monotonic() - t0 < 30
        assert_nothing_new(before, tiny_disk)
        assert not [f for f in list_files(tiny_disk) if "tmp" in f], list_files(tiny_disk)
        # The space is given back: no temporary file is still open or linked somewhere.
        assert free_bytes(tiny_disk) >= free0 - 8192, (free0, free_bytes(tiny_disk))

        # Both workers still serve; another small image still fits.
        for i in range(3):
            assert_fcgi_created(appd.upload(token, make_image("png", 16, 17 + i)), tiny_disk)
    finally:
        appd.close()


# ---------------------------------------------------------------- limits at the FastCGI level

@pytest.fixture(scope="module")
def direct():
    appd = UploadAppd()
    yield appd
    appd.close()


def test_order_of_checks_at_the_fastcgi_level(direct, token):
    png = make_image("png", 20, 20)
    big = os.urandom(MAX_BODY + 1024)
    auth = {"Authorization": "Bearer " + token}
    before = storage_snapshot()
    body, ctype = multipart([("image", "x.png", "image/png", big)])
    # 401 first, whatever the body.
    assert_fcgi_error(direct.request("POST", "/upload", body, ctype), 401, "unauthorized")
    assert_fcgi_error(direct.request("POST", "/upload", big, "text/plain"), 401, "unauthorized")
    # Then 415 for a body that is not multipart/form-data with a boundary, whatever its size.
    assert_fcgi_error(direct.request("POST", "/upload", big, "text/plain", headers=auth), 415,
                      "unsupported_media_type")
    assert_fcgi_error(direct.request("POST", "/upload", png, "multipart/form-data", headers=auth),
                      415, "unsupported_media_type")
    # Then 413 over 10 MiB.
    assert_fcgi_error(direct.request("POST", "/upload", body, ctype, headers=auth), 413,
                      "payload_too_large")
    assert_nothing_new(before)


def test_body_limit_is_exactly_10_mib(direct, token):
    png = make_image("png", 24, 24)
    auth = {"Authorization": "Bearer " + token}
    boundary = "----e2eLimit" + os.urandom(8).hex()

    def body_of(total):
        empty, _ = multipart([("image", "x.png", "image/png", png), ("pad", None, None, b"")],
                             boundary)
        pad = total - len(empty)
        body, ctype = multipart([("image", "x.png", "image/png", png),
                                 ("pad", None, None, b"p" * pad)], boundary)
        assert len(body) == total
        return body, ctype

    before = storage_snapshot()
    body, ctype = body_of(MAX_BODY + 1)
    assert_fcgi_error(direct.request("POST", "/upload", body, ctype, headers=auth), 413,
                      "payload_too_large")
    assert_nothing_new(before)
    body, ctype = body_of(MAX_BODY)
    r = direct.request("POST", "/upload", body, ctype, headers=auth)
    assert r.status == 201, (r.status, r.body[:500])
    assert_fcgi_created(r, image_dir())


# ---------------------------------------------------------------- the database goes away

def upload_via_nginx(s, base_url, token, data, timeout=60):
    return s.post(base_url + "/upload", files={"image": ("x.png", data, "image/png")},
                  headers={"Authorization": "Bearer " + token}, timeout=timeout)


def healthz(s, base_url):
    try:
        return s.get(base_url + "/healthz", timeout=5).status_code
    except Exception:   # noqa: BLE001 - any failure is "not up yet"
        return None


def settle(base_url, timeout=30):
    """Wait until /healthz answers 200 again and keeps answering it: 8 calls in a row, then
    rounds of 8 concurrent ones (so every worker, not just one, has its database connection
    back; a worker whose reconnect failed waits APPD_DB_RETRY_MS, 250 ms, before trying again)."""
    s = no_cookie_session()
    try:
        deadline = time.monotonic() + timeout
        run = 0
        while run < 8:
            assert time.monotonic() < deadline, "/healthz did not settle at 200"
            run = run + 1 if healthz(s, base_url) == 200 else 0
            if run == 0:
                time.sleep(0.1)
    finally:
        s.close()
    # A worker that tried to reconnect while the database was still down waits
    # APPD_DB_RETRY_MS (250 ms) before its next attempt, and answers 503 meanwhile: let that
    # pause run out before asking every worker at once.
    time.sleep(0.3)

    def one(_):
        sess = no_cookie_session()
        try:
            return healthz(sess, base_url)
        finally:
            sess.close()

    with concurrent.futures.ThreadPoolExecutor(8) as ex:
        for _ in range(3):
            codes = list(ex.map(one, range(8)))
            assert codes == [200] * 8, codes


def restart_db_and_wait(stack, s, base_url):
    stack.script("db-start")
    assert wait_for(lambda: healthz(s, base_url) == 200, timeout=60, interval=0.25), \
        "/healthz did not come back after db-start"
    settle(base_url)


def assert_uploads_work(s, base_url, token, n=4):
    for i in range(n):
        r = upload_via_nginx(s, base_url, token, make_image("png", 18, 18 + i))
        assert_envelope_ok(r, 201)


def test_database_down_upload_is_unavailable(stack, s, base_url, token):
    img = make_image("png", 40, 40)
    before = storage_snapshot()
    try:
        stack.script("db-stop")
        t0 = time.monotonic()
        r = upload_via_nginx(s, base_url, token, img)
        elapsed = time.monotonic() - t0
        assert_envelope_error(r, 503, "unavailable")
        assert elapsed < 5, elapsed
        assert healthz(s, base_url) == 503
        assert list_files(image_dir()) == before[0]
        # And the listing says the same.
        r = s.get(base_url + "/users/images", headers={"Authorization": "Bearer " + token},
                  timeout=10)
        assert_envelope_error(r, 503, "unavailable")
    finally:
        restart_db_and_wait(stack, s, base_url)
    assert_nothing_new(before)
    assert_uploads_work(s, base_url, token)
    # The very image that failed goes in now.
    assert_envelope_ok(upload_via_nginx(s, base_url, token, img), 201)


def db_kill(stack):
    """Kill the stack's database server at once, as a crash would: every session dies at once
    (scripts/stack db-kill: PostgreSQL's immediate stop, SIGKILL for MariaDB). scripts/stack
    db-stop is a fast shutdown: it terminates the lock holder first, which can let the held
    upload commit before its own session is told to end."""
    stack.script("db-kill")


def images_insert_waiters():
    """appd sessions whose INSERT into images waits for the lock, connected before the lock
    was taken (so not a worker that is reconnecting and preparing its statements)."""
    if db_backend() == "mysql":
        # Running a prepared statement ('Execute'), not preparing one ('Prepare', a worker
        # that is reconnecting).
        return int(psql(
            "select count(*) from information_schema.processlist where command = 'Execute' "
            "and state like 'Waiting for table metadata lock%' "
            "and info like 'INSERT INTO images%'"))
    return int(psql(
        "select count(*) from pg_locks l join pg_class c on c.oid = l.relation "
        "join pg_stat_activity a on a.pid = l.pid "
        "where c.relname = 'images' and not l.granted and a.application_name <> 'psql' "
        "and a.query like 'INSERT INTO images%' "
        "and a.backend_start < (select min(xact_start) from pg_stat_activity "
        "where query like 'begin; lock table images%')"))


def lock_images():
    """A client that locks the images table against writes by any other session (reads go
    on: authentication counts a user's images) and holds the lock for 300 s, or until it is
    killed; returns (its process, SQL that counts 1 once the lock is held)."""
    if db_backend() == "mysql":
        argv, db, env = mysql_client()
        proc = subprocess.Popen(argv + ["-e", "lock tables images read; select sleep(300);", db],
                                env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        return proc, ("select count(*) from information_schema.processlist "
                      "where info like 'select sleep(300)%'")
    proc = subprocess.Popen(
        ["psql", os.environ["APPD_DATABASE_URL"], "-X", "-q", "-c",
         "begin; lock table images in exclusive mode; select pg_sleep(300); commit;"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return proc, ("select count(*) from pg_locks l join pg_class c on c.oid = l.relation "
                  "where c.relname = 'images' and l.mode = 'ExclusiveLock' and l.granted")


@pytest.mark.parametrize("shared_files", [False, True], ids=["new-files", "shared-files"])
def test_database_dies_mid_upload(stack, s, base_url, token, shared_files):
    """The upload is held at its INSERT into `images` (another session holds a lock against
    writes), after authentication, decoding and writing the files; then the database server
    dies under it (db-kill). With shared_files the same image was stored before: its files
    must survive the failed duplicate."""
    img = make_image("png", 64, 40)
    earlier = None
    if shared_files:
        earlier = assert_envelope_ok(upload_via_nginx(s, base_url, token, img), 201)
    # Every worker is connected (and has prepared its statements) before the lock is taken:
    # the upload must then be held after authentication, not while a worker reconnects.
    settle(base_url)
    before = storage_snapshot()
    locker, held = lock_images()
    ex = concurrent.futures.ThreadPoolExecutor(1)
    try:
        assert wait_for(lambda: psql(held) == "1", timeout=15), "the lock on images was not taken"

        def go():
            sess = no_cookie_session()
            try:
                return upload_via_nginx(sess, base_url, token, img, timeout=120)
            finally:
                sess.close()

        fut = ex.submit(go)
        waiting = wait_for(lambda: fut.done() or images_insert_waiters() > 0, timeout=30)
        assert waiting and not fut.done(), \
            "the upload never waited on images: %r" % (fut.result().text if fut.done() else None)
        if not shared_files:
            # Its files are written: the failure must remove them.
            assert list_files(image_dir()) - before[0], "no files written before the INSERT"
        db_kill(stack)
        t0 = time.monotonic()
        r = fut.result(timeout=30)
        assert time.monotonic() - t0 < 10
        assert_envelope_error(r, 503, "unavailable")
        assert list_files(image_dir()) == before[0], \
            sorted(list_files(image_dir()) ^ before[0])
    finally:
        try:
            restart_db_and_wait(stack, s, base_url)
        finally:
            if locker.poll() is None:
                locker.kill()
            locker.wait(timeout=10)
            ex.shutdown(wait=False)
    assert_nothing_new(before)
    if earlier is not None:
        # The earlier upload's files are still there and still served.
        for url in (earlier["url"], earlier["thumb_url"]):
            assert s.get(url).status_code == 200, url
    data = assert_envelope_ok(upload_via_nginx(s, base_url, token, img), 201)
    if earlier is not None:
        assert data["url"] == earlier["url"]
    assert images_rows() == before[1] + 1
