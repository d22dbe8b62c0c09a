"""The console's HTML, rendered on the server (htmx swaps fragments; uPlot draws the live charts).

Every value from the store goes through `e()` (HTML escaping): payloads and error messages are user data.
"""

from __future__ import annotations

from collections.abc import Iterable
from html import escape
from typing import Any
from urllib.parse import urlencode

from lambdalite.console.render import iso, payload_text
from lambdalite.model.history import EventDetail, EventRow

HTMX = "htmx-2.0.11.min.js"
UPLOT_JS = "uPlot-1.6.32.iife.min.js"
UPLOT_CSS = "uPlot-1.6.32.min.css"
SERIES = ("accepts", "successes", "retries", "failures", "drops")

_STYLE = """
body{font:14px system-ui,sans-serif;margin:0;color:#1d2430;background:#f6f7f9}
header{background:#1d2430;color:#fff;padding:10px 20px;display:flex;gap:20px;align-items:center}
header a{color:#cfe3ff;text-decoration:none}header .mode{margin-left:auto;font-size:12px}
main{padding:16px 20px}table{border-collapse:collapse;background:#fff;width:100%;margin-bottom:18px}
th,td{border-bottom:1px solid #e3e6ea;padding:5px 8px;text-align:left;vertical-align:top}
th{background:#eef1f4;font-weight:600}.failed{color:#b3261e}.succeeded{color:#1e7b34}
.bar{background:#e3e6ea;height:8px;width:120px;display:inline-block}.bar i{display:block;height:8px;background:#3b7dd8}
pre{background:#fff;border:1px solid #e3e6ea;padding:8px;white-space:pre-wrap;word-break:break-all}
form.filters{display:flex;gap:8px;flex-wrap:wrap;margin-bottom:12px}.note{color:#5b6573}
button{cursor:pointer}.error{background:#fde8e7;border:1px solid #b3261e;padding:8px;margin-bottom:12px}
"""


def e(value: object) -> str:
    return escape("" if value is None else str(value))


def page(title: str, body: str, *, can_write: bool, auth_configured: bool, logged_in: bool) -> str:
    if not auth_configured:
        mode = "read-only: set LAMBDALITE_CONSOLE_TOKEN (or API credentials) to redrive from here"
    elif logged_in:
        mode = ('signed in: redrive enabled <form method="post" action="/console/logout" style="display:inline">'
                '<button>sign out</button></form>')
    else:
        mode = ('read-only until you sign in <form method="post" action="/console/login" style="display:inline">'
                '<input type="password" name="token" placeholder="console token or AKID:SECRET" required> '
                '<button>sign in</button></form>')
    return f"""<!doctype html><html lang="en"><head><meta charset="utf-8"><title>{e(title)} · lambdalite</title>
<link rel="icon" href="data:,"><link rel="stylesheet" href="/console/static/{UPLOT_CSS}"><style>{_STYLE}</style>
<script src="/console/static/{HTMX}"></script><script src="/console/static/{UPLOT_JS}"></script></head>
<body data-can-write="{str(can_write).lower()}"><header><b>lambdalite console</b><a href="/console">overview</a>
<a href="/console/events">events</a><span class="mode" id="mode">{mode}</span></header><main>{body}</main></body></html>"""


def _table(head: Iterable[str], rows: Iterable[Iterable[str]], empty: str) -> str:
    cells = "".join("<tr>" + "".join(f"<td>{c}</td>" for c in row) + "</tr>" for row in rows)
    heads = "".join(f"<th>{e(h)}</th>" for h in head)
    return f"<table><tr>{heads}</tr>{cells or f'<tr><td colspan=9 class=note>{e(empty)}</td></tr>'}</table>"


def _bar(value: float, limit: float) -> str:
    share = 0 if limit <= 0 else min(1.0, value / limit)
    return f'<span class="bar" title="{value:.0f} of {limit:.0f}"><i style="width:{share * 100:.0f}%"></i></span>'


