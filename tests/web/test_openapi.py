"""docs/openapi.yaml against the application and a live server.

Four kinds of check keep the document honest:

- it is well formed: OpenAPI 3.1, every ``$ref`` resolves, every schema is a valid JSON Schema
  (2020-12), path templates and path parameters agree, every component is used;
- it lists exactly the routes the aiohttp application registers (the WebSocket endpoint is
  documented in docs/protocol.md and only mentioned here), the error codes of
  ``protocol.errors.ErrorCode`` and the request bodies of ``protocol.http``;
- every documented operation runs against a live server (SQLite and PostgreSQL): the answer's
  status must be documented for the operation and its body must match the schema documented for
  that status; requests the server accepts must match the documented request schemas;
- every documented status of every operation is seen at least once, except the few listed in
  ``UNEXERCISED`` with the reason.
"""

from __future__ import annotations

import asyncio
import io
import json
import re
import urllib.error
import urllib.request
import zipfile
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from email.message import Message
from functools import cache, partial
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlencode

import pytest
import yaml
from jsonschema import Draft202012Validator
from jsonschema.exceptions import SchemaError
from pydantic import BaseModel
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

from protocol import http as bodies
from protocol.errors import ErrorCode
from server.config import Settings
from server.ledger.checkpoint import open_checkpoint, parse_verifier_key
from server.ledger.merkle import (
    Frontier,
    append_leaves,
    root_from_frontier,
    root_from_leaf_hashes,
    verify_consistency,
    verify_inclusion,
)
from server.web.app import init_app
from tests.support import databases
from tests.support.live import LiveRoom, LiveServer
from tests.web.openapi_browser import exercise_browser

ROOT = Path(__file__).resolve().parents[2]
SPEC_PATH = ROOT / "docs" / "openapi.yaml"
SPEC_URI = "urn:parley:openapi"
HTTP_METHODS = ("get", "put", "post", "delete", "options", "head", "patch", "trace")
JSON = "application/json"
OTHER_MEDIA = {"text/plain", "application/zip", "text/markdown", "text/html"}
"""Media types a success may have instead of JSON: the verifier key, a zipped export and the
agreement's documents."""

NOT_IN_PATHS = {
    ("GET", "/api/v1/ws"): "the WebSocket endpoint, documented in docs/protocol.md",
    ("GET", "/api/v1/browser/ws"): "the browser's WebSocket, documented in docs/web.md",
    ("GET", "/"): "the browser client's page (docs/web.md)",
    ("GET", "/join"): "the browser client's page, opened by invite links",
    ("GET", "/organise"): "the browser client's page, opened by organiser links",
    ("GET", "/web/{path}"): "the browser client's scripts, styles and vendored libraries",
}
"""Routes of the application the document mentions in its description instead of its paths."""

REQUEST_MODELS: dict[str, type[BaseModel]] = {
    "redeemInvite": bodies.RedeemInvite,
    "openBackchannel": bodies.OpenBackchannelBody,
    "acceptBackchannel": bodies.AcceptBackchannelBody,
    "declineBackchannel": bodies.DeclineBackchannelBody,
    "discloseThread": bodies.DiscloseThreadBody,
    "postMessage": bodies.PostMessageBody,
    "runCommand": bodies.CommandBody,
    "joinBrowser": bodies.RedeemInvite,
    "switchRoom": bodies.SwitchRoomBody,
    "startOrganiserSession": bodies.OrganiserSessionBody,
    "createRoom": bodies.CreateRoomBody,
}
"""The pydantic model that validates each operation's request body."""

WRITES = (
    "rotateInvite",
    "revokeInvite",
    "openBackchannel",
    "acceptBackchannel",
    "declineBackchannel",
    "discloseThread",
    "postMessage",
    "runCommand",
)
UNEXERCISED: dict[tuple[str, int], str] = {
    **{(op, 503): "the log writer closes only while the server shuts down" for op in WRITES},
    ("getHealth", 503): "needs an unreachable database: test_health_without_database",
    **{
        (op, 429): "needs a flood from one address: tests/web/test_edge_limits.py"
        for op in ("redeemInvite", "joinBrowser", "startOrganiserSession")
    },
    ("openBackchannel", 409): "only when the room keeps changing under five retries in a row",
    **{
        (op, 409): "needs the log rewritten behind the server's back: tests/web/test_ledger_api.py"
        for op in ("signCheckpoint", "exportView")
    },
}
"""Documented statuses the live test does not provoke, and why."""

SECURITY_HEADERS = (
    "Content-Security-Policy",
    "X-Content-Type-Options",
    "Referrer-Policy",
    "X-Frame-Options",
    "Cross-Origin-Opener-Policy",
)
BIG_BODY = 260 * 1024
"""Above the server's 256 KiB request limit."""


# -- the document ------------------------------------------------------------------------


@cache
def spec() -> dict[str, Any]:
    loaded = yaml.safe_load(SPEC_PATH.read_text(encoding="utf-8"))
    assert isinstance(loaded, dict)
    return loaded


def escape(token: str) -> str:
    return token.replace("~", "~0").replace("/", "~1")


def pointer_get(document: Any, pointer: str) -> Any:
    node = document
    for raw in pointer.lstrip("/").split("/") if pointer else []:
        token = raw.replace("~1", "/").replace("~0", "~")
        node = node[int(token)] if isinstance(node, list) else node[token]
    return node


def deref(node: dict[str, Any], pointer: str) -> tuple[dict[str, Any], str]:
    """Follow a Reference Object (response, parameter, ...) to its target and its pointer."""
    while "$ref" in node:
        ref = node["$ref"]
        assert ref.startswith("#/"), ref
        pointer = ref[1:]
        node = pointer_get(spec(), pointer)
    return node, pointer


@dataclass(frozen=True)
class Operation:
    id: str
    method: str
    path: str
    pointer: str
    node: dict[str, Any]

    def parameters(self) -> dict[tuple[str, str], tuple[dict[str, Any], str]]:
        """(in, name) -> (parameter object, its pointer), path-level ones included."""
        path_pointer = self.pointer.rsplit("/", 1)[0]
        out = {}
        for where, owner in (
            (path_pointer, pointer_get(spec(), path_pointer)),
            (self.pointer, self.node),
        ):
            for i, raw in enumerate(owner.get("parameters", [])):
                param, pointer = deref(raw, f"{where}/parameters/{i}")
                out[(param["in"], param["name"])] = (param, pointer)
        return out

    def response(self, status: int) -> tuple[dict[str, Any], str] | None:
        raw = self.node["responses"].get(str(status))
        if raw is None:
            return None
        return deref(raw, f"{self.pointer}/responses/{status}")

    def statuses(self) -> set[int]:
        return {int(s) for s in self.node["responses"]}

    def body_pointer(self) -> str | None:
        if "requestBody" not in self.node:
            return None
        body, pointer = deref(self.node["requestBody"], f"{self.pointer}/requestBody")
        assert JSON in body["content"], self.id
        return f"{pointer}/content/{escape(JSON)}/schema"


