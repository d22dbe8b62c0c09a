"""Build function zips in memory for tests."""

from __future__ import annotations

import io
import textwrap
import zipfile
from collections.abc import Mapping


def make_zip(files: Mapping[str, str | bytes], modes: dict[str, int] | None = None) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, content in files.items():
            info = zipfile.ZipInfo(name)
            info.external_attr = ((modes or {}).get(name, 0o644) & 0xFFFF) << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            data = content.encode() if isinstance(content, str) else content
            zf.writestr(info, data)
    return buf.getvalue()


def symlink_zip(name: str, target: str) -> bytes:
    """A zip whose one entry is a Unix symbolic link `name` -> `target` (stored, not deflated)."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        info = zipfile.ZipInfo(name)
        info.create_system = 3
        info.external_attr = (0o120777 & 0xFFFF) << 16
        zf.writestr(info, target)
    return buf.getvalue()


def python_zip(source: str, module: str = "handler") -> bytes:
    """A zip with one python module, dedented."""
    return make_zip({f"{module}.py": textwrap.dedent(source)})


ECHO = """
def handler(event, context):
    return event
"""
