"""The API's clients (lenders) and their keys, and the batch agreements with towns: what the
platform registers (`xinyong api client add`, `xinyong api agreement add`), as its owner.

A key is `xy_<key id>.<secret>`: the key id finds the client's row, the whole key is checked
against its argon2id hash (argon2-cffi). The key is printed once and never stored.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from limits import parse
from stdnum.cn import uscc as uscc_number

from xinyong.ingest import schema
from xinyong.publication import roles
from xinyong.runtime import warehouse

KEY_PREFIX = "xy_"
DEFAULT_RATE_LIMIT = "600/minute"
_hasher = PasswordHasher()


class ClientError(ValueError):
    """A registration that cannot be made, in one sentence."""


@dataclass(frozen=True)
class Client:
    client_id: int
    name: str
    institution_uscc: str
    rate_limit: str


def prepare(warehouse_url: str) -> str:
    """The warehouse's schema, and the API role's grants on what it keeps; returns the role."""
    with warehouse.transaction(warehouse_url) as conn:
        schema.ensure(conn)
        with conn.cursor() as cur:
            return roles.apply_api(cur)


def split_key(key: str) -> tuple[str, str] | None:
    if not key.startswith(KEY_PREFIX) or "." not in key:
        return None
    key_id, secret = key[len(KEY_PREFIX) :].split(".", 1)
    return (key_id, secret) if key_id and secret else None


def add_client(warehouse_url: str, name: str, institution_uscc: str, rate_limit: str = DEFAULT_RATE_LIMIT):
    """Register a lender; returns (client, key). The key is shown to the operator once."""
    institution_uscc = institution_uscc.strip().upper()
    if not uscc_number.is_valid(institution_uscc):
        raise ClientError(f"{institution_uscc!r} is not a valid 统一社会信用代码")
    try:
        parse(rate_limit)
    except ValueError:
        raise ClientError(f"rate limit {rate_limit!r} is not like '600/minute'") from None
    key_id = secrets.token_hex(8)
    key = f"{KEY_PREFIX}{key_id}.{secrets.token_urlsafe(32)}"
    with warehouse.transaction(warehouse_url) as conn, conn.cursor() as cur:
        cur.execute(
            """insert into api.clients (name, institution_uscc, key_id, key_hash, rate_limit)
                       values (%s, %s, %s, %s, %s) returning client_id""",
            (name, institution_uscc, key_id, _hasher.hash(key), rate_limit),
        )
        client = Client(cur.fetchone()[0], name, institution_uscc, rate_limit)
    return client, key


def verify(key_hash: str, key: str) -> bool:
    try:
        return _hasher.verify(key_hash, key)
    except (VerificationError, InvalidHashError):
        return False


def add_agreement(
    warehouse_url: str, client_id: int, agreement_no: str, town: str, valid_from: str, valid_to: str
) -> int:
    """Record a 批量授信 agreement between a lender and a town: its households may be asked about."""
    with warehouse.transaction(warehouse_url) as conn, conn.cursor() as cur:
        cur.execute("select 1 from api.clients where client_id = %s and revoked_at is null", (client_id,))
        if cur.fetchone() is None:
            raise ClientError(f"there is no client {client_id}")
        cur.execute(
            """insert into api.batch_agreements (client_id, agreement_no, town, valid_from, valid_to)
                       values (%s, %s, %s, %s, %s) returning agreement_id""",
            (client_id, agreement_no, town, valid_from, valid_to),
        )
        return cur.fetchone()[0]
