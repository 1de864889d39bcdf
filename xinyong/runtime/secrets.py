"""The key behind the keyed hash of natural persons' ID numbers.

From XINYONG_PERSON_KEY (hex) when set, as in production where it comes from a secret
store; otherwise generated once into `<home>/secrets/person_key` and reused, so keys stay
stable across runs. It is never stored in the warehouse.
"""
from __future__ import annotations

import os
import secrets as _random
from pathlib import Path

from xinyong.runtime import config

BLOCK = 64  # SHA-256 block size, for the HMAC pads


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


def hmac_pads(key: bytes) -> tuple[bytes, bytes]:
    """Inner and outer HMAC pads of a key (RFC 2104)."""
    if len(key) > BLOCK:
        import hashlib
        key = hashlib.sha256(key).digest()
    key = key.ljust(BLOCK, b"\0")
    return bytes(b ^ 0x36 for b in key), bytes(b ^ 0x5C for b in key)
