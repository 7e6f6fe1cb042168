"""Cluster smoke (issue 12): scripts/cluster up, the three scenarios through the front,
state shared by every app host (database and image volume), one app host killed and routed
around, the tiers fenced from each other, then down with nothing left behind.

Run by `make test-cluster-smoke` (part of `make test`) with its own CLUSTER_DIR,
CLUSTER_PORT and CLUSTER_NS_PREFIX; needs root (network namespaces, FUSE)."""
import io
import json
import os
import random
import subprocess
import threading
import time

import pytest
import requests

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
CLUSTER = os.path.join(ROOT, "scripts", "cluster")
DIR = os.environ["CLUSTER_DIR"]
PORT = os.environ["CLUSTER_PORT"]
PFX = os.environ.get("CLUSTER_NS_PREFIX", "")
BASE = "https://127.0.0.1:%s" % PORT
APPS = {"app1": "10.77.0.11:9000", "app2": "10.77.0.12:9000", "app3": "10.77.0.13:9000"}
HOSTS = ["front", "app1", "app2", "app3", "db1", "db2", "wit", "st1", "st2", "st3"]
NAMESPACES = [PFX + h for h in HOSTS + ["cl-switch"]]


def cluster(*args, check=True):
    out = subprocess.run([CLUSTER, *args], capture_output=True, text=True, timeout=300)
    if check:
        assert out.returncode == 0, out.stdout + out.stderr
    return out


def status():
    rows = {}
    for line in cluster("status").stdout.splitlines():
        name, role, state = line.split()
        rows[name] = (role, state)
    return rows


def fcgi(host, method, path, body=b"", ctype="application/json", headers=None, src="front"):
    """One request straight to an app host over FastCGI, sent from inside namespace src."""
    env = {"REQUEST_METHOD": method, "DOCUMENT_URI": path, "SCRIPT_NAME": path,
           "REQUEST_URI": path, "REMOTE_ADDR": "203.0.113.7", "REQUEST_SCHEME": "https",
           "CONTENT_LENGTH": str(len(body)), "SERVER_PROTOCOL": "HTTP/1.1",
           "PATH": "/usr/bin:/bin"}
    if ctype:
        env["CONTENT_TYPE"] = ctype
    env.update(headers or {})
    out = subprocess.run(["ip", "netns", "exec", PFX + src, "/usr/bin/cgi-fcgi", "-bind",
                          "-connect", APPS[host]], input=body, env=env,
                         capture_output=True, timeout=30)
    head, _, rest = out.stdout.partition(b"\r\n\r\n")
    status_line = [l for l in head.decode("latin-1").split("\r\n") if l.startswith("Status:")]
    code = int(status_line[0].split()[1]) if status_line else (200 if out.stdout else 0)
    return code, rest


def outbox_code(phone):
    with open(os.path.join(DIR, "sms", "outbox.jsonl"), encoding="utf-8") as f:
        codes = [json.loads(l)["code"] for l in f if json.loads(l).get("phone") == phone]
    assert codes, "no code for %s in the outbox" % phone
    return codes[-1]


def phone():
    return "1" + random.choice("3456789") + "".join(random.choice("0123456789")
                                                    for _ in range(9))


def absolute(url):
    return url if url.startswith("https://") else BASE + url


def tiny_jpeg():
    out = subprocess.run(["/usr/bin/convert", "-size", "32x24", "gradient:red-blue",
                          "jpeg:-"], capture_output=True, check=True)
    return out.stdout


@pytest.fixture(scope="module")
def up():
    cluster("down", check=False)
    cluster("up")
    # TLS is verified for real, against the cluster's own self-signed certificate.
    os.environ["REQUESTS_CA_BUNDLE"] = os.path.join(DIR, "tls", "cert.pem")
    yield
    cluster("down")
    # Nothing of it is left: no namespace, no process, no mount.
    names = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True).stdout
    assert not set(NAMESPACES) & {l.split()[0] for l in names.splitlines() if l.strip()}
    ps = subprocess.run(["ps", "-eo", "args"], capture_output=True, text=True).stdout
    left = [l for l in ps.splitlines()
            if (DIR in l and "pytest" not in l) or ("TCP-LISTEN:%s," % PORT) in l]
    assert left == []
    with open("/proc/mounts") as f:
        assert DIR not in f.read()


@pytest.fixture()
def s():
    with requests.Session() as session:
        yield session


def register(s, ph, password="demo123456"):
    r = s.post(BASE + "/users/code", json={"phone": ph}, timeout=30)
    assert r.status_code == 200, r.text
    r = s.post(BASE + "/users/regist", json={"phone": ph, "password": password,
                                             "code": outbox_code(ph)}, timeout=30)
    assert r.status_code == 201, r.text
    return r.json()["data"]["user_id"]


def test_every_host_is_up_with_its_role(up):
    rows = status()
    assert sorted((rows.pop("db1")[0], rows.pop("db2")[0])) == ["primary", "standby"]
    assert rows == {"front": ("front", "up"), "app1": ("app", "up"), "app2": ("app", "up"),
                    "app3": ("app", "up"), "wit": ("witness", "up"), "st1": ("storage", "up"),
                    "st2": ("storage", "up"), "st3": ("storage", "up")}
    assert cluster("up").returncode == 0        # idempotent
    # The standby streams synchronously from the primary, through a replication slot.
    out = cluster("psql", "-Atc", "SELECT 1").stdout
    assert out.strip() == "1"
    # Every brick of the image volume holds the same files (nothing pending heal).
    heal = cluster("heal-info").stdout.split()
    assert len(heal) == 6 and heal[1::2] == ["0", "0", "0"], heal


