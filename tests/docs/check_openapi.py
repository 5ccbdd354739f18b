#!/usr/bin/python3
"""Fails when docs/openapi.yaml and the daemon's HTTP implementation drift apart.

Sources read (no build needed):
  daemon/src/http/routes/RouteTable.cpp  router.add("METHOD", "/path", scope, makeX(s))
  daemon/src/http/routes/*.cpp           the route file that defines makeX: request fields
                                         (rejectUnknown, FieldReader calls), query parameters,
                                         success statuses, response keys
  daemon/src/http/Json.cpp               sessionJson / eventJson / iceServerJson keys
  daemon/src/**/*.{cpp,h}                every ApiError(<status>, "<CODE>" and
                                         renderError(..., <status>, "<CODE>"

Checks:
  1. every implemented (method, path) is an operation in the spec and vice versa, with
     the same x-required-scope ("none" for public routes; a scope chosen by a config
     setting must name that setting in x-scope-setting), the scope is named in the
     description, and `security` matches (public -> []);
  2. every (status, code) thrown in daemon/src is listed in the spec's x-error-codes under
     that status, every listed (status, code) exists in the code, and the ErrorCode enum
     is exactly the set of codes;
  3. per operation: scoped routes document 401 UNAUTHENTICATED, 403 INSUFFICIENT_SCOPE,
     429 RATE_LIMITED; routes that read a JSON body document 400 MALFORMED_JSON, 413, 415
     and a requestBody; routes that validate document 422 VALIDATION_FAILED; routes that
     look a session up document 404 SESSION_NOT_FOUND; each success status the route can
     send is documented; 429 and 503 error responses document Retry-After;
  4. query parameters read by the route == documented query parameters;
  5. request body members accepted (rejectUnknown lists, also nested host/participants)
     == schema properties; required fields, maxLength, regex patterns and literal enums
     match the schema;
  6. response keys rendered by the route / Json.cpp == schema properties of the documented
     success response.

After the real check passes, the script runs the same checks against a few deliberately
broken copies of the spec and of the route table and fails unless each one is caught, so
the test is known to be able to fail.
"""

import copy
import glob
import os
import re
import sys

import yaml  # Debian: python3-yaml

SOURCE = os.environ.get("CONSULTD_SOURCE_DIR") or os.path.abspath(
    os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))
ROUTES_DIR = os.path.join(SOURCE, "daemon", "src", "http", "routes")
SPEC_PATH = os.path.join(SOURCE, "docs", "openapi.yaml")
METHODS = ("get", "put", "post", "delete", "patch", "head", "options", "trace")


def read(path):
    with open(path, encoding="utf-8") as f:
        return f.read()


# ---- C++ source parsing -----------------------------------------------------------

def cpp_string_literals(text):
    """All string literals in `text`, in order ("..." and R"(...)")."""
    out = []
    for m in re.finditer(r'R"\((.*?)\)"|"((?:[^"\\]|\\.)*)"', text, re.S):
        if m.group(1) is not None:
            out.append(m.group(1))
        else:
            out.append(bytes(m.group(2), "utf-8").decode("unicode_escape"))
    return out


def split_args(text):
    """Splits a C++ argument list at top-level commas (ignores commas in (), {}, strings)."""
    args, depth, cur, i = [], 0, "", 0
    while i < len(text):
        c = text[i]
        if c == '"' or text.startswith('R"(', i):
            if text.startswith('R"(', i):
                end = text.index(')"', i + 3) + 2
            else:
                j = i + 1
                while text[j] != '"':
                    j += 2 if text[j] == "\\" else 1
                end = j + 1
            cur += text[i:end]
            i = end
            continue
        if c in "({[":
            depth += 1
        elif c in ")}]":
            depth -= 1
        if c == "," and depth == 0:
            args.append(cur.strip())
            cur = ""
        else:
            cur += c
        i += 1
    if cur.strip():
        args.append(cur.strip())
    return args


