#!/usr/bin/env python3
"""The parts of scripts/fuzz that talk JSON: seeding two organizations, the schemathesis
configuration, and the checks after the run (tenant isolation, projections, figures).

Standard library only (schemathesis brings its own Python). Run by scripts/fuzz; each subcommand
reads and writes files in the run's work directory:

  seed WORKDIR          creates orgs A and B through POST /api/organization and a few objects in
                        each, in every dialect; writes WORKDIR/state.json
  config WORKDIR        writes WORKDIR/schemathesis.toml (tokens, dictionaries of A's ids)
  snapshot WORKDIR NAME reads B's objects with B's token into WORKDIR/NAME.json
  check WORKDIR         after the run: schemathesis' failures against docs/api-deviations.md,
                        tenant isolation, B unchanged, projections not parked or stopped, the
                        figures; exits 1 on any failure
"""

import json
import os
import re
import subprocess
import sys
import urllib.error
import urllib.parse
import urllib.request
import uuid

# How long one seeding or checking request may take: a write waits for the read models (5 s by
# default) before it answers.
REQUEST_TIMEOUT_SECS = 30


def log(msg):
    print(f"fuzz: {msg}", file=sys.stderr)


class Api:
    def __init__(self, base):
        self.base = base.rstrip("/")

    def call(self, method, path, token=None, dialect="wd", body=None, query=None):
        """(status, parsed JSON or text). The token travels as the dialect expects."""
        url = self.base + path
        headers = {"Accept": "application/json"}
        if token is not None:
            if dialect == "wd":
                headers["X-API-KEY"] = token
            elif dialect == "nx":
                query = dict(query or {}, access_token=token)
            else:
                headers["Authorization"] = f"Bearer {token}"
                if dialect == "sb":
                    headers["x-authenticated-user-token"] = token
        if query:
            url += ("&" if "?" in url else "?") + urllib.parse.urlencode(query)
        data = None
        if body is not None:
            data = json.dumps(body).encode()
            headers["Content-Type"] = "application/json"
        req = urllib.request.Request(url, data=data, method=method, headers=headers)
        try:
            with urllib.request.urlopen(req, timeout=REQUEST_TIMEOUT_SECS) as resp:
                status, raw = resp.status, resp.read()
        except urllib.error.HTTPError as e:
            status, raw = e.code, e.read()
        text = raw.decode("utf-8", "replace")
        try:
            return status, json.loads(text)
        except ValueError:
            return status, text

    def must(self, method, path, token, dialect="wd", body=None, query=None):
        """The JSON answer of a request that must succeed (any 2xx: the dialects differ)."""
        status, v = self.call(method, path, token, dialect, body, query)
        if not 200 <= status < 300 or not isinstance(v, dict):
            raise SystemExit(f"fuzz: seeding failed: {method} {path} answered {status}: {v}")
        return v


def load(workdir, name):
    with open(os.path.join(workdir, name)) as f:
        return json.load(f)


def dump(workdir, name, value):
    with open(os.path.join(workdir, name), "w") as f:
        json.dump(value, f, indent=2, sort_keys=True)


# ---------------------------------------------------------------------------------------------
# seed
# ---------------------------------------------------------------------------------------------


