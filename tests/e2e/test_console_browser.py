"""The web console in a real headless browser (Debian's chromium driven by Playwright): the overview loads
without console errors and its chart moves while events are sent, the event browser finds an event by
request id, and (signed in) a redrive button runs a failed event again, whose page then shows the new
attempt. Screenshots land in tests/artefacts/console/ (gitignored)."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.async_support import attempts_of, create_recorder, event_invoke, records
from tests.support.server import LambdaliteProcess, wait_until

CHROMIUM = os.environ.get("LAMBDALITE_CHROMIUM", "/usr/bin/chromium")
TOKEN = "console-test-token"
ARTEFACTS = Path(__file__).resolve().parents[1] / "artefacts" / "console"
ENV = {"LAMBDA_RETRY_BASE_DELAY": "0.1", "LAMBDALITE_CONSOLE_TOKEN": TOKEN, "LAMBDALITE_LEASE_SECONDS": "2"}

sync_api = pytest.importorskip("playwright.sync_api", reason="the dev extra installs Playwright")
pytestmark = pytest.mark.skipif(not shutil.which(CHROMIUM), reason=f"{CHROMIUM} missing: scripts/setup installs it")


@pytest.fixture
def browser() -> Iterator[Any]:
    with sync_api.sync_playwright() as p:
        launched = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=["--no-sandbox"])
        yield launched
        launched.close()


def watched_page(browser: Any, errors: list[str]) -> Any:
    page = browser.new_page(viewport={"width": 1200, "height": 900})
    page.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.on("dialog", lambda dialog: dialog.accept())  # hx-confirm's confirmation
    return page


def shot(page: Any, name: str) -> None:
    ARTEFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTEFACTS / f"{name}.png"), full_page=True)


def chart_accepts(page: Any) -> float:
    return float(page.evaluate("document.getElementById('chart').dataset.accepts || '0'"))


def test_console_overview_browser_and_redrive(tmp_path: Path, browser: Any) -> None:
    server = LambdaliteProcess(tmp_path / "data", env=ENV).start()
    errors: list[str] = []
    try:
        client = server.client("lambda")
        rec = tmp_path / "f.jsonl"
        create_recorder(client, "orders", rec)
        client.put_function_event_invoke_config(FunctionName="orders", MaximumRetryAttempts=0)
        page = watched_page(browser, errors)
        page.goto(f"{server.endpoint}/console")
        page.wait_for_selector("#functions table")
        assert "orders" in page.inner_text("#functions") and "read-only until you sign in" in page.inner_text("#mode")

        def chart_moved() -> bool:
            event_invoke(client, "orders", {"n": 1})
            return chart_accepts(page) > 0

        wait_until(chart_moved, timeout_s=30, interval_s=0.2, what="the accepts chart to rise")

        def points() -> int:
            event_invoke(client, "orders", {"n": 2})
            return int(page.evaluate("document.getElementById('chart').dataset.points"))

        wait_until(lambda: points() >= 6, timeout_s=30, interval_s=0.2, what="a few seconds of chart")
        shot(page, "overview")

        bad = event_invoke(client, "orders", {"fail": True, "order": 42})
        wait_until(lambda: attempts_of(rec, bad), timeout_s=30)
        page.goto(f"{server.endpoint}/console/events")
        page.fill("input[name=request_id]", bad)
        page.click("#filter")
        page.wait_for_selector(f"#results a:has-text('{bad}')")
        wait_until(lambda: "failed" in _reload_results(page, bad), timeout_s=30, what="the event failed")
        shot(page, "events")

        page.fill("input[name=token]", TOKEN)
        page.click("#mode button")
        page.wait_for_selector("#mode:has-text('signed in')")
        page.goto(f"{server.endpoint}/console/events/{bad}")
        assert '"order": 42' in page.inner_text("#payload")
        page.click("#redrive")
        page.wait_for_selector("#message:has-text('Redriven')")
        wait_until(lambda: len(attempts_of(rec, bad)) == 2, timeout_s=30, what="the redriven event ran")

        def new_attempt_shown() -> bool:
            page.reload()
            return bool(page.locator("#attempts tr").count() == 3)  # header + run 0 + run 1

        wait_until(new_attempt_shown, timeout_s=30, what="the event page shows the new attempt")
        shot(page, "event")

        page.goto(f"{server.endpoint}/console/events?function=orders&status=failed")
        page.click("#redrive-all")
        assert "Redriven 1 event(s)" in page.inner_text("#redrive-report")
        wait_until(lambda: len(attempts_of(rec, bad)) == 3, timeout_s=30, what="the bulk redrive ran it")

        sqs = server.client("sqs")
        dlq = sqs.create_queue(QueueName="orders-dlq")["QueueUrl"]
        dlq_arn = sqs.get_queue_attributes(QueueUrl=dlq, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        client.update_function_configuration(FunctionName="orders", DeadLetterConfig={"TargetArn": dlq_arn})
        sqs.send_message(QueueUrl=dlq, MessageBody='{"from": "dlq"}')
        page.goto(f"{server.endpoint}/console")
        page.fill("#queues input[name=function]", "orders")
        page.click("#queues button")
        page.wait_for_selector("#redrive-report:has-text('Redriven 1 message(s) into orders')")
        wait_until(lambda: [r for r in records(rec) if r["event"] == {"from": "dlq"}], timeout_s=30,
                   what="the DLQ's message ran")
        assert errors == []
    finally:
        server.kill()


def _reload_results(page: Any, request_id: str) -> str:
    page.click("#filter")
    page.wait_for_selector(f"#results a:has-text('{request_id}')")
    return str(page.inner_text("#results"))


def test_console_without_auth_is_read_only_and_never_a_traceback(tmp_path: Path, browser: Any) -> None:
    server = LambdaliteProcess(tmp_path / "data", env={"LAMBDALITE_LEASE_SECONDS": "2"}).start()
    errors: list[str] = []
    try:
        page = watched_page(browser, errors)
        page.goto(f"{server.endpoint}/console/events?since=not-a-time")
        assert "Bad filter" in page.inner_text("main") and "Traceback" not in page.content()
        response = page.goto(f"{server.endpoint}/console/events/no-such-event")
        assert response is not None and response.status == 404
        assert "set LAMBDALITE_CONSOLE_TOKEN" in page.inner_text("#mode")
        assert page.request.post(f"{server.endpoint}/console/events/x/redrive").status == 403
    finally:
        server.kill()