def test_the_three_scenarios_through_the_front(up, s):
    r = s.get(BASE + "/healthz", timeout=10)
    assert r.status_code == 200 and r.json()["data"] == {"db": "ok"}
    ph = phone()
    uid = register(s, ph)
    r = s.post(BASE + "/users/login", json={"phone": ph, "password": "demo123456"}, timeout=30)
    assert r.status_code == 200, r.text
    data = r.json()["data"]
    token, home_url = data["token"], data["home_url"]
    r = s.get(BASE + "/users/me", headers={"Authorization": "Bearer " + token}, timeout=10)
    assert r.status_code == 200 and r.json()["data"]["id"] == uid
    # The H5 page: the ticket becomes a cookie session on whichever host answers.
    r = s.get(absolute(home_url), allow_redirects=False, timeout=10)
    assert r.status_code == 303, r.text
    for _ in range(3):
        r = s.get(BASE + "/users/home", timeout=10)
        assert r.status_code == 200 and "text/html" in r.headers["Content-Type"]
    # An upload, served back by the front from the image volume.
    r = s.post(BASE + "/upload", headers={"Authorization": "Bearer " + token},
               files={"file": ("a.jpg", io.BytesIO(tiny_jpeg()), "image/jpeg")}, timeout=30)
    assert r.status_code == 201, r.text
    img = r.json()["data"]
    got = s.get(absolute(img["url"]), timeout=10)
    assert got.status_code == 200 and got.headers["Content-Type"] == "image/jpeg"


def test_state_is_shared_by_every_app_host(up, s):
    """A token issued through app1 works through app3; an image uploaded through app1 is
    listed through app2; a code issued through app2 registers through app3."""
    ph = phone()
    code, _ = fcgi("app2", "POST", "/users/code", json.dumps({"phone": ph}).encode())
    assert code == 200
    code, body = fcgi("app3", "POST", "/users/regist", json.dumps(
        {"phone": ph, "password": "demo123456", "code": outbox_code(ph)}).encode())
    assert code == 201, body
    code, body = fcgi("app1", "POST", "/users/login",
                      json.dumps({"phone": ph, "password": "demo123456"}).encode())
    assert code == 200, body
    token = json.loads(body)["data"]["token"]
    auth = {"HTTP_AUTHORIZATION": "Bearer " + token}
    code, body = fcgi("app3", "GET", "/users/me", ctype=None, headers=auth)
    assert code == 200 and json.loads(body)["data"]["phone"].startswith(ph[:3]), body
    boundary = "clusterboundary"
    part = (("--%s\r\nContent-Disposition: form-data; name=\"file\"; filename=\"x.jpg\"\r\n"
             "Content-Type: image/jpeg\r\n\r\n" % boundary).encode() + tiny_jpeg()
            + ("\r\n--%s--\r\n" % boundary).encode())
    code, body = fcgi("app1", "POST", "/upload", part,
                      ctype="multipart/form-data; boundary=" + boundary, headers=auth)
    assert code == 201, body
    image = json.loads(body)["data"]
    code, body = fcgi("app2", "GET", "/users/images", ctype=None, headers=auth)
    assert code == 200 and [i["id"] for i in json.loads(body)["data"]["images"]] == [image["id"]]
    assert s.get(absolute(image["url"]), timeout=10).status_code == 200
    # The file is on the volume every app host mounts, on all three bricks.
    rel = image["url"].split("/images/", 1)[1]
    for h in ("app1", "app2", "app3", "front"):
        assert os.path.isfile(os.path.join(DIR, "mnt", h, rel)), h
    for st in ("st1", "st2", "st3"):
        assert os.path.isfile(os.path.join(DIR, st, "brick", "images", rel)), st


def test_tiers_are_fenced(up):
    # The front cannot reach either database host (pg_hba lets in the app hosts only).
    for db in ("10.77.0.21", "10.77.0.22"):
        out = subprocess.run(["ip", "netns", "exec", PFX + "front", "psql",
                              "postgresql://app:x@%s:5432/app?connect_timeout=3" % db,
                              "-Xc", "select 1"], capture_output=True, text=True, timeout=30)
        assert out.returncode != 0 and "no pg_hba.conf entry" in out.stderr, out.stderr
    # An app host is not a front: its FastCGI connection to another app host is refused.
    code, body = fcgi("app2", "GET", "/healthz", ctype=None, src="app1")
    assert (code, body) == (0, b"")
    with open(os.path.join(DIR, "app2", "log", "appd.log")) as f:
        assert "refused a FastCGI connection from 10.77.0.11" in f.read()
    # The machine itself has no address in the cluster's range.
    addrs = subprocess.run(["ip", "-o", "addr"], capture_output=True, text=True).stdout
    assert "10.77.0." not in addrs


def test_an_app_host_killed_under_load_is_routed_around_and_rejoins(up):
    results, stop = [], threading.Event()

    def load():
        with requests.Session() as ses:
            while not stop.is_set():
                try:
                    results.append(ses.get(BASE + "/healthz", timeout=10).status_code)
                except requests.RequestException as e:
                    results.append(repr(e))

    threads = [threading.Thread(target=load) for _ in range(4)]
    for t in threads:
        t.start()
    time.sleep(1.5)
    cluster("kill", "app2")
    killed_at = len(results)
    assert status()["app2"] == ("app", "down")
    time.sleep(3)
    stop.set()
    for t in threads:
        t.join()
    # Only what was in flight on app2 may fail (at most one per client thread); everything
    # after that is routed around it.
    failed = [r for r in results if r != 200]
    assert len(failed) <= len(threads), failed
    assert all(r == 200 for r in results[killed_at + len(threads):]), failed
    assert len(results) > killed_at + 20
    cluster("start", "app2")
    assert status()["app2"] == ("app", "up")
    assert fcgi("app2", "GET", "/healthz", ctype=None)[0] == 200
