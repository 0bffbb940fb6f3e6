"""HTML of the web view: page templates (resources/templates, string.Template) and the
fragments that both the first render and the live updates send, so each thing is drawn in one
place. Every value from etcd goes through `h` (HTML escaping) before it lands in markup."""
from __future__ import annotations

import functools
import html
import json
import time
from string import Template

from mr.engine.progress import Progress
from mr.kv.models import CANCELLED, DONE, FAILED, MAP, REQUEST_STATES, RUNNING, Invocation, Request
from mr.resource_files import TEMPLATE_DIR
from mr.units import tally_text
from mr.web import ui_data
from mr.web.ui_data import ChildPage, Queues, Row, WorkerView

STATIC = "/ui/static"


def h(value) -> str:
    return html.escape("" if value is None else str(value), quote=True)


@functools.cache
def template(name: str) -> Template:
    return Template((TEMPLATE_DIR / name).read_text(encoding="utf-8"))


def document(page: str, title: str, crumbs: list[tuple[str, str | None]], main: str,
             data: dict, script: str | None = None) -> str:
    """A whole page: `main` is already HTML; `data` goes to the scripts as JSON."""
    trail = "".join(f' <span class="sep">›</span> <a href="{h(url)}">{h(label)}</a>' if url
                    else f' <span class="sep">›</span> <span>{h(label)}</span>'
                    for label, url in crumbs)
    payload = json.dumps(data).replace("<", "\\u003c").replace(">", "\\u003e")
    scripts = f'<script src="{STATIC}/{script}"></script>' if script else ""
    return template("ui_base.html").substitute(title=h(title), page=h(page), crumbs=trail,
                                               main=main, data=payload, static=STATIC,
                                               scripts=scripts)


# --- small pieces ------------------------------------------------------------------------
def duration(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    if seconds < 1:
        return f"{seconds * 1000:.0f} ms"
    if seconds < 60:
        return f"{seconds:.1f} s"
    minutes, secs = divmod(int(seconds), 60)
    if minutes < 60:
        return f"{minutes} min {secs} s"
    return f"{minutes // 60} h {minutes % 60} min"


def moment(ts: float | None) -> str:
    """A time the scripts show in the reader's zone; UTC until they run."""
    if ts is None:
        return "-"
    utc = time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(ts))
    return f'<time data-ts="{ts:.3f}">{utc} UTC</time>'


def badge(state: str) -> str:
    return f'<span class="badge st-{h(state)}">{h(state)}</span>'


def bar(progress: Progress | None, wide: bool = False) -> str:
    """A bar of done (and failed) parts, with its percent in data-percent for scripts/tests."""
    if progress is None or not progress.total:
        return '<div class="bar empty" data-percent="0"><span class="label">-</span></div>'
    done, failed = progress.counts.get("done", 0), progress.counts.get("failed", 0)
    done_w = 100.0 * done / progress.total
    failed_w = 100.0 * failed / progress.total
    label = f"{progress.percent:g}%" + ("" if wide else f" of {progress.total:,}")
    return (f'<div class="bar{" wide" if wide else ""}" data-percent="{progress.percent:g}" '
            f'data-done="{done}" data-failed="{failed}" data-total="{progress.total}">'
            f'<span class="done" style="width:{done_w:.2f}%"></span>'
            f'<span class="failed" style="width:{failed_w:.2f}%"></span>'
            f'<span class="label">{h(label)}</span></div>')


def elapsed(begun: float | None, end: float | None) -> str:
    if begun is None:
        return '<span class="elapsed">-</span>'
    attrs = f'data-since="{begun:.3f}"' + (f' data-until="{end:.3f}"' if end else "")
    return f'<span class="elapsed" {attrs}>{duration((end or time.time()) - begun)}</span>'


