"""Who lives in the sandbox: generated users, or a scenario file.

Scenario format (JSON; every key optional)::

    {
      "settings": {"avatars_setting": "enabled_pending", "upload_mode": "local"},
      "accounts": [{"id": 1, "name": "Springfield Schools"}, {"id": 2, "name": "Shelbyville District"}],
      "generate": 20,
      "users": [
        {"id": 1001, "name": "Ada Lovelace", "sortable_name": "Lovelace, Ada",
         "sis_user_id": "S1001", "login_id": "ada@example.edu", "email": "ada@example.edu",
         "integration_id": null, "password": "secret",
         "root_account_ids": [1],
         "enrollments": ["student", {"type": "student", "state": "deleted", "root_account_id": 1}],
         "workflow_state": "registered", "quota": 1000000,
         "avatar_state": "locked", "own_avatar": true,
         "admin": false, "token": "student-token"}
      ],
      "observer_links": [{"observer": 2001, "student": 1001, "root_account_id": 1}]
    }

- ``settings``: any ``SandboxConfig`` field except host/ports/scenario; they win over the config passed in.
- ``accounts``: root accounts, or sub-accounts with ``"parent": <id>``; account 1 (``self``, the domain root
  account) always exists. ``avatars_service`` (true/false) overrides the avatars service for users whose first
  login is in that account.
- ``generate``: also generate this many users (as ``SandboxConfig.users`` does); default 0 with a scenario.
- ``users[]``: only ``name`` is required. ``id`` defaults to the next free id; ``sortable_name`` to
  "Last, First"; ``login_id`` to an address made from the name (``null`` = no login at all, so SIS lookups
  and masquerading fail); ``email`` to the login when it looks like an email. The login lives in the first of
  ``root_account_ids`` (default ``[1]``). ``enrollments`` entries are a type or an object (state defaults to
  ``active``). ``workflow_state`` ``creation_pending``/``pending_approval`` exercises the create-user reuse
  quirk (docs/canvas.md §14.1); ``deleted`` hides the user from listings. ``admin``: ``true`` for every permission or a
  list of Canvas permission names, held on ``admin_account`` (default 1; a sub-account's id makes a sub-account
  admin). ``sub_accounts``: ids of sub-accounts the user belongs to (their listings show it).
  ``token``: an API token that authenticates as this user. ``own_avatar``: the user
  already chose a picture of their own; ``avatar_state`` sets the moderation state (e.g. ``locked``).
  ``merged_into``: the id of the user this one was merged into (it becomes deleted, with no login: acting as it
  is refused with ``merged_into_user_id``). Acting as a user is also refused for ``login_id: null``, a login in
  another root account (``root_account_ids: [2, 1]``) and an ``admin`` with rights the token's role lacks.
  ``home_account_id``: the root account of the user's first login when it is another one (``User#account``):
  with that account's avatars service off, the user's JSON has no avatar_url key.
- ``observer_links``: existing observer → student links (user ids).

Generated users get ids from 1001, SIS ids ``S000001``…, logins ``first.last<n>@students.example.edu``
(also their email), names with accents and apostrophes, a student enrollment (except ``unenrolled_rate`` of
them) and no avatar. The two sandbox admins (ids 1 and 2) are not listed in the account's users.
"""

from __future__ import annotations

import hashlib
import json
import random
import string
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

from profilesync_sandbox.canvas.config import SandboxConfig
from profilesync_sandbox.canvas.records import (
    ALL_PERMISSIONS,
    DOMAIN_ROOT_ACCOUNT_ID,
    PARTNER_ACCOUNT_ID,
    Account,
    Enrollment,
    ObservationLink,
    UserRecord,
)

ADMIN_USER_ID = 1
HELPDESK_USER_ID = 2
FIRST_GENERATED_ID = 1001

_FIRST = (
    "Ada", "Zoë", "José", "Ngọc", "Søren", "Łukasz", "Aoife", "Mei", "Kwame", "Fatima", "Liam", "Olivia",
    "Noah", "Emma", "Mateo", "Sofia", "Aarav", "Priya", "Chloé", "Björn", "Hana", "Yusuf", "Isla", "Ethan",
    "Maya", "Leo", "Amara", "Ravi", "Elif", "Tomás", "Ingrid", "Kai", "Nia", "Omar", "Siobhán", "Dmitri",
)  # fmt: skip
_LAST = (
    "Lovelace", "O'Brien", "Núñez", "van der Berg", "Müller", "Ødegaard", "Nguyen", "Smith", "Okafor",
    "García", "Kowalski", "Tanaka", "Haddad", "Johansson", "Silva", "Patel", "Dubois", "Rossi", "Kim",
    "MacDonald", "Chen", "Ivanova", "Ahmed", "Fitzgerald", "Costa", "Yılmaz", "Brown", "Lefèvre", "Singh",
    "d'Arcy", "Andersen", "Zhou", "Walker", "Moreau", "Popescu", "Abara",
)  # fmt: skip
# docs/canvas.md §7 encoding traps for clients: slash, space, plus, a trailing ".json", leading zeros, lower case
_UUID_ALPHABET = string.ascii_letters + string.digits
_TRICKY = ("S/{n}", "S {n}", "S+{n}", "S{n}.json", "00{n}", "s{n}x")