@cache
def operations() -> dict[str, Operation]:
    out = {}
    for path, item in spec()["paths"].items():
        for method in HTTP_METHODS:
            if method in item:
                node = item[method]
                pointer = f"/paths/{escape(path)}/{method}"
                op = Operation(node["operationId"], method.upper(), path, pointer, node)
                assert op.id not in out, f"operationId {op.id} is used twice"
                out[op.id] = op
    return out


@cache
def registry() -> Registry[Any]:
    resource: Resource[Any] = Resource.from_contents(spec(), default_specification=DRAFT202012)
    documents: Registry[Any] = Registry().with_resource(SPEC_URI, resource)
    return documents


@cache
def validator(pointer: str) -> Draft202012Validator:
    """A validator for the schema at ``pointer`` in the document, its references resolved."""
    return Draft202012Validator({"$ref": f"{SPEC_URI}#{pointer}"}, registry=registry())


def schema_errors(pointer: str, instance: Any) -> list[str]:
    return [
        f"{'/'.join(map(str, e.absolute_path)) or '(root)'}: {e.message}"
        for e in validator(pointer).iter_errors(instance)
    ]


def walk(node: Any, pointer: str = "") -> Iterator[tuple[str, Any]]:
    yield pointer, node
    if isinstance(node, dict):
        for key, value in node.items():
            yield from walk(value, f"{pointer}/{escape(str(key))}")
    elif isinstance(node, list):
        for i, value in enumerate(node):
            yield from walk(value, f"{pointer}/{i}")


def refs() -> Iterator[tuple[str, str]]:
    for pointer, node in walk(spec()):
        if isinstance(node, dict) and isinstance(node.get("$ref"), str):
            yield pointer, node["$ref"]


def schemas() -> Iterator[tuple[str, dict[str, Any]]]:
    """Every Schema Object the document holds outside other schemas."""
    for name, schema in spec()["components"]["schemas"].items():
        yield f"/components/schemas/{name}", schema
    for pointer, node in walk(spec()):
        if pointer.startswith("/components/schemas/") or not isinstance(node, dict):
            continue
        schema = node.get("schema")
        if isinstance(schema, dict):
            yield f"{pointer}/schema", schema


# -- the document on its own -------------------------------------------------------------


def test_document_is_openapi_3_1() -> None:
    doc = spec()
    assert doc["openapi"].startswith("3.1."), doc["openapi"]
    assert doc["jsonSchemaDialect"] == "https://json-schema.org/draft/2020-12/schema"
    assert doc["info"]["title"] and doc["info"]["version"]
    schemes = {"bearerAuth", "cookieAuth", "seatsCookie", "organiserCookie"}
    assert set(doc["components"]["securitySchemes"]) == schemes
    assert doc["components"]["securitySchemes"]["cookieAuth"]["name"] == "parley_session"
    for op in operations().values():
        assert op.node.get("summary"), f"{op.id} has no summary"
        assert op.node["responses"], f"{op.id} documents no response"
        for status in op.node["responses"]:
            assert re.fullmatch(r"[1-5][0-9][0-9]", status), f"{op.id}: status {status!r}"
        for requirement in op.node.get("security", doc["security"]):
            assert set(requirement) <= set(doc["components"]["securitySchemes"]), op.id


def test_every_reference_resolves_and_every_component_is_used() -> None:
    used = set()
    for where, ref in refs():
        assert ref.startswith("#/"), f"{where}: only local references ({ref})"
        try:
            pointer_get(spec(), ref[1:])
        except (KeyError, IndexError, ValueError):
            pytest.fail(f"{where}: {ref} does not resolve")
        used.add(ref)
    for kind in ("schemas", "responses", "parameters"):
        for name in spec()["components"][kind]:
            assert f"#/components/{kind}/{name}" in used, f"components/{kind}/{name} is unused"


def test_every_schema_is_valid_json_schema() -> None:
    seen = 0
    for pointer, schema in schemas():
        try:
            Draft202012Validator.check_schema(schema)
        except SchemaError as exc:
            pytest.fail(f"{pointer}: {exc.message}")
        seen += 1
    assert seen > 20


def test_path_parameters_match_path_templates() -> None:
    for op in operations().values():
        declared = {name for (where, name) in op.parameters() if where == "path"}
        assert declared == set(re.findall(r"{([^}]+)}", op.path)), op.id
        for (where, name), (param, _) in op.parameters().items():
            assert param.get("schema"), f"{op.id}: parameter {name} has no schema"
            if where == "path":
                assert param.get("required") is True, f"{op.id}: path parameter {name}"


def test_operations_document_their_error_statuses() -> None:
    """Authenticated operations can answer 401, operations with a body 400 and 413."""
    for op in operations().values():
        statuses = op.statuses()
        assert any(200 <= s < 300 for s in statuses), op.id
        if op.node.get("security", spec()["security"]):
            assert 401 in statuses, f"{op.id} is authenticated but documents no 401"
            if "{room}" in op.path:
                assert 404 in statuses, f"{op.id} names a room but documents no 404"
            if op.method == "POST":
                assert 403 in statuses, f"{op.id}: cookie requests without Origin answer 403"
        if op.body_pointer() is not None:
            assert {400, 413} <= statuses, f"{op.id} takes a body: 400 and 413"
        for status in statuses:
            response, pointer = op.response(status) or ({}, "")
            assert response.get("description"), f"{op.id} {status} has no description"
            media = set(response.get("content", {}))
            assert media <= {JSON} | OTHER_MEDIA, f"{op.id} {status}: media types {media}"
            if status >= 400 or not media & OTHER_MEDIA:
                assert JSON in media, f"{op.id} {status} has no JSON body"
            if status >= 400:
                # Every error body is the shared Error schema, or narrows it.
                schema = pointer_get(spec(), f"{pointer}/content/{escape(JSON)}/schema")
                error = {"$ref": "#/components/schemas/Error"}
                narrowed = resolved(schema).get("allOf", [None])[0]
                assert error in (schema, narrowed), f"{op.id} {status}: not the Error schema"


# -- the document against the code -------------------------------------------------------


def app_routes(tmp_path: Path) -> set[tuple[str, str]]:
    settings = Settings(data_dir=tmp_path, database_url=f"sqlite+aiosqlite:///{tmp_path}/x.db")
    app = init_app(settings)
    routes = {(r.method, r.resource.canonical) for r in app.router.routes() if r.resource}
    gets = {path for method, path in routes if method == "GET"}
    heads = {path for method, path in routes if method == "HEAD"}
    assert heads <= gets, "HEAD is documented as implied by GET only"
    return {(method, path) for method, path in routes if method != "HEAD"}


def test_document_lists_every_route_of_the_application(tmp_path: Path) -> None:
    routes = app_routes(tmp_path)
    documented = {(op.method, op.path) for op in operations().values()}
    assert routes - set(NOT_IN_PATHS) - documented == set(), "routes missing from the document"
    assert documented - routes == set(), "documented routes the application does not have"
    for (method, path), why in NOT_IN_PATHS.items():
        assert (method, path) in routes, f"{method} {path} ({why}) is gone: update NOT_IN_PATHS"
        assert f"{method} {path}" in spec()["info"]["description"], f"mention {path}"