# --- the overview ------------------------------------------------------------------------
def counts(by_state: dict[str, int]) -> str:
    items = "".join(f'<li class="st-{s}"><span class="n">{by_state.get(s, 0):,}</span> {s}</li>'
                    for s in REQUEST_STATES)
    return (f'<ul class="counts" data-total="{sum(by_state.values())}">{items}'
            f'<li class="total"><span class="n">{sum(by_state.values()):,}</span> in all</li>'
            f'</ul>')


def request_row(wf: str, row: Row) -> str:
    r = row.request
    name = f' <span class="name">{h(r.name)}</span>' if r.name else ""
    return (f'<tr class="req st-{h(r.state)}" data-rid="{h(r.id)}" data-state="{h(r.state)}">'
            f'<td><a href="/ui/{h(wf)}/request/{h(r.id)}"><code>{h(r.id[:12])}</code></a>{name}'
            f'</td><td>{h(r.job)}</td><td>{badge(r.state)}</td><td>{moment(r.created)}</td>'
            f'<td>{elapsed(r.created, r.finished)}</td><td>{bar(row.progress)}</td></tr>')


def request_rows(wf: str, rows: list[Row]) -> str:
    if not rows:
        return '<tr class="none"><td colspan="6">No requests yet.</td></tr>'
    return "".join(request_row(wf, r) for r in rows)


def workers(views: list[WorkerView]) -> str:
    if not views:
        return '<p class="hint">No live worker serves this workflow.</p>'
    lines = []
    for view in views:
        w = view.info
        load = view.load
        meter = ("-" if load is None else
                 f'<div class="bar small" data-percent="{100 * load:.0f}"><span class="done" '
                 f'style="width:{min(100 * load, 100):.0f}%"></span><span class="label">'
                 f'{view.in_flight:g} / {w.get("concurrency")}</span></div>')
        caps = " ".join(f'<span class="cap">{h(c)}</span>' for c in w.get("capabilities", ()))
        lines.append(f'<tr data-worker="{h(w.get("id"))}"><td><code>{h(w.get("id"))}</code></td>'
                     f'<td>{h(w.get("host"))} <span class="hint">pid {h(w.get("pid"))}</span>'
                     f'</td><td>{caps}</td><td>{meter}</td><td>{h(w.get("version"))}</td>'
                     f'<td>{moment(w.get("started"))}</td></tr>')
    return ('<table class="workers"><thead><tr><th>worker</th><th>host</th><th>capabilities'
            '</th><th>load (running / slots)</th><th>version</th><th>since</th></tr></thead>'
            f'<tbody>{"".join(lines)}</tbody></table>')


def queues(found: Queues) -> str:
    if not found.rows:
        return ('<p class="hint">No topic of this workflow on the brokers yet (or no broker '
                'answered).</p>')
    lines = "".join(f'<tr data-topic="{h(t)}"><td>{h(b)}</td><td><code>{h(t)}</code></td>'
                    f'<td>{h(c)}</td><td class="num">{d:,.0f}</td></tr>'
                    for b, t, c, d in found.rows)
    return ('<table class="queues"><thead><tr><th>broker</th><th>topic</th><th>channel</th>'
            f'<th>depth</th></tr></thead><tbody>{lines}</tbody></table>')


# --- the request page --------------------------------------------------------------------
def summary(request: Request) -> str:
    facts = [("job", h(request.job)), ("state", badge(request.state)),
             ("started", moment(request.created)), ("finished", moment(request.finished)),
             ("elapsed", elapsed(request.created, request.finished))]
    if request.name:
        facts.append(("name", h(request.name)))
    if request.retries:
        facts.append(("retries", str(request.retries)))
    items = "".join(f"<div><dt>{k}</dt><dd>{v}</dd></div>" for k, v in facts)
    can_retry = request.state in (FAILED, CANCELLED)
    running = "" if request.state == RUNNING else " hidden"
    actions = (f'<button type="button" id="retry"{"" if can_retry else " hidden"}>Retry</button>'
               f'<button type="button" id="pause"{running}>Pause</button>'
               f'<button type="button" id="resume"{running}>Resume</button>'
               f'<button type="button" id="cancel"{running}>Cancel</button>'
               f'<span id="action-note" class="hint"></span>')
    return (f'<dl class="facts" data-state="{h(request.state)}">{items}</dl>'
            f'<div class="actions">{actions}</div>')


