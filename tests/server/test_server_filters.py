"""List queries: filters as Entra sends them, the full RFC 7644 §3.4.2.2 grammar, paging, projection."""

from __future__ import annotations

import httpx
import pytest

from scimconform.server.filters import (
    AttrPath,
    Compare,
    FilterError,
    Logical,
    Not,
    Present,
    parse_filter,
    parse_path,
)

from .entra import CORE_USER, ENTERPRISE, LIST_RESPONSE, Json, create_user, patch_body, query


def search(client: httpx.Client, text: str, **parameters: str) -> Json:
    response = client.get("/Users" + query(filter=text, **parameters))
    assert response.status_code == 200, response.text
    body: Json = response.json()
    return body


def user_names(listing: Json) -> list[str]:
    return [resource["userName"] for resource in listing["Resources"]]


@pytest.fixture
def people(client: httpx.Client) -> dict[str, Json]:
    return {
        "alice": create_user(
            client,
            "Alice@Contoso.com",
            externalId="2a69c9a6-1708-45b7-acbe-a7b4c8fb102a",
            title="Engineer",
            emails=[{"type": "work", "value": "alice@contoso.com"}, {"type": "home", "value": "a@home.example"}],
            **{ENTERPRISE: {"employeeNumber": "7"}},
        ),
        "bob": create_user(
            client,
            "bob@contoso.com",
            externalId="jyoung",
            active=False,
            emails=[{"type": "home", "value": "bob@home.example"}],
        ),
        "carol": create_user(client, "carol@fabrikam.com", externalId="Carol", title="Manager"),
    }


def test_zero_matches_is_an_empty_list_response(client: httpx.Client) -> None:
    """A random GUID answers 200 with totalResults 0 (Microsoft Learn, "Tutorial: Develop and plan provisioning
    for a SCIM endpoint", § "Get User by query - Zero results" and the Test Connection note in § "Getting
    started")."""
    listing = search(client, 'userName eq "cf4d78e8-cc4f-4d5d-b8b9-183561c0104a"')
    assert listing == {
        "schemas": [LIST_RESPONSE],
        "totalResults": 0,
        "startIndex": 1,
        "itemsPerPage": 0,
        "Resources": [],
    }


def test_username_filter_is_case_insensitive(client: httpx.Client, people: dict[str, Json]) -> None:
    listing = search(client, 'userName eq "alice@contoso.COM"')
    assert listing["totalResults"] == 1
    assert listing["Resources"][0] == client.get(f"/Users/{people['alice']['id']}").json()


def test_external_id_is_case_exact(client: httpx.Client, people: dict[str, Json]) -> None:
    assert user_names(search(client, 'externalId eq "2a69c9a6-1708-45b7-acbe-a7b4c8fb102a"')) == ["Alice@Contoso.com"]
    assert search(client, 'externalId eq "2A69C9A6-1708-45B7-ACBE-A7B4C8FB102A"')["totalResults"] == 0
    assert search(client, 'externalId eq "carol"')["totalResults"] == 0


def test_work_email_value_path(client: httpx.Client, people: dict[str, Json]) -> None:
    assert user_names(search(client, 'emails[type eq "work"].value eq "ALICE@contoso.com"')) == ["Alice@Contoso.com"]
    assert search(client, 'emails[type eq "work"].value eq "a@home.example"')["totalResults"] == 0
    assert user_names(search(client, 'emails[type eq "home"]')) == ["Alice@Contoso.com", "bob@contoso.com"]


def test_soft_deleted_users_match_filters(client: httpx.Client, people: dict[str, Json]) -> None:
    assert user_names(search(client, "active eq false")) == ["bob@contoso.com"]