def call_args(text, start):
    """Arguments of the call whose '(' is at text[start]."""
    depth, i = 0, start
    in_str = False
    while i < len(text):
        c = text[i]
        if in_str:
            if c == "\\":
                i += 2
                continue
            if c == '"':
                in_str = False
        elif c == '"':
            in_str = True
        elif c == "(":
            depth += 1
        elif c == ")":
            depth -= 1
            if depth == 0:
                return split_args(text[start + 1:i])
        i += 1
    raise ValueError("unbalanced call at %d" % start)


def function_body(text, signature_regex):
    m = re.search(signature_regex, text)
    if not m:
        return None
    i = text.index("{", m.end())
    depth = 0
    for j in range(i, len(text)):
        if text[j] == "{":
            depth += 1
        elif text[j] == "}":
            depth -= 1
            if depth == 0:
                return text[i:j + 1]
    return None


def parse_route_table(text):
    """[(METHOD, path, scope, scope_setting, factory)] from router.add(...) calls."""
    variables = dict(re.findall(r'const\s+std::string\s+(\w+)\s*=\s*"([^"]*)"\s*;', text))
    routes = []
    for m in re.finditer(r"router\.add\s*\(", text):
        args = call_args(text, m.end() - 1)
        if len(args) != 4:
            raise ValueError("router.add with %d arguments: %s" % (len(args), args))
        method = cpp_string_literals(args[0])[0]
        path = cpp_string_literals(args[1])[0]
        expr = args[2]
        setting = None
        if re.fullmatch(r'"[^"]*"', expr):
            scope = cpp_string_literals(expr)[0]
        elif re.fullmatch(r"\w+", expr):
            if expr not in variables:
                raise ValueError("scope variable %s not found in RouteTable.cpp" % expr)
            scope = variables[expr]
        else:
            t = re.fullmatch(r'(.*?)\?\s*"([^"]*)"\s*:\s*"([^"]*)"', expr, re.S)
            if not t:
                raise ValueError("cannot read the scope expression %r" % expr)
            cond_settings = cpp_string_literals(t.group(1))
            setting = cond_settings[0] if cond_settings else t.group(1).strip()
            scope = t.group(2) or t.group(3)
        factory = re.match(r"(\w+)\s*\(", args[3]).group(1)
        routes.append((method, path, scope or "none", setting, factory))
    return routes


def route_source(factory):
    """The text of the routes/*.cpp file defining `factory`."""
    for path in sorted(glob.glob(os.path.join(ROUTES_DIR, "*.cpp"))):
        text = read(path)
        if re.search(r"std::unique_ptr<Route>\s+%s\s*\(\s*ApiServices" % re.escape(factory), text):
            return os.path.basename(path), text
    raise ValueError("no route file defines %s" % factory)


def thrown_error_codes():
    """{(status, CODE): [file:line, ...]} thrown anywhere in daemon/src."""
    found = {}
    pattern = re.compile(
        r'(?:ApiError\s*\(|renderError\s*\(\s*\w+\s*,\s*\w+\s*,)\s*(\d{3})\s*,\s*"([A-Z][A-Z0-9_]*)"')
    files = glob.glob(os.path.join(SOURCE, "daemon", "src", "**", "*.cpp"), recursive=True)
    files += glob.glob(os.path.join(SOURCE, "daemon", "src", "**", "*.h"), recursive=True)
    for path in sorted(files):
        text = read(path)
        for m in pattern.finditer(text):
            line = text.count("\n", 0, m.start()) + 1
            found.setdefault((m.group(1), m.group(2)), []).append(
                "%s:%d" % (os.path.relpath(path, SOURCE), line))
    return found