def progress_panel(progress: Progress | None) -> str:
    if progress is None:
        return '<p class="hint">No progress to show: the request\'s records are gone.</p>'
    c = progress.counts
    parts = [f"<b>{progress.percent:g}%</b>", f"{c.get('done', 0):,} done",
             f"{c.get('failed', 0):,} failed", f"{c.get('running', 0):,} running",
             f"{c.get('waiting', 0):,} waiting", f"{c.get('queued', 0):,} queued"]
    if c.get("skipped"):
        parts.append(f"{c['skipped']:,} skipped")
    if progress.state == "paused":
        parts.insert(0, "<b>paused</b>: nothing new starts until it is resumed")
    parts += [f"of {progress.total:,}",
              f"elapsed {elapsed(progress.started, progress.finished)}",
              f"ETA {duration(progress.eta_s) if progress.eta_s is not None else '-'}"]
    status = "".join(f'<li><code>{h(s["invocation"])}</code> {h(s["message"])}</li>'
                     for s in progress.status)
    tallies = " · ".join(f"{h(name)} <b>{h(tally_text(name, n, grouped=True))}</b>"
                         for name, n in (progress.tallies or {}).items())
    return (f'<div class="progress" data-state="{h(progress.state)}">{bar(progress, True)}'
            f'<p class="stats">{" · ".join(parts)}</p>'
            + (f'<p class="tallies">tallies: {tallies}</p>' if tallies else "")
            + (f'<ul class="status">{status}</ul>' if status else "") + '</div>')


def failure(request: Request) -> str:
    f = request.failure
    if not f:
        return ""
    rows = [("reason", f.get("reason")), ("message", f.get("message")),
            ("invocation", f.get("invocation")), ("handler", f.get("handler")),
            ("version", f.get("version")), ("worker", f.get("worker")),
            ("attempt", f.get("attempt"))]
    items = "".join(f"<div><dt>{k}</dt><dd>{h(v)}</dd></div>" for k, v in rows if v is not None)
    text = "".join(f'<h3>{title}</h3><pre class="{cls}">{h(f[key])}</pre>'
                   for key, title, cls in (("traceback", "Traceback", "traceback"),
                                           ("log", "Log", "log"),
                                           ("stderr", "Stderr", "log stderr")) if f.get(key))
    return (f'<section class="panel failure" data-invocation="{h(f.get("invocation"))}">'
            f'<h2>Failure</h2><dl class="facts">{items}</dl>{text}</section>')


RESULT_ROWS = 20   # result pairs shown on a request's page; the rest by download


def result_panel(request: Request, pairs: list, total: int, error: str | None = None) -> str:
    """A done request's first pairs, how many there are, and where the whole result is."""
    if request.state != DONE:
        return ""
    base = f"/request/{request.workflow}/{request.id}/result"
    links = [f'<a href="{h(base)}?limit=100000" download="{h(request.id)}.json">download as '
             f'JSON</a>']
    if request.result_path:
        links.append(f"file: <code>{h(request.result_path)}</code>")
    if error:
        body = f'<p class="hint">The result cannot be read: {h(error)}</p>'
    else:
        rows = "".join(f"<tr><td><code>{h(json.dumps(k))}</code></td>"
                       f"<td><code>{h(json.dumps(v))}</code></td></tr>" for k, v in pairs)
        more = (f'<p class="hint">The first {len(pairs)} of {total:,} pairs.</p>'
                if total > len(pairs) else
                f'<p class="hint">{total:,} pair{"" if total == 1 else "s"}.</p>')
        body = f'<table class="result"><tr><th>key</th><th>value</th></tr>{rows}</table>{more}'
    return (f'<section class="panel" id="result"><h2>Result</h2>{body}'
            f'<p>{" · ".join(links)}</p></section>')