@pytest.mark.parametrize("order", ["id-first", "manager-first"])
def test_manager_reference_check(client: httpx.Client, people: dict[str, Json], order: str) -> None:
    """T17: filter=id eq … and manager eq …&attributes=id; the conjuncts may come in either order."""
    alice, carol = people["alice"]["id"], people["carol"]["id"]
    body = patch_body({"op": "Add", "path": "manager", "value": [{"$ref": f"../Users/{carol}", "value": carol}]})
    assert client.patch(f"/Users/{alice}", json=body).status_code == 200
    for manager, expected in ((carol, 1), (people["bob"]["id"], 0)):
        terms = [f'id eq "{alice}"', f'manager eq "{manager}"']
        text = " and ".join(terms if order == "id-first" else terms[::-1])
        listing = search(client, text, attributes="id")
        assert listing["totalResults"] == expected
        if expected:
            assert listing["Resources"] == [{"schemas": [CORE_USER, ENTERPRISE], "id": alice}]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ('title co "gine"', ["Alice@Contoso.com"]),
        ('userName sw "CAROL"', ["carol@fabrikam.com"]),
        ('userName ew "@contoso.com"', ["Alice@Contoso.com", "bob@contoso.com"]),
        ('title ne "Engineer"', ["bob@contoso.com", "carol@fabrikam.com"]),
        ("title pr", ["Alice@Contoso.com", "carol@fabrikam.com"]),
        ('userName gt "b"', ["bob@contoso.com", "carol@fabrikam.com"]),
        ('userName ge "bob@contoso.com"', ["bob@contoso.com", "carol@fabrikam.com"]),
        ('userName lt "b"', ["Alice@Contoso.com"]),
        ('userName le "bob@contoso.com"', ["Alice@Contoso.com", "bob@contoso.com"]),
        ('title eq "Engineer" or title eq "Manager"', ["Alice@Contoso.com", "carol@fabrikam.com"]),
        ("not (title pr)", ["bob@contoso.com"]),
        ('userName sw "a" or userName sw "b" and active eq true', ["Alice@Contoso.com"]),
        ('(userName sw "a" or userName sw "b") and active eq false', ["bob@contoso.com"]),
        (f'{ENTERPRISE}:employeeNumber eq "7"', ["Alice@Contoso.com"]),
        ('employeeNumber eq "7"', ["Alice@Contoso.com"]),
        (f'{CORE_USER}:userName eq "carol@fabrikam.com"', ["carol@fabrikam.com"]),
        ('USERNAME EQ "bob@contoso.com"', ["bob@contoso.com"]),
        ('name.givenName eq "givenName"', ["Alice@Contoso.com", "bob@contoso.com", "carol@fabrikam.com"]),
        ('emails.value co "home.example"', ["Alice@Contoso.com", "bob@contoso.com"]),
        ('emails co "fabrikam"', []),
        ('meta.resourceType eq "User" and title eq null', ["bob@contoso.com"]),
        ('emails[type eq "work" and value ew "contoso.com"]', ["Alice@Contoso.com"]),
    ],
)
def test_filter_grammar(client: httpx.Client, people: dict[str, Json], text: str, expected: list[str]) -> None:
    assert user_names(search(client, text)) == expected


def test_meta_dates_compare_chronologically(client: httpx.Client, people: dict[str, Json]) -> None:
    created = people["bob"]["meta"]["created"]
    assert user_names(search(client, f'meta.created gt "{created}"')) == ["carol@fabrikam.com"]


@pytest.mark.parametrize(
    "text",
    [
        "externalId eq jyoung",  # the tutorial's "Handling provisioning …" example 1, unquoted: not a valid compValue
        'userName regex "a"',
        'userName eq "a" and',
        '(userName eq "a"',
        "userName",
        "active gt true",
        'userName eq "unterminated',
        'emails[type eq "work"',
        '"value" eq "x"',
        "",
    ],
)
def test_invalid_filter_is_400_invalid_filter(client: httpx.Client, text: str) -> None:
    response = client.get("/Users" + query(filter=text))
    assert response.status_code == 400
    assert response.json()["scimType"] == "invalidFilter"


def test_parser_precedence_and_literals() -> None:
    a, b, c = (Compare(AttrPath(attr=name), "eq", 1) for name in "abc")
    assert parse_filter("a eq 1 or b eq 1 and c eq 1") == Logical("or", a, Logical("and", b, c))
    assert parse_filter("not (a eq 1) and b eq 1") == Logical("and", Not(a), b)
    assert parse_filter('x eq "say \\"hi\\""') == Compare(AttrPath(attr="x"), "eq", 'say "hi"')
    assert parse_filter("x ge 12.5e1") == Compare(AttrPath(attr="x"), "ge", 125.0)
    assert parse_filter("x eq -12") == Compare(AttrPath(attr="x"), "eq", -12)
    assert parse_filter("x eq True") == Compare(AttrPath(attr="x"), "eq", True)
    assert parse_filter("x eq null") == Compare(AttrPath(attr="x"), "eq", None)
    assert parse_filter('members[value eq "u"]') == Present(
        AttrPath(attr="members", filter=Compare(AttrPath(attr="value"), "eq", "u"))
    )


