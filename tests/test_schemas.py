"""The JSON Schemas in ``schemas/`` (Draft 2020-12), checked offline.

Every schema document must be a valid Draft 2020-12 schema whose ``$id`` names its file, and every
``$ref`` must resolve inside a ``referencing.Registry`` built from those files alone (nothing is
fetched).  The harness's first principle is then shown on samples: the tutorial's responses and
Entra's request bodies validate (PATCH bodies after lowercasing ``op``, the one deviation the harness
whitelists by JSON path), and each real violation is reported at the JSON path where it sits.

Samples live in ``tests/data/schema_samples/``; they are copied from the samples on Microsoft Learn (sic
trailing commas dropped) and from RFC 7643 §8. The Learn pages: "Tutorial: Develop and plan provisioning for
a SCIM endpoint" (``tutorial-*`` and the responses), "Known issues and resolutions with SCIM 2.0 protocol
compliance", § "Flags to alter the SCIM behavior" (``ki-*``), and "Tutorial - Customize user provisioning
attribute-mappings" (``caa-*``, the role request and the enterprise user with a custom extension).
"""

from __future__ import annotations

import copy
import json
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import pytest
from jsonschema import Draft202012Validator
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

SCHEMA_DIR = Path(__file__).resolve().parents[1] / "schemas"
SAMPLE_DIR = Path(__file__).resolve().parent / "data" / "schema_samples"
BASE_URI = "https://scimconform.example/schemas/"
DIALECT = "https://json-schema.org/draft/2020-12/schema"
REQUIRED_FILES = (
    "user.json",
    "enterprise-user.json",
    "group.json",
    "list-response.json",
    "error.json",
    "patch-op.json",
    "service-provider-config.json",
    "resource-type.json",
    "schema.json",
    "summary.json",
)
RFC_OPS = ("add", "remove", "replace")

JsonObject = dict[str, Any]
PathPart = str | int
Step = Callable[[JsonObject], None]
Violations = set[tuple[str, str]]


def read_json(path: Path) -> Any:
    return json.loads(path.read_text(encoding="utf-8"))


DOCUMENTS: dict[str, JsonObject] = {path.name: read_json(path) for path in sorted(SCHEMA_DIR.glob("*.json"))}
PATCH_REQUESTS: dict[str, JsonObject] = read_json(SAMPLE_DIR / "entra-patch-requests.json")


# --- building instances: a stored sample, optionally changed by a few named steps -------------------


def _as_path(path: PathPart | tuple[PathPart, ...]) -> tuple[PathPart, ...]:
    return path if isinstance(path, tuple) else (path,)


def _walk(document: Any, parts: Sequence[PathPart]) -> Any:
    for part in parts:
        document = document[part]
    return document


def setting(path: PathPart | tuple[PathPart, ...], value: Any) -> Step:
    """A step that sets the member at ``path`` (keys and list indexes) to ``value``."""
    *parents, last = _as_path(path)

    def apply(document: JsonObject) -> None:
        _walk(document, parents)[last] = value

    return apply


def dropping(path: PathPart | tuple[PathPart, ...]) -> Step:
    """A step that removes the member at ``path``."""
    *parents, last = _as_path(path)

    def apply(document: JsonObject) -> None:
        del _walk(document, parents)[last]

    return apply


def _applied(document: JsonObject, steps: Sequence[Step]) -> JsonObject:
    for step in steps:
        step(document)
    return document


def sample(name: str, *steps: Step) -> JsonObject:
    """A fresh copy of ``schema_samples/<name>`` with ``steps`` applied."""
    return _applied(read_json(SAMPLE_DIR / name), steps)


def lowercased_ops(body: JsonObject) -> JsonObject:
    """Entra's PATCH body with ``op`` lower-cased, as the harness's whitelist normalises it."""
    lowered = copy.deepcopy(body)
    for operation in lowered["Operations"]:
        operation["op"] = operation["op"].lower()
    return lowered


def entra_patch(name: str, *steps: Step) -> JsonObject:
    """An Entra PATCH body from ``entra-patch-requests.json``, ops lower-cased, ``steps`` applied."""
    return _applied(lowercased_ops(PATCH_REQUESTS[name]), steps)