NO_TRACE = ("the invocation records are gone: a done request's records are removed from etcd "
            "when it ends (unless MR_CLEANUP=0), and no trace document of it is kept (none is "
            "written with MR_TRACE_RETENTION_S=0; it expired; or its request was removed).")
KEPT = ("This request's records are gone from etcd; what follows is the trace document kept "
        "when it ended.")


def graph_panel(url: str, note: str, drawable: bool) -> str:
    """The drawing, or why there is none (never a broken image)."""
    if not drawable:
        return f'<p class="hint">No graph: {h(NO_TRACE)}</p>'
    return (f'<p class="hint">{h(note)}</p><div class="graph"><a href="{h(url)}" '
            f'target="_blank" title="open the drawing at full size"><img id="graph" '
            f'alt="invocation graph" loading="lazy" src="{h(url)}"></a></div>')


def node(inv: Invocation, failed: str | None, box: str = "") -> str:
    """One invocation of the tree; `box` is its children's page when shown expanded."""
    kind = "M" if inv.kind == MAP else "R"
    ran = (inv.finished - inv.started) if inv.started and inv.finished else None
    handler = h(inv.handler or "-") + (f'<span class="ver">@{h(inv.version[:8])}</span>'
                                       if inv.version else "")
    classes = [f"node st-{h(inv.state)}"]
    if failed and inv.id == failed:
        classes.append("failed-here")
    elif failed and failed.startswith(inv.id + "."):
        classes.append("failed-below")
    openable = inv.children is not None or (inv.kind == MAP and inv.state == RUNNING)
    kids = (f'<span class="kids">{inv.children:,} children</span>' if inv.children is not None
            else "")
    toggle = (f'<button type="button" class="toggle" aria-expanded="{"true" if box else "false"}"'
              f' title="children">{"▾" if box else "▸"}</button>' if openable
              else '<span class="toggle leaf"></span>')
    marker = '<span class="marker">FAILED</span>' if inv.state == FAILED else ""
    row = (f'<div class="row">{toggle}<a class="label" href="#{h(inv.id)}">'
           f'<span class="iid">{h(inv.id)}</span> <span class="kind">{kind}</span> '
           f'<span class="step">{h(inv.step)}</span> <span class="handler">{handler}</span> '
           f'{badge(inv.state)}{marker} <span class="worker">{h(inv.worker or "")}</span> '
           f'<span class="attempt">attempt {inv.attempts}</span> '
           f'<span class="dur">{duration(ran) if ran is not None else ""}</span> {kids}</a>'
           f'</div>')
    hidden = "" if box else " hidden"
    return (f'<li class="{" ".join(classes)}" data-iid="{h(inv.id)}" data-state="{h(inv.state)}">'
            f'{row}<div class="kids-box"{hidden}>{box}</div></li>')


def child_page(page: ChildPage, failed: str | None, boxes: dict[str, str] | None = None) -> str:
    """A page of children, with a pager; `boxes` holds the pages of nodes shown expanded."""
    boxes = boxes or {}
    items = "".join(node(inv, failed, boxes.get(inv.id, "")) for inv in page.nodes)
    if not page.nodes:
        items = '<li class="none hint">no children yet</li>'
    pager = ""
    if page.parent != ui_data.TOP and (page.start or page.more):
        total = f" of {page.total:,}" if page.total is not None else ""
        shown = f"{page.start + 1:,}–{page.end:,}{total}" if page.end > page.start else "none"
        prev = (f'<button type="button" data-start="{max(page.start - ui_data.PAGE, 0)}">◀ '
                f'previous {ui_data.PAGE}</button>' if page.start else "")
        nxt = (f'<button type="button" data-start="{page.end}">next {ui_data.PAGE} ▶</button>'
               if page.more else "")
        pager = f'<div class="pager">{prev}<span>children {shown}</span>{nxt}</div>'
    return (f'<div class="page" data-of="{h(page.parent)}" data-start="{page.start}">{pager}'
            f'<ul>{items}</ul></div>')