class RouteFacts:
    """What one route file says about its request and response."""

    def __init__(self, text, json_cpp, json_h):
        self.text = text
        id_pattern = re.search(r'kIdPattern\s*=\s*"([^"]*)"', json_h).group(1)
        self.queries = set(re.findall(r'request\.query\(\s*"([^"]+)"', text))
        # A helper lambda reading request.query(name): its calls name the parameters.
        for lam in re.finditer(r"auto\s+(\w+)\s*=\s*\[[^\]]*\]\s*\(\s*const char\s*\*\s*(\w+)", text):
            if re.search(r"request\.query\(\s*%s\s*\)" % lam.group(2), text):
                self.queries.update(re.findall(r"\b%s\(\s*\"([^\"]+)\"" % lam.group(1), text))
        self.reads_body = "jsonBody(" in text
        # Raw bytes of any content type (provider webhooks): documented, size-bounded.
        self.reads_raw_body = "rawBody(" in text
        self.body_optional = bool(re.search(r"jsonBody\(\s*true\s*\)", text))
        self.validates = "FieldReader" in text or "VALIDATION_FAILED" in text
        self.looks_up_session = bool(re.search(r"sessions\.(get|start|end|cancel|issueGrant|addEvent|analytics)\(", text))
        self.statuses = set()
        for m in re.finditer(r"response\.(?:json|text)\(", text):
            first = call_args(text, m.end() - 1)[0]
            self.statuses.update(re.findall(r"\b([1-5]\d\d)\b", first))
        # Response keys set on the top-level object (out / out.set), and json helpers used.
        self.response_keys = set(re.findall(r'\bout(?:\.|->)set\(\s*"([^"]+)"', text))
        self.returns_session = bool(re.search(r"response\.json\([^;]*\*sessionJson\(", text))
        self.returns_event = bool(re.search(r"response\.json\([^;]*\*eventJson\(", text))
        # Request fields per reader: reader var -> (schema path, known names)
        self.readers = {"in": ()}
        for m in re.finditer(r"FieldReader\s+(\w+)\s*=\s*in\.nested\(\s*\w+\s*,\s*([^)]*)\)", text):
            var, prefix = m.group(1), m.group(2).strip()
            lits = cpp_string_literals(prefix)
            if lits:
                name = re.match(r"[a-z_]+", lits[0]).group(0)
                self.readers[var] = (name,)
            else:
                decl = re.search(r"std::string\s+%s\s*=\s*\"([a-z_]+)\[" % re.escape(prefix), text)
                if not decl:
                    raise ValueError("cannot tell which field reader %s reads" % var)
                self.readers[var] = (decl.group(1), "[]")
        self.known = {}
        for var in self.readers:
            for m in re.finditer(r"\b%s\.rejectUnknown\(\s*\{([^}]*)\}" % re.escape(var), text):
                self.known.setdefault(var, set()).update(cpp_string_literals(m.group(1)))
        # Field rules: (reader, field) -> {"required", "maxLength", "pattern", "enum"}
        self.rules = {}
        for var in self.readers:
            for m in re.finditer(r"\b%s\.(string|oneOf|object|array|boolean|time|integer)\(" % re.escape(var), text):
                kind = m.group(1)
                args = call_args(text, m.end() - 1)
                name_lits = cpp_string_literals(args[0])
                if not name_lits:
                    continue
                rule = self.rules.setdefault((var, name_lits[0]), {})
                if kind == "string":
                    rule["required"] = len(args) > 1 and args[1] == "true"
                    if len(args) > 2 and args[2].isdigit():
                        rule["maxLength"] = int(args[2])
                    if len(args) > 3:
                        if args[3] == "kIdPattern":
                            rule["pattern"] = id_pattern
                        else:
                            lits = cpp_string_literals(args[3])
                            if lits and lits[0]:
                                rule["pattern"] = lits[0]
                elif kind == "oneOf":
                    rule["required"] = len(args) > 2 and args[2] == "true"
                    if args[1].startswith("{"):
                        rule["enum"] = cpp_string_literals(args[1])
                elif kind == "object":
                    rule["required"] = len(args) > 1 and args[1] == "true"
                else:
                    rule.setdefault("required", False)


# ---- spec helpers ---------------------------------------------------------------------

