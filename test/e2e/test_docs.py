"""The API reference (docs/openapi.yaml), the Postman collection and scripts/demo, against
the router, the contract and the running stack.

Static checks (the spec and the collection against fcgi/routes.c, lib/app.c and the
contract's slug table) need no stack; the rest talks to the stack's Nginx. The page at
/docs/ is built by `scripts/docs build` (public/docs/, git-ignored): its tests skip when it
was not built.
"""
import json
import os
import re
import subprocess
from html.parser import HTMLParser

import pytest

ROOT = os.environ.get("ROOT") or os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
SPEC_YAML = os.path.join(ROOT, "docs", "openapi.yaml")
BUILT = os.path.join(ROOT, "public", "docs")
COLLECTION = os.path.join(ROOT, "docs", "postman", "appd.postman_collection.json")
METHODS = ("get", "put", "post", "delete", "patch", "head", "options", "trace")
TITLE = "appd App API"


def load_spec():
    """docs/openapi.yaml, parsed: with PyYAML (Debian's python3-yaml) or, without it, the
    JSON copy that scripts/docs build writes beside the page."""
    try:
        import yaml
    except ImportError:
        path = os.path.join(BUILT, "openapi.json")
        if not os.path.exists(path):
            pytest.skip("neither PyYAML nor %s (scripts/docs build) to read the spec" % path)
        with open(path, encoding="utf-8") as f:
            return json.load(f)
    with open(SPEC_YAML, encoding="utf-8") as f:
        return yaml.safe_load(f)


@pytest.fixture(scope="module")
def spec():
    return load_spec()


def spec_operations(spec):
    """{(METHOD, path): operation} for every operation of the spec."""
    return {(m.upper(), p): op for p, item in spec["paths"].items()
            for m, op in item.items() if m in METHODS}


def router_routes():
    """(METHOD, path) of every row of fcgi/routes.c's table, the APPD_TESTING ones left out."""
    with open(os.path.join(ROOT, "fcgi", "routes.c"), encoding="utf-8") as f:
        src = f.read()
    src = re.sub(r"#ifdef\s+APPD_TESTING\b.*?#endif", "", src, flags=re.S)
    table = re.search(r"const struct route routes\[[^\]]*\]\s*=\s*\{(.*?)\n\};", src, re.S)
    assert table, "the route table was not found in fcgi/routes.c"
    rows = re.findall(r'\[RT_\w+\]\s*=\s*\{\s*"([A-Z]+)"\s*,\s*"([^"]+)"', table.group(1))
    assert rows, "no rows parsed from fcgi/routes.c"
    return set(rows)


def app_slugs():
    """The error slugs lib/app.c maps results to (the one table of them)."""
    with open(os.path.join(ROOT, "lib", "app.c"), encoding="utf-8") as f:
        src = f.read()
    return set(re.findall(r'\[APP_E_\w+\]\s*=\s*\{\s*\d+\s*,\s*"([a-z_]+)"', src))


def contract_path():
    """shared/API.md: beside the repository (CI, a developer's checkout) or where
    APPD_CONTRACT says."""
    for p in (os.environ.get("APPD_CONTRACT"), os.path.join(ROOT, "..", "shared", "API.md"),
              "/work/shared/API.md"):
        if p and os.path.exists(p):
            return p
    return None


def contract_slugs():
    path = contract_path()
    if path is None:
        pytest.skip("shared/API.md not found (set APPD_CONTRACT)")
    with open(path, encoding="utf-8") as f:
        text = f.read()
    slugs = set(re.findall(r"^\|\s*`([a-z_]+)`\s*\|\s*\d{3}\s*\|", text, re.M))
    assert len(slugs) >= 10, "the slug table of %s was not parsed" % path
    return slugs


def nginx_served(op):
    return op.get("x-served-by") == "nginx"


# ---------------------------------------------------------------- the spec and the router

def test_spec_routes_are_the_router_routes(spec):
    ops = spec_operations(spec)
    app = {k for k, op in ops.items() if not nginx_served(op)}
    routes = router_routes()
    assert app - routes == set(), "in docs/openapi.yaml but not in fcgi/routes.c"
    assert routes - app == set(), "in fcgi/routes.c but not in docs/openapi.yaml"
    assert {k for k, op in ops.items() if nginx_served(op)} == {("GET", "/images/{path}")}


def test_spec_is_openapi_31_with_unique_operation_ids(spec):
    assert spec["openapi"].startswith("3.1.")
    ids = [op["operationId"] for op in spec_operations(spec).values()]
    assert len(ids) == len(set(ids))