def test_error_codes_are_the_protocols() -> None:
    enum = spec()["components"]["schemas"]["ErrorCode"]["enum"]
    assert enum == [code.value for code in ErrorCode]


def resolved(schema: dict[str, Any]) -> dict[str, Any]:
    """``schema`` with its own ``$ref`` (not those of its subschemas) merged in."""
    while "$ref" in schema:
        target = pointer_get(spec(), schema["$ref"][1:])
        schema = {**target, **{k: v for k, v in schema.items() if k != "$ref"}}
    return schema


CONSTRAINTS = ("type", "pattern", "minLength", "maxLength", "minItems", "maxItems", "enum")


def assert_covers(documented: dict[str, Any], model: dict[str, Any], where: str) -> None:
    """Every constraint pydantic enforces is documented (the document may say more)."""
    documented = resolved(documented)
    if "const" in model:
        model = {**{k: v for k, v in model.items() if k != "const"}, "enum": [model["const"]]}
    for key in CONSTRAINTS:
        if key in model:
            assert documented.get(key) == model[key], f"{where}: {key}"
    if "default" in model:
        assert documented.get("default") == model["default"], f"{where}: default"
    if "items" in model:
        assert_covers(documented["items"], model["items"], f"{where}[]")
    if "properties" in model:
        assert documented.get("additionalProperties") is False, f"{where}: extra fields"
        assert set(documented["properties"]) == set(model["properties"]), where
        assert set(documented.get("required", [])) == set(model.get("required", [])), where
        for name, sub in model["properties"].items():
            assert_covers(documented["properties"][name], sub, f"{where}.{name}")


def test_request_bodies_are_the_protocols() -> None:
    with_body = {op.id for op in operations().values() if "requestBody" in op.node}
    assert with_body == set(REQUEST_MODELS)
    for op_id, model in REQUEST_MODELS.items():
        pointer = operations()[op_id].body_pointer()
        assert pointer is not None
        assert_covers(pointer_get(spec(), pointer), model.model_json_schema(), op_id)


# -- the document against a live server --------------------------------------------------


@dataclass(frozen=True)
class Answer:
    status: int
    headers: Message
    body: Any


def send(method: str, url: str, data: bytes | None, headers: Mapping[str, str]) -> Answer:
    request = urllib.request.Request(url, data=data, method=method, headers=dict(headers))
    try:
        with urllib.request.urlopen(request, timeout=15) as response:
            status, head, raw = response.status, response.headers, response.read()
    except urllib.error.HTTPError as exc:
        try:
            status, head, raw = exc.code, exc.headers, exc.read()
        finally:
            exc.close()
    if head.get_content_type() != JSON:
        return Answer(status, head, raw)  # the verifier key (text) or an export (zip)
    return Answer(status, head, json.loads(raw) if raw else None)


def query_value(raw: str) -> object:
    """A query string value as the schema sees it: digits are an integer."""
    return int(raw) if re.fullmatch(r"-?[0-9]+", raw) else raw


UNSET: Any = object()


class Api:
    """Calls documented operations and checks every answer against the document."""

    def __init__(self, base_url: str) -> None:
        self.base_url = base_url
        self.seen: set[tuple[str, int]] = set()
        """(operationId, status) of every answer so far."""
        self.headers = Message()
        """The last answer's headers."""

    def call(
        self,
        op_id: str,
        expect: int,
        *,
        token: str | None = None,
        cookie: str | None = None,
        cookies: Mapping[str, str] | None = None,
        origin: str | None = None,
        authorization: str | None = None,
        body: Any = UNSET,
        raw: bytes | None = None,
        content_type: str = JSON,
        query: Mapping[str, str] | None = None,
        schema_rejects: bool | None = None,
        code: str | None = None,
        field: Any = UNSET,
        **path: str,
    ) -> Any:
        op = operations()[op_id]
        label = f"{op.method} {op.path} {op_id}"
        params = op.parameters()
        assert {n for (w, n) in params if w == "path"} == set(path), label
        url = self.base_url + op.path.format(**{k: quote(v, safe="") for k, v in path.items()})
        if query:
            assert {("query", n) for n in query} <= set(params), f"{label}: undocumented query"
            url += "?" + urlencode(query)

        # The request, against the documented parameters and body.
        problems = []
        for name, value in path.items():
            problems += schema_errors(params[("path", name)][1] + "/schema", value)
        for name, value in (query or {}).items():
            problems += schema_errors(params[("query", name)][1] + "/schema", query_value(value))
        data = raw
        if body is not UNSET:
            data = json.dumps(body).encode()
            pointer = op.body_pointer()
            assert pointer is not None, f"{label} takes no body"
            problems += schema_errors(pointer, body)
        if schema_rejects is not None:
            assert bool(problems) == schema_rejects, f"{label}: document and server disagree"
        elif expect not in (400, 413):
            assert not problems, f"{label}: the request breaks the document: {problems}"

        headers = {"Content-Type": content_type} if data is not None else {}
        if token is not None:
            headers["Authorization"] = f"Bearer {token}"
        if authorization is not None:
            headers["Authorization"] = authorization
        if cookie is not None:
            headers["Cookie"] = f"parley_session={cookie}"
        if cookies:
            headers["Cookie"] = "; ".join(f"{k}={v}" for k, v in cookies.items())
        if origin is not None:
            headers["Origin"] = origin
        answer = send(op.method, url, data, headers)

        # The answer, against the documented responses.
        assert answer.status == expect, f"{label}: {answer.status} {answer.body}"
        documented = op.response(answer.status)
        assert documented is not None, f"{label}: status {answer.status} is not documented"
        response, response_pointer = documented
        media = answer.headers.get_content_type()
        assert media in response["content"], f"{label}: {media} is not documented"
        content = f"{response_pointer}/content/{escape(media)}/schema"
        if media == JSON:
            errors = schema_errors(content, answer.body)
        elif media.startswith("text/"):
            errors = schema_errors(content, answer.body.decode("utf-8"))
        else:
            errors = [] if answer.body else ["the body is empty"]
        assert not errors, f"{label} {answer.status}: {errors} in {answer.body!r}"
        for name, header in response.get("headers", {}).items():
            sent = answer.headers.get(name)
            if header.get("required"):
                assert sent is not None, f"{label}: no {name} header"
            if sent is not None:
                header_pointer = f"{response_pointer}/headers/{escape(name)}/schema"
                assert not schema_errors(header_pointer, sent), f"{label}: {name}: {sent}"
        for name in SECURITY_HEADERS:
            assert answer.headers.get(name), f"{label}: no {name} header"
        if code is not None:
            assert answer.body["error"]["code"] == code, f"{label}: {answer.body}"
        if field is not UNSET:
            assert answer.body["error"]["field"] == field, f"{label}: {answer.body}"
        self.seen.add((op_id, answer.status))
        self.headers = answer.headers
        return answer.body