def seed_org(api, super_token, label, marker):
    """One organization with a few objects in every dialect; returns what the checks need."""
    name = f"{marker} org"
    email_domain = f"{marker}.example"
    org = api.must("POST", "/api/organization", super_token, body={
        "name": name,
        "admin": {"firstName": "Ada", "lastName": marker, "email": f"admin@{email_domain}", "password": "password1"},
        "auth": {"method": "internal"},
    })
    tok, org_id = org["accessToken"], org["id"]
    o = {"label": label, "marker": marker, "org_id": org_id, "token": tok, "users": [], "user_numbers": []}

    # WorkDrive: users, a department headed by the first, a location.
    for i in range(2):
        u = api.must("POST", "/api/users/add", tok, body={
            "email": f"user{i}@{email_domain}", "firstName": f"{marker}{i}", "lastName": marker, "password": "password1"})
        o["users"].append(u["id"])
    users = api.must("GET", "/api/users", tok, query={"per_page": "100"})
    o["admin_id"] = next(u["id"] for u in users["users"] if u["email"] == f"admin@{email_domain}")
    d = api.must("POST", "/api/departments", tok, body={"name": f"{marker} dept", "members": [{"id": o["users"][0], "isAdmin": True}]})
    o["department"] = d["id"]
    loc = api.must("POST", "/api/locations", tok, body={"name": f"{marker} loc"})
    o["location"] = loc["id"]

    # Publisher: a group with both users, which also tells their numbers (PortSIP extensions).
    g = api.must("POST", "/api/2/groups", tok, dialect="pub", body={"group": {"name": f"{marker} pub"}})
    o["pub_group"] = g["group"]["id"]
    g = api.must("PUT", f"/api/2/groups/{o['pub_group']}/users", tok, dialect="pub",
                 body={"group": {"users": [f"user{i}@{email_domain}" for i in range(2)]}})
    o["user_numbers"] = g["group"]["users"]

    # PortSIP: a group with one member.
    g = api.must("POST", "/api/groups", tok, dialect="ps", body={"name": f"{marker} ps", "description": marker})
    o["ps_group"] = g["id"]
    status, v = api.call("POST", f"/api/groups/{o['ps_group']}/members/{o['user_numbers'][0]}", tok, dialect="ps")
    if not 200 <= status < 300:
        raise SystemExit(f"fuzz: seeding failed: adding a PortSIP member answered {status}: {v}")

    # Sunbird: a group (the admin is its admin) with the second user as a member.
    s = api.must("POST", "/api/group/v1/create", tok, dialect="sb", body={"request": {
        "name": f"{marker} sb", "description": marker, "members": [{"userId": o["users"][1], "role": "member"}]}})
    o["sb_group"] = s["result"]["groupId"]

    # NexPort: a user, a group under the organization, a subscription.
    n = api.must("POST", "/api/v1/AdminApi/CreateUser", tok, dialect="nx", body={
        "owner_org_id": org_id, "login": f"nx-{marker}", "password": "password1", "first_name": marker,
        "last_name": "Nx", "email": f"nx@{email_domain}"})
    o["nx_user"] = n["user_id"]
    n = api.must("POST", "/api/v1/AdminApi/CreateGroup", tok, dialect="nx", body={
        "name": f"{marker} nx", "short_name": f"nx-{marker}", "parent_id": org_id})
    o["nx_group"] = n["group_id"]
    n = api.must("POST", "/api/v1/AdminApi/CreateSubscription", tok, dialect="nx", body={"org_id": org_id, "user_id": o["nx_user"]})
    o["nx_subscription"] = n.get("subscription_id")
    return o


def cmd_seed(workdir):
    env = load(workdir, "endpoints.json")
    api = Api(env["api_url"])
    run = uuid.uuid4().hex[:8]
    # The markers name every object of an org, so a leak shows as B's marker in A's answers.
    with open(os.path.join(workdir, "bootstrap_token")) as f:
        super_token = f.read().strip()
    a = seed_org(api, super_token, "A", f"fuzza{run}")
    b = seed_org(api, super_token, "B", f"fuzzb{run}")
    dump(workdir, "state.json", {"api_url": env["api_url"], "database_url": env["database_url"], "a": a, "b": b})
    log(f"seeded org A {a['org_id']} and org B {b['org_id']}")


# ---------------------------------------------------------------------------------------------
# config
# ---------------------------------------------------------------------------------------------


def toml_str(s):
    return json.dumps(s)  # a JSON string is a valid TOML basic string


def toml_list(values):
    """A TOML array; integers stay integers (a dictionary entry must match its parameter's type)."""
    return "[" + ", ".join(str(v) if isinstance(v, int) else toml_str(str(v)) for v in values) + "]"


# Probability that a path id is drawn from org A's real ids rather than generated: half the cases
# reach a real object, half probe unknown and malformed ids.
REAL_ID_PROBABILITY = 0.5


