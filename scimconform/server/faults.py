"""Named faults: each switches off exactly one rule, so the harness can prove it catches that breach.

Code elsewhere asks `Fault.X in faults` at the one spot where the rule is enforced.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from enum import StrEnum
from types import MappingProxyType
from typing import Self


class Fault(StrEnum):
    """A fault's value is its public name; `rule` is the rule it breaks."""

    rule: str

    def __new__(cls, name: str, rule: str) -> Self:
        member = str.__new__(cls, name)
        member._value_ = name
        member.rule = rule
        return member

    FILTER_ZERO_MATCH_404 = (
        "filter-zero-match-404",
        "A filter that matches nothing answers 200 with an empty ListResponse, never 404.",
    )
    FILTER_USERNAME_CASE_SENSITIVE = (
        "filter-username-case-sensitive",
        "Filters compare userName case-insensitively (caseExact false).",
    )
    DUPLICATE_USERNAME_ACCEPTED = (
        "duplicate-username-accepted",
        "A second user with the same userName (any case) is refused with 409 uniqueness.",
    )
    DUPLICATE_DISPLAYNAME_ACCEPTED = (
        "duplicate-displayname-accepted",
        "A second group with the same displayName (any case) is refused with 409 uniqueness.",
    )
    UNKNOWN_SCHEMA_URI_REFUSED = (
        "unknown-schema-uri-refused",
        "A create whose schemas list a URI the server has no schema for (Entra's ADSCIM Group URI) is accepted.",
    )
    PATHLESS_ADD_IGNORED = (
        "pathless-add-ignored",
        "A path-less add applies its dotted and URN-qualified keys, as a path-less replace does.",
    )
    MIXED_VERB_PATCH_FIRST_ONLY = (
        "mixed-verb-patch-first-only",
        "A PATCH whose operations use different verbs (Replace and Add) applies every operation.",
    )
    REQUEST_CHARSET_REFUSED = (
        "request-charset-refused",
        "A request body sent as Content-Type: application/scim+json; charset=utf-8 is accepted.",
    )
    DISABLED_USER_DELETE_REFUSED = (
        "disabled-user-delete-refused",
        "A user disabled earlier (active false) can still be deleted.",
    )
    PASCALCASE_OP_REJECTED = (
        "pascalcase-op-rejected",
        "PATCH op values are case-insensitive: Entra sends Add, Replace and Remove.",
    )
    FALSE_STRING_STORED = (
        "false-string-stored",
        'Boolean attributes sent as the strings "True"/"False" are stored as real booleans.',
    )
    VALUE_FILTER_PATH_NO_ADD = (
        "value-filter-path-no-add",
        'add/replace on a value-filtered path that matches nothing adds an element (emails[type eq "work"]).',
    )
    PATHLESS_DOTTED_KEYS_IGNORED = (
        "pathless-dotted-keys-ignored",
        "A path-less add/replace applies dotted (name.givenName) and URN-qualified keys.",
    )
    MEMBER_REMOVE_LIST_REMOVES_ALL = (
        "member-remove-list-removes-all",
        "Remove on path members with a value list removes exactly the listed members.",
    )
    MEMBERS_FILTER_PATH_UNSUPPORTED = (
        "members-filter-path-unsupported",
        'The PATCH path members[value eq "id"] is supported.',
    )
    ONLY_FIRST_MEMBER_ADDED = (
        "only-first-member-added",
        "An add of several members in one operation adds all of them.",
    )
    EXCLUDED_MEMBERS_IGNORED = (
        "excluded-members-ignored",
        "excludedAttributes=members leaves members out of group responses.",
    )
    SOFT_DELETED_HIDDEN = ("soft-deleted-hidden", "Users with active=false are still returned by GET and by filters.")
    DELETE_RETURNS_200 = ("delete-returns-200", "DELETE answers 204 No Content with an empty body.")
    DELETED_USER_STILL_RETURNED = ("deleted-user-still-returned", "A deleted user is gone: GET answers 404 afterwards.")
    JSON_CONTENT_TYPE = ("json-content-type", "Every response body is sent as Content-Type: application/scim+json.")
    AUTH_NOT_CHECKED = ("auth-not-checked", "A missing or wrong bearer token is refused with 401.")
    ERROR_NOT_SCIM = ("error-not-scim", "Errors are SCIM Error JSON bodies (RFC 7644 §3.12).")
    ENTERPRISE_EXTENSION_DROPPED = (
        "enterprise-extension-dropped",
        "Enterprise extension attributes are stored and returned.",
    )
    SCHEMAS_ENDPOINT_MISSING = ("schemas-endpoint-missing", "The /Schemas discovery endpoint exists.")
    USERNAME_TRANSFORMED = ("username-transformed", "userName is stored exactly as sent (no lower-casing).")
    LIST_WITHOUT_SCHEMAS = (
        "list-without-schemas",
        "A ListResponse carries schemas: [urn:ietf:params:scim:api:messages:2.0:ListResponse].",
    )
    UNKNOWN_ID_500 = ("unknown-id-500", "GET of an unknown id answers 404, not a server error.")
    PAGINATION_IGNORED = ("pagination-ignored", "startIndex and count page the results of a list request.")
    ID_CHANGES_ON_PATCH = ("id-changes-on-patch", "A resource's id never changes, PATCH included.")
    STARTINDEX_ZERO_BASED = (
        "startindex-zero-based",
        "startIndex is 1-based: startIndex=1 is the first resource (RFC 7644 §3.4.2.4).",
    )
    AND_FILTER_UNSUPPORTED = (
        "and-filter-unsupported",
        'Filters combine conditions with and (Entra\'s manager reference check: id eq "…" and manager eq "…").',
    )
    READD_MEMBER_CONFLICT = (
        "readd-member-conflict",
        "Adding a member that is already in the group succeeds and changes nothing.",
    )
    NULL_VALUE_REJECTED = (
        "null-value-rejected",
        "A PATCH replace with a null value clears the attribute instead of failing.",
    )
    LOCATION_HEADER_MISSING = (
        "location-header-missing",
        "A 201 Created carries a Location header with the new resource's URI (RFC 7644 §3.3).",
    )
    NUMBER_STORED_AS_STRING = (
        "number-stored-as-string",
        "Integer attributes are stored and returned as JSON numbers, as sent.",
    )
    WRONG_CLIENT_SECRET_ACCEPTED = (
        "wrong-client-secret-accepted",
        "The token endpoint refuses a client credentials request with a wrong secret.",
    )
    EXPIRED_TOKEN_ACCEPTED = ("expired-token-accepted", "An expired access token is refused with 401.")
    REVOKED_TOKEN_ACCEPTED = (
        "revoked-token-accepted",
        "An access token its client revoked at the revocation endpoint (RFC 7009) is refused with 401.",
    )
    TOKEN_LIFETIME_TOO_LONG = (
        "token-lifetime-too-long",
        "Access tokens live between 1 and 6 hours (expires_in 3600 to 21600), as the gallery requires.",
    )
    MANAGER_IGNORED = ("manager-ignored", "A PATCH setting the enterprise manager stores it.")
    # RFC 7643/7644 rules beyond what Entra's requests reach; each is caught by an ENTRA-RFC case.
    INVALID_FILTER_IGNORED = (
        "invalid-filter-ignored",
        "A filter with an unknown operator or broken syntax is refused with 400 invalidFilter (RFC 7644 §3.4.2.2).",
    )
    ERROR_WITHOUT_SCIMTYPE = (
        "error-without-scimtype",
        "An error the RFC gives a keyword names it in scimType (RFC 7644 §3.12).",
    )
    ERROR_STATUS_FIXED = (
        "error-status-fixed",
        "An Error body's status is the HTTP status of its response (RFC 7644 §3.12).",
    )
    FILTER_ATTRIBUTE_CASE_SENSITIVE = (
        "filter-attribute-case-sensitive",
        "Attribute names in filters are case-insensitive: USERNAME means userName (RFC 7644 §3.4.2.2).",
    )
    ATTRIBUTE_SELECTION_IGNORED = (
        "attribute-selection-ignored",
        "attributes and excludedAttributes choose what a response holds (RFC 7644 §3.4.2.5).",
    )
    ALWAYS_RETURNED_DROPPED = (
        "always-returned-dropped",
        "id (returned: always) is in every answer, whatever attributes or excludedAttributes ask (RFC 7644 §3.4.2.5).",
    )
    STARTINDEX_BELOW_ONE_REFUSED = (
        "startindex-below-one-refused",
        "A startIndex below 1 is read as 1 (RFC 7644 §3.4.2.4).",
    )
    NEGATIVE_COUNT_IGNORED = (
        "negative-count-ignored",
        "A negative count is read as 0: no resources, only totalResults (RFC 7644 §3.4.2.4).",
    )
    META_RESOURCE_TYPE_PLURAL = (
        "meta-resource-type-plural",
        "meta.resourceType is the resource type's name, User or Group (RFC 7643 §3.1).",
    )
    LAST_MODIFIED_DIFFERS_AT_CREATE = (
        "last-modified-differs-at-create",
        "A resource never modified has meta.lastModified equal to meta.created (RFC 7643 §3.1).",
    )
    UNIQUENESS_UNCHECKED_ON_PATCH = (
        "uniqueness-unchecked-on-patch",
        "A PATCH giving a user another user's userName is refused with 409 uniqueness (RFC 7644 §3.12).",
    )
    PUT_HONOURS_CLIENT_ID = (
        "put-honours-client-id",
        "An id in a PUT body is ignored: the service provider issues ids (RFC 7643 §3.1, RFC 7644 §3.5.1).",
    )
    REQUIRED_REMOVE_ACCEPTED = (
        "required-remove-accepted",
        "A PATCH removing a required attribute (userName) is refused with 400 mutability (RFC 7644 §3.5.2.2).",
    )
    READONLY_PATCH_IGNORED = (
        "readonly-patch-ignored",
        "A PATCH of a readOnly attribute (id) is refused with 400 mutability (RFC 7644 §3.5.2).",
    )
    PATHLESS_REMOVE_IGNORED = (
        "pathless-remove-ignored",
        "A remove operation without a path is refused with 400 noTarget (RFC 7644 §3.5.2.2).",
    )
    PATCH_NOT_ATOMIC = (
        "patch-not-atomic",
        "A PATCH whose operation fails changes nothing, earlier operations included (RFC 7644 §3.5.2).",
    )
    UNMATCHED_REMOVE_FILTER_CLEARS = (
        "unmatched-remove-filter-clears",
        "A remove whose value filter matches no value removes nothing (RFC 7644 §3.5.2.2).",
    )
    DELETE_UNKNOWN_204 = (
        "delete-unknown-204",
        "DELETE of a resource that no longer exists answers 404 (RFC 7644 §3.6).",
    )
    DELETED_USERNAME_RESERVED = (
        "deleted-username-reserved",
        "A deleted user's userName can be given to a new user (RFC 7644 §3.6).",
    )
    MISSING_ACCEPT_406 = ("missing-accept-406", "A request without an Accept header is answered in SCIM JSON, not 406.")
    EXTERNALID_FILTER_UNSUPPORTED = ("externalid-filter-unsupported", "Filters on externalId are supported (eq).")
    VALUE_PATH_FILTER_UNSUPPORTED = (
        "value-path-filter-unsupported",
        'Filters on value paths such as emails[type eq "work"].value are supported.',
    )
    GROUP_ATTRIBUTE_ADD_REFUSED = ("group-attribute-add-refused", "A PATCH add on a group's externalId sets it.")
    OTHER_EMAIL_DROPPED = ("other-email-dropped", 'A second email (type "other") is stored beside the work email.')
    FAX_NUMBER_DROPPED = ("fax-number-dropped", 'A fax number (phoneNumbers type "fax") is stored.')
    ADDRESS_FORMATTED_DROPPED = ("address-formatted-dropped", "An address's formatted text is stored.")
    PASSWORD_RETURNED = ("password-returned", "password (returned: never) is never in a response (RFC 7643 §4.1.1).")
    STRING_NOT_VALIDATED = ("string-not-validated", "A string attribute given a number is refused (RFC 7643 §2.3.1).")
    BOOLEAN_NOT_VALIDATED = ("boolean-not-validated", 'A boolean given "maybe" is refused (RFC 7643 §2.3.2).')
    NUMBER_NOT_VALIDATED = ("number-not-validated", 'An integer given "abc" is refused (RFC 7643 §2.3.4).')
    DATETIME_NOT_VALIDATED = ("datetime-not-validated", 'A dateTime given "not-a-date" is refused (RFC 7643 §2.3.5).')
    MULTI_VALUED_NOT_ENFORCED = ("multi-valued-not-enforced", "Multi-valued attributes take arrays (RFC 7643 §2.4).")
    COMPLEX_NOT_ENFORCED = ("complex-not-enforced", "A complex attribute takes an object (RFC 7643 §2.3.8).")
    READONLY_STORED = (
        "readonly-stored",
        "readOnly values sent by a client (a User's groups) are ignored, not stored (RFC 7644 §3.3, §3.5.1).",
    )
    IMMUTABLE_CHANGED = (
        "immutable-changed",
        "A PATCH changing an immutable value already set (a member's value) is refused (RFC 7644 §3.5.2).",
    )


FAULTS: Mapping[str, str] = MappingProxyType({fault.value: fault.rule for fault in Fault})


class UnknownFaultError(ValueError):
    """Raised for a fault name the server does not know; the message lists the valid names."""


def parse_faults(names: Iterable[str]) -> frozenset[Fault]:
    """Resolve public fault names, refusing all unknown ones at once so one run fixes every typo."""
    wanted = list(names)
    unknown = [name for name in wanted if name not in FAULTS]
    if unknown:
        raise UnknownFaultError(f"unknown fault(s): {', '.join(unknown)}; valid faults: {', '.join(FAULTS)}")
    by_name = {fault.value: fault for fault in Fault}
    return frozenset(by_name[name] for name in wanted)
