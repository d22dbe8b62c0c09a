"""Who may call lambdalite: access keys from settings, and the keys lambdalite mints for functions.

Configured keys come from `LAMBDALITE_CREDENTIALS` ("AKID:SECRET[:ACCOUNT],...") and/or the file named by
`LAMBDALITE_CREDENTIALS_FILE` (one `AKID SECRET [ACCOUNT]` per line, `#` comments). Configuring any turns
SigV4 checking on (services/auth.py).

Functions never see the server's own keys: each gets a key minted for its role. The access key id is an
HMAC of (account, role) under a server secret kept in the data folder, the session token carries
(account, role), and the secret key is an HMAC of the access key id, so any process on the data folder
(`serve`, `worker`s) can mint and check them without shared state.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import hmac
import ipaddress
import os
import re
import threading
from dataclasses import dataclass
from pathlib import Path

import orjson

from lambdalite.settings import Settings
from lambdalite.sigv4 import Credential, presign

MINTED_PREFIX = "ASIA"  # AWS's prefix for temporary (session) access keys
TOKEN_PREFIX = "lambdalite/1/"
SECRET_FILE = "function-credentials.key"
_ACCOUNT = re.compile(r"\d{12}")
_KEY_ID = re.compile(r"[A-Za-z0-9_+=,.@/-]{1,128}")
_LOOPBACK_NAMES = ("localhost", "localhost.localdomain", "ip6-localhost")


class CredentialsError(Exception):
    """The configured credentials cannot be read: `serve` says so in one line and stops."""


@dataclass(frozen=True, slots=True)
class FunctionCredentials:
    access_key: str
    secret_key: str
    session_token: str

    def environment(self) -> dict[str, str]:
        return {"AWS_ACCESS_KEY_ID": self.access_key, "AWS_SECRET_ACCESS_KEY": self.secret_key,
                "AWS_SESSION_TOKEN": self.session_token}


# ---- configured keys ------------------------------------------------------------------------------


def _credential(access_key: str, secret_key: str, account: str | None, where: str) -> Credential:
    if not _KEY_ID.fullmatch(access_key) or not secret_key:
        raise CredentialsError(f"{where}: expected an access key id and a secret")
    if access_key.startswith(MINTED_PREFIX) and len(access_key) == 20:
        raise CredentialsError(f"{where}: access key ids like {MINTED_PREFIX}... of 20 characters are lambdalite's "
                               "own function keys; choose another")
    if account is not None and not _ACCOUNT.fullmatch(account):
        raise CredentialsError(f"{where}: the account must be 12 digits, not {account!r}")
    return Credential(access_key, secret_key, account)


def parse_inline(text: str) -> list[Credential]:
    """`AKID:SECRET[:ACCOUNT],AKID2:SECRET2` (LAMBDALITE_CREDENTIALS)."""
    out = []
    for n, item in enumerate((i.strip() for i in text.split(",")), start=1):
        if not item:
            continue
        parts = item.split(":")
        if len(parts) not in (2, 3):
            raise CredentialsError(f"LAMBDALITE_CREDENTIALS entry {n}: expected AKID:SECRET or AKID:SECRET:ACCOUNT")
        out.append(_credential(parts[0], parts[1], parts[2] if len(parts) == 3 else None,
                               f"LAMBDALITE_CREDENTIALS entry {n}"))
    return out


def parse_file(path: Path) -> list[Credential]:
    """One `AKID SECRET [ACCOUNT]` per line; blank lines and `#` comments are skipped."""
    try:
        text = path.read_text()
    except OSError as exc:
        raise CredentialsError(f"cannot read the credentials file {path}: {exc.strerror or exc}") from None
    out = []
    for n, line in enumerate(text.splitlines(), start=1):
        words = line.split("#", 1)[0].split()
        if not words:
            continue
        if len(words) not in (2, 3):
            raise CredentialsError(f"{path}:{n}: expected ACCESS_KEY_ID SECRET_ACCESS_KEY [ACCOUNT_ID]")
        out.append(_credential(words[0], words[1], words[2] if len(words) == 3 else None, f"{path}:{n}"))
    return out


def configured(settings: Settings) -> dict[str, Credential]:
    """Every configured access key (file, then environment; a key given twice must agree)."""
    found = parse_file(Path(settings.credentials_file)) if settings.credentials_file else []
    found += parse_inline(settings.credentials) if settings.credentials else []
    keys: dict[str, Credential] = {}
    for credential in found:
        known = keys.get(credential.access_key)
        if known is not None and known != credential:
            raise CredentialsError(f"access key {credential.access_key} is configured twice with different secrets")
        keys[credential.access_key] = credential
    return keys


def is_loopback(host: str) -> bool:
    if host in _LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def startup_problem(settings: Settings) -> str | None:
    """Why `serve` must not start with these settings (one line), or None."""
    try:
        keys = configured(settings)
    except CredentialsError as exc:
        return str(exc)
    if not keys and not settings.insecure and not is_loopback(settings.host):
        return (f"refusing to serve on {settings.host}, a non-loopback address, without credentials: set "
                "LAMBDALITE_CREDENTIALS or LAMBDALITE_CREDENTIALS_FILE (--credentials-file), or pass --insecure "
                "to accept unsigned requests from anyone who can reach it")
    return None


# ---- keys minted for functions ------------------------------------------------------------------

_secrets: dict[Path, bytes] = {}
_secrets_lock = threading.Lock()


def use_secret(data_dir: Path, secret: bytes) -> None:
    """Use `secret` for this data folder instead of its file: nodes on a shared store (PostgreSQL) get
    it from the store at start, so every node mints and checks the same keys."""
    with _secrets_lock:
        _secrets[(data_dir / SECRET_FILE).resolve()] = secret


def server_secret(data_dir: Path) -> bytes:
    """The data folder's minting secret, created once (0600) by whichever process gets there first."""
    path = (data_dir / SECRET_FILE).resolve()
    with _secrets_lock:
        known = _secrets.get(path)
        if known is not None:
            return known
        if not path.exists():
            path.parent.mkdir(parents=True, exist_ok=True)
            tmp = path.with_name(f".{SECRET_FILE}.{os.getpid()}.{threading.get_ident()}")
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            with os.fdopen(fd, "w") as f:
                f.write(os.urandom(32).hex())
                f.flush()
                os.fsync(f.fileno())
            with contextlib.suppress(FileExistsError):  # another process won the race: use its secret
                os.link(tmp, path)
            tmp.unlink()
        secret = bytes.fromhex(path.read_text().strip())
        _secrets[path] = secret
        return secret