def test_every_contract_slug_is_in_the_spec(spec):
    """Each slug of shared/API.md's table is in the slug enum and is documented (example or
    enum) by at least one operation's response."""
    documented = set()
    for op in spec_operations(spec).values():
        for resp in op["responses"].values():
            documented |= example_slugs(resolve(spec, resp))
    contract = contract_slugs()
    assert contract - set(spec["components"]["schemas"]["ErrorSlug"]["enum"]) == set()
    assert contract - documented == set(), "slugs no operation documents"


def test_slug_enum_is_the_router_slug_table(spec):
    enum = set(spec["components"]["schemas"]["ErrorSlug"]["enum"])
    assert enum == app_slugs() - {"ok"}


def example_slugs(response):
    """The `error` slugs a response documents: its examples' and its schema's enum."""
    found = set()
    for media in response.get("content", {}).values():
        exs = [media.get("example")] + [e.get("value") for e in media.get("examples", {}).values()]
        found |= {e["error"] for e in exs if isinstance(e, dict) and "error" in e}
        for part in media.get("schema", {}).get("allOf", []):
            found |= set(part.get("properties", {}).get("error", {}).get("enum", []))
    return found


def resolve(spec, obj):
    while isinstance(obj, dict) and "$ref" in obj:
        node = spec
        for part in obj["$ref"].lstrip("#/").split("/"):
            node = node[part]
        obj = node
    return obj


def test_each_route_documents_its_errors(spec):
    """The errors docs/api.md names for each route are in its responses, with their slugs."""
    want = {
        ("POST", "/users/code"): {400: {"invalid_json", "missing_field", "invalid_phone"},
                                  413: {"payload_too_large"}, 415: {"unsupported_media_type"},
                                  429: {"rate_limited"}, 503: {"unavailable"}},
        ("POST", "/users/regist"): {400: {"invalid_json", "missing_field", "invalid_phone",
                                          "invalid_password", "invalid_code"},
                                    409: {"phone_taken"}, 429: {"too_many_attempts"},
                                    413: {"payload_too_large"}, 415: {"unsupported_media_type"},
                                    503: {"unavailable"}},
        ("POST", "/users/login"): {400: {"invalid_json", "missing_field", "invalid_phone"},
                                   401: {"bad_credentials"}, 429: {"too_many_attempts"},
                                   503: {"unavailable"}},
        ("GET", "/users/me"): {401: {"unauthorized"}, 503: {"unavailable"}},
        ("POST", "/users/logout"): {401: {"unauthorized"}, 403: {"forbidden"}},
        ("POST", "/upload"): {400: {"missing_field"}, 401: {"unauthorized"}, 403: {"forbidden"},
                              413: {"payload_too_large"}, 415: {"unsupported_media_type"},
                              422: {"invalid_image"}, 503: {"unavailable"}},
        ("GET", "/users/images"): {401: {"unauthorized"}},
        ("GET", "/healthz"): {503: {"unavailable"}},
        ("GET", "/metrics"): {403: {"forbidden"}},
        ("GET", "/images/{path}"): {404: {"not_found"}, 405: {"method_not_allowed"}},
    }
    want[("POST", "/users/register")] = want[("POST", "/users/regist")]
    ops = spec_operations(spec)
    for key, statuses in want.items():
        responses = ops[key]["responses"]
        for status, slugs in statuses.items():
            assert str(status) in responses, (key, status)
            got = example_slugs(resolve(spec, responses[str(status)]))
            assert slugs <= got, (key, status, slugs - got)
    for key, op in ops.items():
        r = op["responses"]
        assert "405" in r, key
        headers = resolve(spec, r["405"]).get("headers", {})
        assert "Allow" in headers, key
        if not nginx_served(op):
            assert {"500", "502", "503", "504"} <= set(r), key
        for status, resp in r.items():
            assert "X-Request-Id" in resolve(spec, resp).get("headers", {}), (key, status)


def test_headers_and_security_schemes(spec):
    ops = spec_operations(spec)
    schemes = spec["components"]["securitySchemes"]
    assert schemes["bearerAuth"]["scheme"] == "bearer"
    cookie = schemes["cookieAuth"]
    assert (cookie["type"], cookie["in"], cookie["name"]) == ("apiKey", "cookie", "__Host-sid")
    code_429 = resolve(spec, ops[("POST", "/users/code")]["responses"]["429"])
    assert "Retry-After" in code_429["headers"]
    login = ops[("POST", "/users/login")]["responses"]
    assert "Retry-After" in resolve(spec, login["429"])["headers"]
    for key in (("POST", "/users/login"), ("GET", "/users/home")):
        h = resolve(spec, ops[key]["responses"]["303"])["headers"]
        assert {"Location", "Set-Cookie"} <= set(h), key
    # Routes that need a user inherit the document's bearer-or-cookie requirement.
    for key in (("GET", "/users/me"), ("POST", "/users/logout"), ("POST", "/upload"),
                ("GET", "/users/images")):
        assert "security" not in ops[key], key
    assert spec["security"] == [{"bearerAuth": []}, {"cookieAuth": []}]