def test_every_operation_against_a_live_server(live_server: LiveServer) -> None:
    room: LiveRoom = asyncio.run(live_server.create_room())
    api = Api(live_server.base_url)
    r, other = room.id, "r-0000000000"
    token = {seat_id: seat.token for seat_id, seat in room.seats.items()}
    fac, obs, us1, us2 = token["facilitator"], token["observer"], token["us-1"], token["us-2"]
    drv1, drv2, rvn1, rvn2 = token["drv-1"], token["drv-2"], token["rvn-1"], token["rvn-2"]
    own, evil = live_server.public_url, "https://evil.example"
    big = {"id": "big", "text": "x" * BIG_BODY}

    health = partial(api.call, "getHealth")
    redeem = partial(api.call, "redeemInvite")
    session = partial(api.call, "getSession")
    get_room = partial(api.call, "getRoom")
    seats = partial(api.call, "listSeats")
    threads = partial(api.call, "listThreads")
    events = partial(api.call, "listEvents")
    thread_events = partial(api.call, "listThreadEvents")
    rotate = partial(api.call, "rotateInvite")
    open_bc = partial(api.call, "openBackchannel")
    accept = partial(api.call, "acceptBackchannel")
    decline = partial(api.call, "declineBackchannel")
    disclose = partial(api.call, "discloseThread")
    post = partial(api.call, "postMessage")

    def msg(command_id: str, text: object = "hi") -> dict[str, object]:
        return {"id": command_id, "text": text}

    def thread_ids(seat_token: str) -> list[str]:
        return [t["id"] for t in threads(200, token=seat_token, room=r)["threads"]]

    def all_events(seat_token: str) -> list[dict[str, Any]]:
        """Every event the seat may see, by pages of 7."""
        out: list[dict[str, Any]] = []
        since, more = 0, True
        while more:
            page = events(200, token=seat_token, room=r, query={"since": str(since), "limit": "7"})
            seqs = [e["seq"] for e in page["events"]]
            assert len(seqs) <= 7 and seqs == sorted(seqs) and all(s > since for s in seqs)
            out += page["events"]
            since, more = page["next"], page["more"]
        return out

    def thread_log(seat_token: str, thread: str) -> list[dict[str, Any]]:
        """Every event of one thread the seat may see, read backwards by pages of 2."""
        out: list[dict[str, Any]] = []
        query = {"limit": "2"}
        while True:
            page = thread_events(200, token=seat_token, room=r, thread=thread, query=query)
            seqs = [e["seq"] for e in page["events"]]
            assert len(seqs) <= 2 and seqs == sorted(seqs)
            assert all(s < int(query.get("before", 2**62)) for s in seqs)
            out = page["events"] + out
            if not page["more"]:
                return out
            query = {"before": str(page["before"]), "limit": "2"}

    # Health
    assert health(200)["database"] == live_server.db_url.split("+", 1)[0]

    # Invites and sessions
    invite = room.seat("drv-2").invite_url.split("#", 1)[1]
    redeemed = redeem(200, body={"token": invite})
    assert redeemed["seat"]["id"] == "drv-2" and redeemed["room"] == r
    cookie_header = api.headers["Set-Cookie"]
    for attribute in ("HttpOnly", "SameSite=Strict", "Path=/api/"):
        assert attribute in cookie_header
    redeem(200, body={"token": invite}, origin=own)
    redeem(400, raw=b'{"token": "x"}', content_type="text/plain", code="bad_request")
    redeem(400, raw=b'{"token": ', code="bad_request")
    redeem(400, body=[invite], schema_rejects=True, code="bad_request")
    redeem(400, body={}, schema_rejects=True, code="invalid", field="token")
    redeem(400, body={"token": 5}, schema_rejects=True, code="invalid", field="token")
    redeem(400, body={"token": "x" * 201}, schema_rejects=True, code="invalid", field="token")
    redeem(400, body={"token": invite, "seat": "us-1"}, schema_rejects=True, field="seat")
    redeem(401, body={"token": "pi_unknown"}, code="unauthenticated")
    redeem(401, body={"token": us1}, code="unauthenticated")
    redeem(403, body={"token": invite}, origin=evil, code="forbidden", field="Origin")
    redeem(413, body={"token": "x" * BIG_BODY})

    assert session(200, token=us1) == {
        "room": r,
        "seat": {
            "id": "us-1",
            "role": "delegate",
            "party": "us",
            "name": "United States head",
            "head": True,
        },
    }
    assert session(200, cookie=redeemed["token"])["seat"]["id"] == "drv-2"
    assert session(200, cookie=us1, origin=evil)["seat"]["id"] == "us-1"
    session(401, code="unauthenticated", field="Authorization")
    session(401, token="ps_unknown", code="unauthenticated")
    session(401, token=invite, code="unauthenticated")
    session(401, authorization=f"Basic {us1}", field="Authorization")
    session(401, authorization="Bearer  ", field="Authorization")

    # The room and its seats
    got = get_room(200, token=obs, room=r)
    assert got["id"] == r and got["seat"]["id"] == "observer"
    assert [p["id"] for p in got["parties"]] == ["us", "drv", "rvn"]
    get_room(200, cookie=us1, room=r)
    get_room(404, token=us1, room=other, code="not_found", field="room")
    get_room(401, room=r)
    assert {s["id"] for s in seats(200, token=drv1, room=r)["seats"]} == set(room.seats)
    seats(404, token=drv1, room=other, code="not_found", field="room")
    seats(401, token="ps_unknown", room=r)

    # Threads: who sees which
    assert thread_ids(us1) == ["plenary", "caucus-us"]
    assert thread_ids(obs) == ["plenary"]
    assert thread_ids(fac) == ["plenary", "caucus-us", "caucus-drv", "caucus-rvn"]
    threads(404, token=us1, room=other, field="room")
    threads(401, room=r)

    # Opening a back-channel
    to_drv = {"id": "open-1", "parties": ["drv"], "title": "Quiet word"}
    opened = open_bc(201, token=us1, room=r, body=to_drv)
    bc = opened["thread"]
    assert open_bc(200, token=us1, room=r, body=to_drv) == {**opened, "duplicate": True}
    assert {
        "id": bc,
        "kind": "backchannel",
        "title": "Quiet word",
        "parties": ["drv", "us"],
        "accepted": ["us"],
        "declined": None,
        "live": False,
        "disclosed_to": None,
    } in threads(200, token=us1, room=r)["threads"]
    assert bc not in thread_ids(rvn1)
    for bad, where in (
        ({"id": "bad id", "parties": ["drv"]}, "id"),
        ({"id": "x" * 65, "parties": ["drv"]}, "id"),
        ({"id": "o-2", "parties": []}, "parties"),
        ({"id": "o-2", "parties": ["drv"] * 17}, "parties"),
        ({"id": "o-2", "parties": ["-drv"]}, "parties.0"),
        ({"id": "o-2", "parties": ["d" * 41]}, "parties.0"),
        ({"id": "o-2", "parties": "drv"}, "parties"),
        ({"id": "o-2"}, "parties"),
        ({"id": "o-2", "parties": ["drv"], "secret": True}, "secret"),
        ({"id": "o-2", "parties": ["drv", "drv"]}, "parties.1"),
    ):
        open_bc(400, token=us1, room=r, body=bad, schema_rejects=True, code="invalid", field=where)
    open_bc(400, token=us1, room=r, body={"id": "o-2", "parties": ["us"]}, field="parties.0")
    open_bc(400, token=us1, room=r, raw=b"[]", code="bad_request")
    ask = {"id": "o-2", "parties": ["rvn"]}
    open_bc(401, room=r, body=ask, code="unauthenticated")
    for seat_token in (us2, obs, fac):
        open_bc(403, token=seat_token, room=r, body=ask, code="forbidden", field=None)
    open_bc(403, cookie=us1, room=r, body=ask, code="forbidden", field="Origin")
    open_bc(403, cookie=us1, origin=evil, room=r, body=ask, field="Origin")
    open_bc(404, token=us1, room=r, body={"id": "o-2", "parties": ["zz"]}, field="parties.0")
    open_bc(404, token=us1, room=other, body=ask, code="not_found", field="room")
    open_bc(413, token=us1, room=r, body=big)
    to_both = {"id": "open-2", "parties": ["rvn", "drv"]}
    bc2 = open_bc(201, cookie=us1, origin=own, room=r, body=to_both)["thread"]

    # Accepting it
    acc = {"id": "acc-1"}
    accept(403, token=drv2, room=r, thread=bc, body=acc, code="forbidden")
    accept(403, token=fac, room=r, thread=bc, body=acc, code="forbidden")
    accept(404, token=rvn1, room=r, thread=bc, body=acc, code="not_found", field="thread")
    accept(404, token=drv1, room=r, thread="bc-000000000000", body=acc, field="thread")
    accept(404, token=drv1, room=other, thread=bc, body=acc, field="room")
    accepted = accept(201, token=drv1, room=r, thread=bc, body=acc)
    assert accepted["thread"] == bc and accepted["seq"] > opened["seq"]
    assert accept(200, token=drv1, room=r, thread=bc, body=acc)["seq"] == accepted["seq"]
    accept(409, token=drv1, room=r, thread=bc, body={"id": "acc-2"}, code="conflict")
    accept(400, token=drv1, room=r, thread="plenary", body={"id": "acc-3"}, field="thread")
    accept(400, token=drv1, room=r, thread=bc, body={"id": ""}, schema_rejects=True, field="id")
    accept(400, token=drv1, room=r, thread=bc, body={}, schema_rejects=True, field="id")
    accept(401, token="ps_unknown", room=r, thread=bc, body={"id": "acc-3"})
    accept(413, token=drv1, room=r, thread=bc, body=big)
    live = {t["id"]: t["live"] for t in threads(200, token=drv1, room=r)["threads"]}
    assert live[bc] is True and live[bc2] is False

    # Declining one: it is closed for good
    bc3 = open_bc(201, token=us1, room=r, body={"id": "open-3", "parties": ["rvn"]})["thread"]
    dec = {"id": "dec-1"}
    decline(403, token=rvn2, room=r, thread=bc3, body=dec, code="forbidden")
    decline(403, token=fac, room=r, thread=bc3, body=dec, code="forbidden")
    decline(403, cookie=rvn1, room=r, thread=bc3, body=dec, code="forbidden", field="Origin")
    decline(404, token=drv1, room=r, thread=bc3, body=dec, code="not_found", field="thread")
    decline(404, token=rvn1, room=r, thread="bc-000000000000", body=dec, field="thread")
    decline(404, token=rvn1, room=other, thread=bc3, body=dec, field="room")
    decline(409, token=us1, room=r, thread=bc3, body=dec, code="conflict")
    declined = decline(201, token=rvn1, room=r, thread=bc3, body=dec)
    assert declined["thread"] == bc3 and declined["events"] == ["thread_declined"]
    assert decline(200, token=rvn1, room=r, thread=bc3, body=dec)["seq"] == declined["seq"]
    decline(409, token=rvn1, room=r, thread=bc3, body={"id": "dec-2"}, code="conflict")
    accept(409, token=rvn1, room=r, thread=bc3, body={"id": "acc-4"}, code="conflict")
    decline(400, token=rvn1, room=r, thread="plenary", body={"id": "dec-3"}, field="thread")
    decline(400, token=rvn1, room=r, thread=bc3, body={"id": ""}, schema_rejects=True, field="id")
    decline(400, token=rvn1, room=r, thread=bc3, body={}, schema_rejects=True, field="id")
    decline(401, token="ps_unknown", room=r, thread=bc3, body={"id": "dec-3"})
    decline(413, token=rvn1, room=r, thread=bc3, body=big)
    listed = {t["id"]: t for t in threads(200, token=us1, room=r)["threads"]}
    assert listed[bc3]["declined"] == "rvn" and listed[bc3]["live"] is False
    assert bc3 not in thread_ids(drv1)

    # Posting
    hello = msg("msg-1", "Good morning.")
    first = post(201, token=us1, room=r, thread="plenary", body=hello)
    assert post(200, token=us1, room=r, thread="plenary", body=hello)["seq"] == first["seq"]
    post(201, token=fac, room=r, thread="plenary", body=hello)
    post(201, token=us2, room=r, thread=bc, body=msg("m"))
    post(201, token=drv2, room=r, thread="caucus-drv", body=msg("c:1", "Between us"))
    post(201, cookie=us1, origin=own, room=r, thread="plenary", body=msg("msg-3"))
    post(409, token=us1, room=r, thread=bc2, body=msg("msg-2"), code="conflict")
    in_plenary = partial(post, token=us1, room=r, thread="plenary")
    for text, rejects, error in ((" \n ", True, "invalid"), (7, True, "invalid")):
        in_plenary(400, body=msg("m-2", text), schema_rejects=rejects, code=error, field="text")
    in_plenary(400, body=msg("m-2", "x" * 8001), code="too_long", field="text")
    in_plenary(400, raw=b'{"id": "m-2", "text": "\\ud800"}', code="invalid", field="text")
    in_plenary(400, body={"text": "hi"}, schema_rejects=True, code="invalid", field="id")
    form = "application/x-www-form-urlencoded"
    in_plenary(400, raw=b"{}", content_type=form, code="bad_request")
    post(401, room=r, thread="plenary", body=msg("msg-2"), code="unauthenticated")
    post(403, token=obs, room=r, thread="plenary", body=msg("msg-2"), code="forbidden")
    post(403, token=fac, room=r, thread="caucus-us", body=msg("msg-2"), code="forbidden")
    post(403, cookie=us1, room=r, thread="plenary", body=msg("msg-2"), field="Origin")
    post(404, token=us1, room=r, thread="caucus-drv", body=msg("msg-2"), field="thread")
    post(404, token=us1, room=other, thread="plenary", body=msg("msg-2"), field="room")
    post(413, token=us1, room=r, thread="plenary", body=big)

    # The log: the observer sees the back-channel sealed, rvn does not see it at all
    seen_by_us = all_events(us1)
    assert seen_by_us == events(200, token=us1, room=r)["events"]
    in_bc = {e["seq"] for e in seen_by_us if e["record"]["thread"] == bc}
    by_observer = {e["seq"]: e for e in all_events(obs)}
    assert all(by_observer[seq]["sealed"] for seq in in_bc)
    kinds = {by_observer[seq]["kind"] for seq in in_bc}
    assert kinds == {"thread_opened", "thread_accepted", "message_posted"}
    by_rvn = all_events(rvn1)
    assert not any(e["sealed"] or e["record"]["thread"] in (bc, "caucus-drv") for e in by_rvn)
    page = events(200, token=us1, room=r, query={"since": "2", "limit": "3"})
    assert [e["seq"] for e in page["events"]] == [3, 4, 5]
    assert page["next"] == 5 and page["more"] is True
    last = seen_by_us[-1]["seq"]
    tail = events(200, token=us1, room=r, query={"since": str(last)})
    assert tail == {"events": [], "next": last, "more": False}
    for name, value in (
        ("limit", "0"),
        ("limit", "501"),
        ("limit", "1.5"),
        ("since", "-1"),
        ("since", "x"),
        ("since", str(2**62 + 1)),
    ):
        events(400, token=us1, room=r, query={name: value}, schema_rejects=True, field=name)
    events(401, room=r, code="unauthenticated")
    events(404, token=us1, room=other, code="not_found", field="room")

    # The last message of each thread only, as of a cut the first page fixes
    recent = events(200, token=us1, room=r, query={"recent_messages": "1", "limit": "500"})
    last_message: dict[str, int] = {}
    for e in seen_by_us:
        if e["kind"] == "message_posted" and e["seq"] <= recent["cut"]:
            last_message[e["record"]["thread"]] = e["seq"]
    assert recent["events"] == [
        e
        for e in seen_by_us
        if e["kind"] != "message_posted" or e["seq"] >= last_message[e["record"]["thread"]]
    ]
    assert {t: o["before"] for t, o in recent["left_out"].items()} == {
        t: seq
        for t, seq in last_message.items()
        if sum(e["kind"] == "message_posted" and e["record"]["thread"] == t for e in seen_by_us) > 1
    }
    assert "plenary" in recent["left_out"]
    cut = {"recent_messages": "1", "cut": str(recent["cut"]), "since": "2", "limit": "3"}
    assert events(200, token=us1, room=r, query=cut)["left_out"] == recent["left_out"]
    for name, value in (
        ("recent_messages", "0"),
        ("recent_messages", "10001"),
        ("recent_messages", "x"),
        ("cut", "-1"),
    ):
        query = {"recent_messages": "1", name: value}
        events(400, token=us1, room=r, query=query, schema_rejects=True, field=name)

    # One thread's history, backwards: what the room's log shows of it, judged alike
    in_plenary_log = [e for e in seen_by_us if e["record"]["thread"] == "plenary"]
    assert thread_log(us1, "plenary") == in_plenary_log
    assert thread_log(us1, bc) == [e for e in seen_by_us if e["seq"] in in_bc]
    assert thread_log(obs, bc) == [by_observer[seq] for seq in sorted(in_bc)]
    latest = thread_events(200, token=us1, room=r, thread="plenary", query={"limit": "1"})
    assert latest["events"] == in_plenary_log[-1:] and latest["more"] is True
    assert latest["before"] == in_plenary_log[-1]["seq"]
    first = in_plenary_log[0]["seq"]
    start = {"before": str(first)}
    assert thread_events(200, token=us1, room=r, thread="plenary", query=start) == {
        "events": [],
        "before": first,
        "more": False,
    }
    for name, value in (("limit", "0"), ("limit", "501"), ("before", "0"), ("before", "x")):
        query = {name: value}
        thread_events(400, token=us1, room=r, thread="plenary", query=query, field=name)
    thread_events(401, room=r, thread="plenary", code="unauthenticated")
    thread_events(404, token=rvn1, room=r, thread=bc, code="not_found", field="thread")
    thread_events(404, token=us1, room=r, thread="caucus-drv", field="thread")
    thread_events(404, token=us1, room=r, thread="bc-000000000000", field="thread")
    thread_events(404, token=us1, room=other, thread="plenary", field="room")

    # Disclosing
    to_observers = {"id": "dis-1", "to": "observers"}
    to_everyone = {"id": "dis-2", "to": "everyone"}
    disclosed = disclose(201, token=fac, room=r, thread=bc, body=to_observers)
    disclose(200, token=fac, room=r, thread=bc, body=to_observers)
    disclose(409, token=fac, room=r, thread=bc, body={**to_observers, "id": "dis-2"})
    disclose(
        400,
        token=fac,
        room=r,
        thread=bc,
        body={**to_everyone, "to": "nobody"},
        schema_rejects=True,
        code="invalid",
        field="to",
    )
    disclose(400, token=fac, room=r, thread="plenary", body=to_everyone, field="thread")
    disclose(401, room=r, thread=bc, body=to_everyone, code="unauthenticated")
    disclose(403, token=us1, room=r, thread=bc, body=to_everyone, code="forbidden")
    disclose(403, cookie=fac, origin=evil, room=r, thread=bc, body=to_everyone, field="Origin")
    disclose(404, token=fac, room=r, thread="bc-000000000000", body=to_everyone, field="thread")
    disclose(404, token=rvn1, room=r, thread=bc, body=to_everyone, field="thread")
    disclose(413, token=fac, room=r, thread=bc, body=big)
    disclose(201, token=fac, room=r, thread="caucus-drv", body=to_everyone)
    assert bc in thread_ids(obs) and "caucus-drv" in thread_ids(rvn1)
    after = {e["seq"]: e for e in all_events(obs)}
    assert not any(after[seq]["sealed"] for seq in in_bc | {disclosed["seq"]})

    exercise_ledger(api, r, other, token, own)

    # Rotating an invite revokes the seat's sessions
    rotate(403, token=us1, room=r, seat="us-2", code="forbidden")
    rotate(403, token=obs, room=r, seat="us-2", code="forbidden")
    rotate(403, cookie=fac, room=r, seat="us-2", field="Origin")
    rotate(404, token=fac, room=r, seat="zz", code="not_found", field="seat")
    rotate(404, token=fac, room=other, seat="us-2", field="room")
    rotate(401, room=r, seat="us-2", code="unauthenticated")
    rotated = rotate(201, token=fac, room=r, seat="us-2")
    assert rotated["seat"] == "us-2" and rotated["invite_url"].startswith(own + "/join#pi_")
    session(401, token=us2, code="unauthenticated")
    redeem(401, body={"token": room.seat("us-2").invite_url.split("#", 1)[1]})
    fresh = redeem(200, body={"token": rotated["invite_url"].split("#", 1)[1]})
    assert session(200, token=fresh["token"])["seat"]["id"] == "us-2"
    new_link = rotate(201, cookie=fac, origin=own, room=r, seat="observer")["invite_url"]
    obs = redeem(200, body={"token": new_link.split("#", 1)[1]})["token"]
    log = all_events(fac)
    assert [e["kind"] for e in log].count("seat_invite_rotated") == 2

    # Negotiation: commands over HTTP, the agenda, proposals, positions, coalitions, agreement
    run = partial(api.call, "runCommand")
    agenda = partial(api.call, "getAgenda")
    positions = partial(api.call, "listPositions")
    proposals = partial(api.call, "listProposals")
    proposal = partial(api.call, "getProposal")
    compare = partial(api.call, "compareProposals")
    coalitions = partial(api.call, "listCoalitions")
    agreement = partial(api.call, "getAgreement")
    markdown = partial(api.call, "getAgreementMarkdown")
    html = partial(api.call, "getAgreementHtml")

    def cmd(kind: str, command_id: str, **fields: Any) -> dict[str, Any]:
        return {"v": 1, "type": kind, "id": command_id, "room": r, **fields}

    got = agenda(200, token=obs, room=r)
    assert got["issues"] == [] and got["stage"] == "pre-negotiation"
    assert "no-new-proposals-in-formalization" in {rule["name"] for rule in got["rules"]}
    agenda(401, room=r)
    agenda(404, token=us1, room=other, field="room")
    issue = {"id": "troops", "title": "Troop ceiling", "type": "number", "unit": "troops"}
    issue |= {"min": 0, "max": 50000}
    added = run(201, token=fac, room=r, body=cmd("add_issue", "i-1", issue=issue))
    assert added["events"] == ["agenda_issue_added"] and added["created"] is None
    assert run(200, token=fac, room=r, body=cmd("add_issue", "i-1", issue=issue))["duplicate"]
    assert agenda(200, token=us1, room=r)["issues"] == [issue]
    bad_issue = cmd("add_issue", "i-2", issue={**issue, "type": "float"})
    run(400, token=fac, room=r, body=bad_issue, code="invalid", field="issue.type")
    run(400, token=fac, room=r, raw=b'{"v": 1, "type": "warp", "id": "w"}', field="type")
    run(400, token=fac, room=r, raw=b"[1]", code="bad_request")
    run(400, token=fac, room=r, raw=b"\xff\n\xff", code="bad_request")
    run(400, token=fac, room=r, body={"v": 1, "type": "ping", "id": "p"}, field="type")
    early = cmd("table_proposal", "p-0", thread="plenary", clauses=["Ceasefire now."])
    run(409, token=us1, room=r, body=early, code="stage_closed")
    run(403, token=us1, room=r, body=cmd("change_stage", "s-0", to="opening"), code="forbidden")
    run(403, cookie=fac, room=r, body=cmd("change_stage", "s-0", to="opening"), field="Origin")
    run(401, room=r, body=cmd("change_stage", "s-0", to="opening"))
    run(404, token=fac, room=other, body=cmd("change_stage", "s-0", to="opening"), field="room")
    elsewhere = {**cmd("change_stage", "s-0", to="opening"), "room": other}
    run(404, token=fac, room=r, body=elsewhere, field="room")
    run(413, token=fac, room=r, body=big)
    run(201, token=fac, room=r, body=cmd("change_stage", "s-1", to="opening"))

    table = partial(cmd, "table_proposal", thread="plenary")
    p1 = run(201, token=us1, room=r, body=table("p-1", terms={"troops": 40000}))["created"]
    p2 = run(201, token=drv1, room=r, body=table("p-2", terms={"troops": 0}, parent=p1))
    third = run(
        201, token=us1, room=r, body=table("p-3", terms={"troops": 20000}, parent=p2["created"])
    )
    p3 = third["created"]
    assert third["events"] == ["proposal_tabled", "concession_recorded"]
    listed = {p["id"]: p["status"] for p in proposals(200, token=obs, room=r)["proposals"]}
    assert listed == {p1: "superseded", p2["created"]: "superseded", p3: "tabled"}
    proposals(401, room=r)
    proposals(404, token=us1, room=other, field="room")
    assert proposal(200, token=rvn1, room=r, proposal=p3)["answering_parties"] == [
        "us",
        "drv",
        "rvn",
    ]
    proposal(404, token=us1, room=r, proposal="pr-000000000000", field="proposal")
    proposal(401, room=r, proposal=p3)
    diff = compare(200, token=fac, room=r, proposal=p1, other=p3)
    assert diff["terms"] == [
        {
            "issue": "troops",
            "title": "Troop ceiling",
            "from": 40000,
            "to": 20000,
            "changed": True,
            "delta": -20000,
            "size": "0.4000",
        }
    ]
    compare(404, token=us1, room=r, proposal=p1, other="pr-000000000000", field="other")
    compare(401, room=r, proposal=p1, other=p3)

    stance = cmd("set_position", "pos-1", issue="troops", direction="down", preferred=0)
    run(201, token=us1, room=r, body={**stance, "reservation": 30000})
    assert [x["party"] for x in positions(200, token=us1, room=r)["positions"]] == ["us"]
    assert positions(200, token=drv1, room=r)["positions"] == []
    assert positions(200, token=obs, room=r)["positions"] == []
    assert len(positions(200, token=fac, room=r)["positions"]) == 1
    positions(401, room=r)
    positions(404, token=us1, room=other, field="room")

    co = run(
        201, token=drv1, room=r, body=cmd("declare_coalition", "co-1", parties=["rvn"], name="Bloc")
    )
    listed_co = coalitions(200, token=us1, room=r)["coalitions"]
    assert listed_co == [
        {
            "id": co["created"],
            "name": "Bloc",
            "parties": ["drv", "rvn"],
            "joined": ["drv"],
            "formed": False,
        }
    ]
    coalitions(401, room=r)
    coalitions(404, token=us1, room=other, field="room")

    for document in (agreement, markdown, html):
        document(404, token=us1, room=r, code="not_found")
        document(404, token=us1, room=other, field="room")
        document(401, room=r)
    answer = partial(cmd, "answer_proposal", proposal=p3)
    assert run(201, token=drv1, room=r, body=answer("a-1", answer="accept"))["events"] == [
        "proposal_answered"
    ]
    assert run(201, token=rvn1, room=r, body=answer("a-2", answer="accept"))["events"] == [
        "proposal_answered",
        "agreement_reached",
    ]
    run(409, token=rvn1, room=r, body=answer("a-3", answer="reject"), code="conflict")
    for i, stage in enumerate(("detailed-discussion", "verification", "formalization")):
        run(201, token=fac, room=r, body=cmd("change_stage", f"s-{i + 2}", to=stage))
    post(409, token=drv2, room=r, thread=bc, body=msg("late"), code="stage_closed")
    for i, head in enumerate((us1, drv1, rvn1)):
        run(201, token=head, room=r, body=cmd("sign_agreement", f"sig-{i}", agreement=p3))
    signed = agreement(200, token=obs, room=r)
    assert signed["signed"] is True and signed["terms"] == {"troops": 20000}
    assert [s["party"] for s in signed["signatures"]] == ["us", "drv", "rvn"]
    assert "- Troop ceiling: 20000 troops" in markdown(200, token=rvn1, room=r).decode()
    assert "<dd>20000 troops</dd>" in html(200, token=us1, room=r).decode()

    exercise_browser(api, live_server, room)

    # Every documented status was seen, but those that cannot be provoked here.
    documented = {(op.id, s) for op in operations().values() for s in op.statuses()}
    assert set(UNEXERCISED) <= documented, "UNEXERCISED lists undocumented statuses"
    assert documented - api.seen - set(UNEXERCISED) == set(), "documented, never exercised"