# --- the registry and the validation call -----------------------------------------------------------


@pytest.fixture(scope="module")
def registry() -> Registry[Any]:
    resources = [
        (document["$id"], Resource.from_contents(document, default_specification=DRAFT202012))
        for document in DOCUMENTS.values()
    ]
    return Registry().with_resources(resources)


@pytest.fixture(scope="module")
def violations(registry: Registry[Any]) -> Callable[[str, Any], Violations]:
    """``violations("user.json#/$defs/request", body)`` → {(JSON path, failing keyword), ...}."""

    def validate(schema_ref: str, instance: Any) -> Violations:
        validator = Draft202012Validator({"$ref": BASE_URI + schema_ref}, registry=registry)
        return {(error.json_path, str(error.validator)) for error in validator.iter_errors(instance)}

    return validate


# --- the schema documents themselves ----------------------------------------------------------------


def test_every_deliverable_schema_file_exists() -> None:
    assert set(REQUIRED_FILES) <= set(DOCUMENTS)


@pytest.mark.parametrize("name", DOCUMENTS)
def test_schema_is_valid_draft_2020_12(name: str) -> None:
    Draft202012Validator.check_schema(DOCUMENTS[name])


# The harness's own formats (case files, the run summary) are not SCIM messages and cite no RFC.
HARNESS_FORMATS = ("sequence.json", "summary.json", "profile.json", "rules.json")


@pytest.mark.parametrize("name", DOCUMENTS)
def test_schema_header_names_its_file_and_cites_the_rfc(name: str) -> None:
    document = DOCUMENTS[name]
    assert document["$schema"] == DIALECT
    assert document["$id"] == BASE_URI + name
    assert document["title"].strip()
    assert name in HARNESS_FORMATS or "RFC 764" in document["description"]


def _refs(node: Any) -> Iterator[str]:
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "$ref" and isinstance(value, str):
                yield value
            else:
                yield from _refs(value)
    elif isinstance(node, list):
        for item in node:
            yield from _refs(item)


@pytest.mark.parametrize("name", DOCUMENTS)
def test_every_ref_resolves_offline(name: str, registry: Registry[Any]) -> None:
    resolver = registry.resolver(base_uri=DOCUMENTS[name]["$id"])
    for ref in _refs(DOCUMENTS[name]):
        assert ref.startswith(("#", BASE_URI)), ref
        resolver.lookup(ref)


# --- compliant messages validate --------------------------------------------------------------------

USER_URN = "urn:ietf:params:scim:schemas:core:2.0:User"