def functions_fragment(rows: list[dict[str, Any]]) -> str:
    def row(f: dict[str, Any]) -> list[str]:
        age = f["oldest_age_s"]
        reserved = f["reserved"]
        events = "/console/events?" + urlencode({"function": f["name"]})
        return [f'<a href="{e(events)}">{e(f["name"])}</a>', e(f["queued"]), e(f["delayed"]),
                f'{e(f["in_flight"])} / {e("—" if reserved is None else reserved)}',
                "—" if age is None else f'{age:.1f} s of {f["max_age_s"]} s {_bar(age, f["max_age_s"])}']

    return _table(["function", "queued", "delayed", "in flight / reserved", "oldest event age / maximum"],
                  (row(f) for f in rows), "no functions yet")


def queues_fragment(rows: list[dict[str, Any]], can_write: bool = False) -> str:
    def redrive(q: dict[str, Any]) -> str:
        if not (can_write and q["dlq"] and q["visible"]):
            return ""
        return (f'<form hx-post="/console/queues/redrive" hx-target="#queue-report" hx-confirm="Move the messages of '
                f'{e(q["name"])} into this function\'s queue?"><input type="hidden" name="queue" value="{e(q["arn"])}">'
                '<input name="function" placeholder="function" required size="14"> <button>redrive to function'
                '</button></form>')

    def row(q: dict[str, Any]) -> list[str]:
        kind = "DLQ" if q["dlq"] else ""
        return [e(q["name"]), kind, e(q["visible"]), e(q["in_flight"]), e(q["delayed"]), redrive(q)]

    table = _table(["queue", "", "messages", "in flight", "delayed", ""], (row(q) for q in rows), "no SQS queues")
    return table


def overview(functions: str, queues: str) -> str:
    legend = "".join(f'<span id="last-{s}" class="note">{s}: 0/s</span> ' for s in SERIES)
    return f"""<h2>Functions</h2><div id="functions" hx-get="/console/fragments/functions" hx-trigger="every 2s"
hx-swap="innerHTML">{functions}</div>
<h2>Rates (per second)</h2><div id="chart" data-points="0"></div><p>{legend}</p>
<h2>SQS queues</h2><div id="queue-report"></div><div id="queues">{queues}</div>
<script>{_CHART_JS}</script>"""


_CHART_JS = """
(function(){
  const names = __NAMES__;
  const data = [[]].concat(names.map(() => []));
  const colors = ["#3b7dd8","#1e7b34","#d08a00","#b3261e","#7a3fb0"];
  const el = document.getElementById("chart");
  const plot = new uPlot({width: Math.min(900, el.clientWidth || 900), height: 220,
    series: [{}].concat(names.map((n, i) => ({label: n, stroke: colors[i], width: 2}))),
    axes: [{}, {}]}, data, el);
  const source = new EventSource("/console/stream");
  source.addEventListener("rates", (msg) => {
    const point = JSON.parse(msg.data);
    data[0].push(point.t);
    names.forEach((n, i) => { data[i + 1].push(point[n]);
      document.getElementById("last-" + n).textContent = n + ": " + point[n] + "/s"; });
    if (data[0].length > 120) data.forEach((s) => s.shift());
    plot.setData(data);
    el.dataset.points = String(data[0].length);
    el.dataset.accepts = String(data[1].reduce((a, b) => a + b, 0));
  });
})();
""".replace("__NAMES__", "[" + ",".join(f'"{name}"' for name in SERIES) + "]")


def events_filters(params: dict[str, str]) -> str:
    def field(name: str, label: str, kind: str = "text") -> str:
        return f'<label>{label} <input type="{kind}" name="{name}" value="{e(params.get(name, ""))}"></label>'

    options = "".join(f'<option value="{s}"{" selected" if params.get("status") == s else ""}>{s or "any"}</option>'
                      for s in ("", "queued", "delayed", "running", "succeeded", "failed"))
    return f"""<form class="filters" hx-get="/console/events" hx-target="#results" hx-push-url="true">
{field("function", "function")}<label>status <select name="status">{options}</select></label>
{field("since", "since (15m, 2h, ISO)")}{field("until", "until")}{field("request_id", "request id")}
<button type="submit" id="filter">filter</button></form>"""