def cmd_config(workdir):
    s = load(workdir, "state.json")
    a = s["a"]
    uuids = a["users"] + [a["department"], a["location"], a["sb_group"], a["nx_group"], a["nx_user"]]
    lines = [
        "# Written by scripts/fuzz for one run; holds org A's admin token.",
        "[parameters]",
        # NexPort and Sunbird declare their token as a parameter: always A's token, never generated.
        f'"query.access_token" = {toml_str(a["token"])}',
        f'"header.x-authenticated-user-token" = {toml_str(a["token"])}',
        "",
        # Its crash cache would land in the checkout; every run starts afresh.
        "[cache]",
        "enabled = false",
        "",
        # Location headers lead schemathesis to "infer" links from Publisher's groups to Sunbird's
        # read (an invalid link, which stops its stateful phase); the dependency analysis of the
        # schema gives the useful links.
        "[phases.stateful.inference]",
        'algorithms = ["dependency-analysis"]',
        "",
        "[dictionaries]",
        f"a_uuids = {{ values = {toml_list(uuids)} }}",
        f"a_users = {{ values = {toml_list(a['users'])} }}",
        f"a_ps_groups = {{ values = {toml_list([a['ps_group']])} }}",
        f"a_numbers = {{ values = {toml_list(a['user_numbers'])} }}",
        f"a_pub_groups = {{ values = {toml_list([a['pub_group']])} }}",
        f"a_departments = {{ values = {toml_list([a['department']])} }}",
        f"a_locations = {{ values = {toml_list([a['location']])} }}",
        f"a_sb_groups = {{ values = {toml_list([a['sb_group']])} }}",
        "",
    ]

    def op(path_regex, params):
        lines.append("[[operations]]")
        lines.append(f"include-path-regex = {toml_str(path_regex)}")
        body = ", ".join(f'"{k}" = {{ dictionary = "{d}", probability = {REAL_ID_PROBABILITY} }}' for k, d in params.items())
        lines.append(f"parameters = {{ {body} }}")
        lines.append("")

    # Sunbird's activity aggregate answers a documented 500 ("Error while fetching group members
    # record.") for a group it cannot read (spec/sunbird-groups.md): not a finding.
    lines.append("[[operations]]")
    lines.append('include-path = "/api/data/v1/group/activity/agg"')
    lines.append('checks.not_a_server_error.expected-statuses = ["2xx", "3xx", "4xx", "500"]')
    lines.append("")

    op(r"^/api/users/\{id\}$", {"path.id": "a_users"})
    op(r"^/api/departments/\{id\}", {"path.id": "a_departments"})
    op(r"^/api/locations/\{id\}", {"path.id": "a_locations"})
    op(r"^/api/groups/\{id\}$|^/api/groups/\{id\}/(destroy|members)$", {"path.id": "a_ps_groups"})
    op(r"^/api/groups/\{id\}/members/\{extension_number\}", {"path.id": "a_ps_groups", "path.extension_number": "a_numbers"})
    op(r"^/api/2/groups/\{id\}", {"path.id": "a_pub_groups"})
    op(r"/group/v1/read/\{groupId\}$", {"path.groupId": "a_sb_groups"})
    op(r"^/streams/", {"path.stream_id": "a_uuids", "path.user_id": "a_users"})
    op(r"^/api/v1/AdminApi/(GetUser|GetUserContactInformation|GetCustomProfileFieldValues)$", {"query.user_id": "a_users"})
    with open(os.path.join(workdir, "schemathesis.toml"), "w") as f:
        f.write("\n".join(lines))


# ---------------------------------------------------------------------------------------------
# snapshot: B's objects as B sees them (compared before and after the run)
# ---------------------------------------------------------------------------------------------


def b_reads(b):
    """(label, method, path, dialect, body, query) of reads that show B's seeded objects."""
    return [
        ("wd users", "GET", "/api/users", "wd", None, {"per_page": "100"}),
        ("wd department members", "GET", f"/api/departments/{b['department']}/members", "wd", None, None),
        ("wd departments", "GET", "/api/departments", "wd", None, None),
        ("wd locations", "GET", "/api/locations", "wd", None, None),
        ("ps group", "GET", f"/api/groups/{b['ps_group']}", "ps", None, None),
        ("ps members", "GET", f"/api/groups/{b['ps_group']}/members", "ps", None, None),
        ("pub group", "GET", f"/api/2/groups/{b['pub_group']}", "pub", None, None),
        ("sb group", "GET", f"/api/group/v1/read/{b['sb_group']}", "sb", None, {"fields": "members"}),
        ("nx user", "GET", "/api/v1/AdminApi/GetUser", "nx", None, {"user_id": b["nx_user"]}),
    ]


# Fields that change without a write to the object (answer metadata).
VOLATILE = re.compile(r'"(ts|resmsgid|msgid|requestId|request_id)":\s*"[^"]*"')


