"""The key SNS messages are signed with, and its certificate (served at `SigningCertURL`).

One RSA key per data folder, made on first use and shared by every process on that folder (written
once with a hard link, so two processes starting together agree on one key). Nodes on one shared store
(PostgreSQL, each with its own data folder) agree on one key and certificate through the store instead
(`share`), so any node's certificate URL verifies any node's messages. Signature version 1 is
SHA1withRSA, version 2 SHA256withRSA, over AWS's canonical "Name\\nvalue\\n" string of the message.
"""

from __future__ import annotations

import base64
import contextlib
import datetime
import hashlib
import os
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.x509.oid import NameOID

if TYPE_CHECKING:
    from lambdalite.node import Node

SHARED_NAME = "sns-signing"  # the store's shared secret: the key's PEM then the certificate's
_KEY_BITS = 2048
_CERT_DAYS = 3650
_lock = threading.Lock()
_loaded: dict[Path, Signer] = {}

# The fields each message type signs, in order (absent ones are left out).
SIGNED_FIELDS = {
    "Notification": ("Message", "MessageId", "Subject", "Timestamp", "TopicArn", "Type"),
    "SubscriptionConfirmation": ("Message", "MessageId", "SubscribeURL", "Timestamp", "Token", "TopicArn", "Type"),
    "UnsubscribeConfirmation": ("Message", "MessageId", "SubscribeURL", "Timestamp", "Token", "TopicArn", "Type"),
}


def canonical(message: dict[str, object]) -> bytes:
    """AWS's string to sign: each present field as "Name\\nvalue\\n", in its fixed order."""
    parts = []
    for name in SIGNED_FIELDS[str(message["Type"])]:
        value = message.get(name)
        if value is not None:
            parts.append(f"{name}\n{value}\n")
    return "".join(parts).encode()


_SIGNATURES_KEPT = 4096


@dataclass(frozen=True)
class Signer:
    key: rsa.RSAPrivateKey
    cert_pem: bytes
    # A message's signature is the same for every subscription and every retry (the signed fields are the
    # message's): kept, as an RSA signature costs about a millisecond.
    _signed: dict[tuple[bytes, str], str] = field(default_factory=dict, compare=False, repr=False)

    @property
    def cert_name(self) -> str:
        """`SimpleNotificationService-<id>.pem`: the path the certificate is served at."""
        return f"SimpleNotificationService-{hashlib.sha256(self.cert_pem).hexdigest()[:32]}.pem"

    def sign(self, message: dict[str, object], version: str = "1") -> str:
        text = canonical(message)
        kept = self._signed.get((text, version))
        if kept is not None:
            return kept
        algorithm = hashes.SHA256() if version == "2" else hashes.SHA1()  # AWS signature version 1 is SHA1withRSA
        signature = base64.b64encode(self.key.sign(text, padding.PKCS1v15(), algorithm)).decode()
        if len(self._signed) >= _SIGNATURES_KEPT:
            self._signed.clear()
        self._signed[(text, version)] = signature
        return signature


def signer(data_dir: Path) -> Signer:
    """This data folder's signer (made on first use)."""
    found = _loaded.get(data_dir)  # per delivery: no path resolution (a stat per path part) once loaded
    if found is not None:
        return found
    with _lock:
        found = _loaded.get(data_dir)
        if found is None:
            found = _loaded[data_dir] = _load_or_make((data_dir / "sns").resolve())
        return found


def _load_or_make(folder: Path) -> Signer:
    """The key file is written first-writer-wins; every process then loads it from disk, so a
    certificate made by any of them is for the one key."""
    key_path, cert_path = folder / "signing-key.pem", folder / "signing-cert.pem"
    if not key_path.exists():
        folder.mkdir(parents=True, exist_ok=True)
        made = rsa.generate_private_key(public_exponent=65537, key_size=_KEY_BITS)
        _publish(key_path, _key_pem(made))
    key = serialization.load_pem_private_key(key_path.read_bytes(), password=None)
    assert isinstance(key, rsa.RSAPrivateKey)
    if not cert_path.exists():
        _publish(cert_path, _certificate(key))
    return Signer(key, cert_path.read_bytes())


async def share(node: Node) -> None:
    """At a node's start on a shared store: sign with the key and certificate every node agreed on."""
    if not node.settings.store:  # the data folder is the store: its files are the agreement
        return
    key = rsa.generate_private_key(public_exponent=65537, key_size=_KEY_BITS)
    agreed = await node.store.shared_secret(SHARED_NAME, _key_pem(key) + _certificate(key))
    if agreed is None:
        return
    cut = agreed.index(b"-----BEGIN CERTIFICATE-----")
    loaded = serialization.load_pem_private_key(agreed[:cut], password=None)
    assert isinstance(loaded, rsa.RSAPrivateKey)
    with _lock:
        _loaded[node.settings.data_dir] = Signer(loaded, agreed[cut:])


def _key_pem(key: rsa.RSAPrivateKey) -> bytes:
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption())


def _publish(path: Path, content: bytes) -> None:
    """Write `content` at `path` unless a file is there already (first writer wins)."""
    temporary = path.with_name(f".{path.name}.{os.getpid()}")
    temporary.write_bytes(content)
    os.chmod(temporary, 0o600 if "key" in path.name else 0o644)
    with contextlib.suppress(FileExistsError):
        os.link(temporary, path)
    temporary.unlink()


def _certificate(key: rsa.RSAPrivateKey) -> bytes:
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "sns.lambdalite.local")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now - datetime.timedelta(days=1))
            .not_valid_after(now + datetime.timedelta(days=_CERT_DAYS)).sign(key, hashes.SHA256()))
    return cert.public_bytes(serialization.Encoding.PEM)