class Spec:
    def __init__(self, doc):
        self.doc = doc

    def resolve(self, node):
        seen = 0
        while isinstance(node, dict) and "$ref" in node:
            ref = node["$ref"]
            if not ref.startswith("#/"):
                raise ValueError("only local $ref supported: %s" % ref)
            target = self.doc
            for part in ref[2:].split("/"):
                target = target[part]
            node = target
            seen += 1
            if seen > 20:
                raise ValueError("$ref loop at %s" % ref)
        return node

    def schema_props(self, schema):
        """Properties of a schema, following $ref and allOf."""
        schema = self.resolve(schema)
        props = dict(schema.get("properties", {}))
        for part in schema.get("allOf", []):
            props.update(self.schema_props(part))
        return props

    def schema_required(self, schema):
        schema = self.resolve(schema)
        req = set(schema.get("required", []))
        for part in schema.get("allOf", []):
            req |= self.schema_required(part)
        return req

    def flat(self, schema):
        """A property schema with $ref/allOf merged into one dict."""
        schema = self.resolve(schema)
        out = {}
        for part in schema.get("allOf", []):
            out.update(self.flat(part))
        out.update({k: v for k, v in schema.items() if k != "allOf"})
        return out

    def operations(self):
        for path, item in (self.doc.get("paths") or {}).items():
            for method, op in item.items():
                if method in METHODS:
                    yield path, method.upper(), op, item

    def error_pairs(self):
        """{(status, CODE): [where]} from every operation response and x-unmatched-route-errors."""
        pairs = {}
        def add(status, response, where):
            response = self.resolve(response)
            for code in response.get("x-error-codes", []) or []:
                pairs.setdefault((str(status), code), []).append(where)
        for path, method, op, _ in self.operations():
            for status, response in (op.get("responses") or {}).items():
                add(status, response, "%s %s" % (method, path))
        for status, response in (self.doc.get("x-unmatched-route-errors") or {}).items():
            add(status, response, "x-unmatched-route-errors")
        return pairs


def op_codes(spec, op, status):
    response = (op.get("responses") or {}).get(str(status))
    if response is None:
        return None
    return set(spec.resolve(response).get("x-error-codes", []) or [])


# ---- the check ------------------------------------------------------------------------

