"""Self-contained HTML pages: the coaching report and the rep one-pager.

Geometry (where every bar and tick goes) is computed here; the markup lives in
jinja2 templates under ``cli/templates`` (autoescaped). Each page is one file:
inline CSS and SVG, no scripts, no network fonts; every chart has an SVG
``<title>``/``<desc>`` and a table under it, and every colour comes with a
text label, so the page reads the same printed in black and white.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from typing import TYPE_CHECKING, Any

from ledger import rules
from projections.coaching import MIX, Window

if TYPE_CHECKING:
    from jinja2 import Environment

    from projections.query import History, Item

# Verdict colours (ColorBrewer-like; honest misses in blue: a safe failure is not red).
COLOURS: dict[str, str] = {
    rules.SUCCEEDED: "#1a7f3c",
    rules.KEPT: "#66bd63",
    rules.HONEST_MISS: "#3b6fb6",
    rules.PARTIAL: "#f0a040",
    rules.BROKEN: "#c62828",
    rules.BLOCKED: "#7b3f9e",
    rules.RELEASED: "#8a8a8a",
    rules.OVERDUE: "#8c510a",
    rules.OPEN: "#9ecae1",
}
# honest_miss -> "honest miss"
LABELS: dict[str, str] = {v: v.replace("_", " ") for v in rules.VERDICTS}
SIGNAL_TEXT = {
    rules.WILL_CONCERN: "Will concern: two or more broken commitments in the window.",
    rules.FIRST_WARNING: "First warning: one broken commitment in the window.",
    rules.SKILL_GAP: "Skill gap: honest misses outnumber successes. Be patient; coach the skill.",
    rules.ON_TRACK: "On track: no broken commitment in the window.",  # + counts: signal_text
    rules.INSUFFICIENT_DATA: "Insufficient data: no succeeded, kept, honest-miss, partial or "
    "broken commitment closed in the window (blocked ones count for nobody).",
}

_env: Environment | None = None

KEPT_VERDICTS = (rules.SUCCEEDED, rules.KEPT, rules.HONEST_MISS)


def signal_text(h: dict[str, Any]) -> str:
    """The sentence beside a signal (``history`` or ``team`` JSON of one rep), in
    words that agree with its numbers: ``on_track`` says how many commitments of
    the window were kept, and never that commitments are being kept when none was
    (only partial ones: follow-through rate 0)."""
    text = SIGNAL_TEXT.get(h["signal"], "")
    if h["signal"] != rules.ON_TRACK:
        return text
    verdicts = [r["verdict"] for r in h["reasons"]]
    kept = sum(v in KEPT_VERDICTS for v in verdicts)
    partial = sum(v == rules.PARTIAL for v in verdicts)
    closed = kept + partial
    if kept == 0:
        return (
            f"{text} None was kept in full: {partial} partial "
            f"(follow-through rate {pct(h['follow_through_rate'])})."
        )
    done = "was" if kept == 1 else "were"
    return (
        f"{text} {kept} of {closed} closed in it {done} kept "
        f"(follow-through rate {pct(h['follow_through_rate'])})."
    )


def environment() -> Environment:
    """The jinja2 environment over ``cli/templates`` (autoescape on)."""
    global _env
    if _env is None:
        from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape

        _env = Environment(
            loader=PackageLoader("cli", "templates"),
            autoescape=select_autoescape(["html", "j2"], default=True),
            undefined=StrictUndefined,
            trim_blocks=True,
            lstrip_blocks=True,
        )
        _env.globals.update(colours=COLOURS, labels=LABELS, pct=pct, num=num, short=short)
    return _env


def pct(value: float | None) -> str:
    """A share as a percentage, or "n/a" for null."""
    return "n/a" if value is None else f"{round(value * 100):d}%"


def num(value: float | None) -> str:
    if value is None:
        return "n/a"
    if float(value).is_integer():
        return str(int(value))
    return f"{value:.2f}".rstrip("0").rstrip(".")


def short(cid: str) -> str:
    return cid[:8]


# -- the coaching report ---------------------------------------------------------


@dataclass(frozen=True)
class Bar:
    """One bar of a chart: its box, label and value text."""

    x: float
    y: float
    width: float
    height: float
    colour: str
    label: str
    value: str


def _mix_bars(mix: dict[str, int]) -> tuple[list[Bar], int]:
    """Vertical bars, one per verdict of the mix, on a 0..max scale (height 120)."""
    top = max([*mix.values(), 1])
    bars, width, gap, base = [], 52.0, 14.0, 150.0
    for i, verdict in enumerate(MIX):
        h = 120.0 * mix.get(verdict, 0) / top
        x = 40 + i * (width + gap)
        bars.append(
            Bar(x, base - h, width, h, COLOURS[verdict], LABELS[verdict], str(mix.get(verdict, 0)))
        )
    return bars, top


def _month_bars(months: list[dict[str, Any]]) -> dict[str, Any]:
    """Per month: loop closure (0..100%) and sessions held, two small bar charts."""
    n = max(1, len(months))
    slot = min(110.0, 520.0 / n)
    width = slot * 0.6
    top_sessions = max([*(m["sessions_held"] for m in months), 1])
    loops, sessions = [], []
    for i, m in enumerate(months):
        x = 40 + i * slot + (slot - width) / 2
        label = _month_label(m["month"])
        share = m["loop_closure"]
        h = 0.0 if share is None else 100.0 * share
        loops.append(Bar(x, 130 - h, width, h, "#3b6fb6", label, pct(share)))
        hs = 100.0 * m["sessions_held"] / top_sessions
        sessions.append(Bar(x, 130 - hs, width, hs, "#5b8c5a", label, str(m["sessions_held"])))
    return {
        "loops": loops,
        "sessions": sessions,
        "width": 40 + n * slot + 20,
        "top_sessions": top_sessions,
    }


def _month_label(month: str) -> str:
    return date.fromisoformat(month + "-01").strftime("%b %Y")


def coaching_page(
    report: dict[str, Any],
    template: str = "coaching.html.j2",
    with_team: bool = True,
    **extra: Any,
) -> str:
    """The coaching report (the JSON of ``report coaching``) as one HTML page;
    ``template``/``extra``: the server's page around it (``with_team=False``: no
    team total, for a manager reading their own patterns)."""
    sections = []
    entries = report.get("managers", report.get("groups", []))
    for m in [*entries, *([report["team"]] if with_team else [])]:
        bars, top = _mix_bars(m["follow_through_mix"])
        name = m.get("manager")
        if "group" in m:  # --group-by team or region; a rep outside the roster has none
            name = m["group"] or f"(no {report['group_by']})"
        sections.append(
            {
                "name": name,
                "m": m,
                "mix_bars": bars,
                "mix_top": top,
                "months": _month_bars(m["months"]),
                "sfi_x": None
                if m["safe_failure_index"] is None
                else 20 + 400 * m["safe_failure_index"],
            }
        )
    page = environment().get_template(template)
    return page.render(report=report, sections=sections, mix=MIX, **extra)


# -- the rep one-pager -------------------------------------------------------------


@dataclass(frozen=True)
class Tick:
    """A check-in on a timeline bar: where, and its follow-through so far."""

    x: float
    date: str
    label: str
    detail: str


@dataclass(frozen=True)
class Row:
    """One commitment on the timeline."""

    y: float
    x: float
    width: float
    item: dict[str, Any]
    ticks: list[Tick]
    supports: str | None
    hypothesis: str | None


def _tick_label(item: Item, upto: date) -> tuple[str, str]:
    """The check-in's running follow-through: the pace (actual so far against
    expected so far, :func:`ledger.rules.pace_of`) of the check-ins up to it."""
    f = item.facts
    so_far = [c for c in f.check_ins if c.date <= upto]
    actual, done = rules.check_in_totals(so_far, f.start, min(upto, f.due))
    if f.measure == "done":
        return ("done" if done else "not done"), ("done" if done else "not done")
    pace = rules.pace_of(f, upto, actual)
    if pace is None:
        return num(actual), f"actual {num(actual)}"
    text = "n/a" if pace.ratio is None else f"{pace.ratio:.2f}"
    return text, f"{num(actual)} of {num(pace.expected_so_far)} expected so far (ratio {text})"


def _timeline_items(h: History) -> tuple[list[Item], int]:
    """Commitments worth a picture: open or overdue, or ending in the window;
    manager-owned ones placed under the commitment they support."""
    first = Window(h.at.on, h.window_days).first
    shown = [
        i
        for i in h.items
        if i.evaluation.status in (rules.OPEN, rules.OVERDUE)
        or max(i.facts.due, i.ended_on or i.facts.due) >= first
    ]
    supporters: dict[str, list[Item]] = {}
    ordered: list[Item] = []
    for i in shown:
        if i.facts.owner == "manager" and i.facts.supports:
            supporters.setdefault(i.facts.supports, []).append(i)
    ids = {i.facts.id for i in shown}
    for i in sorted(shown, key=lambda i: (i.facts.start, i.position)):
        if i.facts.owner == "manager" and i.facts.supports in ids:
            continue
        ordered.append(i)
        ordered.extend(supporters.get(i.facts.id, ()))
    return ordered, len(h.items) - len(shown)


def rep_page(h: History, template: str = "rep.html.j2", **extra: Any) -> str:
    """The rep one-pager (``history REP --format html``); ``template``/``extra``:
    the server's page around it."""
    items, hidden = _timeline_items(h)
    obj = h.as_dict()
    rows: list[Row] = []
    axis: list[dict[str, Any]] = []
    chart: dict[str, Any] | None = None
    if items:
        t0 = min(i.facts.start for i in items)
        t1 = max(max(i.facts.due for i in items), h.at.on)
        span = (t1 - t0).days + 1
        x0, x1 = 250.0, 940.0

        def x(d: date) -> float:
            return x0 + (x1 - x0) * (d - t0).days / span

        row_h, top = 40.0, 40.0
        for n, item in enumerate(items):
            f = item.facts
            y = top + n * row_h
            ticks = []
            for c in f.check_ins:
                label, detail = _tick_label(item, c.date)
                ticks.append(Tick(x(c.date) + 0.5, c.date.isoformat(), label, detail))
            hyp = f.hypothesis
            if f.expect_metric:
                hyp = f"{hyp or ''} [{f.expect_metric} ≥ {num(f.expect_at_least)}]".strip()
            rows.append(
                Row(
                    y,
                    x(f.start),
                    max(2.0, x(f.due + timedelta(days=1)) - x(f.start)),
                    item.as_dict(),
                    ticks,
                    f.supports,
                    hyp,
                )
            )
        month = date(t0.year, t0.month, 1)
        while month <= t1:
            if month >= t0:
                axis.append({"x": x(month), "label": month.strftime("%b %Y")})
            month = (month + timedelta(days=32)).replace(day=1)
        chart = {
            "height": top + len(items) * row_h + 10,
            "today": x(h.at.on + timedelta(days=1)),
            "x0": x0,
            "x1": x1,
            "start": t0.isoformat(),
            "end": t1.isoformat(),
        }
    supporting = [r for r in rows if r.item["owner"] == "manager"]
    page = environment().get_template(template)
    return page.render(
        **extra,
        h=obj,
        rows=rows,
        axis=axis,
        chart=chart,
        hidden=hidden,
        supporting=supporting,
        signal_text=signal_text(obj),
        by_id={r.item["id"]: r.item for r in rows},
        checkins=sum(len(r.ticks) for r in rows),
    )


