"""Each dialect must put a change on the wire exactly as the Entra sources print it.

The sources: Microsoft Learn, "Known issues and resolutions with SCIM 2.0 protocol compliance", § "Flags to
alter the SCIM behavior", and the samples of "Tutorial: Develop and plan provisioning for a SCIM endpoint"
(docs/entra-notes.md, "PATCH dialects").
"""

from typing import Any

import pytest

from scimconform.dialects import DIALECTS, PATCH_SCHEMA, Change

EMPLOYEE_NUMBER = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:employeeNumber"
WORK_EMAIL = 'emails[type eq "work"].value'


def ops(dialect: str, *changes: Change) -> list[dict[str, Any]]:
    body = DIALECTS[dialect].render(list(changes))
    assert body["schemas"] == [PATCH_SCHEMA]
    operations: list[dict[str, Any]] = body["Operations"]
    return operations


@pytest.mark.parametrize(
    ("dialect", "expected"),
    [
        ("default", {"op": "Replace", "path": "active", "value": "False"}),
        ("aadOptscim062020", {"op": "replace", "path": "active", "value": False}),
        ("tutorial", {"op": "Replace", "path": "active", "value": False}),
    ],
)
def test_disable_user(dialect: str, expected: dict[str, Any]) -> None:
    assert ops(dialect, Change("replace", {"active": False})) == [expected]


def test_default_dialect_sends_one_operation_per_attribute() -> None:
    change = Change(
        "replace", {"displayName": "Pvlo", WORK_EMAIL: "a@b.c", "name.givenName": "Gtfd", EMPLOYEE_NUMBER: "1"}
    )
    assert ops("default", change) == [
        {"op": "Replace", "path": "displayName", "value": "Pvlo"},
        {"op": "Replace", "path": WORK_EMAIL, "value": "a@b.c"},
        {"op": "Replace", "path": "name.givenName", "value": "Gtfd"},
        {"op": "Replace", "path": EMPLOYEE_NUMBER, "value": "1"},
    ]


def test_flag_dialect_collapses_plain_attributes_into_one_pathless_replace() -> None:
    change = Change(
        "replace", {"displayName": "Bjfe", WORK_EMAIL: "m@t.c", "name.givenName": "Kkom", EMPLOYEE_NUMBER: "Aklq"}
    )
    assert ops("aadOptscim062020", change) == [
        {"op": "replace", "path": WORK_EMAIL, "value": "m@t.c"},
        {"op": "replace", "value": {"displayName": "Bjfe", "name.givenName": "Kkom", EMPLOYEE_NUMBER: "Aklq"}},
    ]


@pytest.mark.parametrize(
    ("dialect", "expected"),
    [
        ("default", [{"op": "Add", "path": "nickName", "value": "Babs"}]),
        ("aadOptscim062020", [{"op": "add", "path": "nickName", "value": "Babs"}]),
    ],
)
def test_add_single_value_attribute(dialect: str, expected: list[dict[str, Any]]) -> None:
    assert ops(dialect, Change("add", {"nickName": "Babs"})) == expected


def test_flag_dialect_sets_a_new_filtered_element_with_replace() -> None:
    phone = 'phoneNumbers[type eq "work"].value'
    assert ops("aadOptscim062020", Change("add", {phone: "555"})) == [{"op": "replace", "path": phone, "value": "555"}]
    assert ops("default", Change("add", {phone: "555"})) == [{"op": "Add", "path": phone, "value": "555"}]


@pytest.mark.parametrize(
    ("dialect", "expected"),
    [
        ("default", [{"op": "Remove", "path": "members", "value": [{"value": "u1091"}]}]),
        ("aadOptscim062020", [{"op": "remove", "path": 'members[value eq "u1091"]'}]),
        ("tutorial", [{"op": "Remove", "path": "members", "value": [{"$ref": None, "value": "u1091"}]}]),
    ],
)
def test_remove_member(dialect: str, expected: list[dict[str, Any]]) -> None:
    assert ops(dialect, Change("remove-members", {"u1091": None})) == expected


@pytest.mark.parametrize(
    ("dialect", "expected"),
    [
        ("default", [{"op": "Add", "path": "members", "value": [{"value": "a"}, {"value": "b"}]}]),
        (
            "tutorial",
            [{"op": "Add", "path": "members", "value": [{"$ref": None, "value": "a"}, {"$ref": None, "value": "b"}]}],
        ),
        ("aadOptscim062020", [{"op": "add", "path": "members", "value": [{"value": "a"}, {"value": "b"}]}]),
    ],
)
def test_add_several_members_in_one_operation(dialect: str, expected: list[dict[str, Any]]) -> None:
    assert ops(dialect, Change("add-members", {"a": None, "b": None})) == expected
