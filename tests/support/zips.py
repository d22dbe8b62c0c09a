"""Build function zips in memory for tests."""

from __future__ import annotations

import io
import textwrap
import zipfile


def make_zip(files: dict[str, str | bytes], modes: dict[str, int] | None = None) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, content in files.items():
            info = zipfile.ZipInfo(name)
            info.external_attr = ((modes or {}).get(name, 0o644) & 0xFFFF) << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            data = content.encode() if isinstance(content, str) else content
            zf.writestr(info, data)
    return buf.getvalue()


def python_zip(source: str, module: str = "handler") -> bytes:
    """A zip with one python module, dedented."""
    return make_zip({f"{module}.py": textwrap.dedent(source)})


ECHO = """
def handler(event, context):
    return event
"""
