"""The key behind the keyed hash of natural persons' ID numbers.

From XINYONG_PERSON_KEY (hex) when set, as in production where it comes from a secret
store; otherwise generated once into `<home>/secrets/person_key` and reused, so keys stay
stable across runs. Neither the key nor anything derived from it but the digests ever
reaches the database: the digests are worked out here, so no statement the server could
log (`log_statement`, `auto_explain`, `pg_stat_statements`) carries key material.
"""
from __future__ import annotations

import hmac
import os
import secrets as _random
from pathlib import Path
from typing import Iterable, Iterator

from xinyong.runtime import config


def person_key(settings: config.Settings | None = None) -> bytes:
    if os.environ.get("XINYONG_PERSON_KEY"):
        return bytes.fromhex(os.environ["XINYONG_PERSON_KEY"])
    settings = settings or config.load()
    path: Path = settings.secrets_dir / "person_key"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.parent.chmod(0o700)
        tmp = path.with_suffix(".tmp")
        tmp.write_text(_random.token_hex(32))
        tmp.chmod(0o600)
        tmp.rename(path)  # atomic: two first runs cannot end up with different keys
    return bytes.fromhex(path.read_text().strip())


def id_digests(key: bytes, id_values: Iterable[str]) -> Iterator[tuple[str, str]]:
    """Each personal ID number with its keyed hash: HMAC-SHA256 of its UTF-8 bytes, in hex.
    (`hmac.digest` is the one-shot C path, twice as fast as keeping an HMAC object per number.)"""
    for id_value in id_values:
        yield id_value, hmac.digest(key, id_value.encode(), "sha256").hex()