COMPLIANT = [
    # the tutorial's responses (Microsoft Learn, "Tutorial: Develop and plan provisioning for a SCIM endpoint",
    # § "SCIM protocol requests and responses")
    pytest.param("user.json#/$defs/defaultResponse", sample("create-user-response.json"), id="create-user-response"),
    pytest.param("user.json#/$defs/defaultResponse", sample("get-user-response.json"), id="get-user-response"),
    pytest.param("user.json#/$defs/defaultResponse", sample("disable-user-response.json"), id="disable-user-response"),
    pytest.param(
        "user.json#/$defs/defaultResponse", sample("enterprise-user-response.json"), id="enterprise-user-response"
    ),
    pytest.param("list-response.json#/$defs/users", sample("user-list-one.json"), id="user-list-one-result"),
    pytest.param("list-response.json#/$defs/users", sample("user-list-empty.json"), id="user-list-zero-results"),
    pytest.param("list-response.json", sample("user-list-one.json"), id="generic-list-one-result"),
    pytest.param("group.json", sample("create-group-response.json"), id="create-group-response"),
    pytest.param("group.json", sample("get-group-response.json"), id="get-group-excluding-members"),
    pytest.param("list-response.json#/$defs/groups", sample("group-list.json"), id="group-list"),
    pytest.param("error.json", sample("error-404.json"), id="error-404"),
    pytest.param("list-response.json#/$defs/schemaDefinitions", sample("schemas-list.json"), id="schemas-list"),
    pytest.param(
        "service-provider-config.json",
        sample("service-provider-config-minimal.json"),
        id="service-provider-config-minimal",
    ),
    pytest.param(
        "service-provider-config.json", sample("service-provider-config-rfc.json"), id="service-provider-config-rfc"
    ),
    pytest.param("resource-type.json", sample("resource-type-user.json"), id="resource-type-user"),
    # Entra's request bodies
    pytest.param("user.json#/$defs/request", sample("post-user-request.json"), id="post-user-request"),
    pytest.param("user.json#/$defs/request", sample("post-user-request-nulls.json"), id="post-user-request-nulls"),
    pytest.param("user.json#/$defs/request", sample("post-user-request-role.json"), id="post-user-request-role"),
    pytest.param("group.json#/$defs/request", sample("post-group-request.json"), id="post-group-request-adscim"),
    *(pytest.param("patch-op.json", entra_patch(name), id=f"{name}-lowercased") for name in PATCH_REQUESTS),
    # where the schemas are deliberately lenient (RFC leaves these open)
    pytest.param(
        "list-response.json#/$defs/users",
        sample("user-list-one.json", setting("Resources", [{"schemas": [USER_URN], "id": "2441309d85324e7793ae"}])),
        id="lenient-user-projected-to-id",
    ),
    pytest.param(
        "user.json",
        sample("get-user-response.json", setting("title", None), setting("name", None), setting("emails", None)),
        id="lenient-null-means-unassigned",
    ),
    pytest.param(
        "user.json",
        sample("get-user-response.json", setting(("meta", "created"), "2018-03-27T19:59:26")),
        id="lenient-xsd-datetime-without-offset",
    ),
    pytest.param(
        "list-response.json",
        sample("user-list-empty.json", setting("totalResults", 5), setting("itemsPerPage", 0)),
        id="lenient-count-zero-page",
    ),
    pytest.param(
        "list-response.json",
        sample("user-list-empty.json", dropping("Resources"), dropping("startIndex"), dropping("itemsPerPage")),
        id="lenient-zero-results-without-resources",
    ),
    pytest.param(
        "list-response.json#/$defs/schemaDefinitions",
        sample(
            "schemas-list.json",
            dropping(("Resources", 0, "schemas")),
            dropping(("Resources", 0, "name")),
            setting(("Resources", 0, "attributes", 0, "type"), "String"),
        ),
        id="lenient-schema-as-in-rfc-8-7-1",
    ),
    pytest.param(
        "service-provider-config.json",
        sample("service-provider-config-minimal.json", dropping(("authenticationSchemes", 0, "type"))),
        id="lenient-auth-scheme-without-type",
    ),
    pytest.param(
        "group.json",
        sample("create-group-response.json", setting("members", [{"value": "f648f8d5ea4e4cd38e9c", "$ref": None}])),
        id="lenient-member-ref-null",
    ),
]


@pytest.mark.parametrize(("schema_ref", "instance"), COMPLIANT)
def test_compliant_message_validates(
    violations: Callable[[str, Any], Violations], schema_ref: str, instance: JsonObject
) -> None:
    assert violations(schema_ref, instance) == set()


# --- each violation is reported where it sits -------------------------------------------------------

ENTERPRISE = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
WORK_EMAIL = {"value": "a@example.com", "type": "work", "primary": True}
HOME_EMAIL = {"value": "b@example.com", "type": "home", "primary": True}