# -- the team page -----------------------------------------------------------------


def team_page(
    team: dict[str, Any],
    manager: str | None = None,
    template: str = "team.html.j2",
    **extra: Any,
) -> str:
    """``team --format html``: one row per rep, its signal with the words of the
    rep page, the follow-through rate, focus load and counts."""
    reps = [{**r, "text": signal_text(r)} for r in team["reps"]]
    page = environment().get_template(template)
    return page.render(team=team, reps=reps, manager=manager, verdicts=rules.VERDICTS, **extra)


# -- the demo's pages ----------------------------------------------------------------


def write_demo_pages(env: Any, team: Sequence[tuple[str, str, str]], at: Any = None) -> list[str]:
    """Write the coaching report and one rep's one-pager next to the ledger (the
    current directory for PostgreSQL); return their paths. The rep is the first
    whose manager does not deliver support (``blocked`` habit), else the first.
    ``at``: the moment they are judged (default now)."""
    from projections.coaching import coaching_report

    from .context import open_read_model
    from .read_options import moment

    rep = next((r for r, _, habit in team if habit == "blocked"), team[0][0])
    coaching_path, history_path = demo_page_paths(env, rep)
    at = at or moment(None, None)
    with open_read_model(env) as rm:
        report = coaching_report(rm, at).as_dict()
        history = rm.history(rep, at)
    pages = {coaching_path: coaching_page(report), history_path: rep_page(history)}
    from .safe import write_private_text

    for path, text in pages.items():
        env.check_output(path, "demo")
        write_private_text(path, text)
    return list(pages)


