"""Lambda layer versions as every backend returns them (records only; the API shapes live in services)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

MAX_LAYERS_PER_FUNCTION = 5


@dataclass(frozen=True, slots=True)
class LayerVersionRow:
    name: str
    version: int
    config: dict[str, Any]  # GetLayerVersion's answer (Content.Location is made per request)
    code_sha: str  # hex name of the stored archive (store/code.py layout, under the layers folder)
    created_ms: int