def test_paths() -> None:
    assert parse_path("name.givenName") == AttrPath(attr="name", sub="givenName")
    assert parse_path(f"{ENTERPRISE}:manager") == AttrPath(attr="manager", schema=ENTERPRISE)
    assert parse_path(ENTERPRISE) == AttrPath(attr=ENTERPRISE)
    assert parse_path('emails[type eq "work"].value') == AttrPath(
        attr="emails", filter=Compare(AttrPath(attr="type"), "eq", "work"), sub="value"
    )
    assert parse_path("members[$ref pr]") == AttrPath(attr="members", filter=Present(AttrPath(attr="$ref")))
    for bad in ("", "a b", "emails[type eq 1", "name.a.b", "1abc", "a[b eq 1]]"):
        with pytest.raises(FilterError):
            parse_path(bad)


def test_paging(client: httpx.Client) -> None:
    for n in range(5):
        create_user(client, f"page{n}@example.com")

    def page(**parameters: str) -> tuple[int, int, int, list[str]]:
        listing = client.get("/Users" + query(**parameters)).json()
        return (listing["totalResults"], listing["startIndex"], listing["itemsPerPage"], user_names(listing))

    assert page(startIndex="2", count="2") == (5, 2, 2, ["page1@example.com", "page2@example.com"])
    assert page(startIndex="0", count="1") == (5, 1, 1, ["page0@example.com"])
    assert page(startIndex="-3") == (5, 1, 5, [f"page{n}@example.com" for n in range(5)])
    assert page(startIndex="5", count="10") == (5, 5, 1, ["page4@example.com"])
    assert page(startIndex="9") == (5, 9, 0, [])
    assert page(count="0") == (5, 1, 0, [])
    assert page(count="-1") == (5, 1, 0, [])
    response = client.get("/Users" + query(count="ten"))
    assert (response.status_code, response.json()["scimType"]) == (400, "invalidValue")


def test_count_defaults_to_100_and_is_capped_at_200(client: httpx.Client) -> None:
    for n in range(201):
        client.post("/Users", json={"userName": f"bulk{n}"})
    default = client.get("/Users").json()
    assert (default["totalResults"], default["itemsPerPage"]) == (201, 100)
    assert client.get("/Users?count=500").json()["itemsPerPage"] == 200


def test_attributes_and_excluded_attributes(client: httpx.Client, people: dict[str, Json]) -> None:
    alice = people["alice"]["id"]
    chosen = client.get(f"/Users/{alice}?attributes=userName,name.givenName,emails.value,{ENTERPRISE}:employeeNumber")
    assert chosen.json() == {
        "schemas": [CORE_USER, ENTERPRISE],
        "id": alice,
        "userName": "Alice@Contoso.com",
        "name": {"givenName": "givenName"},
        "emails": [{"value": "alice@contoso.com"}, {"value": "a@home.example"}],
        ENTERPRISE: {"employeeNumber": "7"},
    }
    whole_extension = client.get(f"/Users/{alice}?attributes={ENTERPRISE}").json()
    assert set(whole_extension) == {"schemas", "id", ENTERPRISE}
    dropped = client.get(f"/Users/{alice}?excludedAttributes=emails,name.formatted,meta,ID,Schemas,employeeNumber")
    body = dropped.json()
    assert "emails" not in body
    assert "meta" not in body
    assert ENTERPRISE not in body
    assert body["id"] == alice and body["schemas"] == [CORE_USER, ENTERPRISE]
    assert body["name"] == {"familyName": "familyName", "givenName": "givenName"}


def test_attributes_apply_to_lists(client: httpx.Client, people: dict[str, Json]) -> None:
    listing = search(client, 'userName eq "carol@fabrikam.com"', attributes="USERNAME")
    assert listing["Resources"] == [
        {"schemas": [CORE_USER], "id": people["carol"]["id"], "userName": "carol@fabrikam.com"}
    ]