# -- the coaching cycle: prep and plan, printable ------------------------------------


def prep_page(agenda: dict[str, Any], as_of: str, **extra: Any) -> str:
    """``prep REP --format html``: the session agenda on one printable page;
    ``extra``: the server's page around it (``layout``, ...)."""
    from projections.cycle import AGENDA

    template = environment().get_template("prep.html.j2")
    return template.render(
        **extra,
        a=agenda,
        as_of=as_of,
        agenda=AGENDA,
        signal_text=SIGNAL_TEXT.get(agenda["signal"], ""),
    )


def plan_page(plan: dict[str, Any], as_of: str, **extra: Any) -> str:
    """``plan REP --format html``: the 30-day plan on one printable page;
    ``extra``: the server's page around it (``layout``, ...)."""
    template = environment().get_template("plan.html.j2")
    return template.render(**extra, p=plan, as_of=as_of)


def demo_page_paths(env: Any, rep: str | None) -> tuple[str, ...]:
    """Where the demo writes its pages: next to the ledger (the current directory
    for PostgreSQL). Without ``rep``, the coaching page only (the rep is chosen later)."""
    import os
    import re

    folder = os.path.dirname(env.ledger_file or "") or "."
    coaching = os.path.join(folder, "coaching.html")
    if rep is None:
        return (coaching,)
    slug = re.sub(r"[^A-Za-z0-9]+", "-", rep).strip("-").lower() or "rep"
    return coaching, os.path.join(folder, f"history-{slug}.html")