def cmd_snapshot(workdir, name):
    s = load(workdir, "state.json")
    api, b = Api(s["api_url"]), s["b"]
    snap = {}
    for label, method, path, dialect, body, query in b_reads(b):
        status, v = api.call(method, path, b["token"], dialect, body, query)
        snap[label] = [status, VOLATILE.sub("", json.dumps(v, sort_keys=True))]
    dump(workdir, f"{name}.json", snap)


# ---------------------------------------------------------------------------------------------
# check
# ---------------------------------------------------------------------------------------------


def b_ids(b):
    ids = b["users"] + [b["admin_id"], b["org_id"], b["department"], b["location"], b["sb_group"], b["nx_user"], b["nx_group"]]
    if b.get("nx_subscription"):
        ids.append(b["nx_subscription"])
    return [str(i) for i in ids]


def isolation_probes(b):
    """(label, method, path, dialect, body, query, by_id) that A's token sends for B's objects."""
    u0, u1 = b["users"]
    probes = [
        # By id: must answer 4xx (404 or 403).
        ("WorkDrive department members", "GET", f"/api/departments/{b['department']}/members", "wd", None, None, True),
        ("WorkDrive location members", "GET", f"/api/locations/{b['location']}/members", "wd", None, None, True),
        ("PortSIP group", "GET", f"/api/groups/{b['ps_group']}", "ps", None, None, True),
        ("PortSIP group members", "GET", f"/api/groups/{b['ps_group']}/members", "ps", None, None, True),
        ("PortSIP member", "GET", f"/api/groups/{b['ps_group']}/members/{b['user_numbers'][0]}", "ps", None, None, True),
        ("Publisher group", "GET", f"/api/2/groups/{b['pub_group']}", "pub", None, None, True),
        ("Sunbird group", "GET", f"/api/group/v1/read/{b['sb_group']}", "sb", None, {"fields": "members"}, True),
        ("Sunbird group (alias)", "GET", f"/v1/group/read/{b['sb_group']}", "sb", None, None, True),
        ("NexPort GetUser", "GET", "/api/v1/AdminApi/GetUser", "nx", None, {"user_id": b["nx_user"]}, True),
        ("NexPort GetUser (WorkDrive user)", "GET", "/api/v1/AdminApi/GetUser", "nx", None, {"user_id": u0}, True),
        ("NexPort GetUserContactInformation", "GET", "/api/v1/AdminApi/GetUserContactInformation", "nx", None, {"user_id": u0}, True),
        ("NexPort GetCustomProfileFieldValues", "GET", "/api/v1/AdminApi/GetCustomProfileFieldValues", "nx", None, {"user_id": u0}, True),
        ("Roster user stream", "GET", f"/streams/user/{u0}", "ps", None, None, True),
        ("Roster user stream events", "GET", f"/streams/user/{u0}/events", "ps", None, None, True),
        ("Roster group stream", "GET", f"/streams/group/{b['sb_group']}", "ps", None, None, True),
        ("Roster membership", "GET", f"/streams/group/{b['sb_group']}/members/{u1}", "ps", None, {"on": "2100-01-01"}, True),
        ("Roster organization stream", "GET", f"/streams/organization/{b['org_id']}", "ps", None, None, True),
        # Lists and searches: may answer 200, never with B's data.
        ("WorkDrive users", "GET", "/api/users", "wd", None, {"per_page": "100"}, False),
        ("WorkDrive users search", "GET", "/api/users", "wd", None, {"search": b["marker"]}, False),
        ("WorkDrive supervisors", "GET", "/api/users/supervisors", "wd", None, None, False),
        ("WorkDrive departments", "GET", "/api/departments", "wd", None, None, False),
        ("WorkDrive locations", "GET", "/api/locations", "wd", None, None, False),
        ("PortSIP groups", "GET", "/api/groups", "ps", None, None, False),
        ("Publisher groups", "GET", "/api/2/groups", "pub", None, None, False),
        ("Sunbird list by B's user", "POST", "/api/group/v1/list", "sb", {"request": {"filters": {"userId": u1}}}, None, False),
        ("NexPort GetUsers", "GET", "/api/v1/AdminApi/GetUsers", "nx", None, {"org_id": b["org_id"]}, False),
        ("NexPort GetOrganizations", "GET", "/api/v1/AdminApi/GetOrganizations", "nx", None, {"org_id": b["org_id"]}, False),
        ("NexPort SearchDirectory", "GET", "/api/v1/AdminApi/SearchDirectory", "nx", None, {"base_org_id": b["org_id"], "name": b["marker"]}, False),
        ("NexPort GetSubscriptions", "GET", "/api/v1/AdminApi/GetSubscriptions", "nx", None, {"org_id": b["org_id"], "user_id": b["nx_user"]}, False),
        ("Roster events", "GET", "/events", "ps", None, {"limit": "1000"}, False),
        ("Roster events of B's user", "GET", "/events", "ps", None, {"stream_id": u0}, False),
    ]
    if b.get("nx_subscription"):
        probes.append(("NexPort GetSubscription", "GET", "/api/v1/AdminApi/GetSubscription", "nx", None,
                       {"subscription_id": b["nx_subscription"]}, True))
    return probes


