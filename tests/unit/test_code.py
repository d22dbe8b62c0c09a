"""Zip validation and content-addressed unpacking (store/code.py)."""

from __future__ import annotations

import base64
import hashlib
import io
import os
import zipfile
from pathlib import Path

import pytest

from lambdalite.store.code import CodeError, decode_zip_file, remove_code, store_zip, zip_path
from tests.support.zips import make_zip, symlink_zip


def _entries(root: Path) -> list[str]:
    return sorted(p.name for p in root.iterdir()) if root.exists() else []


def test_stores_unpacked_and_zip(tmp_path: Path) -> None:
    data = make_zip({"handler.py": "x = 1\n", "pkg/mod.py": "y = 2\n"})
    stored = store_zip(tmp_path, data)
    digest = hashlib.sha256(data).digest()
    assert stored.sha256_hex == digest.hex()
    assert stored.sha256_b64 == base64.b64encode(digest).decode()
    assert stored.size == len(data)
    assert (stored.path / "handler.py").read_text() == "x = 1\n"
    assert (stored.path / "pkg" / "mod.py").read_text() == "y = 2\n"
    assert zip_path(tmp_path, stored.sha256_hex).read_bytes() == data
    assert store_zip(tmp_path, data) == stored  # idempotent
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".tmp")]


def test_exec_bits_preserved(tmp_path: Path) -> None:
    data = make_zip({"bootstrap": "#!/bin/sh\n", "data.txt": "x"}, modes={"bootstrap": 0o755})
    stored = store_zip(tmp_path, data)
    assert os.access(stored.path / "bootstrap", os.X_OK)
    assert not os.access(stored.path / "data.txt", os.X_OK)


def _assert_refused(tmp_path: Path, data: bytes, message: str, status: int = 400) -> None:
    with pytest.raises(CodeError) as err:
        store_zip(tmp_path, data)
    assert err.value.status == status
    assert message in err.value.message
    assert _entries(tmp_path) == []  # nothing left behind


def test_corrupt_zip(tmp_path: Path) -> None:
    _assert_refused(
        tmp_path,
        b"not a zip at all",
        "Could not unzip uploaded file. Please check your file, then try to upload again.",
    )


def test_truncated_zip(tmp_path: Path) -> None:
    data = make_zip({"a.py": "x" * 5000})
    _assert_refused(tmp_path, data[: len(data) // 2], "Could not unzip uploaded file.")


@pytest.mark.parametrize("name", ["../evil.py", "/etc/evil.py", "a/../../evil.py"])
def test_zip_slip(tmp_path: Path, name: str) -> None:
    root = tmp_path / "code"
    _assert_refused(root, make_zip({name: "x"}), "escapes the function folder")
    assert not (tmp_path / "evil.py").exists()


def test_symlink_entry(tmp_path: Path) -> None:
    _assert_refused(tmp_path, symlink_zip("link", "/etc/passwd"), "Symbolic links are not supported")


def test_zipped_size_limit(tmp_path: Path) -> None:
    _assert_refused(
        tmp_path, b"\0" * (52_428_800 + 1), "Zipped size must be smaller than 52428800 bytes", 413
    )


def test_unzipped_size_limit(tmp_path: Path) -> None:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        chunk = b"\0" * (1 << 20)
        with zf.open("big.bin", "w", force_zip64=True) as out:
            for _ in range(251):
                out.write(chunk)
    _assert_refused(tmp_path, buf.getvalue(), "Unzipped size must be smaller than 262144000 bytes")


def test_decode_base64() -> None:
    assert decode_zip_file(base64.b64encode(b"abc").decode()) == b"abc"
    with pytest.raises(CodeError) as err:
        decode_zip_file("!!!not base64")
    assert err.value.code == "InvalidRequestContentException"


def test_remove_code(tmp_path: Path) -> None:
    stored = store_zip(tmp_path, make_zip({"a.py": ""}))
    remove_code(tmp_path, stored.sha256_hex)
    assert _entries(tmp_path) == []
