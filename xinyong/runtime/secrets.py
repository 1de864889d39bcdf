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
from collections.abc import Iterable, Iterator
from pathlib import Path

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


def generated(directory: Path, name: str) -> str:
    """The secret `<directory>/<name>`, generated on first use (48 hex characters, so it needs no
    quoting anywhere). The folder is 0700 and the file 0600 from the moment it exists; the file
    is written under a private name and linked into place, so two first uses cannot end up
    with different secrets: the second one's link fails and it reads the first one's."""
    path = directory / name
    if not path.exists():
        directory.mkdir(parents=True, exist_ok=True)
        directory.chmod(0o700)
        tmp = directory / f".{name}.{os.getpid()}.{_random.token_hex(4)}"
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            with os.fdopen(fd, "w") as out:
                out.write(_random.token_hex(24))
                out.flush()
                os.fsync(out.fileno())
            os.link(tmp, path)
        except FileExistsError:
            pass
        finally:
            tmp.unlink(missing_ok=True)
    return path.read_text().strip()


def scram_verifier(password: str, iterations: int = 4096) -> str:
    """What PostgreSQL stores for a SCRAM-SHA-256 password (RFC 5802/7677, the format of
    `pg_authid.rolpassword`). `CREATE/ALTER ROLE ... PASSWORD` is given this, never the
    password, so no server log can record the password itself."""
    import base64
    import hashlib

    salt = _random.token_bytes(16)
    salted = hashlib.pbkdf2_hmac("sha256", password.encode(), salt, iterations)
    stored_key = hashlib.sha256(hmac.digest(salted, b"Client Key", "sha256")).digest()
    server_key = hmac.digest(salted, b"Server Key", "sha256")
    b64 = lambda raw: base64.b64encode(raw).decode()  # noqa: E731
    return f"SCRAM-SHA-256${iterations}:{b64(salt)}${b64(stored_key)}:{b64(server_key)}"