def nexport_refused(v):
    """NexPort answers its errors in `api_error_entity` (some with HTTP 200)."""
    return isinstance(v, dict) and (v.get("api_error_entity") or {}).get("error_code", 0) != 0


def check_isolation(api, a, b):
    failures = []
    ids = b_ids(b)
    for label, method, path, dialect, body, query, by_id in isolation_probes(b):
        status, v = api.call(method, path, a["token"], dialect, body, query)
        text = json.dumps(v)
        # An id the request itself carries may be echoed in an error message; anything else of B's is a leak.
        asked = path + json.dumps(query or {}) + json.dumps(body or {})
        leaked = [i for i in ids if i in text and i not in asked]
        if b["marker"] in text:
            leaked.append(f"marker {b['marker']}")
        if leaked:
            failures.append(f"{label}: {method} {path} answered {status} with org B's data ({', '.join(leaked)})")
        elif by_id and 200 <= status < 300 and not nexport_refused(v):
            failures.append(f"{label}: {method} {path} answered {status} to org A's token for org B's object: {text[:300]}")
        elif status >= 500:
            failures.append(f"{label}: {method} {path} answered {status}: {text[:300]}")
    return failures


def check_panics(log_path):
    """Every distinct panic in Roster's log (axum drops the connection of a panicking handler)."""
    try:
        with open(log_path, errors="replace") as f:
            sites = re.findall(r"panicked at ([^\n]*)\n([^\n]*)", f.read())
    except OSError:
        return []
    counts = {}
    for site, message in sites:
        counts[(site, message)] = counts.get((site, message), 0) + 1
    return [f"roster panicked {n} time(s) at {site} {message}" for (site, message), n in sorted(counts.items())]


def psql(database_url, sql):
    out = subprocess.run(["psql", "-X", "-q", "-At", "-v", "ON_ERROR_STOP=1", database_url, "-c", sql],
                         capture_output=True, text=True, check=False)
    if out.returncode != 0:
        raise RuntimeError(out.stderr.strip())
    return [line.split("|") for line in out.stdout.splitlines() if line]


def check_projections(api, database_url):
    """Parked or stopped projections, from the database, /readyz and /metrics."""
    failures = []
    for name, status in psql(database_url, "SELECT name, status FROM projection_checkpoints ORDER BY name"):
        if status != "running":
            failures.append(f"projection {name} is {status}")
    for projection, n, error in psql(database_url,
            "SELECT projection, count(*), left(max(error), 300) FROM projection_failures GROUP BY projection ORDER BY projection"):
        failures.append(f"projection {projection} recorded {n} failing event(s), e.g.: {error}")
    # Parked events (a table of the projection runner, when this build has one): any row counts.
    for (table,) in psql(database_url,
            "SELECT quote_ident(table_schema) || '.' || quote_ident(table_name) FROM information_schema.tables "
            "WHERE table_name LIKE '%parked%' AND table_schema NOT IN ('pg_catalog', 'information_schema')"):
        (n,) = psql(database_url, f"SELECT count(*) FROM {table}")[0]
        if int(n) > 0:
            failures.append(f"{n} parked event(s) in {table}")
    status, v = api.call("GET", "/readyz")
    if status != 200:
        failures.append(f"/readyz answered {status}: {json.dumps(v)[:300]}")
    status, text = api.call("GET", "/metrics")
    if status != 200:
        failures.append(f"/metrics answered {status}")
    else:
        for m in re.finditer(r"^roster_projection_parked_events(\{[^}]*\})?\s+(\S+)$", str(text), re.M):
            if float(m.group(2)) > 0:
                failures.append(f"/metrics: roster_projection_parked_events{m.group(1) or ''} = {m.group(2)}")
    return failures