# -- the ledger's operations (called from the live test above) ---------------------------


def exercise_ledger(api: Api, r: str, other: str, token: dict[str, str], own: str) -> None:
    """Checkpoints, proofs, leaves and exports, each answer also checked cryptographically."""
    fac, obs, us1 = token["facilitator"], token["observer"], token["us-1"]
    latest = partial(api.call, "getLatestCheckpoint")
    sign = partial(api.call, "signCheckpoint")
    listed = partial(api.call, "listCheckpoints")
    inclusion = partial(api.call, "getInclusionProof")
    consistency = partial(api.call, "getConsistencyProof")
    leaves = partial(api.call, "listLeaves")
    export = partial(api.call, "exportView")

    verifier = parse_verifier_key(api.call("getCheckpointKey", 200).decode().strip())
    assert api.headers.get_content_type() == "text/plain"

    # Checkpoints: none until one is asked for; facilitators sign; every seat reads them.
    assert listed(200, token=obs, room=r) == {"checkpoints": []}
    latest(404, token=obs, room=r, code="not_found", field="checkpoint")
    signed = sign(201, token=fac, room=r)
    assert sign(200, token=fac, room=r) == signed
    assert sign(200, cookie=fac, origin=own, room=r) == signed
    checkpoint = open_checkpoint(signed["note"], [verifier])
    assert (checkpoint.origin, checkpoint.size) == (signed["origin"], signed["size"])
    assert checkpoint.root.hex() == signed["root"] and signed["reason"] == "on_demand"
    assert latest(200, token=us1, room=r) == signed
    assert listed(200, cookie=obs, room=r) == {"checkpoints": [signed]}
    for seat_token in (obs, us1):
        sign(403, token=seat_token, room=r, code="forbidden", field=None)
    sign(403, cookie=fac, room=r, code="forbidden", field="Origin")
    for call in (sign, latest, listed):
        call(401, room=r, code="unauthenticated")
        call(404, token=fac, room=other, code="not_found", field="room")

    # Leaf hashes of every event, hidden ones included, fold to the signed root.
    size, root = signed["size"], checkpoint.root
    page = leaves(200, token=us1, room=r)
    assert page["after"] == 0 and page["frontier"] == [] and page["size"] == size
    hashes = [bytes.fromhex(leaf["leaf_hash"]) for leaf in page["leaves"]]
    assert [leaf["seq"] for leaf in page["leaves"]] == list(range(1, size + 1))
    assert root_from_leaf_hashes(hashes) == root
    part = leaves(200, token=obs, room=r, query={"after": "5", "limit": "3"})
    assert [leaf["seq"] for leaf in part["leaves"]] == [6, 7, 8]
    folded, _ = append_leaves(
        Frontier(5, tuple(bytes.fromhex(h) for h in part["frontier"])), hashes[5:8]
    )
    assert root_from_frontier(folded) == root_from_leaf_hashes(hashes[:8])
    for name, value, rejects in (
        ("after", str(size + 1), False),
        ("after", "-1", True),
        ("limit", "0", True),
        ("limit", "1001", True),
        ("limit", "x", True),
    ):
        leaves(400, token=us1, room=r, query={name: value}, schema_rejects=rejects, field=name)

    # Proofs against the signed checkpoint.
    for seq in (1, size // 2, size):
        proof = inclusion(200, token=obs, room=r, query={"seq": str(seq), "size": str(size)})
        assert proof["leaf_hash"] == hashes[seq - 1].hex()
        path = [bytes.fromhex(h) for h in proof["proof"]]
        verify_inclusion(seq - 1, size, hashes[seq - 1], path, root)
    for query, where, rejects in (
        ({"size": str(size)}, "seq", False),
        ({"seq": "0", "size": str(size)}, "seq", True),
        ({"seq": "3", "size": str(size + 1)}, "size", False),
        ({"seq": "3", "size": "2"}, "seq", False),
        ({"seq": "x", "size": "2"}, "seq", True),
        ({"seq": "3", "size": "-2"}, "size", True),
    ):
        inclusion(400, token=us1, room=r, query=query, schema_rejects=rejects, field=where)
    old = 5
    proof = consistency(200, token=obs, room=r, query={"from": str(old), "to": str(size)})
    old_root = root_from_leaf_hashes(hashes[:old])
    verify_consistency(old, size, old_root, root, [bytes.fromhex(h) for h in proof["proof"]])
    assert consistency(200, token=obs, room=r, query={"from": "0", "to": "0"})["proof"] == []
    for query, where, rejects in (
        ({"to": "3"}, "from", False),
        ({"from": "4", "to": "3"}, "from", False),
        ({"from": "1", "to": str(size + 1)}, "to", False),
        ({"from": "1", "to": "three"}, "to", True),
    ):
        consistency(400, token=us1, room=r, query=query, schema_rejects=rejects, field=where)
    for call in (inclusion, consistency, leaves):
        call(401, room=r, code="unauthenticated")
        call(404, token=us1, room=other, code="not_found", field="room")

    # The observer's own view, zipped.
    archive = zipfile.ZipFile(io.BytesIO(export(200, token=obs, room=r)))
    folder = f"parley-{r}-{size}/"
    assert api.headers["Content-Disposition"] == f'attachment; filename="parley-{r}-{size}.zip"'
    assert f"{folder}events.jsonl" in archive.namelist()
    lines = archive.read(f"{folder}events.jsonl").decode().splitlines()
    assert len(lines) == size
    assert archive.read(f"{folder}checkpoints/{size}.txt").decode() == signed["note"]
    export(401, room=r, code="unauthenticated")
    export(404, token=obs, room=other, code="not_found", field="room")


# -- the database going away -------------------------------------------------------------


# A SQLite file cannot be made unreachable from outside the server: PostgreSQL only.
@pytest.mark.parametrize("db_url", ["postgresql"], indirect=True)
def test_health_without_database(db_url: str, tmp_path: Path) -> None:
    """With its database unreachable, the server answers 503 ``unavailable`` (ErrorCode docs)."""
    name = db_url.rsplit("/", 1)[1]
    server = LiveServer(db_url, tmp_path / "data")
    server.start()
    api = Api(server.base_url)
    try:
        api.call("getHealth", 200)
        asyncio.run(databases._admin(f"ALTER DATABASE {name} ALLOW_CONNECTIONS false"))
        asyncio.run(
            databases._admin(
                f"SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '{name}'"
            )
        )
        api.call("getHealth", 503, code="unavailable")
    finally:
        asyncio.run(databases._admin(f"ALTER DATABASE {name} ALLOW_CONNECTIONS true"))
        server.stop()
