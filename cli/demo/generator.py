"""A realistic, deterministic demo team, written as typed commands in one unit of work.

``commitments demo`` calls :func:`write_demo`. The same seed gives the same
people, numbers and verdicts; only the ids (``uuid4``) and the recorded_at
of events dated on the current Monday (clamped to now) differ between runs.

**Dates.** The demo covers ``weeks`` whole weeks that end on the Sunday before
``end``, plus ``end`` itself, where ``end`` is the latest Monday on or before
today (UTC). Nothing is dated after ``end``, so the verdicts are the same on
whichever weekday the demo is written and read. Each event's recorded_at is
its business date during working hours (UTC), as if recorded the same day;
every event of one command shares one recorded_at.

**The coaching cycle.** Every rep has a 4-week cycle, staggered by rep so that
each week a quarter of the team is coached. On the cycle's Monday the manager
closes the previous commitments (the loop is closed at the next session),
holds a session (prepared or not) and agrees one or two rep commitments for 28
days (Monday to Sunday four weeks later) in at most two focus areas, sometimes
with a supporting manager commitment (ride-alongs, call reviews). The rep
checks in every Friday; commitments measured by the ``calls`` metric take their
actual from weekly CRM call totals (``Activity`` rows) instead. Some
hypotheses name an outcome metric (``won_value``, from won-deal rows) and a
threshold, and are closed without a result: the rules decide it.

**Habits.** Each rep has one: ``diligent`` (does it, results mostly follow),
``experimenter`` (does it, results mostly do not: honest misses),
``slipping`` (breaks one commitment, then recovers), ``unreliable``
(breaks often), ``blocked`` (the manager does not deliver the promised
support) and ``newcomer`` (partial follow-through). The first six reps get one
habit each, so even a small team shows every verdict. Along the way there are
releases, revisions, corrected check-ins, a focus-cap override with its
reason, and commitments one manager forgot to close (overdue). Diligent reps
and experimenters manage themselves: they propose their own commitments
(``proposed_by`` ``rep``).

**Writing.** Every change is a command of :class:`~ledger.application.Ledger`
(``record_session``, ``agree``, ``check_in``, ...: validated, every rule of
SPEC §3 applied, free text sealed), run in one unit of work
(:meth:`~ledger.application.Ledger.batch`), which keeps the aggregates in
memory and inserts their events in large batches (once at least ``batch`` are
pending) inside one transaction. The demo only writes into an empty ledger:
an interrupted demo leaves it empty.
"""

from __future__ import annotations

import dataclasses
import gc
import random
import time as clock
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from uuid import UUID

from ledger import commands as cmd
from ledger.application import Ledger
from ledger.domain import Commitment
from ledger.errors import Conflict, InvalidInput, RuleViolation
from ledger.values import Owner, Result

ACTOR = "demo"
CYCLE_DAYS = 28
HABITS = ("diligent", "experimenter", "slipping", "unreliable", "blocked", "newcomer")
HABIT_WEIGHTS = (34, 15, 16, 10, 10, 15)

_FIRST = (
    "Alice Amara Ben Bianca Carlos Chen Dana Dmitri Elena Emeka Farah Felix Grace Gustavo "
    "Hana Hugo Ines Ivan Jada Jonas Kai Keiko Leila Liam Maya Mateo Nadia Noah Olga Omar "
    "Priya Pablo Quinn Rafael Rosa Sam Sofia Tariq Tessa Umar Uma Victor Vera Wen Willa "
    "Xavier Yara Yusuf Zoe Zane Aditi Bruno Clara Diego Erin Fatima Gabriel Helga Isaac Julia"
)
_LAST = (
    "Abbott Adeyemi Alvarez Andersen Bauer Becker Bianchi Brennan Castillo Chen Costa "
    "Dubois Duarte Eriksen Evans Fischer Fontaine Garcia Gupta Haddad Hansen Hoffmann Ito "
    "Jansen Jovanovic Kaur Kowalski Kruger Larsen Laurent Lopez Martin Meyer Moreau Murphy "
    "Nakamura Nguyen Novak Okafor Olsen Ortiz Park Patel Pereira Petrov Quinn Ramos Reyes "
    "Rossi Sato Schmidt Silva Singh Sorensen Suzuki Tanaka Torres Varga Vogel Wagner Walsh "
    "Weber Wong Yilmaz Young Zhang Ziegler Moses Frase Keller Lindqvist Marsh Dunn Byrne"
)
FIRST_NAMES = tuple(_FIRST.split())
LAST_NAMES = tuple(_LAST.split())