# Schemathesis' failure codes (`st explain CODE` tells more) of the checks scripts/fuzz enables.
CHECK_CODES = {
    "ST101": "not_a_server_error",
    "ST102": "not_a_server_error",
    "ST103": "status_code_conformance",
    "ST104": "content_type_conformance",
    "ST105": "content_type_conformance",
    "ST106": "content_type_conformance",
    "ST108": "response_schema_conformance",
    "ST201": "negative_data_rejection",
    "ST202": "positive_data_acceptance",
    "ST204": "unsupported_method",
    "ST205": "allow_header_conformance",
}
# A server error is never an accepted deviation, whatever the list says.
SERVER_ERROR_CODES = ("ST101", "ST102")

# The accepted deviations: the table between these markers in docs/api-deviations.md.
DEVIATIONS_FILE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "docs", "api-deviations.md")
DEVIATIONS_BEGIN = "<!-- deviations:begin -->"
DEVIATIONS_END = "<!-- deviations:end -->"
DEVIATION_KINDS = ("accepted", "to fix")


def load_deviations(path=DEVIATIONS_FILE):
    """{(operation, code): (kind, reason)} from the table `| operations | check | kind | reason |`.

    A row gives one reason for one or more operations, each in backticks and named as
    schemathesis names it (`GET /api/users`, or `Stateful tests`), separated by commas; one
    failure code of an enabled check; a kind (accepted, to fix). A malformed row fails the run
    rather than tolerating more than it says."""
    with open(path) as f:
        text = f.read()
    try:
        table = text[text.index(DEVIATIONS_BEGIN) + len(DEVIATIONS_BEGIN):text.index(DEVIATIONS_END)]
    except ValueError:
        raise SystemExit(f"fuzz: {path} has no {DEVIATIONS_BEGIN} ... {DEVIATIONS_END} table")
    deviations = {}
    for n, line in enumerate(table.splitlines(), 1):
        line = line.strip()
        if not line.startswith("|") or re.fullmatch(r"\|[\s:|-]*\|", line):
            continue
        cells = [c.strip() for c in line.strip("|").split("|")]
        if cells[:2] == ["Operations", "Check"]:
            continue
        if len(cells) != 4 or not all(cells):
            raise SystemExit(f"fuzz: {path}: a deviation row needs operations, check, kind and reason: {line}")
        listed, code, kind, reason = cells
        operations = [op.strip() for op in listed.split(",")]
        if not all(re.fullmatch(r"`[^`]+`", op) for op in operations):
            raise SystemExit(f"fuzz: {path}: operations are a comma-separated list of `METHOD /path`: {line}")
        code = code.split()[0]
        if code not in CHECK_CODES or code in SERVER_ERROR_CODES:
            raise SystemExit(f"fuzz: {path}: {code} is not a failure code a deviation may name: {line}")
        if kind not in DEVIATION_KINDS:
            raise SystemExit(f"fuzz: {path}: kind must be one of {DEVIATION_KINDS}: {line}")
        for operation in (op.strip("`") for op in operations):
            if (operation, code) in deviations:
                raise SystemExit(f"fuzz: {path}: {operation} {code} listed twice")
            deviations[(operation, code)] = (kind, reason)
    return deviations