VIOLATIONS = [
    # User
    pytest.param(
        "user.json",
        sample("get-user-response.json", setting("active", "False")),
        {("$.active", "type")},
        id="user-active-string-False",
    ),
    pytest.param(
        "user.json", sample("create-user-response.json", dropping("id")), {("$", "required")}, id="user-without-id"
    ),
    pytest.param(
        "user.json", sample("get-user-response.json", setting("id", "")), {("$.id", "minLength")}, id="user-empty-id"
    ),
    pytest.param(
        "user.json", sample("get-user-response.json", setting("id", "bulkId")), {("$.id", "not")}, id="user-id-bulkId"
    ),
    pytest.param(
        "user.json",
        sample("get-user-response.json", dropping("schemas")),
        {("$", "required")},
        id="user-without-schemas",
    ),
    pytest.param(
        "user.json",
        sample("get-user-response.json", setting("schemas", [ENTERPRISE])),
        {("$.schemas", "contains")},
        id="user-schemas-without-core-urn",
    ),
    pytest.param(
        "user.json",
        sample("get-user-response.json", setting("schemas", [USER_URN, USER_URN])),
        {("$.schemas", "uniqueItems")},
        id="user-schemas-duplicate-uri",
    ),
    pytest.param(
        "user.json",
        sample("get-user-response.json", setting("userName", "")),
        {("$.userName", "minLength")},
        id="user-empty-userName",
    ),
    pytest.param(
        "user.json",
        sample("get-user-response.json", setting("name", "givenName familyName")),
        {("$.name", "type")},
        id="user-name-not-object",
    ),
    pytest.param(
        "user.json",
        sample("get-user-response.json", setting(("name", "givenName"), 7)),
        {("$.name.givenName", "type")},
        id="user-name-part-not-string",
    ),
    pytest.param(
        "user.json",
        sample("get-user-response.json", setting("emails", WORK_EMAIL)),
        {("$.emails", "type")},
        id="user-emails-not-array",
    ),
    pytest.param(
        "user.json",
        sample("get-user-response.json", setting(("emails", 0, "primary"), "True")),
        {("$.emails[0].primary", "type")},
        id="user-email-primary-string",
    ),
    pytest.param(
        "user.json",
        sample("get-user-response.json", setting(("emails", 0, "value"), ["a@example.com"])),
        {("$.emails[0].value", "type")},
        id="user-email-value-not-string",
    ),
    pytest.param(
        "user.json",
        sample("get-user-response.json", setting("emails", [WORK_EMAIL, HOME_EMAIL])),
        {("$.emails", "maxContains")},
        id="user-two-primary-emails",
    ),
    pytest.param(
        "user.json",
        sample("get-user-response.json", setting("password", "t1meMa$heen")),
        {("$.password", "type")},
        id="user-password-returned",
    ),
    pytest.param(
        "user.json",
        sample("get-user-response.json", setting(("meta", "created"), "27/03/2018 19:59")),
        {("$.meta.created", "pattern")},
        id="user-meta-created-not-datetime",
    ),
    pytest.param(
        "user.json",
        sample("get-user-response.json", setting(("meta", "location"), 42)),
        {("$.meta.location", "type")},
        id="user-meta-location-not-string",
    ),
    pytest.param(
        "user.json",
        sample("enterprise-user-response.json", setting((ENTERPRISE, "manager", "value"), 42)),
        {(f"$['{ENTERPRISE}'].manager.value", "type")},
        id="user-enterprise-manager-value-not-string",
    ),
    pytest.param(
        "user.json",
        sample("enterprise-user-response.json", setting(ENTERPRISE, "Tour Operations")),
        {(f"$['{ENTERPRISE}']", "type")},
        id="user-enterprise-extension-not-object",
    ),
    pytest.param(
        "user.json#/$defs/defaultResponse",
        sample("create-user-response.json", dropping("userName")),
        {("$", "required")},
        id="user-default-response-without-userName",
    ),
    pytest.param(
        "user.json#/$defs/request",
        sample("post-user-request.json", dropping("userName")),
        {("$", "required")},
        id="user-request-without-userName",
    ),
    # Group
    pytest.param(
        "group.json",
        sample("create-group-response.json", setting("members", ["f648f8d5ea4e4cd38e9c"])),
        {("$.members[0]", "type")},
        id="group-members-of-strings",
    ),
    pytest.param(
        "group.json",
        sample("create-group-response.json", setting("members", [{"value": 5}])),
        {("$.members[0].value", "type")},
        id="group-member-value-not-string",
    ),
    pytest.param(
        "group.json",
        sample("get-group-response.json", setting("displayName", ["displayName"])),
        {("$.displayName", "type")},
        id="group-displayName-not-string",
    ),
    pytest.param(
        "group.json", sample("get-group-response.json", dropping("id")), {("$", "required")}, id="group-without-id"
    ),
    pytest.param(
        "group.json#/$defs/request",
        sample("post-group-request.json", dropping("displayName")),
        {("$", "required")},
        id="group-request-without-displayName",
    ),
    # ListResponse
    pytest.param(
        "list-response.json",
        sample("user-list-one.json", dropping("schemas")),
        {("$", "required")},
        id="list-without-schemas",
    ),
    pytest.param(
        "list-response.json",
        sample("user-list-one.json", dropping("totalResults")),
        {("$", "required")},
        id="list-without-totalResults",
    ),
    pytest.param(
        "list-response.json",
        sample("user-list-empty.json", setting("totalResults", 2), dropping("Resources")),
        {("$", "required")},
        id="list-totalResults-2-without-Resources",
    ),
    pytest.param(
        "list-response.json",
        sample("user-list-empty.json", setting("totalResults", 2), setting("Resources", None)),
        {("$.Resources", "type")},
        id="list-totalResults-2-Resources-null",
    ),
    pytest.param(
        "list-response.json",
        sample("user-list-one.json", setting("totalResults", "1")),
        {("$.totalResults", "type")},
        id="list-totalResults-string",
    ),
    pytest.param(
        "list-response.json",
        sample("user-list-empty.json", setting("totalResults", -1)),
        {("$.totalResults", "minimum")},
        id="list-totalResults-negative",
    ),
    pytest.param(
        "list-response.json",
        sample("user-list-one.json", setting("startIndex", 0)),
        {("$.startIndex", "minimum")},
        id="list-startIndex-zero",
    ),
    pytest.param(
        "list-response.json",
        sample("user-list-one.json", setting("schemas", ["urn:ietf:params:scim:api:messages:2.0:Error"])),
        {("$.schemas", "contains")},
        id="list-schemas-without-ListResponse-urn",
    ),
    pytest.param(
        "list-response.json#/$defs/users",
        sample("user-list-one.json", setting(("Resources", 0, "active"), "False")),
        {("$.Resources[0].active", "type")},
        id="list-of-users-with-active-string",
    ),
    pytest.param(
        "list-response.json#/$defs/groups",
        sample("group-list.json", dropping(("Resources", 0, "id"))),
        {("$.Resources[0]", "required")},
        id="list-of-groups-without-id",
    ),
    # Error
    pytest.param(
        "error.json",
        sample("error-404.json", setting("status", 404)),
        {("$.status", "type")},
        id="error-status-integer",
    ),
    pytest.param(
        "error.json", sample("error-404.json", dropping("status")), {("$", "required")}, id="error-without-status"
    ),
    pytest.param(
        "error.json",
        sample("error-404.json", setting("status", "Not Found")),
        {("$.status", "pattern")},
        id="error-status-not-a-code",
    ),
    pytest.param(
        "error.json",
        sample("error-404.json", setting("scimType", "notFound")),
        {("$.scimType", "enum")},
        id="error-unknown-scimType",
    ),
    pytest.param(
        "error.json",
        sample("error-404.json", setting("schemas", ["urn:ietf:params:scim:api:messages:2.0:ListResponse"])),
        {("$.schemas", "contains")},
        id="error-schemas-without-Error-urn",
    ),
    # PatchOp (op casing is covered by test_entra_pascal_case_op_fails_exactly_at_its_op)
    pytest.param(
        "patch-op.json",
        entra_patch("ki-remove-member-flag", dropping(("Operations", 0, "path"))),
        {("$.Operations[0]", "required")},
        id="patch-remove-without-path",
    ),
    pytest.param(
        "patch-op.json",
        entra_patch("ki-add-string-attribute-flag", dropping(("Operations", 0, "value"))),
        {("$.Operations[0]", "required")},
        id="patch-add-without-value",
    ),
    pytest.param(
        "patch-op.json",
        entra_patch("ki-replace-attributes-flag", setting(("Operations", 1, "value"), "Bjfe")),
        {("$.Operations[1].value", "type")},
        id="patch-pathless-replace-value-not-object",
    ),
    pytest.param(
        "patch-op.json",
        entra_patch("ki-replace-attributes-flag", setting(("Operations", 1, "value"), {})),
        {("$.Operations[1].value", "minProperties")},
        id="patch-pathless-replace-empty-object",
    ),
    pytest.param(
        "patch-op.json",
        entra_patch("ki-add-string-attribute-flag", setting(("Operations", 0, "path"), 7)),
        {("$.Operations[0].path", "type")},
        id="patch-path-not-string",
    ),
    pytest.param(
        "patch-op.json",
        entra_patch("ki-disable-user-flag", setting("Operations", [])),
        {("$.Operations", "minItems")},
        id="patch-no-operations",
    ),
    pytest.param(
        "patch-op.json",
        entra_patch("ki-disable-user-flag", dropping("schemas")),
        {("$", "required")},
        id="patch-without-schemas",
    ),
    # ServiceProviderConfig, ResourceType, Schema
    pytest.param(
        "service-provider-config.json",
        sample("service-provider-config-minimal.json", dropping(("bulk", "maxOperations"))),
        {("$.bulk", "required")},
        id="spc-bulk-without-maxOperations",
    ),
    pytest.param(
        "service-provider-config.json",
        sample("service-provider-config-minimal.json", dropping("etag")),
        {("$", "required")},
        id="spc-without-etag",
    ),
    pytest.param(
        "service-provider-config.json",
        sample("service-provider-config-minimal.json", setting(("patch", "supported"), "true")),
        {("$.patch.supported", "type")},
        id="spc-supported-string",
    ),
    pytest.param(
        "service-provider-config.json",
        sample("service-provider-config-minimal.json", dropping(("authenticationSchemes", 0, "name"))),
        {("$.authenticationSchemes[0]", "required")},
        id="spc-auth-scheme-without-name",
    ),
    pytest.param(
        "resource-type.json",
        sample("resource-type-user.json", dropping("endpoint")),
        {("$", "required")},
        id="resource-type-without-endpoint",
    ),
    pytest.param(
        "resource-type.json",
        sample("resource-type-user.json", setting(("schemaExtensions", 0, "required"), "true")),
        {("$.schemaExtensions[0].required", "type")},
        id="resource-type-extension-required-string",
    ),
    pytest.param(
        "list-response.json#/$defs/schemaDefinitions",
        sample("schemas-list.json", dropping(("Resources", 0, "attributes", 0, "type"))),
        {("$.Resources[0].attributes[0]", "required")},
        id="schema-attribute-without-type",
    ),
    pytest.param(
        "list-response.json#/$defs/schemaDefinitions",
        sample("schemas-list.json", setting(("Resources", 0, "attributes", 0, "type"), "text")),
        {("$.Resources[0].attributes[0].type", "pattern")},
        id="schema-attribute-unknown-type",
    ),
    pytest.param(
        "list-response.json#/$defs/schemaDefinitions",
        sample("schemas-list.json", setting(("Resources", 0, "attributes", 0, "mutability"), "ReadWrite")),
        {("$.Resources[0].attributes[0].mutability", "enum")},
        id="schema-attribute-mutability-wrong-case",
    ),
    pytest.param(
        "schema.json",
        sample("schemas-list.json")["Resources"][1] | {"attributes": None},
        {("$.attributes", "type")},
        id="schema-attributes-null",
    ),
]


@pytest.mark.parametrize(("schema_ref", "instance", "expected"), VIOLATIONS)
def test_violation_is_reported_at_its_json_path(
    violations: Callable[[str, Any], Violations], schema_ref: str, instance: JsonObject, expected: Violations
) -> None:
    assert violations(schema_ref, instance) == expected


PASCAL_CASE_PATCHES = [
    pytest.param(body, id=name)
    for name, body in PATCH_REQUESTS.items()
    if any(operation["op"] not in RFC_OPS for operation in body["Operations"])
]


@pytest.mark.parametrize("body", PASCAL_CASE_PATCHES)
def test_entra_pascal_case_op_fails_exactly_at_its_op(
    violations: Callable[[str, Any], Violations], body: JsonObject
) -> None:
    """The strict schema rejects Entra's ``Add``/``Replace``/``Remove`` at each op's path and nowhere else,
    so the harness's whitelist of those JSON paths is all that separates this deviation from a failure."""
    expected = {
        (f"$.Operations[{index}].op", "enum")
        for index, operation in enumerate(body["Operations"])
        if operation["op"] not in RFC_OPS
    }
    assert violations("patch-op.json", body) == expected