@dataclass
class Population:
    """Everything the state starts with."""

    accounts: list[Account]
    users: list[UserRecord]
    links: list[ObservationLink] = field(default_factory=list)
    tokens: dict[str, int] = field(default_factory=dict)  # token → user id
    own_avatars: list[int] = field(default_factory=list)  # users who start with a picture of their own
    avatar_states: dict[int, str] = field(default_factory=dict)


def load_scenario(source: Path | Mapping[str, Any]) -> dict[str, Any]:
    """Read a scenario file (or accept an already-parsed mapping) and check its top-level shape."""
    data: Any = json.loads(Path(source).read_text(encoding="utf-8")) if isinstance(source, Path) else source
    if not isinstance(data, Mapping):
        raise ValueError("a scenario must be a JSON object")
    unknown = sorted(set(data) - {"settings", "accounts", "generate", "users", "observer_links"})
    if unknown:
        raise ValueError(f"unknown scenario keys: {', '.join(unknown)}")
    return dict(data)


def random_uuid(rng: random.Random, length: int = 40) -> str:
    """A Canvas-style uuid: ``length`` letters and digits."""
    return "".join(rng.choices(_UUID_ALPHABET, k=length))


def derived_token(seed: int, role: str) -> str:
    """A token that looks like Canvas's (``<shard>~<64 chars>``) and is stable for a seed."""
    return "1~" + hashlib.sha256(f"profilesync-sandbox:{role}:{seed}".encode()).hexdigest()


def build_population(config: SandboxConfig, scenario: Mapping[str, Any] | None) -> Population:
    """Admins, generated users and scenario users, with their tokens and links."""
    rng = random.Random(config.seed)
    base_time = datetime(2023, 8, 1, 16, 0, tzinfo=timezone.utc)
    accounts = {DOMAIN_ROOT_ACCOUNT_ID: Account(DOMAIN_ROOT_ACCOUNT_ID, "Sandbox School", random_uuid(rng))}
    for raw in (scenario or {}).get("accounts", []):
        parent = int(raw["parent"]) if raw.get("parent") is not None else None
        account = Account(int(raw["id"]), str(raw.get("name", f"Account {raw['id']}")), "", parent)
        account.avatars_service = raw.get("avatars_service")
        accounts[account.id] = account
    if config.foreign_home_users:
        accounts.setdefault(
            PARTNER_ACCOUNT_ID, Account(PARTNER_ACCOUNT_ID, "Partner District", "", avatars_service=False)
        )
    for account in accounts.values():
        account.uuid = account.uuid or random_uuid(rng)

    users = [
        _admin(ADMIN_USER_ID, "Sandbox Admin", ALL_PERMISSIONS, base_time, rng),
        _admin(HELPDESK_USER_ID, "Sandbox Helpdesk", ALL_PERMISSIONS - {"become_user"}, base_time, rng),
    ]
    tokens = {
        config.admin_token or derived_token(config.seed, "admin"): ADMIN_USER_ID,
        derived_token(config.seed, "no-masquerade"): HELPDESK_USER_ID,
    }
    generate = config.users if scenario is None else int(scenario.get("generate", 0))
    users.extend(_generated(config, generate, base_time, rng))
    for user in users[2 : 2 + config.foreign_home_users]:  # past the two admins: the lowest generated ids
        user.home_account_id = PARTNER_ACCOUNT_ID
        user.root_account_ids.append(PARTNER_ACCOUNT_ID)
    population = Population(accounts=list(accounts.values()), users=users, tokens=tokens)
    if scenario is not None:
        _add_scenario_users(population, scenario, base_time, rng)
    return population


def _admin(user_id: int, name: str, perms: frozenset[str], at: datetime, rng: random.Random) -> UserRecord:
    first, last = name.split(" ", 1)
    return UserRecord(
        id=user_id,
        name=name,
        sortable_name=f"{last}, {first}",
        short_name=name,
        uuid=random_uuid(rng),
        created_at=at,
        root_account_ids=[DOMAIN_ROOT_ACCOUNT_ID],
        login_account_id=DOMAIN_ROOT_ACCOUNT_ID,
        login_id=f"{first.lower()}.{last.lower()}@sandbox.invalid",
        email=f"{first.lower()}.{last.lower()}@sandbox.invalid",
        admin_permissions=perms,
        listed=False,
    )


def ascii_slug(text: str) -> str:
    """``Zoë O'Brien`` → ``zoeobrien``: for logins made from names."""
    folded = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    return "".join(ch for ch in folded.lower() if ch.isalnum())


