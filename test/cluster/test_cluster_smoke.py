"""Cluster smoke (issue 12): scripts/cluster up, the three scenarios through the front,
state shared by every app host (database and image volume), one app host killed and routed
around, the tiers fenced from each other, then down with nothing left behind.

Run by `make test-cluster-smoke` (part of `make test`) with its own CLUSTER_DIR,
CLUSTER_PORT and CLUSTER_NS_PREFIX; needs root (network namespaces, FUSE)."""
import io
import json
import os
import subprocess
import threading
import time

import pytest
import requests

from cluster_util import (BASE, DIR, PFX, absolute, bring_up, cluster, fcgi, outbox_code,
                          phone, register, status, take_down, tiny_jpeg)


@pytest.fixture(scope="module")
def up():
    bring_up()
    yield
    take_down()


@pytest.fixture()
def s():
    with requests.Session() as session:
        yield session


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
