"""Layer versions (Store protocol): numbers per layer from 1, never reused after a delete; a deleted
version is hidden from reads and lists but still found for functions that use it."""

from __future__ import annotations

from typing import Any

from lambdalite.store.protocol import Store


def _config(name: str) -> Any:
    return lambda version: {"LayerVersionArn": f"arn:layer:{name}:{version}", "Version": version}


async def test_publish_get_list_delete(store: Store) -> None:
    one = await store.publish_layer_version("lib", _config("lib"), "aa", 10)
    two = await store.publish_layer_version("lib", _config("lib"), "bb", 20)
    other = await store.publish_layer_version("alpha", _config("alpha"), "cc", 30)
    assert (one.version, two.version, other.version) == (1, 2, 1)
    assert one.config == {"LayerVersionArn": "arn:layer:lib:1", "Version": 1}
    assert await store.get_layer_version("lib", 1) == one
    assert [v.version for v in await store.list_layer_versions("lib")] == [2, 1]
    assert [(v.name, v.version) for v in await store.list_layers()] == [("alpha", 1), ("lib", 2)]

    assert await store.delete_layer_version("lib", 2) is True
    assert await store.delete_layer_version("lib", 2) is False
    assert await store.get_layer_version("lib", 2) is None
    kept = await store.get_layer_version("lib", 2, deleted=True)
    assert kept is not None and kept.code_sha == "bb"
    assert [(v.name, v.version) for v in await store.list_layers()] == [("alpha", 1), ("lib", 1)]
    three = await store.publish_layer_version("lib", _config("lib"), "dd", 40)
    assert three.version == 3
    assert await store.get_layer_version("nope", 1) is None
    assert await store.list_layer_versions("nope") == []