def _mac(secret: bytes, label: bytes, data: bytes) -> bytes:
    return hmac.digest(secret, label + b"\0" + data, hashlib.sha256)


def _minted_secret_key(secret: bytes, access_key: str) -> str:
    return base64.b64encode(_mac(secret, b"secret-key", access_key.encode())).decode()[:40]


def _minted_key_id(secret: bytes, payload: bytes) -> str:
    return MINTED_PREFIX + base64.b32encode(_mac(secret, b"access-key-id", payload)[:10]).decode()


def mint(secret: bytes, account_id: str, role_arn: str) -> FunctionCredentials:
    """Credentials for a function running as `role_arn`: deterministic, so warm and cold environments of a
    role share them and nothing needs storing."""
    payload = orjson.dumps([account_id, role_arn])
    access_key = _minted_key_id(secret, payload)
    token = TOKEN_PREFIX + base64.urlsafe_b64encode(payload).decode()
    return FunctionCredentials(access_key, _minted_secret_key(secret, access_key), token)


def resolve_minted(secret: bytes, access_key: str, token: str | None) -> Credential | None:
    """The credential behind a minted key, if `token` is the one minted with it."""
    if not token or not token.startswith(TOKEN_PREFIX) or not access_key.startswith(MINTED_PREFIX):
        return None
    try:
        payload = base64.urlsafe_b64decode(token[len(TOKEN_PREFIX):].encode())
        account_id, role_arn = orjson.loads(payload)
    except (ValueError, TypeError, orjson.JSONDecodeError):
        return None
    if not hmac.compare_digest(_minted_key_id(secret, payload), access_key):
        return None
    return Credential(access_key, _minted_secret_key(secret, access_key), str(account_id), str(role_arn))


def _account_of(role_arn: str, default: str) -> str:
    parts = role_arn.split(":")
    return parts[4] if len(parts) > 5 and _ACCOUNT.fullmatch(parts[4]) else default


def function_environment(role_arn: str, settings: Settings) -> dict[str, str]:
    """AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY / AWS_SESSION_TOKEN for a function of `role_arn`: minted
    by this data folder, never the server's own (which the function must not see)."""
    account = _account_of(role_arn, settings.account_id)
    role = role_arn or f"arn:aws:iam::{account}:role/lambdalite-function"
    return mint(server_secret(settings.data_dir), account, role).environment()


CODE_URL_EXPIRES_S = 600  # GetFunction's Code.Location: AWS's presigned S3 URL is good for 10 minutes


def code_location_query(settings: Settings, host: str, path: str, region: str, now_s: float) -> str:
    """With authentication on, the presigned query that lets GetFunction's caller download the code
    (signed with a key minted for lambdalite itself); "" when requests are not checked."""
    if not settings.credentials and not settings.credentials_file:
        return ""
    account = settings.account_id
    minted = mint(server_secret(settings.data_dir), account, f"arn:aws:iam::{account}:role/lambdalite-code-download")
    key = Credential(minted.access_key, minted.secret_key, account)
    return presign("GET", host, path, key, minted.session_token, region, "lambda", CODE_URL_EXPIRES_S, now_s)


class KeyRing:
    """Looks up the secret for an access key id: configured keys, else keys minted for functions."""

    def __init__(self, keys: dict[str, Credential], data_dir: Path) -> None:
        self.keys = keys
        self.secret = server_secret(data_dir)

    def __call__(self, access_key: str, session_token: str | None) -> Credential | None:
        known = self.keys.get(access_key)
        if known is not None:
            return known
        return resolve_minted(self.secret, access_key, session_token)
