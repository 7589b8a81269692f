"""The WSGI front door: routing, bearer auth, query parameters, and SCIM-shaped responses and errors."""

from __future__ import annotations

import hmac
import json
import logging
import sys
from collections.abc import Callable, Iterable, Mapping
from dataclasses import replace
from functools import cache
from html import escape
from typing import TYPE_CHECKING, TypeVar

from werkzeug.exceptions import MethodNotAllowed, NotFound
from werkzeug.routing import Map, Rule
from werkzeug.wrappers import Request, Response

from .discovery import (
    Document,
    located,
    resource_type_documents,
    schema_documents,
    service_provider_config_document,
)
from .errors import ScimError
from .faults import Fault, parse_faults
from .filters import Filter, FilterError, filter_paths, parse_attribute_list, parse_filter
from .oauth import DEFAULT_TOKEN_LIFETIME, OAUTH_PATHS, TokenIssuer
from .projection import View
from .resources import RESOURCE_TYPES, Resource, ResourceType
from .store import Store

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIEnvironment

DEFAULT_TOKEN = "scimconform-dev-token"
SCIM_JSON = "application/scim+json"
_ERROR = "urn:ietf:params:scim:api:messages:2.0:Error"
_LIST_RESPONSE = "urn:ietf:params:scim:api:messages:2.0:ListResponse"
_DEFAULT_COUNT = 100
# Why a token the server issued is refused, in the 401's detail.
_TOKEN_REFUSALS = {"expired": "the bearer token has expired", "revoked": "the bearer token was revoked"}
_MAX_COUNT = 200

_log = logging.getLogger(__name__)
_Handler = Callable[..., Response]
_T = TypeVar("_T")


class _Response(Response):
    default_mimetype = None  # a 204 carries no Content-Type


@cache
def _url_map(base: str) -> Map:
    """Compiling werkzeug rules is most of the cost of a server, and a map depends only on the base path."""
    kinds = f"<any({', '.join(RESOURCE_TYPES)}):kind>"
    return Map(
        [
            Rule(f"{base}/{kinds}", methods=["GET"], endpoint="list"),
            Rule(f"{base}/{kinds}", methods=["POST"], endpoint="create"),
            Rule(f"{base}/{kinds}/<rid>", methods=["GET"], endpoint="get"),
            Rule(f"{base}/{kinds}/<rid>", methods=["PUT"], endpoint="replace"),
            Rule(f"{base}/{kinds}/<rid>", methods=["PATCH"], endpoint="patch"),
            Rule(f"{base}/{kinds}/<rid>", methods=["DELETE"], endpoint="delete"),
            Rule(f"{base}/.search", methods=["POST"], endpoint="unsupported"),
            Rule(f"{base}/{kinds}/.search", methods=["POST"], endpoint="unsupported"),
            Rule(f"{base}/Bulk", methods=["POST"], endpoint="unsupported"),
            Rule(f"{base}/ServiceProviderConfig", methods=["GET"], endpoint="config"),
            Rule(f"{base}/ResourceTypes", methods=["GET"], endpoint="resource_types"),
            Rule(f"{base}/ResourceTypes/<name>", methods=["GET"], endpoint="resource_type"),
            Rule(f"{base}/Schemas", methods=["GET"], endpoint="schemas"),
            Rule(f"{base}/Schemas/<path:urn>", methods=["GET"], endpoint="schema"),
        ]
    )