def figures(report, deviations):
    """(lines, failures not listed as deviations) from schemathesis' JSON report."""
    ops = report.get("operations", {})
    cases = report.get("test_cases", {})
    by_check = []
    unlisted = []
    seen = set()
    for f in report.get("failures", []):
        code = f.get("code", "?")
        n_ops = len(f.get("operations") or [])
        tolerated = [op for op in f.get("operations") or [] if (op, code) in deviations and code not in SERVER_ERROR_CODES]
        seen.update((op, code) for op in tolerated)
        by_check.append(f"{CHECK_CODES.get(code, '?')} {f.get('title', '?')} ({code}): {f.get('count', '?')} in {n_ops} "
                        f"operation(s), {len(tolerated)} of them listed in docs/api-deviations.md")
        for op in f.get("operations") or []:
            if op not in tolerated:
                unlisted.append(f"{code} {f.get('title', '?')}: {op}")
    lines = [
        f"schemathesis {report.get('schemathesis_version', '?')}, seed {report.get('seed')}, "
        f"{report.get('running_time', 0):.0f} s, stopped by {report.get('stop_reason', '?')}",
        f"operations: {ops.get('tested', '?')} tested of {ops.get('selected', '?')} selected ({ops.get('errored', 0)} errored)",
        f"cases: {cases.get('generated', '?')} generated, {cases.get('with_failures', 0)} with failures, "
        f"{cases.get('unique_failures', 0)} unique failures, {cases.get('errored', 0)} errored",
        "failures by check: " + ("; ".join(by_check) or "none"),
        f"deviations listed: {len(deviations)} "
        f"({sum(1 for k, _ in deviations.values() if k == 'to fix')} to fix), {len(seen)} seen in this run",
    ]
    for line in unlisted:
        lines.append(f"  not a listed deviation: {line}")
    for e in report.get("errors", []):
        lines.append(f"schemathesis error (not a check failure): {e.get('title', e)} ({e.get('count', 1)})")
    return lines, unlisted


def cmd_check(workdir):
    s = load(workdir, "state.json")
    api = Api(s["api_url"])
    failures = []

    report_path = os.path.join(workdir, "report.json")
    if os.path.exists(report_path):
        with open(report_path) as f:
            report = json.load(f)
        lines, unlisted = figures(report, load_deviations())
        dump(workdir, "figures.json", {"lines": lines})
        for line in lines:
            log(line)
        if unlisted:
            failures.append(f"{len(unlisted)} schemathesis failure(s) that docs/api-deviations.md does not list "
                            "(see its output above; `st explain CODE`)")
        for e in report.get("errors", []):
            # A request without an answer: Roster dropped the connection (a panic) or hung.
            if "network" in str(e.get("title", "")).lower():
                failures.append(f"schemathesis: {e.get('title')} ({e.get('count', 1)}): requests got no answer")
    else:
        failures.append("schemathesis wrote no JSON report (did it run?)")

    failures += check_panics(os.path.join(workdir, "roster.log"))
    leaks = check_isolation(api, s["a"], s["b"])
    failures += leaks
    before, after = load(workdir, "b-before.json"), None
    cmd_snapshot(workdir, "b-after")
    after = load(workdir, "b-after.json")
    for label in before:
        if before[label] != after.get(label):
            failures.append(f"org B's {label} changed during a run with org A's token:\n  before {before[label]}\n  after  {after.get(label)}")
    (n_b,) = psql(s["database_url"], f"SELECT count(*) FROM events WHERE org_id = '{s['b']['org_id']}'::uuid")[0]
    if int(n_b) != int(load(workdir, "b-events-before.json")):
        failures.append(f"org B's event count went from {load(workdir, 'b-events-before.json')} to {n_b} during the run")
    failures += check_projections(api, s["database_url"])

    log(f"tenant isolation: {len(isolation_probes(s['b']))} probes of org B's objects with org A's token, "
        f"{len(leaks)} failed")
    if failures:
        for f in failures:
            log(f"FAILED: {f}")
        sys.exit(1)
    log("passed: no 5xx, no conformance failure but the listed deviations, no parked or stopped projection, nothing of org B readable or changed with org A's token")


def cmd_count_b_events(workdir):
    s = load(workdir, "state.json")
    (n,) = psql(s["database_url"], f"SELECT count(*) FROM events WHERE org_id = '{s['b']['org_id']}'::uuid")[0]
    dump(workdir, "b-events-before.json", int(n))


def main(argv):
    if len(argv) < 3 or argv[1] in ("-h", "--help"):
        print(__doc__, file=sys.stderr)
        return 2
    cmd, workdir = argv[1], argv[2]
    if cmd == "seed":
        cmd_seed(workdir)
    elif cmd == "config":
        cmd_config(workdir)
    elif cmd == "snapshot":
        cmd_snapshot(workdir, argv[3])
        cmd_count_b_events(workdir)
    elif cmd == "check":
        cmd_check(workdir)
    else:
        print(__doc__, file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