def _generated(config: SandboxConfig, count: int, base: datetime, rng: random.Random) -> list[UserRecord]:
    out: list[UserRecord] = []
    for i in range(count):
        n = i + 1
        first, last = rng.choice(_FIRST), rng.choice(_LAST)
        sis: str | None = f"S{n:06d}"
        if config.tricky_sis_ids and n % 10 == 0:
            sis = _TRICKY[(n // 10 - 1) % len(_TRICKY)].format(n=n)
        if rng.random() < config.missing_sis_rate:
            sis = None
        login = f"{ascii_slug(first)}.{ascii_slug(last)}{n}@students.example.edu"
        enrolled = rng.random() >= config.unenrolled_rate
        out.append(
            UserRecord(
                id=FIRST_GENERATED_ID + i,
                name=f"{first} {last}",
                sortable_name=f"{last}, {first}",
                short_name=f"{first} {last}",
                uuid=random_uuid(rng),
                created_at=base + timedelta(minutes=n),
                root_account_ids=[DOMAIN_ROOT_ACCOUNT_ID],
                login_account_id=DOMAIN_ROOT_ACCOUNT_ID,
                login_id=login,
                sis_user_id=sis,
                sis_import_id=1 if sis else None,
                email=login,
                enrollments=[Enrollment("student")] if enrolled else [],
            )
        )
    return out


def _add_scenario_users(
    population: Population, scenario: Mapping[str, Any], base: datetime, rng: random.Random
) -> None:
    next_id = max(u.id for u in population.users) + 1
    next_id = max(next_id, FIRST_GENERATED_ID)
    taken = {u.id for u in population.users}
    for index, raw in enumerate(scenario.get("users", [])):
        if "name" not in raw:
            raise ValueError(f"scenario users[{index}] needs a name")
        user_id = int(raw.get("id", next_id))
        if user_id in taken:
            raise ValueError(f"scenario users[{index}]: id {user_id} is already used")
        taken.add(user_id)
        next_id = max(next_id, user_id + 1)
        population.users.append(_scenario_user(raw, user_id, base, rng))
        if raw.get("token"):
            population.tokens[str(raw["token"])] = user_id
        if raw.get("own_avatar"):
            population.own_avatars.append(user_id)
        if raw.get("avatar_state"):
            population.avatar_states[user_id] = str(raw["avatar_state"])
    for raw in scenario.get("observer_links", []):
        population.links.append(
            ObservationLink(
                observer_id=int(raw["observer"]),
                student_id=int(raw["student"]),
                root_account_id=int(raw.get("root_account_id", DOMAIN_ROOT_ACCOUNT_ID)),
            )
        )


def _scenario_user(raw: Mapping[str, Any], user_id: int, base: datetime, rng: random.Random) -> UserRecord:
    name = str(raw["name"])
    first, _, last = name.rpartition(" ")
    sortable = str(raw.get("sortable_name") or (f"{last}, {first}" if first else name))
    default_login = f"{ascii_slug(name) or 'user'}{user_id}@example.edu"
    login = raw.get("login_id", default_login)  # an explicit null means "no login"
    merged_into = raw.get("merged_into")  # merged users are deleted and their logins moved away
    roots = [int(a) for a in raw.get("root_account_ids", [DOMAIN_ROOT_ACCOUNT_ID])]
    email = raw.get("email", login if login and "@" in login else None)
    admin = raw.get("admin", False)
    perms = ALL_PERMISSIONS if admin is True else frozenset(admin or ())
    enrollments = [
        Enrollment(e)
        if isinstance(e, str)
        else Enrollment(
            type=str(e["type"]),
            state=str(e.get("state", "active")),
            root_account_id=int(e.get("root_account_id", roots[0] if roots else DOMAIN_ROOT_ACCOUNT_ID)),
        )
        for e in raw.get("enrollments", [])
    ]
    return UserRecord(
        id=user_id,
        name=name,
        sortable_name=sortable,
        short_name=str(raw.get("short_name", name)),
        uuid=random_uuid(rng),
        created_at=base + timedelta(hours=user_id % 1000),
        root_account_ids=roots,
        login_account_id=(roots[0] if roots else None) if login is not None else None,
        login_id=login,
        sis_user_id=raw.get("sis_user_id"),
        integration_id=raw.get("integration_id"),
        sis_import_id=1 if raw.get("sis_user_id") else None,
        email=email,
        password=raw.get("password"),
        workflow_state="deleted" if merged_into is not None else str(raw.get("workflow_state", "registered")),
        login_deleted=merged_into is not None,
        merged_into_user_id=int(merged_into) if merged_into is not None else None,
        admin_permissions=perms,
        admin_account_id=int(raw.get("admin_account", DOMAIN_ROOT_ACCOUNT_ID)),
        sub_account_ids=[int(a) for a in raw.get("sub_accounts", [])],
        enrollments=enrollments,
        quota=raw.get("quota"),
        home_account_id=raw.get("home_account_id"),
    )
