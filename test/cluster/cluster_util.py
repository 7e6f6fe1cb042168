"""Helpers shared by the cluster tests (issue 12): scripts/cluster, FastCGI straight to an
app host, the SMS outbox, registration, and a cluster brought up and taken down with
nothing left behind. Settings come from the environment the Makefile target sets:
CLUSTER_DIR, CLUSTER_PORT and CLUSTER_NS_PREFIX."""
import json
import os
import random
import re
import subprocess
import time

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
PASSWORD = "demo123456"


def cluster(*args, check=True, timeout=300):
    out = subprocess.run([CLUSTER, *args], capture_output=True, text=True, timeout=timeout)
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


def outbox_code(phone, wait=2.0):
    """The last code sent to phone. App hosts append to the outbox concurrently, so a last
    line may still be partial: it is skipped, and the file read again for a moment."""
    deadline = time.monotonic() + wait
    while True:
        codes = []
        with open(os.path.join(DIR, "sms", "outbox.jsonl"), encoding="utf-8") as f:
            for line in f:
                try:
                    entry = json.loads(line)
                except ValueError:
                    continue
                if entry.get("phone") == phone:
                    codes.append(entry["code"])
        if codes or time.monotonic() > deadline:
            break
        time.sleep(0.05)
    assert codes, "no code for %s in the outbox" % phone
    return codes[-1]


def phone():
    return "1" + random.choice("3456789") + "".join(random.choice("0123456789")
                                                    for _ in range(9))


def absolute(url):
    return url if url.startswith("https://") else BASE + url


def tiny_jpeg(colors="red-blue"):
    out = subprocess.run(["/usr/bin/convert", "-size", "32x24", "gradient:" + colors,
                          "jpeg:-"], capture_output=True, check=True)
    return out.stdout


def register(s, ph, password=PASSWORD):
    r = s.post(BASE + "/users/code", json={"phone": ph}, timeout=30)
    assert r.status_code == 200, r.text
    r = s.post(BASE + "/users/regist", json={"phone": ph, "password": password,
                                             "code": outbox_code(ph)}, timeout=30)
    assert r.status_code == 201, r.text
    return r.json()["data"]["user_id"]


# Where GlusterFS writes whatever its options say (sockets, pid files, logs): each storage
# host's glusterd binds its own directories over these, so nothing may appear in them.
SYSTEM_DIRS = ("/run/gluster", "/var/lib/glusterd", "/var/log/glusterfs")
_system_before = []


def system_files():
    return sorted(os.path.join(d, f) for top in SYSTEM_DIRS for d, _, fs in os.walk(top)
                  for f in fs)


def bring_up():
    """A fresh `up` (after a `down` of whatever a failed run left), TLS verified for real
    against the cluster's own self-signed certificate."""
    cluster("down", check=False)
    _system_before[:] = system_files()
    cluster("up")
    os.environ["REQUESTS_CA_BUNDLE"] = os.path.join(DIR, "tls", "cert.pem")


def take_down():
    """`down`, then nothing of the cluster is left: no namespace, no process, no mount."""
    cluster("down")
    names = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True).stdout
    assert not set(NAMESPACES) & {l.split()[0] for l in names.splitlines() if l.strip()}
    # DIR as a whole path component: var/test-cluster must not match the processes and
    # mounts of var/test-cluster-faults, which may be running beside it.
    mine = re.compile(re.escape(DIR) + r"(?=[/\s]|$)")
    ps = subprocess.run(["ps", "-eo", "args"], capture_output=True, text=True).stdout
    left = [l for l in ps.splitlines()
            if (mine.search(l) and "pytest" not in l) or ("TCP-LISTEN:%s," % PORT) in l]
    assert left == []
    with open("/proc/mounts") as f:
        assert not mine.search(f.read())
    # No file outside CLUSTER_DIR either.
    assert system_files() == _system_before


def session():
    return requests.Session()