def check(spec_doc, route_table_text):
    problems = []
    spec = Spec(spec_doc)
    json_cpp = read(os.path.join(SOURCE, "daemon", "src", "http", "Json.cpp"))
    json_h = read(os.path.join(SOURCE, "daemon", "src", "http", "Json.h"))

    routes = parse_route_table(route_table_text)
    if len(routes) < 5:
        problems.append("RouteTable.cpp: only %d router.add(...) lines parsed" % len(routes))
    implemented = {(m, p): (scope, setting, factory) for m, p, scope, setting, factory in routes}
    documented = {(m, p): op for p, m, op, _ in spec.operations()}

    # 1. routes and scopes
    for key in sorted(implemented):
        if key not in documented:
            problems.append("%s %s is implemented (RouteTable.cpp) but not in docs/openapi.yaml" % key)
    for key in sorted(documented):
        if key not in implemented:
            problems.append("%s %s is in docs/openapi.yaml but not implemented in RouteTable.cpp" % key)
    for key in sorted(set(implemented) & set(documented)):
        scope, setting, _ = implemented[key]
        op = documented[key]
        where = "%s %s" % key
        got = op.get("x-required-scope")
        if got != scope:
            problems.append("%s: x-required-scope is %r, RouteTable.cpp requires %r" % (where, got, scope))
        if setting and op.get("x-scope-setting") != setting:
            problems.append("%s: the scope depends on %s; x-scope-setting is %r" % (where, setting, op.get("x-scope-setting")))
        if not setting and op.get("x-scope-setting"):
            problems.append("%s: x-scope-setting documented but RouteTable.cpp has a fixed scope" % where)
        security = op.get("security", spec_doc.get("security"))
        if scope == "none":
            if security not in ([], [{}]):
                problems.append("%s: public route must have `security: []`" % where)
        else:
            if not security or not any("bearerAuth" in s for s in security):
                problems.append("%s: needs bearerAuth security" % where)
            if "`%s`" % scope not in (op.get("description") or ""):
                problems.append("%s: description must name the scope `%s`" % (where, scope))

    # 2. error codes
    thrown = thrown_error_codes()
    listed = spec.error_pairs()
    if len(thrown) < 5:
        problems.append("only %d ApiError(...) codes found in daemon/src: the grep is broken" % len(thrown))
    for (status, code), places in sorted(thrown.items()):
        if (status, code) not in listed:
            problems.append("error %s %s (thrown at %s) is not listed in docs/openapi.yaml under status %s"
                            % (status, code, ", ".join(places), status))
    for (status, code), places in sorted(listed.items()):
        if (status, code) not in thrown:
            problems.append("docs/openapi.yaml lists error %s %s (%s), but daemon/src never returns it with that status"
                            % (status, code, places[0]))
    enum = set(spec.resolve({"$ref": "#/components/schemas/ErrorCode"}).get("enum", []))
    codes = {code for _, code in thrown}
    for code in sorted(codes - enum):
        problems.append("ErrorCode enum lacks %s" % code)
    for code in sorted(enum - codes):
        problems.append("ErrorCode enum has %s, which daemon/src never returns" % code)

    # 3-6. per operation, from the route file
    session_schema = {"$ref": "#/components/schemas/Session"}
    event_schema = {"$ref": "#/components/schemas/Event"}
    for key in sorted(set(implemented) & set(documented)):
        scope, _, factory = implemented[key]
        op = documented[key]
        where = "%s %s" % key
        try:
            filename, text = route_source(factory)
        except ValueError as e:
            problems.append("%s: %s" % (where, e))
            continue
        facts = RouteFacts(text, json_cpp, json_h)
        responses = {str(k): v for k, v in (op.get("responses") or {}).items()}

        def need(status, code, why):
            codes_here = op_codes(spec, op, status)
            if codes_here is None or code not in codes_here:
                problems.append("%s: must document %s %s (%s)" % (where, status, code, why))

        if scope != "none":
            need(401, "UNAUTHENTICATED", "route needs an API key")
            need(403, "INSUFFICIENT_SCOPE", "route needs a scope")
            need(429, "RATE_LIMITED", "API key rate limit")
        if facts.reads_body:
            need(400, "MALFORMED_JSON", filename + " reads a JSON body")
            need(413, "PAYLOAD_TOO_LARGE", filename + " reads a JSON body")
            need(415, "UNSUPPORTED_MEDIA_TYPE", filename + " reads a JSON body")
            body = op.get("requestBody")
            if not body:
                problems.append("%s: %s reads a JSON body but no requestBody is documented" % (where, filename))
            elif bool(spec.resolve(body).get("required")) == facts.body_optional:
                problems.append("%s: requestBody.required should be %s" % (where, not facts.body_optional))
        elif facts.reads_raw_body:
            need(413, "PAYLOAD_TOO_LARGE", filename + " reads a raw body")
            if not op.get("requestBody"):
                problems.append("%s: %s reads a raw body but no requestBody is documented" % (where, filename))
        elif op.get("requestBody"):
            problems.append("%s: requestBody documented but %s reads no body" % (where, filename))
        if facts.validates:
            need(422, "VALIDATION_FAILED", filename + " validates its input")
        if facts.looks_up_session:
            need(404, "SESSION_NOT_FOUND", filename + " looks the session up")
        for status in sorted(facts.statuses):
            if status not in responses:
                problems.append("%s: %s can answer %s, not documented" % (where, filename, status))
        for status, response in responses.items():
            r = spec.resolve(response)
            if status[0] in "23" and status not in facts.statuses:
                problems.append("%s: documents %s, which %s never sends" % (where, status, filename))
            if r.get("x-error-codes") and status in ("429", "503") and "Retry-After" not in (r.get("headers") or {}):
                problems.append("%s: %s error response must document the Retry-After header" % (where, status))
            if r.get("x-error-codes") and "X-Request-Id" not in (r.get("headers") or {}):
                problems.append("%s: %s response must document X-Request-Id" % (where, status))
        if "201" in responses and key == ("POST", "/api/v1/sessions"):
            for status in ("200", "201"):
                if "Location" not in (spec.resolve(responses.get(status, {})).get("headers") or {}):
                    problems.append("%s: %s must document the Location header" % (where, status))

        # 4. query parameters
        params = {}
        for p in list(op.get("parameters") or []) + list(documented_path_params(spec, key[1])):
            p = spec.resolve(p)
            params.setdefault(p["in"], set()).add(p["name"])
        doc_queries = params.get("query", set())
        for q in sorted(facts.queries - doc_queries):
            problems.append("%s: query parameter %s is read by %s but not documented" % (where, q, filename))
        for q in sorted(doc_queries - facts.queries):
            problems.append("%s: query parameter %s is documented but %s never reads it" % (where, q, filename))

        # 5. request body fields
        if facts.reads_body and op.get("requestBody"):
            body_schema = spec.resolve(op["requestBody"])["content"]["application/json"]["schema"]
            for var, schema_path in facts.readers.items():
                schema = body_schema
                ok = True
                for step in schema_path:
                    if step == "[]":
                        schema = spec.flat(schema).get("items")
                    else:
                        schema = spec.schema_props(schema).get(step)
                    if schema is None:
                        problems.append("%s: request schema lacks %s" % (where, ".".join(schema_path)))
                        ok = False
                        break
                if not ok:
                    continue
                label = ".".join(s for s in schema_path if s != "[]") or "body"
                props = spec.schema_props(schema)
                known = facts.known.get(var)
                if known is not None:
                    if spec.flat(schema).get("additionalProperties", True) is not False:
                        problems.append("%s: %s rejects unknown members; schema %s needs additionalProperties: false"
                                        % (where, filename, label))
                    for name in sorted(known - set(props)):
                        problems.append("%s: %s accepts %s.%s, not in the request schema" % (where, filename, label, name))
                    for name in sorted(set(props) - known):
                        problems.append("%s: request schema has %s.%s, which %s rejects" % (where, label, name, filename))
                required = {f for (v, f), rule in facts.rules.items() if v == var and rule.get("required")}
                doc_required = spec.schema_required(schema)
                if required != doc_required:
                    problems.append("%s: required members of %s are %s in %s, %s in the spec"
                                    % (where, label, sorted(required), filename, sorted(doc_required)))
                for (v, field), rule in sorted(facts.rules.items()):
                    if v != var or field not in props:
                        continue
                    prop = spec.flat(props[field])
                    if "maxLength" in rule and prop.get("maxLength") != rule["maxLength"]:
                        problems.append("%s: %s.%s maxLength is %s in %s, %s in the spec"
                                        % (where, label, field, rule["maxLength"], filename, prop.get("maxLength")))
                    if "pattern" in rule and prop.get("pattern") != "^%s$" % rule["pattern"]:
                        problems.append("%s: %s.%s pattern is ^%s$ in %s, %s in the spec"
                                        % (where, label, field, rule["pattern"], filename, prop.get("pattern")))
                    if "enum" in rule and list(prop.get("enum") or []) != rule["enum"]:
                        problems.append("%s: %s.%s enum is %s in %s, %s in the spec"
                                        % (where, label, field, rule["enum"], filename, prop.get("enum")))

        # 6. response keys
        success = [s for s in responses if s[0] == "2"]
        for status in success:
            content = (spec.resolve(responses[status]).get("content") or {})
            media = content.get("application/json")
            if media is None:
                continue
            schema = media.get("schema", {})
            if facts.returns_session or facts.returns_event:
                want = session_schema if facts.returns_session else event_schema
                if schema != want:
                    problems.append("%s: %s response must be %s" % (where, status, want["$ref"]))
            elif facts.response_keys:
                props = set(spec.schema_props(schema))
                if props != facts.response_keys:
                    problems.append("%s: %s response keys are %s in %s, %s in the spec"
                                    % (where, status, sorted(facts.response_keys), filename, sorted(props)))

    # Json.cpp renderers
    renderers = [
        (r"Poco::JSON::Object::Ptr\s+sessionJson\s*\(", "out", "Session"),
        (r"Poco::JSON::Object::Ptr\s+sessionJson\s*\(", "item", "Participant"),
        (r"Poco::JSON::Object::Ptr\s+sessionJson\s*\(", "host", "Host"),
        (r"Poco::JSON::Object::Ptr\s+eventJson\s*\(", "out", "Event"),
        (r"Poco::JSON::Object::Ptr\s+iceServerJson\s*\(", "out", "IceServer"),
    ]
    for signature, var, schema_name in renderers:
        body = function_body(json_cpp, signature)
        if body is None:
            problems.append("Json.cpp: %s not found" % signature)
            continue
        keys = set(re.findall(r"\b%s->set\(\s*\"([^\"]+)\"" % var, body))
        props = set(spec.schema_props({"$ref": "#/components/schemas/" + schema_name}))
        if keys != props:
            problems.append("Json.cpp renders %s with %s; the spec's %s has %s"
                            % (schema_name, sorted(keys), schema_name, sorted(props)))
    m = re.search(r'encodeCursor\(std::int64_t seq\)\s*\{\s*return\s+"(\w)"', json_cpp)
    cursor = spec.schema_props({"$ref": "#/components/schemas/SessionList"}).get("next_cursor", {})
    if not m or not str(cursor.get("pattern", "")).startswith("^" + m.group(1)):
        problems.append("Json.cpp cursor prefix and SessionList.next_cursor pattern disagree")
    return problems