SELF_MANAGING: dict[str, Owner] = {"diligent": "rep", "experimenter": "rep"}
"""Habits whose reps propose their own commitments (``agree --proposed-by rep``)."""
# focus area -> (behaviour, unit, weekly target range, metric or None)
COUNT_BEHAVIOURS: dict[str, tuple[tuple[str, str, tuple[int, int], str | None], ...]] = {
    "prospecting": (
        ("outbound calls to new accounts", "calls", (30, 60), "calls"),
        ("personalised prospecting emails", "emails", (20, 40), None),
    ),
    "discovery": (
        ("discovery calls with a written agenda", "calls", (4, 8), None),
        ("second meetings booked from first calls", "meetings", (2, 4), None),
    ),
    "pipeline": (
        ("qualified opportunities created", "opportunities", (2, 5), None),
        ("next steps dated on open opportunities", "opportunities", (8, 15), None),
    ),
    "closing": (
        ("proposals sent within 48 hours of the meeting", "proposals", (2, 4), None),
        ("mutual close plans agreed with buyers", "plans", (1, 3), None),
    ),
}
DONE_BEHAVIOURS = {
    "prospecting": "build a list of 50 target accounts with the manager",
    "discovery": "shadow a top rep on two discovery calls",
    "pipeline": "clean up the pipeline: close out every deal older than 90 days",
    "closing": "role-play a pricing negotiation with the manager",
}
HYPOTHESES = {
    "prospecting": "more first meetings; pipeline doubles within two months",
    "discovery": "fewer deals stall after the first call",
    "pipeline": "the forecast gets accurate to within 10%",
    "closing": "win rate goes up from 20% to 30%",
}
SUPPORT = (
    ("ride-alongs on discovery calls", "ride-alongs", 2),
    ("weekly 30-minute call review", "reviews", 4),
    ("joint account planning sessions", "sessions", 2),
)
STRENGTHS = (
    "rapport with buyers",
    "product knowledge",
    "persistence",
    "clear follow-up emails",
    "asks good questions",
    "organised CRM",
    "handles objections calmly",
)
RELEASE_REASONS = (
    "account moved to the new enterprise team",
    "territory re-cut mid-quarter",
    "two weeks of sick leave",
    "product launch postponed",
)
REVISE_REASONS = (
    "territory split: fewer accounts to work",
    "trade show week took two days",
    "target was a guess; baseline turned out lower",
)
CORRECT_REASONS = ("CRM sync missed two days", "typo in the first entry", "double-counted a call")
OVERRIDE_REASON = "quarter-end push: VP asked for a pipeline review on top of the current focus"


@dataclass(frozen=True)
class DemoResult:
    """What :func:`write_demo` wrote."""

    events: int
    reps: int
    managers: int
    commitments: int
    sessions: int
    first_day: date
    end: date
    seconds: float
    team: tuple[tuple[str, str, str], ...] = field(default=(), repr=False)  # (rep, manager, habit)

    @property
    def events_per_second(self) -> float:
        return self.events / self.seconds if self.seconds > 0 else float("inf")


def demo_end(today: date) -> date:
    """The latest Monday on or before ``today``: the demo's last business date."""
    return today - timedelta(days=today.weekday())


def team_names(reps: int, seed: int) -> tuple[list[str], list[str]]:
    """(managers, reps): distinct, realistic person ids, the same for the same seed."""
    managers = manager_count(reps)
    pool = [f"{f} {last}" for f in FIRST_NAMES for last in LAST_NAMES]
    random.Random(f"names:{seed}").shuffle(pool)
    need = managers + reps
    names = [
        pool[i % len(pool)] + ("" if i < len(pool) else f" {i // len(pool) + 1}")
        for i in range(need)
    ]
    return names[:managers], names[managers:]