class ReferenceServer:
    """A compliant in-memory SCIM 2.0 server, unless named faults switch single rules off.

    It accepts the static bearer `token` and, with `oauth_clients` ({client id: secret}), tokens its
    endpoint at `/oauth2/token` issued for `token_lifetime` seconds, until a client revokes one at
    `/oauth2/revoke`. No token and no clients: no auth.
    """

    def __init__(
        self,
        *,
        token: str | None = DEFAULT_TOKEN,
        faults: Iterable[str] = (),
        base_path: str = "/scim/v2",
        oauth_clients: Mapping[str, str] | None = None,
        token_lifetime: int = DEFAULT_TOKEN_LIFETIME,
    ) -> None:
        self.token = token
        self.faults = parse_faults(faults)
        self.issuer = TokenIssuer(oauth_clients, token_lifetime, faults=self.faults) if oauth_clients else None
        self.base_path = "/" + base_path.strip("/") if base_path.strip("/") else ""
        self._store = Store(self.faults)
        self._urls = _url_map(self.base_path)
        self._handlers: dict[str, _Handler] = {
            "list": self._list,
            "create": self._create,
            "get": self._get,
            "replace": self._replace,
            "patch": self._patch,
            "delete": self._delete,
            "unsupported": _unsupported,
            "config": self._config,
            "resource_types": self._resource_types,
            "resource_type": self._resource_type,
            "schemas": self._schemas,
            "schema": self._schema,
        }

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        response = self._respond(Request(environ))
        return response(environ, start_response)

    def resource_count(self) -> dict[str, int]:
        """Resources held, by type name: {"User": n, "Group": m}."""
        return self._store.counts()

    # -- dispatch ------------------------------------------------------------------------------

    def _respond(self, request: Request) -> Response:
        if self.issuer is not None and request.path in OAUTH_PATHS:
            return self.issuer.respond(request)
        try:
            self._authenticate(request)
            _negotiate(request, self.faults)
            path = request.path.rstrip("/") or "/"  # Entra's validator posts to /Users/
            endpoint, arguments = self._urls.bind("localhost").match(path, request.method)
            return self._handlers[endpoint](request, **arguments)
        except NotFound:
            return self._error(ScimError(404, f"no endpoint at {request.path}"))
        except MethodNotAllowed as exc:
            allowed = ", ".join(exc.valid_methods or ())
            return self._error(ScimError(405, f"{request.method} is not allowed here"), {"Allow": allowed})
        except ScimError as exc:
            return self._error(exc)
        except Exception:
            _log.exception("unexpected failure answering %s %s", request.method, request.path)
            return self._error(ScimError(500, "internal server error"))

    def _authenticate(self, request: Request) -> None:
        if (self.token is None and self.issuer is None) or Fault.AUTH_NOT_CHECKED in self.faults:
            return
        scheme, _, credentials = request.headers.get("Authorization", "").partition(" ")
        credentials = credentials.strip()
        if scheme.lower() == "bearer":
            if self.token is not None and hmac.compare_digest(credentials.encode(), self.token.encode()):
                return
            problem = self.issuer.status(credentials) if self.issuer is not None else "unknown"
            if problem is None:
                return
            if problem in _TOKEN_REFUSALS:
                raise ScimError(401, _TOKEN_REFUSALS[problem])
        raise ScimError(401, "a valid bearer token is required")

    # -- resources -----------------------------------------------------------------------------

    def _list(self, request: Request, kind: str) -> Response:
        rtype = RESOURCE_TYPES[kind]
        text = request.args.get("filter")
        try:
            where = None if text is None else _parsed(parse_filter, text, "invalidFilter")
        except ScimError:
            if Fault.INVALID_FILTER_IGNORED not in self.faults:
                raise
            where = None  # the fault: a filter the server cannot read is dropped, so everything is listed
        _refuse_unsupported_filters(text, where, self.faults)
        if Fault.PAGINATION_IGNORED in self.faults:
            start, first, count = 1, 0, sys.maxsize
        else:
            start, count = self._page(request)
            zero_based = Fault.STARTINDEX_ZERO_BASED in self.faults and "startIndex" in request.args
            first = start if zero_based else start - 1
        view = self._view(request)
        total, page = self._store.search(rtype, where, first, count)
        if not total and where is not None and Fault.FILTER_ZERO_MATCH_404 in self.faults:
            raise ScimError(404, "no resource matches the filter")
        return self._list_response([self._shaped(request, rtype, r, view) for r in page], total, start)

    def _page(self, request: Request) -> tuple[int, int]:
        """startIndex and count as RFC 7644 §3.4.2.4 reads them: below 1 is 1, a negative count is 0."""
        start = _integer(request.args, "startIndex", 1)
        if start < 1 and Fault.STARTINDEX_BELOW_ONE_REFUSED in self.faults:
            raise ScimError(400, f"startIndex must be 1 or more, not {start}", "invalidValue")
        count = _integer(request.args, "count", _DEFAULT_COUNT)
        if count < 0 and Fault.NEGATIVE_COUNT_IGNORED in self.faults:
            count = _DEFAULT_COUNT
        return max(start, 1), min(max(count, 0), _MAX_COUNT)

    def _create(self, request: Request, kind: str) -> Response:
        rtype = RESOURCE_TYPES[kind]
        resource = self._shaped(request, rtype, self._store.create(rtype, _body(request, self.faults)))
        if Fault.LOCATION_HEADER_MISSING in self.faults:
            return self._json(201, resource)
        return self._json(201, resource, {"Location": self._location(request, rtype, resource["id"])})

    def _get(self, request: Request, kind: str, rid: str) -> Response:
        rtype = RESOURCE_TYPES[kind]
        resource = self._store.get(rtype, rid)
        if resource is None:
            status = 500 if Fault.UNKNOWN_ID_500 in self.faults else 404
            raise ScimError(status, f"{rtype.name} {rid!r} not found")
        return self._json(200, self._shaped(request, rtype, resource))

    def _replace(self, request: Request, kind: str, rid: str) -> Response:
        rtype, body = RESOURCE_TYPES[kind], _body(request, self.faults)
        return self._json(200, self._shaped(request, rtype, self._store.replace(rtype, rid, body)))

    def _patch(self, request: Request, kind: str, rid: str) -> Response:
        """Users answer 200 with the resource, groups 204, as Entra expects: Microsoft Learn, "Tutorial: Develop and
        plan provisioning for a SCIM endpoint", § "Update User [Multi-valued properties]" and § "Group Operations"."""
        rtype = RESOURCE_TYPES[kind]
        resource = self._store.patch(rtype, rid, _body(request, self.faults))
        if rtype.name == "Group":
            return _Response(status=204)
        return self._json(200, self._shaped(request, rtype, resource))

    def _delete(self, request: Request, kind: str, rid: str) -> Response:
        rtype = RESOURCE_TYPES[kind]
        try:
            resource = self._store.delete(rtype, rid)
        except ScimError as exc:
            if exc.status == 404 and Fault.DELETE_UNKNOWN_204 in self.faults:
                return _Response(status=204)  # the fault: an "idempotent" delete hides that nothing was there
            raise
        if Fault.DELETE_RETURNS_200 in self.faults:
            return self._json(200, self._shaped(request, rtype, resource))
        return _Response(status=204)

    def _view(self, request: Request) -> View:
        attributes, excluded = (
            _parsed(parse_attribute_list, request.args.get(name, ""), "invalidValue")
            for name in ("attributes", "excludedAttributes")
        )
        if Fault.EXCLUDED_MEMBERS_IGNORED in self.faults:
            excluded = tuple(path for path in excluded if path.attr.lower() != "members")
        if Fault.ATTRIBUTE_SELECTION_IGNORED in self.faults:
            attributes, excluded = (), ()
        view = View(attributes, excluded)
        return replace(view, always=("schemas",)) if Fault.ALWAYS_RETURNED_DROPPED in self.faults else view

    def _shaped(self, request: Request, rtype: ResourceType, resource: Resource, view: View | None = None) -> Resource:
        """Adds meta.location (it depends on the URL the client used) and applies the requested view."""
        resource["meta"]["location"] = self._location(request, rtype, resource["id"])
        return (view or self._view(request)).apply(resource, rtype)

    def _location(self, request: Request, rtype: ResourceType, rid: str) -> str:
        return f"{self._base_url(request)}/{rtype.endpoint}/{rid}"

    def _base_url(self, request: Request) -> str:
        return request.root_url.rstrip("/") + self.base_path

    # -- discovery -----------------------------------------------------------------------------

    def _config(self, request: Request) -> Response:
        url = f"{self._base_url(request)}/ServiceProviderConfig"
        return self._json(200, located(service_provider_config_document(), url))

    def _resource_types(self, request: Request) -> Response:
        return self._documents(self._located(request, "ResourceTypes", resource_type_documents()))

    def _resource_type(self, request: Request, name: str) -> Response:
        return self._document(self._located(request, "ResourceTypes", resource_type_documents()), name)

    def _schemas(self, request: Request) -> Response:
        return self._documents(self._schema_documents(request))

    def _schema(self, request: Request, urn: str) -> Response:
        return self._document(self._schema_documents(request), urn)

    def _schema_documents(self, request: Request) -> list[Document]:
        if Fault.SCHEMAS_ENDPOINT_MISSING in self.faults:
            raise ScimError(404, f"no endpoint at {request.path}")
        return self._located(request, "Schemas", schema_documents())

    def _located(self, request: Request, collection: str, documents: list[Document]) -> list[Document]:
        base = f"{self._base_url(request)}/{collection}"
        return [located(document, f"{base}/{document['id']}") for document in documents]

    def _documents(self, documents: list[Document]) -> Response:
        return self._list_response(documents, len(documents), 1)

    def _document(self, documents: list[Document], wanted: str) -> Response:
        for document in documents:
            if document["id"].lower() == wanted.lower():
                return self._json(200, document)
        raise ScimError(404, f"{wanted!r} not found")

    # -- rendering -----------------------------------------------------------------------------

    def _list_response(self, resources: list[Resource], total: int, start: int) -> Response:
        body: Resource = {
            "schemas": [_LIST_RESPONSE],
            "totalResults": total,
            "startIndex": start,
            "itemsPerPage": len(resources),
            "Resources": resources,
        }
        if Fault.LIST_WITHOUT_SCHEMAS in self.faults:
            del body["schemas"]
        return self._json(200, body)

    def _json(self, status: int, body: Resource, headers: Mapping[str, str] | None = None) -> Response:
        content_type = "application/json" if Fault.JSON_CONTENT_TYPE in self.faults else SCIM_JSON
        return _Response(json.dumps(body, ensure_ascii=False), status, headers, content_type=content_type)

    def _error(self, error: ScimError, headers: Mapping[str, str] | None = None) -> Response:
        """RFC 7644 §3.12 body, status as a string; a 401 names the scheme (RFC 6750 §3)."""
        if Fault.ERROR_NOT_SCIM in self.faults:
            page = f"<html><body><h1>{error.status}</h1><p>{escape(error.detail)}</p></body></html>"
            response: Response = _Response(page, error.status, headers, content_type="text/html; charset=utf-8")
        else:
            named = error.scim_type is not None and Fault.ERROR_WITHOUT_SCIMTYPE not in self.faults
            scim_type = {"scimType": error.scim_type} if named else {}
            status = "400" if Fault.ERROR_STATUS_FIXED in self.faults else str(error.status)
            body = {"schemas": [_ERROR], "status": status, **scim_type, "detail": error.detail}
            response = self._json(error.status, body, headers)
        if error.status == 401:
            response.headers["WWW-Authenticate"] = "Bearer"
        return response