def documented_path_params(spec, path):
    item = (spec.doc.get("paths") or {}).get(path) or {}
    return item.get("parameters") or []


# ---- self-test: the check must catch these ----------------------------------------------

def mutations(spec_doc, table):
    def drop_path(d):
        d["paths"].pop("/api/v1/sessions/{id}/end")
    def change_scope(d):
        d["paths"]["/api/v1/providers"]["get"]["x-required-scope"] = "sessions:write"
    def drop_code(d):
        # A code listed in one response only (PROVIDER_UNAVAILABLE is listed for several operations).
        d["components"]["responses"]["RangeNotSatisfiable"]["x-error-codes"] = ["BAD_REQUEST"]
    def extra_path(d):
        d["paths"]["/api/v1/recordings/{id}/export"] = {"get": copy.deepcopy(d["paths"]["/api/v1/providers"]["get"])}
    def wrong_length(d):
        d["components"]["schemas"]["CreateSessionRequest"]["properties"]["consultation_id"]["maxLength"] = 256
    def drop_field(d):
        d["components"]["schemas"]["PostEventRequest"]["properties"].pop("idempotency_key")
    def drop_response_key(d):
        d["components"]["schemas"]["Grant"]["properties"].pop("join_url")
    yield "path removed from the spec", drop_path, table
    yield "scope changed in the spec", change_scope, table
    yield "error code removed from the spec", drop_code, table
    yield "unimplemented path in the spec", extra_path, table
    yield "maxLength changed in the spec", wrong_length, table
    yield "request field removed from the spec", drop_field, table
    yield "response key removed from the spec", drop_response_key, table
    yield "route added to the code", None, table.replace(
        'router.add("GET", "/api/v1/providers"',
        'router.add("DELETE", "/api/v1/providers", write, makeListProviders(s));\n    router.add("GET", "/api/v1/providers"')
    yield "scope changed in the code", None, table.replace(
        'router.add("GET", "/api/v1/sessions", read', 'router.add("GET", "/api/v1/sessions", write')


def main():
    table = read(os.path.join(ROUTES_DIR, "RouteTable.cpp"))
    with open(SPEC_PATH, encoding="utf-8") as f:
        spec_doc = yaml.safe_load(f)
    problems = check(spec_doc, table)
    if problems:
        print("docs/openapi.yaml does not match the implementation (%d problems):" % len(problems))
        for p in problems:
            print("  - " + p)
        return 1
    ops = sum(1 for _ in Spec(spec_doc).operations())
    print("docs/openapi.yaml matches the implementation: %d operations, %d error codes"
          % (ops, len(thrown_error_codes())))

    failed = False
    for name, mutate, mutated_table in mutations(spec_doc, table):
        doc = copy.deepcopy(spec_doc)
        if mutate:
            mutate(doc)
        found = check(doc, mutated_table)
        if found:
            print("self-test ok: %s -> %s" % (name, found[0]))
        else:
            print("SELF-TEST FAILED: %s was not detected" % name)
            failed = True
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
