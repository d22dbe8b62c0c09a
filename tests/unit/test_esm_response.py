"""Partial batch responses (ReportBatchItemFailures) and filters, as the pollers read them: pure."""

from __future__ import annotations

import pytest

from lambdalite.worker.esm_batch import batch_failures, matches

IDS = {"a", "b"}


@pytest.mark.parametrize("payload", [b"null", b"{}", b'{"batchItemFailures": []}', b'{"batchItemFailures": null}',
                                     b"", b'{"other": 1}'])
def test_all_done(payload: bytes) -> None:
    assert batch_failures(payload, IDS) == set()


def test_reported_ids() -> None:
    assert batch_failures(b'{"batchItemFailures": [{"itemIdentifier": "b"}]}', IDS) == {"b"}


@pytest.mark.parametrize("payload", [
    b"not json", b'"ok"', b"[]", b"3", b'{"batchItemFailures": "x"}', b'{"batchItemFailures": [{"itemIdentifier": ""}]}',
    b'{"batchItemFailures": [{"itemIdentifier": null}]}', b'{"batchItemFailures": [{"foo": "a"}]}',
    b'{"batchItemFailures": [{"itemIdentifier": "zzz"}]}', b'{"batchItemFailures": ["a"]}',
])
def test_malformed_fails_the_whole_batch(payload: bytes) -> None:
    assert batch_failures(payload, IDS) is None


def test_filters_see_the_body() -> None:
    assert matches((), {"body": "anything"})
    assert matches(('{"body": {"k": ["v"]}}',), {"body": '{"k": "v"}'})
    assert not matches(('{"body": {"k": ["v"]}}',), {"body": "k=v"})
    assert matches(('{"body": [{"prefix": "k="}]}',), {"body": "k=v"})
    assert not matches(('{"body": {"k": ["v"]}}',), {"body": '{"k": "w"}'})
