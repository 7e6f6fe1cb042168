"""Shared fixtures for the end-to-end suite: it talks HTTP(S) to the real Nginx of a running stack.

scripts/e2e starts the stack (PostgreSQL + Nginx + appd on the test ports) and exports
`scripts/stack env` before running pytest; these fixtures read that environment.
"""
import json
import os
import subprocess

import pytest
import requests
import urllib3

urllib3.disable_warnings(urllib3.exceptions.InsecureRequestWarning)

ROOT = os.environ.get("ROOT") or os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))

# TLS is verified for real, against the stack's own self-signed certificate.
if os.environ.get("STACK_DIR"):
    os.environ["REQUESTS_CA_BUNDLE"] = os.path.join(os.environ["STACK_DIR"], "tls", "cert.pem")


def env(name):
    value = os.environ.get(name)
    if not value:
        pytest.exit(f"{name} is not set: run the suite through scripts/e2e", returncode=2)
    return value


@pytest.fixture(scope="session")
def base_url():
    return env("BASE_URL")


@pytest.fixture(scope="session")
def http_url():
    return env("HTTP_URL")


@pytest.fixture
def http():
    """A requests session that trusts the stack's self-signed certificate."""
    s = requests.Session()
    yield s
    s.close()


@pytest.fixture
def s():
    """A session that keeps no cookies: each request carries exactly the credentials it
    means to."""
    from util import no_cookie_session
    session = no_cookie_session()
    yield session
    session.close()


class Stack:
    """Handles on the running stack: its processes, logs and scripts."""

    def __init__(self):
        self.dir = env("STACK_DIR")
        self.root = ROOT

    def script(self, *args, check=True):
        return subprocess.run([os.path.join(self.root, "scripts", "stack"), *args],
                              check=check, capture_output=True, text=True, timeout=120)

    def manager_pid(self):
        with open(os.path.join(self.dir, "run", "appd.pid")) as f:
            return int(f.read().strip())

    def worker_pids(self):
        out = subprocess.run(["pgrep", "-P", str(self.manager_pid())],
                             capture_output=True, text=True).stdout
        return sorted(int(p) for p in out.split())

    def log_path(self):
        return os.path.join(self.dir, "log", "appd.log")

    def log_lines(self):
        """Every line of appd's log, parsed; each must be one JSON object."""
        with open(self.log_path(), encoding="utf-8") as f:
            return [json.loads(line) for line in f if line.strip()]

    def log_text(self):
        with open(self.log_path(), encoding="utf-8", errors="replace") as f:
            return f.read()


@pytest.fixture(scope="session")
def stack():
    return Stack()