def _unsupported(request: Request, kind: str | None = None) -> Response:
    """Querying with POST (RFC 7644 §3.4.3) and bulk (§3.7) are optional and not offered: 501, RFC 7644 §3.12's
    answer for an operation the service provider does not support. /ServiceProviderConfig says bulk.supported
    false; it has no field for POST queries, and its filter.supported speaks of GET filters, which are supported."""
    raise ScimError(501, f"POST {request.path} is not supported by this service provider")


def _negotiate(request: Request, faults: frozenset[Fault]) -> None:
    """The fault of a content-negotiating server: a request that names no media type is refused."""
    if Fault.MISSING_ACCEPT_406 in faults and "Accept" not in request.headers:
        raise ScimError(406, "no Accept header: this endpoint only answers application/json when asked")


def _refuse_unsupported_filters(text: str | None, where: Filter | None, faults: frozenset[Fault]) -> None:
    """The faults of servers that filter on a few forms only: no `and`, no externalId, no value paths."""
    if text is not None and Fault.AND_FILTER_UNSUPPORTED in faults and " and " in text.lower():
        raise ScimError(400, "filters with 'and' are not supported", "invalidFilter")
    for path in filter_paths(where) if where is not None else ():
        if Fault.EXTERNALID_FILTER_UNSUPPORTED in faults and path.attr.lower() == "externalid":
            raise ScimError(400, "filtering on externalId is not supported", "invalidFilter")
        if Fault.VALUE_PATH_FILTER_UNSUPPORTED in faults and path.filter is not None:
            raise ScimError(400, "filters on value paths are not supported", "invalidFilter")


def _body(request: Request, faults: frozenset[Fault]) -> Resource:
    """Parsed whatever the declared type (application/scim+json or application/json, with or without a charset
    parameter, which Entra sends: `application/scim+json; charset=utf-8`)."""
    declared = request.headers.get("Content-Type", "")
    if Fault.REQUEST_CHARSET_REFUSED in faults and ";" in declared:
        raise ScimError(415, f"unsupported media type {declared!r}")
    try:
        body = json.loads(request.get_data())
    except ValueError as exc:
        raise ScimError(400, f"the request body is not valid JSON: {exc}", "invalidSyntax") from exc
    if not isinstance(body, dict):
        raise ScimError(400, "the request body must be a JSON object", "invalidSyntax")
    return body


def _parsed(parse: Callable[[str], _T], text: str, scim_type: str) -> _T:
    try:
        return parse(text)
    except FilterError as exc:
        raise ScimError(400, f"cannot parse {text!r}: {exc}", scim_type) from exc


def _integer(arguments: Mapping[str, str], name: str, default: int) -> int:
    text = arguments.get(name)
    if text is None:
        return default
    try:
        return int(text)
    except ValueError as exc:
        raise ScimError(400, f"{name} must be an integer, not {text!r}", "invalidValue") from exc
