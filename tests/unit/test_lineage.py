"""The X-Amzn-Trace-Id Lineage field and the recursion stop rule (contract section 10)."""

from __future__ import annotations

import re

import pytest

from lambdalite.lineage import lineage_count, lineage_tag, new_header, with_lineage
from lambdalite.policy import MAX_RECURSIVE_INVOCATIONS, recursion_stops

ROOT = "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=0"


@pytest.mark.parametrize(("header", "count"), [
    (None, 0),
    ("", 0),
    (ROOT, 0),
    (f"{ROOT};Lineage=a87bd80c:3", 3),
    (f"{ROOT};Lineage=1:fe460cdd:7", 7),  # the versioned form
    ("Root=1-5759e988-bd862e3fe1be46a994272793;Sampled=1;Lineage=a87bd80c:1|68fd508a:5|c512fbe3:2", 5),
    (f"{ROOT};Lineage=a87bd80c:x", 0),
    (f"{ROOT};Lineage=a87bd80c:", 0),
    (f"{ROOT};Lineage=a87bd80c:12345678901234", 0),  # absurdly long: not a count
    (f"{ROOT};Lineage=a87bd80c:\u0663", 0),  # non-ASCII digit
    (f"Lineage=a87bd80c:2;{ROOT}", 2),
    ("Lineage", 0),
])
def test_lineage_count(header: str | None, count: int) -> None:
    assert lineage_count(header) == count


def test_with_lineage_replaces_the_field_and_keeps_the_rest() -> None:
    out = with_lineage(f"{ROOT};Lineage=a87bd80c:3;Foo=bar", 4, "0000abcd")
    assert out == f"{ROOT};Foo=bar;Lineage=0000abcd:4"
    assert lineage_count(out) == 4


def test_with_lineage_on_no_header_makes_one() -> None:
    for missing in (None, "", "  "):
        out = with_lineage(missing, 1, lineage_tag("f"))
        assert re.fullmatch(r"Root=1-[0-9a-f]{8}-[0-9a-f]{24};Parent=[0-9a-f]{16};Sampled=0;Lineage=[0-9a-f]{8}:1",
                            out)


def test_new_header_shape_and_tag() -> None:
    assert re.fullmatch(r"Root=1-[0-9a-f]{8}-[0-9a-f]{24};Parent=[0-9a-f]{16};Sampled=0", new_header())
    assert lineage_tag("f") == lineage_tag("f") != lineage_tag("g")
    assert re.fullmatch(r"[0-9a-f]{8}", lineage_tag("my-function"))


def test_recursion_stops_at_the_limit_unless_allowed() -> None:
    assert MAX_RECURSIVE_INVOCATIONS == 16
    assert not recursion_stops(0, "Terminate")
    assert not recursion_stops(15, "Terminate")  # the 16th invocation runs
    assert recursion_stops(16, "Terminate")  # the 17th does not
    assert recursion_stops(1000, "Terminate")
    assert not recursion_stops(16, "Allow")
    assert recursion_stops(3, "Terminate", limit=3)