def manager_count(reps: int) -> int:
    """Several managers: about one per eight reps, at least three (never more than reps)."""
    return min(reps, max(3, reps // 8))


@dataclass
class _Open:
    """A commitment the demo is still working on, with its plan."""

    agg: Commitment  # as the batch holds it: read here, changed only by commands
    ratio: float  # planned follow-through
    weekly: float  # per-week target (count) or 0 (done)
    metric: str | None
    result: Result | None  # planned close result (None: no result / rules decide)
    support: Commitment | None = None
    support_ratio: float = 1.0
    done_it: bool = False  # a done measure: will the rep do it?


@dataclass
class _Rep:
    """One rep of the demo team and what they are doing now."""

    index: int
    name: str
    manager: str
    manager_index: int
    habit: str
    rng: random.Random
    first_session: date
    areas: list[str]
    level: float  # deal size multiplier
    crm: bool  # calls tracked by the CRM (metric-backed commitments)
    ref: str = ""  # subject ids (SPEC §7.4): what the events carry
    manager_ref: str = ""
    open: list[_Open] = field(default_factory=list)
    cycle: int = 0
    broken_cycle: int = -1


class _Writer:
    """The demo's unit of work (:meth:`Ledger.batch`) and the recorded_at of its
    commands: :meth:`on` gives the batch's ledger, its next command recorded then."""

    def __init__(self, uow: Ledger, now: datetime, end: date) -> None:
        self.uow = uow
        self.now = now
        self.end = end
        self._stamps: dict[tuple[date, int], datetime] = {}
        self._next = now
        uow.clock = lambda: self._next
        self.crm_ref = ""

    def register(self, team: list[_Rep], at: datetime) -> None:
        """Register the demo's people first (SPEC §7.4): its actor (``demo``),
        the CRM import's actor, the managers and the reps, each reporting to
        their manager; the events then name them by subject id."""
        from ledger.people import NewPerson

        demo = NewPerson.named(ACTOR)
        crm = NewPerson.named("crm-import")
        managers = {r.manager: NewPerson.named(r.manager) for r in team}
        reps = [NewPerson.named(r.name, manager=managers[r.manager].ref) for r in team]
        for rep, person in zip(team, reps, strict=True):
            rep.ref, rep.manager_ref = person.ref, managers[rep.manager].ref
        self.crm_ref = crm.ref
        self.when(at).register_people([demo, crm, *managers.values(), *reps], actor=demo.ref)

    def at(self, day: date, minute: int) -> datetime:
        """recorded_at for a command on business date ``day`` (working hours, UTC)."""
        key = (day, minute % 600)
        stamp = self._stamps.get(key)
        if stamp is None:
            stamp = datetime.combine(day, time(8, 0), UTC) + timedelta(minutes=key[1])
            stamp = self._stamps[key] = min(stamp, self.now)
        return stamp

    def on(self, day: date, minute: int) -> Ledger:
        """The batch's ledger, its next command recorded at ``at(day, minute)``."""
        return self.when(self.at(day, minute))

    def when(self, stamp: datetime) -> Ledger:
        """The batch's ledger, its next command recorded at ``stamp``."""
        self._next = stamp
        return self.uow


def write_demo(
    ledger: Any,
    *,
    reps: int = 12,
    weeks: int = 12,
    seed: int = 1,
    today: date | None = None,
    now: datetime | None = None,
    batch: int = 20_000,
    progress: Callable[[int], None] | None = None,
    seal: bool = True,
) -> DemoResult:
    """Write the demo team into ``ledger`` (an empty :class:`~ledger.application.Ledger`).

    ``progress(n)`` is called after each of the ``weeks + 1`` weeks written.
    Free text is sealed under its owner's key as every command seals it
    (:mod:`ledger.sealing`); ``seal=False`` leaves it in clear, for the
    benchmark of what sealing costs (``bench/bench_privacy.py``).
    """
    started = clock.perf_counter()
    if reps < 1 or weeks < 1:
        raise InvalidInput("demo: --reps and --weeks must be at least 1")
    if reps > 100_000 or weeks > 520:
        raise InvalidInput("demo: at most 100000 reps and 520 weeks")
    before = ledger.event_count()
    _refuse_non_empty(before - (ledger.ledger_id() is not None))
    # The generator creates millions of short-lived objects and no reference
    # cycles: pausing the cyclic collector saves about a quarter of the CPU.
    paused = gc.isenabled()
    gc.disable()
    try:
        # One unit of work for the whole demo: a demo killed or failing at any
        # point leaves the ledger as it was (empty), never a partial team.
        with ledger.batch(flush_every=batch, seal=seal) as uow:
            # inside: no other writer since (a ledger id of its own is not content)
            _refuse_non_empty(uow.event_count() - (uow.ledger_id() is not None))
            result = _write(uow, reps, weeks, seed, today, now, progress)
    except Conflict:
        raise Conflict(
            "demo: another writer wrote into this ledger meanwhile; nothing was written"
        ) from None
    finally:
        if paused:
            gc.enable()
    events = ledger.event_count() - before
    return dataclasses.replace(result, events=events, seconds=clock.perf_counter() - started)


def _refuse_non_empty(existing: int) -> None:
    if existing:
        raise RuleViolation(
            f"demo writes into an empty ledger only; this one holds {existing} events "
            "(pass another --db)"
        )


def _write(
    uow: Ledger,
    reps: int,
    weeks: int,
    seed: int,
    today: date | None,
    now: datetime | None,
    progress: Callable[[int], None] | None,
) -> DemoResult:
    now = now or datetime.now(UTC)
    end = demo_end(today or now.date())
    first = end - timedelta(days=7 * weeks)
    writer = _Writer(uow, now, end)
    team = _team(reps, seed, first, end)
    writer.register(team, min(datetime.combine(first, time(7, 0), UTC), now))
    stats = {"commitments": 0, "sessions": 0}
    for week in range(weeks + 1):
        monday = first + timedelta(days=7 * week)
        for rep in team:
            _rep_week(rep, monday, end, writer, stats)
        if progress is not None:
            progress(1)
    return DemoResult(
        events=0,  # counted once written
        reps=reps,
        managers=manager_count(reps),
        commitments=stats["commitments"],
        sessions=stats["sessions"],
        first_day=first,
        end=end,
        seconds=0.0,
        team=tuple((r.name, r.manager, r.habit) for r in team),
    )


def _team(reps: int, seed: int, first: date, end: date) -> list[_Rep]:
    """The reps, their managers (round robin) and habits (one of each first)."""
    managers, names = team_names(reps, seed)
    team_rng = random.Random(f"team:{seed}")
    habits = list(HABITS)
    team_rng.shuffle(habits)
    team: list[_Rep] = []
    areas_all = list(COUNT_BEHAVIOURS)
    for i, name in enumerate(names):
        habit = habits[i] if i < len(habits) else team_rng.choices(HABITS, HABIT_WEIGHTS)[0]
        rng = random.Random(f"rep:{seed}:{i}")
        manager_index = i % len(managers)
        offset = i % 4
        rep = _Rep(
            index=i,
            name=name,
            manager=managers[manager_index],
            manager_index=manager_index,
            habit=habit,
            rng=rng,
            first_session=first + timedelta(days=7 * offset),
            areas=rng.sample(areas_all, 2),
            level=rng.uniform(0.7, 1.5),
            crm=manager_index % 3 == 0,
        )
        if habit == "slipping":
            # Break the first commitment of the cycle that closes four to
            # eight weeks before the end, so the warning is in the window.
            closed = (end - rep.first_session).days // CYCLE_DAYS
            rep.broken_cycle = max(0, closed - 2)
        team.append(rep)
    return team


def _rep_week(rep: _Rep, monday: date, end: date, w: _Writer, stats: dict[str, int]) -> None:
    """Everything the rep and their manager record in the week starting ``monday``."""
    if monday >= rep.first_session and (monday - rep.first_session).days % CYCLE_DAYS == 0:
        _session(rep, monday, end, w, stats)
    friday = monday + timedelta(days=4)
    for item in list(rep.open):
        _work(rep, item, monday, friday, end, w)
    if rep.crm and friday <= end:
        _crm_calls(rep, friday, w)


def _session(rep: _Rep, day: date, end: date, w: _Writer, stats: dict[str, int]) -> None:
    """The cycle's Monday: close the last cycle, hold the session, agree the next."""
    rng = rep.rng
    last_session = day + timedelta(days=CYCLE_DAYS) > end
    # The second manager forgets to close the loop at the last session for
    # about half of their reps: those commitments end up overdue.
    forget = last_session and rep.manager_index == 1 and rng.random() < 0.5
    if not forget:
        for item in list(rep.open):
            _close(rep, item, day, w)
    change_focus = not rep.open and rng.random() < 0.25
    if change_focus:
        new = rng.choice([a for a in COUNT_BEHAVIOURS if a not in rep.areas])
        rep.areas[rng.randrange(2)] = new
    prepared_p = {"diligent": 0.85, "experimenter": 0.7, "slipping": 0.6, "unreliable": 0.25}
    overload = rep.index == 0 and rep.cycle == 1
    many = rep.habit in ("blocked", "unreliable") or overload
    n_commitments = 2 if rng.random() < 0.5 or many else 1
    areas = rep.areas[:n_commitments] if n_commitments == 2 else [rng.choice(rep.areas)]
    session_id = w.on(day, rep.index * 3).record_session(
        cmd.RecordSession(
            rep=rep.ref,
            manager=rep.manager_ref,
            date=day,
            prepared=rng.random() < prepared_p.get(rep.habit, 0.5),
            strengths=tuple(rng.sample(STRENGTHS, rng.randint(1, 2))),
            focus_areas=tuple(areas),
            note=None if rng.random() < 0.7 else "reviewed last month's numbers together",
            actor=rep.manager_ref,
        )
    )
    stats["sessions"] += 1
    plans: list[tuple[str, str | None]] = [(a, None) for a in areas]
    if overload:
        extra = next(a for a in COUNT_BEHAVIOURS if a not in areas and a not in rep.areas)
        plans.append((extra, OVERRIDE_REASON))
    for n, (area, override) in enumerate(plans):
        at = w.at(day, rep.index * 3 + 1 + n)
        _agree(rep, area, override, session_id, day, at, w, stats, first=n == 0)
    rep.cycle += 1


def _agree(
    rep: _Rep,
    area: str,
    override: str | None,
    session_id: UUID,
    day: date,
    at: datetime,
    w: _Writer,
    stats: dict[str, int],
    *,
    first: bool,
) -> None:
    """Agree one rep commitment (focus cap checked), maybe with manager support."""
    rng = rep.rng
    due = day + timedelta(days=CYCLE_DAYS - 1)
    done = rep.habit != "blocked" and rng.random() < 0.2
    ratio = _planned_ratio(rep, rng, first)
    metric = None
    expect_metric = expect_at_least = None
    hypothesis: str | None = HYPOTHESES[area] if rng.random() < 0.8 else None
    if done:
        behaviour, unit, weekly, target = DONE_BEHAVIOURS[area], None, 0.0, None
    else:
        behaviour, unit, (low, high), metric = rng.choice(COUNT_BEHAVIOURS[area])
        if metric and not rep.crm:
            metric = None
        weekly = float(rng.randint(low, high))
        target = weekly
        if hypothesis and rng.random() < 0.35:
            expect_metric, expect_at_least = "won_value", round(20000 * rep.level, -3)
    result = _planned_result(rep, rng) if expect_metric is None else None
    baseline = None if done else round(weekly * rng.uniform(0.4, 0.8))
    # new_metric: the CRM's rows of a metric come in after the first agreements
    cid = w.when(at).agree(
        cmd.Agree(
            rep=rep.ref,
            manager=rep.manager_ref,
            focus=area,
            behavior=behaviour,
            done=done,
            target=target,
            period="week",  # of a count target (a done measure has none)
            unit=unit,
            metric=metric,
            baseline=baseline,
            start=day,
            due=due,
            expect=hypothesis,
            expect_metric=expect_metric,
            expect_at_least=expect_at_least,
            session_id=session_id,
            override_focus_cap=override,
            new_metric=True,
            proposed_by=SELF_MANAGING.get(rep.habit, "manager"),
            actor=rep.manager_ref,
        )
    )
    agg = w.uow.commitment(cid)
    stats["commitments"] += 1
    item = _Open(agg=agg, ratio=ratio, weekly=weekly, metric=metric, result=result)
    item.done_it = done and rng.random() < ratio + 0.1
    if expect_metric is not None:
        _won_deals(rep, item, day, due, float(expect_at_least or 0), w)
    if rep.habit == "blocked" or rng.random() < 0.3:
        text, unit_s, amount = rng.choice(SUPPORT)
        support = w.when(at + timedelta(seconds=1)).agree(
            cmd.Agree(
                rep=rep.ref,
                manager=rep.manager_ref,
                owner="manager",
                focus=area,
                behavior=text,
                target=float(amount),
                period="window",
                unit=unit_s,
                start=day,
                due=due,
                session_id=session_id,
                supports=agg.id,
                proposed_by="manager",
                actor=rep.manager_ref,
            )
        )
        stats["commitments"] += 1
        item.support = w.uow.commitment(support)
        item.support_ratio = rng.choice((0.0, 0.0, 0.5)) if rep.habit == "blocked" else 1.0
    rep.open.append(item)


def _planned_ratio(rep: _Rep, rng: random.Random, first: bool) -> float:
    """The follow-through the rep will deliver on one commitment, by habit."""
    habit = rep.habit
    if habit == "slipping" and rep.cycle == rep.broken_cycle and first:
        return rng.uniform(0.1, 0.4)
    return {
        "diligent": lambda: rng.uniform(0.95, 1.3),
        "experimenter": lambda: rng.uniform(0.92, 1.2),
        "slipping": lambda: rng.uniform(0.93, 1.2),
        "unreliable": lambda: rng.uniform(0.05, 0.65),
        "blocked": lambda: rng.uniform(0.25, 0.75),
        "newcomer": lambda: rng.uniform(0.55, 0.88),
    }[habit]()


def _planned_result(rep: _Rep, rng: random.Random) -> Result | None:
    if rng.random() < 0.12:
        return None  # closed without a result: kept / unknown
    met_p = {"diligent": 0.8, "experimenter": 0.2, "slipping": 0.6}.get(rep.habit, 0.4)
    return "met" if rng.random() < met_p else "missed"


def _won_deals(
    rep: _Rep, item: _Open, start: date, due: date, threshold: float, w: _Writer
) -> None:
    """Won-deal rows for a hypothesis tested by ``won_value``: met or missed by habit."""
    rng = rep.rng
    met_p = {"diligent": 0.75, "experimenter": 0.2, "slipping": 0.6}.get(rep.habit, 0.4)
    total = threshold * (rng.uniform(1.05, 1.6) if rng.random() < met_p else rng.uniform(0.2, 0.9))
    deals = rng.randint(1, 3)
    for k in range(deals):
        day = start + timedelta(days=rng.randint(3, CYCLE_DAYS - 3))
        if day > w.end:
            continue
        w.on(day, rep.index * 3 + 200 + k).record_activity(
            cmd.RecordActivity(
                rep=rep.ref,
                metric="won_value",
                date=day,
                value=round(total / deals, 2),
                source_id=f"demo-crm-deal-{rep.index}-{start.isoformat()}-{item.agg.focus}-{k}",
                actor=w.crm_ref,
            )
        )


def _crm_calls(rep: _Rep, friday: date, w: _Writer) -> None:
    """The CRM's weekly call total for the rep (its calls metric), dated Friday."""
    rng = rep.rng
    planned = [i for i in rep.open if i.metric == "calls" and i.agg.start <= friday]
    if planned:
        value = sum(i.weekly * i.ratio for i in planned) / len(planned) * rng.uniform(0.9, 1.1)
    else:
        value = 25 * rep.level * rng.uniform(0.8, 1.2)
    w.on(friday, rep.index * 3 + 300).record_activity(
        cmd.RecordActivity(
            rep=rep.ref,
            metric="calls",
            date=friday,
            value=float(round(value)),
            source_id=f"demo-crm-calls-{rep.index}-{friday.isoformat()}",
            actor=w.crm_ref,
        )
    )


def _work(rep: _Rep, item: _Open, monday: date, friday: date, end: date, w: _Writer) -> None:
    """The week's check-ins, revisions, corrections and releases of one commitment."""
    rng = rep.rng
    agg = item.agg
    if not agg.is_active or friday > end or friday > agg.terms.due:
        return
    day_index = (friday - agg.start).days
    minute = rep.index * 3 + 20
    if item.support is not None and item.support.is_active and item.support_ratio > 0:
        # The manager logs a support session on the Wednesday, while owed.
        owed = (item.support.terms.target or 0) * item.support_ratio
        given = sum(c.actual or 0 for c in item.support.check_ins)
        weeks_left = max(1, (agg.terms.due - friday).days // 7 + 1)
        if given < owed and rng.random() < min(1.0, (owed - given) / weeks_left + 0.2):
            wednesday = monday + timedelta(days=2)
            w.on(wednesday, minute).check_in(
                item.support.id, cmd.CheckIn(date=wednesday, actual=1.0, actor=rep.manager_ref)
            )
    if day_index == 11 and rng.random() < 0.04:
        reason = rng.choice(RELEASE_REASONS)
        w.on(friday, minute + 1).release(
            agg.id, cmd.Release(date=friday, reason=reason, actor=rep.manager_ref)
        )
        _release_support(rep, item, friday, w)
        return
    if day_index == 11 and agg.measure == "count" and rng.random() < 0.07:
        new_target = max(1.0, round((agg.terms.target or 1) * 0.8))
        reason = rng.choice(REVISE_REASONS)
        w.on(friday, minute + 2).revise(
            agg.id,
            cmd.Revise(date=friday, reason=reason, target=new_target, actor=rep.manager_ref),
        )
        item.weekly = new_target
    if agg.measure == "done":
        if day_index >= 11 and not agg.check_ins and item.done_it:
            w.on(friday, minute + 3).check_in(
                agg.id, cmd.CheckIn(date=friday, done=True, actor=rep.ref)
            )
        return
    if item.metric is not None:
        return  # measured by the CRM's weekly call totals
    if rep.habit == "unreliable" and rng.random() < 0.3:
        return  # forgot to check in this week
    actual = float(max(0, round(item.weekly * item.ratio * rng.uniform(0.85, 1.15))))
    if agg.check_ins and rng.random() < 0.05:
        wrong = agg.check_ins[-1]
        right = float(max(0.0, (wrong.actual or 0) + rng.choice((-2, 2, 3))))
        reason = rng.choice(CORRECT_REASONS)
        w.on(friday, minute + 4).correct(
            agg.id,
            cmd.Correct(check_in=wrong.number, actual=right, reason=reason, actor=rep.ref),
        )
    note = "trade show on Tuesday" if rng.random() < 0.05 else None
    w.on(friday, minute + 5).check_in(
        agg.id, cmd.CheckIn(date=friday, actual=actual, note=note, actor=rep.ref)
    )


def _close(rep: _Rep, item: _Open, day: date, w: _Writer) -> None:
    """Close the loop at the next session: the rep's commitment and its support."""
    if item.agg.is_active:
        value = None
        if item.result is not None and item.agg.hypothesis is not None:
            value = round(rep.level * 10000 * rep.rng.uniform(0.5, 2.0), -2)
        w.on(day, rep.index * 3).close_commitment(
            item.agg.id,
            cmd.Close(
                date=day,
                result=item.result,
                value=value if item.result else None,
                actor=rep.manager_ref,
            ),
        )
    rep.open.remove(item)
    if item.support is not None and item.support.is_active:
        w.on(day, rep.index * 3).close_commitment(
            item.support.id, cmd.Close(date=day, actor=rep.manager_ref)
        )


def _release_support(rep: _Rep, item: _Open, day: date, w: _Writer) -> None:
    """A released commitment's support is released with it."""
    if item.support is not None and item.support.is_active:
        reason = "the commitment it supports was released"
        w.on(day, rep.index * 3 + 7).release(
            item.support.id, cmd.Release(date=day, reason=reason, actor=rep.manager_ref)
        )
