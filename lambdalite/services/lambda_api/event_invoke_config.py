"""Put/Update/Get/Delete/List FunctionEventInvokeConfig — placeholder until its owner fills it in.

`ROUTES` lists (method, path regex, handler) and is included by the Lambda router.
"""

from __future__ import annotations

from typing import Any

ROUTES: list[tuple[str, str, Any]] = []
