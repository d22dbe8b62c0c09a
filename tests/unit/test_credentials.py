"""Configured keys (file and environment formats), the loopback rule, and keys minted for functions."""

from __future__ import annotations

import base64
import os
from pathlib import Path

import orjson
import pytest

from lambdalite import credentials
from lambdalite.credentials import (
    CredentialsError,
    KeyRing,
    mint,
    resolve_minted,
    server_secret,
    startup_problem,
)
from lambdalite.settings import Settings
from lambdalite.sigv4 import Credential


def test_file_and_inline_formats(tmp_path: Path) -> None:
    path = tmp_path / "keys"
    path.write_text("# team keys\nAKIDONE secret/one+x\n\n  AKIDTWO  secret2 123456789012  # ops\n")
    settings = Settings(credentials_file=str(path), credentials="AKIDTHREE:s3:210987654321, AKIDONE:secret/one+x")
    assert credentials.configured(settings) == {
        "AKIDONE": Credential("AKIDONE", "secret/one+x", None),
        "AKIDTWO": Credential("AKIDTWO", "secret2", "123456789012"),
        "AKIDTHREE": Credential("AKIDTHREE", "s3", "210987654321"),
    }


@pytest.mark.parametrize(("inline", "message"), [
    ("AKID", "LAMBDALITE_CREDENTIALS entry 1: expected AKID:SECRET or AKID:SECRET:ACCOUNT"),
    ("AKID:s:12", "LAMBDALITE_CREDENTIALS entry 1: the account must be 12 digits, not '12'"),
    ("AKID:a,AKID:b", "access key AKID is configured twice with different secrets"),
    ("ASIAAAAAAAAAAAAAAAAA:x", "LAMBDALITE_CREDENTIALS entry 1: access key ids like ASIA... of 20 characters"),
])
def test_bad_inline_credentials_say_what_is_wrong(inline: str, message: str) -> None:
    with pytest.raises(CredentialsError) as caught:
        credentials.configured(Settings(credentials=inline))
    assert str(caught.value).startswith(message)


def test_loopback_rule() -> None:
    assert startup_problem(Settings(host="127.0.0.1")) is None
    assert startup_problem(Settings(host="::1")) is None
    assert startup_problem(Settings(host="localhost")) is None
    for public in ("0.0.0.0", "::", "192.168.1.4", "example.org"):
        assert "non-loopback" in (startup_problem(Settings(host=public)) or "")
        assert startup_problem(Settings(host=public, insecure=True)) is None
        assert startup_problem(Settings(host=public, credentials="AKID:secret")) is None


def test_minted_keys_resolve_only_with_their_own_token(tmp_path: Path) -> None:
    secret = server_secret(tmp_path)
    minted = mint(secret, "000000000000", "arn:aws:iam::000000000000:role/a")
    assert minted.access_key.startswith("ASIA") and len(minted.access_key) == 20
    found = resolve_minted(secret, minted.access_key, minted.session_token)
    assert found == Credential(minted.access_key, minted.secret_key, "000000000000", "arn:aws:iam::000000000000:role/a")
    other = mint(secret, "000000000000", "arn:aws:iam::000000000000:role/b")
    assert other.access_key != minted.access_key and other.secret_key != minted.secret_key
    assert resolve_minted(secret, minted.access_key, other.session_token) is None  # a token for another role
    assert resolve_minted(secret, minted.access_key, None) is None
    assert resolve_minted(secret, minted.access_key, "lambdalite/1/!!") is None
    forged = "lambdalite/1/" + base64.urlsafe_b64encode(orjson.dumps(["000000000000", "x"])).decode()
    assert resolve_minted(secret, minted.access_key, forged) is None
    assert resolve_minted(os.urandom(32), minted.access_key, minted.session_token) is None  # another data folder


def test_server_secret_is_private_and_stable(tmp_path: Path) -> None:
    first = server_secret(tmp_path / "data")
    credentials._secrets.clear()  # as a fresh process would
    assert server_secret(tmp_path / "data") == first
    assert (tmp_path / "data" / credentials.SECRET_FILE).stat().st_mode & 0o777 == 0o600


def test_function_environment_never_carries_the_server_keys(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "SERVERKEY")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "server-secret")
    settings = Settings(data_dir=tmp_path)
    env = credentials.function_environment("arn:aws:iam::123456789012:role/r", settings)
    assert set(env) == {"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"}
    assert "server-secret" not in env.values() and "SERVERKEY" not in env.values()
    ring = KeyRing({}, tmp_path)
    found = ring(env["AWS_ACCESS_KEY_ID"], env["AWS_SESSION_TOKEN"])
    assert found is not None and found.account_id == "123456789012" and found.secret_key == env["AWS_SECRET_ACCESS_KEY"]