def test_field_bodies_take_json_and_form_with_the_same_fields(spec):
    for key, op in spec_operations(spec).items():
        body = resolve(spec, op.get("requestBody", {}))
        content = body.get("content", {})
        if key == ("POST", "/upload"):
            assert set(content) == {"multipart/form-data"}
            assert {"image", "file"} <= set(resolve(spec, content["multipart/form-data"]["schema"])
                                              ["properties"])
            continue
        if not content:
            continue
        assert set(content) == {"application/json", "application/x-www-form-urlencoded"}, key
        j = resolve(spec, content["application/json"]["schema"])
        f = resolve(spec, content["application/x-www-form-urlencoded"]["schema"])
        assert j == f, key


# ---------------------------------------------------------------- the Postman collection

@pytest.fixture(scope="module")
def collection():
    with open(COLLECTION, encoding="utf-8") as f:
        return json.load(f)


def collection_requests(node):
    for it in node.get("item", []):
        if "request" in it:
            yield it
        else:
            yield from collection_requests(it)


def request_key(item):
    """(METHOD, spec path) of a collection request: {{baseUrl}} and the query dropped,
    Postman's :name path variables written {name}."""
    r = item["request"]
    assert r["url"]["host"] == ["{{baseUrl}}"], item["name"]
    segs = ["{%s}" % s[1:] if s.startswith(":") else s for s in r["url"]["path"]]
    return r["method"], "/" + "/".join(segs)


def test_collection_requests_are_the_spec_operations(spec, collection):
    assert collection["info"]["schema"].endswith("/collection/v2.1.0/collection.json")
    got = {request_key(it) for it in collection_requests(collection)}
    assert got == set(spec_operations(spec))


def test_collection_base_url_token_and_form_mode(spec, collection):
    variables = {v["key"]: v["value"] for v in collection["variable"]}
    assert variables["baseUrl"] == "https://localhost:8443"
    # Authorized requests send the token the login stored.
    assert collection["auth"]["type"] == "bearer"
    assert collection["auth"]["bearer"][0]["value"] == "{{token}}"
    items = list(collection_requests(collection))
    login = [it for it in items if request_key(it) == ("POST", "/users/login")
             and it["request"]["body"]["mode"] == "raw"]
    assert login, "no JSON login request"
    script = "\n".join(line for e in login[0]["event"] if e["listen"] == "test"
                       for line in e["script"]["exec"])
    assert 'pm.collectionVariables.set("token", d.token)' in script
    ops = spec_operations(spec)
    for it in items:
        op = ops[request_key(it)]
        needs_user = "security" not in op
        assert (it["request"].get("auth", {}).get("type") == "noauth") != needs_user, it["name"]
    # Every route with fields has a form-mode request with the spec's fields.
    for key, op in ops.items():
        content = resolve(spec, op.get("requestBody", {})).get("content", {})
        if "application/x-www-form-urlencoded" not in content:
            continue
        fields = set(resolve(spec, content["application/x-www-form-urlencoded"]["schema"])
                     ["properties"])
        forms = [it for it in items if it["request"].get("body", {}).get("mode") == "urlencoded"
                 and (request_key(it) == key or
                      {key, request_key(it)} == {("POST", "/users/regist"),
                                                 ("POST", "/users/register")})]
        assert forms, "no form-mode request for %s %s" % key
        assert {p["key"] for p in forms[0]["request"]["body"]["urlencoded"]} == fields, key


def test_collection_is_generated_from_the_current_spec():
    """scripts/docs lint regenerates the collection and compares (needs the npm tools)."""
    if not os.path.exists(os.path.join(ROOT, "docs", "node_modules", ".bin", "redocly")):
        pytest.skip("docs/node_modules not installed (scripts/docs install)")
    out = subprocess.run([os.path.join(ROOT, "scripts", "docs"), "lint"], capture_output=True,
                         text=True, timeout=300)
    assert out.returncode == 0, out.stdout + out.stderr


# ---------------------------------------------------------------- the stack

def test_every_route_answers_as_documented(http, base_url, spec):
    """Through Nginx, each route (without credentials or body) answers a status its operation
    documents, and another method gets 405 with exactly the documented methods in Allow."""
    ops = spec_operations(spec)
    for (method, path), op in ops.items():
        if nginx_served(op):
            continue
        r = http.request(method, base_url + path, allow_redirects=False)
        assert str(r.status_code) in op["responses"], (method, path, r.status_code, r.text[:200])
        assert re.fullmatch(r"[0-9a-f]{32}", r.headers.get("X-Request-Id", "")), r.headers
    for path in spec["paths"]:
        if path != "/metrics":
            assert_other_method_405(http, base_url, spec, path)


