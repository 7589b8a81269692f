"""Test identities: seeded fake people and groups, each name carrying the run tag.

The run tag (`scf` + 6 hex digits) is fresh for every run and appears in every userName, displayName
and externalId this run creates, so nothing the run touches can be mistaken for a real account.
The seed makes the values repeatable; names deliberately include non-ASCII letters.
"""

from __future__ import annotations

import os
import random
import secrets
import threading
import unicodedata
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC
from typing import Any

from faker import Faker

from scimconform.errors import ConfigError
from scimconform.profiles import ObjectMapping, Profile

LOCALES = ["de_DE", "fr_FR", "es_ES", "pl_PL", "sv_SE", "en_US"]
RUN_TAG_ENV = "SCIMCONFORM_RUN_TAG"


def new_run_tag() -> str:
    return "scf" + secrets.token_hex(3)


@dataclass(kw_only=True)
class Identity:
    """One object this run may create: its attribute values and, once created, its server id."""

    resource_type: str
    label: str
    values: dict[str, Any]
    id: str | None = None
    members: list[str] = field(default_factory=list)
    deleted: bool = False
    # Paths (and "members") whose stored state is unknown: a request that changed them was refused, and what a
    # server keeps of a refused request is not what this case judges. End-state checks leave them out.
    unsure: set[str] = field(default_factory=set)


def _ascii(text: str) -> str:
    """Letters a UPN can carry; case is kept, as Entra sends userPrincipalName unchanged."""
    folded = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    return "".join(c for c in folded if c.isalnum()) or "X"


class IdentityFactory:
    """Makes identities for one profile; values differ per call but repeat for the same seed."""

    def __init__(self, seed: int, run_tag: str) -> None:
        self.seed = seed
        self.run_tag = run_tag
        # pytest-xdist workers share one run tag and one seed; their labels and values must not collide (a
        # server may keep an externalId unique), so each worker's values come from a seed of its own.
        worker = os.environ.get("PYTEST_XDIST_WORKER")
        self._prefix = f"{run_tag}-{worker}" if worker else run_tag
        own_seed = f"{seed}-{worker}" if worker else seed
        self.faker = Faker(LOCALES)
        self.faker.seed_instance(own_seed)
        self.random = random.Random(own_seed)
        self._counter = 0
        self._lock = threading.Lock()  # members of a list may run at once (engine/members.py)

    def new(self, mapping: ObjectMapping) -> Identity:
        with self._lock:
            return self._new(mapping)

    def _new(self, mapping: ObjectMapping) -> Identity:
        self._counter += 1
        label = f"{self._prefix}-{mapping.resource_type[0].lower()}{self._counter}"
        seeds = {"_given": self.faker.first_name(), "_family": self.faker.last_name()}
        values = {a.path: self._generate(a.generate, seeds, label) for a in mapping.attributes if a.type != "reference"}
        return Identity(resource_type=mapping.resource_type, label=label, values=values)

    def changed_value(self, identity: Identity, path: str, generate: str) -> Any:
        """A new value for one attribute, guaranteed to differ from the current one. Members run at once ask in
        no fixed order, so which member gets which value then varies between runs of one seed."""
        with self._lock:
            return self._changed_value(identity, path, generate)

    def _changed_value(self, identity: Identity, path: str, generate: str) -> Any:
        self._counter += 1
        label = f"{identity.label}-v{self._counter}"
        seeds = {"_given": self.faker.first_name(), "_family": self.faker.last_name()}
        for _ in range(10):
            value = self._generate(generate, seeds, label)
            if value != identity.values.get(path):
                return value
            seeds = {"_given": self.faker.first_name(), "_family": self.faker.last_name()}
        raise RuntimeError(f"could not generate a fresh value for {path}")

    def _generate(self, generator: str, seeds: dict[str, Any], label: str) -> Any:
        try:
            make = _GENERATORS[generator]
        except KeyError:
            raise ValueError(
                f"unknown value generator {generator!r}; known: {', '.join(sorted(_GENERATORS))}"
            ) from None
        return make(self, seeds, label)


# What each profile attribute's `generate` names: a function of the factory, the identity's seed names and its
# label. A table, not methods, so a profile's generators are checked without building a Faker (slow to make).
_GENERATORS: dict[str, Callable[[IdentityFactory, dict[str, Any], str], Any]] = {
    "upn": lambda factory, v, label: f"{label}.{_ascii(v['_given'])}.{_ascii(v['_family'])}@example.com",
    "email": lambda factory, v, label: f"{label}.mail@example.com",
    "other-email": lambda factory, v, label: f"{label}.other@example.com",
    "mail-nickname": lambda factory, v, label: label,
    "object-id": lambda factory, v, label: f"{factory.run_tag}-{uuid.UUID(int=factory.random.getrandbits(128))}",
    "active": lambda factory, v, label: True,
    "given-name": lambda factory, v, label: v["_given"],
    "family-name": lambda factory, v, label: v["_family"],
    "formatted-name": lambda factory, v, label: f"{v['_given']} {v['_family']}",
    "display-name": lambda factory, v, label: f"{v['_given']} {v['_family']} ({factory.run_tag})",
    "group-name": lambda factory, v, label: f"{label} {factory.faker.bs().title()}",
    "job-title": lambda factory, v, label: factory.faker.job(),
    "language-tag": lambda factory, v, label: factory.faker.random_element(
        ["en-US", "de-DE", "fr-FR", "pl-PL", "sv-SE"]
    ),
    "office": lambda factory, v, label: (
        f"Building {factory.faker.random_int(1, 40)}, Room {factory.faker.random_int(100, 999)}"
    ),
    "street-address": lambda factory, v, label: factory.faker.street_address(),
    "city": lambda factory, v, label: factory.faker.city(),
    "region": lambda factory, v, label: factory.faker.administrative_unit(),
    "postal-code": lambda factory, v, label: factory.faker.postcode(),
    "country-code": lambda factory, v, label: factory.faker.country_code(),
    "phone": lambda factory, v, label: factory.faker.msisdn(),
    "employee-number": lambda factory, v, label: str(factory.faker.random_number(digits=8, fix_len=True)),
    "department": lambda factory, v, label: factory.faker.word().title(),
    "text": lambda factory, v, label: f"{label} {factory.faker.word()}",
    "boolean": lambda factory, v, label: factory.faker.boolean(),
    "integer": lambda factory, v, label: factory.faker.random_int(1, 10**6),
    "datetime": lambda factory, v, label: factory.faker.date_time(tzinfo=UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
}


def check_generators(profile: Profile) -> None:
    """Every attribute of the profile names a generator this module knows."""
    known = sorted(_GENERATORS)
    for mapping in filter(None, (profile.users, profile.groups)):
        for attribute in mapping.attributes:
            if attribute.generate not in known and attribute.type != "reference":
                raise ConfigError(
                    f"{profile.source}: attribute {attribute.path} names an unknown generator {attribute.generate!r}; "
                    f"known: {', '.join(known)}"
                )