def events_results(rows: list[EventRow], params: dict[str, str], more: bool, can_write: bool) -> str:
    def row(r: EventRow) -> list[str]:
        link = f'<a href="/console/events/{e(r.request_id)}">{e(r.request_id)}</a>'
        return [link, e(r.function), f'<span class="{r.status.value}">{r.status.value}</span>', e(r.attempts),
                e(iso(r.time_ms)), e(r.condition)]

    table = _table(["request id", "function", "status", "attempts", "time", "condition"], (row(r) for r in rows),
                   "no events match")
    nav = ""
    if more and rows:
        query = {k: v for k, v in params.items() if v and k != "before"}
        query["before"] = f"{rows[-1].time_ms}:{rows[-1].request_id}"
        nav = (f'<a href="/console/events?{e(urlencode(query))}" hx-get="/console/events?{e(urlencode(query))}" '
               'hx-target="#results" hx-push-url="true">older →</a>')
    bulk = ""
    function = params.get("function")
    if can_write and function and params.get("status") == "failed" and rows:
        bulk = (f'<form hx-post="/console/redrive" hx-target="#results" hx-confirm="Run every failed event of '
                f'{e(function)} again?"><input type="hidden" name="function" value="{e(function)}">'
                '<button id="redrive-all">redrive all failed events of this function</button></form>')
    return f"<div id='results'>{bulk}{table}{nav}</div>"


def event_page(d: EventDetail, can_write: bool, message: str = "") -> str:
    outcome = d.outcome
    facts = [("request id", d.request_id), ("function", d.function), ("status", d.status.value),
             ("accepted", iso(d.accepted_ms)), ("next run", iso(d.due_ms) if d.status.live else None),
             ("condition", outcome.condition.value if outcome else None), ("ended", iso(outcome.ended_ms) if outcome else None)]
    summary = "".join(f"<tr><th>{e(k)}</th><td>{e(v)}</td></tr>" for k, v in facts if v is not None)
    attempts = _table(
        ["run", "#", "started", "ms", "result", "error", "decision", "retry at"],
        ([e(a.run), e(a.number), e(iso(a.started_ms)), e(a.duration_ms), e(a.result.value),
          e(" ".join(x for x in (a.error_type, a.error_message) if x)), e(a.decision), e(iso(a.retry_at_ms))]
         for a in d.attempts), "no attempts yet")
    deliveries = _table(["side", "target", "result", "attempts", "at"],
                        ([e(x.side), e(x.target_arn), "delivered" if x.delivered else f"gave up: {e(x.error)}",
                          e(x.attempts), e(iso(x.at_ms))] for x in d.deliveries), "no deliveries")
    button = ""
    if d.redrivable and can_write:
        button = (f'<button id="redrive" hx-post="/console/events/{e(d.request_id)}/redrive" hx-target="body" '
                  'hx-confirm="Run this event again?">redrive this event</button>')
    elif d.redrivable:
        button = '<p class="note">Sign in to redrive this event.</p>'
    note = f'<p class="note" id="message">{e(message)}</p>' if message else ""
    response = payload_text(outcome.response_payload) if outcome else None
    return f"""<h2>Event {e(d.request_id)}</h2>{note}<table id="summary">{summary}</table>{button}
<h3>Attempts</h3><div id="attempts">{attempts}</div><h3>Deliveries</h3>{deliveries}
<h3>Payload</h3><pre id="payload">{e(payload_text(d.payload))}</pre>
{f'<h3>Last response</h3><pre>{e(response)}</pre>' if response else ''}"""


def error_box(message: str) -> str:
    return f'<div class="error">{e(message)}</div>'