def assert_other_method_405(http, base_url, spec, path):
    methods = {m.upper() for m in spec["paths"][path] if m in METHODS}
    if "GET" in methods:
        methods.add("HEAD")
    other = "PUT" if "PUT" not in methods else "PATCH"
    url = base_url + path.replace("{path}", "00/00/nothing.png")
    r = http.request(other, url, allow_redirects=False)
    assert r.status_code == 405, (path, r.status_code)
    assert r.json()["error"] == "method_not_allowed"
    assert {m.strip() for m in r.headers["Allow"].split(",")} == methods, (path, r.headers)


def test_metrics_other_methods_are_405(http, base_url, spec):
    assert_other_method_405(http, base_url, spec, "/metrics")


def docs_built():
    if not os.path.exists(os.path.join(BUILT, "index.html")):
        pytest.skip("the API page was not built (scripts/docs build)")


class _Refs(HTMLParser):
    def __init__(self):
        super().__init__()
        self.scripts, self.refs, self.title = [], [], ""
        self._in_title = False
        self._script_attrs = None
        self.inline = []

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "script":
            self.scripts.append(a)
            self._script_attrs = a
        for k in ("src", "href"):
            if a.get(k) and tag in ("script", "link", "img", "iframe", "source"):
                self.refs.append(a[k])
        self._in_title = tag == "title"

    def handle_endtag(self, tag):
        self._in_title = False
        if tag == "script":
            self._script_attrs = None

    def handle_data(self, data):
        if self._in_title:
            self.title += data
        if self._script_attrs is not None and "src" not in self._script_attrs and data.strip():
            self.inline.append(data[:80])


def test_docs_page_through_nginx(http, base_url):
    docs_built()
    r = http.get(base_url + "/docs/")
    assert r.status_code == 200, r.text[:300]
    assert r.headers["Content-Type"] == "text/html; charset=utf-8"
    assert TITLE in r.text
    p = _Refs()
    p.feed(r.text)
    assert TITLE in p.title
    # Self-contained: nothing from another host, no inline script, every script ours.
    for ref in p.refs:
        assert not re.match(r"(?i)([a-z][a-z0-9+.-]*:|//)", ref) or ref.startswith("data:"), ref
    assert p.inline == [], "inline script in the page"
    assert p.scripts, "no script at all: the page would not run"
    for s in p.scripts:
        js = http.get(base_url + "/docs/" + s["src"])
        assert js.status_code == 200, s
        assert js.headers["Content-Type"].startswith("application/javascript"), js.headers
        assert "cdn.redocly.com/redoc" not in js.text
    csp = dict(d.strip().split(" ", 1) for d in r.headers["Content-Security-Policy"].split(";")
               if d.strip())
    assert csp["default-src"] == "'none'"
    assert csp["script-src"] == "'self'"
    assert "frame-ancestors" in csp
    # The headers every HTTPS response carries.
    assert r.headers["X-Content-Type-Options"] == "nosniff"
    assert "Strict-Transport-Security" in r.headers
    assert re.fullmatch(r"[0-9a-f]{32}", r.headers["X-Request-Id"])


def test_docs_downloads_and_misses(http, base_url):
    docs_built()
    r = http.get(base_url + "/docs/openapi.yaml")
    assert r.status_code == 200 and r.text.startswith("openapi: 3.1")
    r = http.get(base_url + "/docs/appd.postman_collection.json")
    assert r.status_code == 200 and r.json()["info"]["name"] == TITLE
    r = http.get(base_url + "/docs/nothing-here.js")
    assert r.status_code == 404 and r.json()["error"] == "not_found"
    r = http.post(base_url + "/docs/", data=b"x")
    assert r.status_code == 405 and r.headers["Allow"] == "GET, HEAD"
    r = http.get(base_url + "/docs", allow_redirects=False)
    assert r.status_code == 301 and r.headers["Location"].endswith("/docs/")


# ---------------------------------------------------------------- scripts/demo

def test_demo_walks_the_scenarios(base_url):
    env = dict(os.environ, BASE_URL=base_url)
    out = subprocess.run([os.path.join(ROOT, "scripts", "demo")], env=env, capture_output=True,
                         text=True, timeout=180)
    assert out.returncode == 0, out.stdout[-4000:] + out.stderr[-2000:]
    text = out.stdout
    for want in ("HTTP/2 201", "HTTP/2 303", "set-cookie: __Host-sid=", "content-type: image/jpeg",
                 "cache-control: public, max-age=31536000, immutable", '"error": "unauthorized"'):
        assert want in text, want
