"""The HTML pages: the coaching report and the rep one-pager.

Structure and escaping are checked on the generated text; the browser tests
render both pages in headless Chromium (Debian's ``chromium``), take
screenshots, and check there were no console messages and that the rendered
DOM has the expected number of bars and ticks. Without a browser they skip.
Set ``COMMITMENTS_SCREENSHOT_DIR=docs/img`` to refresh the screenshots of
docs/reports.md.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.conftest import Cli
from tests.test_coaching_report import ON, _build

AS_OF = "2030-01-01"  # after everything the scenario records: stable pages


@pytest.fixture(scope="module")
def pages(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """The coaching report and alice's and carol's one-pagers of the report scenario."""
    tmp = tmp_path_factory.mktemp("html")
    cli = Cli(db=str(tmp / "ledger.db"), views=str(tmp / "views.db"))
    _build(cli.db)
    out = {name: tmp / f"{name}.html" for name in ("coaching", "alice", "carol")}
    common = ("--as-of", AS_OF, "--on", ON, "--format", "html", "-o")
    cli.ok(["report", "coaching", *common, str(out["coaching"])])
    cli.ok(["history", "alice", *common, str(out["alice"])])
    cli.ok(["history", "carol", *common, str(out["carol"])])
    return out


def text(path: Path) -> str:
    return path.read_text(encoding="utf-8")


def test_pages_are_self_contained_with_no_scripts_or_network(pages: dict[str, Path]) -> None:
    for path in pages.values():
        html = text(path)
        assert html.startswith("<!DOCTYPE html>")
        assert "<script" not in html.lower()
        assert not re.search(r"""(src|href)\s*=\s*["']?(https?:)?//""", html)
        assert "@import" not in html and "url(" not in html
        assert "<style>" in html


def test_coaching_page_has_a_titled_chart_and_a_table_for_each_measure(
    pages: dict[str, Path],
) -> None:
    html = text(pages["coaching"])
    assert "<title>Coaching patterns — on 2026-03-31, 90-day window</title>" in html
    sections = html.count('<section class="manager"')
    assert sections == 4  # bob, dana, gina and the team
    svgs = re.findall(r"<svg[^>]*>", html)
    assert len(svgs) == 4 * sections  # mix, safe-failure gauge, loop closure, cadence
    assert all('role="img"' in s and "aria-labelledby" in s for s in svgs)
    assert html.count("<title id=") == html.count("<desc id=") == len(svgs)
    # 8 verdict bars per mix + 3 months x (loop closure + sessions)
    assert html.count('<rect class="bar"') == sections * (8 + 3 * 2)
    # a table under every chart, plus the summary and the own follow-through and overrides
    assert html.count("<table") >= 1 + sections * 4
    for label in ("succeeded", "honest miss", "partial", "broken", "blocked", "released"):
        assert f">{label}</text>" in html  # colour plus a text label
    assert "quarter end push" in html and "Overloaded reps" in html


def test_rep_page_has_one_bar_per_commitment_and_one_tick_per_check_in(
    pages: dict[str, Path],
) -> None:
    html = text(pages["alice"])
    assert "<title>alice — commitment history on 2026-03-31</title>" in html
    # c1, m1 (under c1), c2, c7 on the timeline; c0 ended before the window
    assert html.count('<rect class="bar"') == 4
    assert html.count('<g class="tick">') == 2  # c1's and c2's check-ins
    assert ">1.08</text>" in html  # 40 of 10/week x 26 days by 01-30
    assert "1 older commitment (closed before the window) not shown" in html
    assert "The manager's supporting commitments" in html and "support behaviour" in html
    assert 'class="badge sig-on_track"' in html
    carol = text(pages["carol"])
    assert "overloaded" in carol  # prospecting, negotiation, closing open
    assert carol.count('<rect class="bar"') == 4  # c4 c5 c3 c6


def test_user_text_is_escaped(cli: Cli, tmp_path: Path) -> None:
    evil = '<script>alert("x")</script> & co'
    cid = cli.ok(
        ["agree", "--rep", "r<b>", "--manager", evil, "--focus", "f&g",
        "--behavior", evil, "--target", "1", "--per", "week", "--start", "2026-01-05",
        "--override-focus-cap", evil],
    )  # fmt: skip
    cli.ok(f"check-in {cid} --on 2026-01-06 --actual 1")
    for args in (("report", "coaching"), ("history", "r<b>")):
        out = tmp_path / "page.html"
        cli.ok([*args, "--on", "2026-01-31", "--format", "html", "-o", str(out)])
        html = text(out)
        assert "<script" not in html and "<b>" not in html
        assert "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt; &amp; co" in html


def test_empty_ledger_window_renders_without_charts_of_nothing(cli: Cli, tmp_path: Path) -> None:
    cli.ok("session record --rep zoe --manager max --on 2026-01-05")
    out = tmp_path / "zoe.html"
    cli.ok(["history", "zoe", "--on", "2026-06-01", "--format", "html", "-o", str(out)])
    html = text(out)
    assert "No commitments open, overdue or ending in the window." in html
    assert 'class="badge sig-insufficient_data"' in html
    assert "<svg" not in html


# -- headless Chromium -------------------------------------------------------------


def chromium() -> str | None:
    for name in ("chromium", "chromium-browser", "google-chrome"):
        found = shutil.which(name)
        if found:
            return found
    return None


def run_browser(page: Path, tmp: Path, *args: str) -> subprocess.CompletedProcess[str]:
    browser = chromium()
    if browser is None:
        pytest.skip("no headless browser: install Debian's chromium package (.ci/run does)")
    return subprocess.run(
        [
            browser,
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--no-first-run",
            "--hide-scrollbars",
            f"--user-data-dir={tmp / 'profile'}",
            "--enable-logging=stderr",
            "--v=0",
            *args,
            page.as_uri(),
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def console_messages(stderr: str) -> list[str]:
    """Chromium logs every console message (errors included) as ``:CONSOLE``."""
    return [line for line in stderr.splitlines() if ":CONSOLE" in line]


@pytest.mark.browser
def test_the_console_check_catches_a_page_that_logs_an_error(tmp_path: Path) -> None:
    page = tmp_path / "bad.html"
    page.write_text('<!DOCTYPE html><title>x</title><script>console.error("boom")</script>')
    result = run_browser(page, tmp_path, "--dump-dom")
    assert any("boom" in m for m in console_messages(result.stderr))


@pytest.mark.browser
@pytest.mark.parametrize(
    ("name", "bars", "ticks", "height"),
    [("coaching", 4 * (8 + 6), 0, 4200), ("alice", 4, 2, 1300)],
)
def test_browser_renders_the_page_with_its_charts_and_no_console_errors(
    pages: dict[str, Path], tmp_path: Path, name: str, bars: int, ticks: int, height: int
) -> None:
    dom = run_browser(pages[name], tmp_path, "--dump-dom")
    assert dom.returncode == 0, dom.stderr[-2000:]
    assert console_messages(dom.stderr) == []
    rendered = dom.stdout
    assert "<svg" in rendered and "</html>" in rendered
    assert len(re.findall(r'<rect class="bar"', rendered)) == bars
    assert len(re.findall(r'<g class="tick">', rendered)) == ticks
    shot = tmp_path / f"{name}.png"
    result = run_browser(
        pages[name], tmp_path, f"--screenshot={shot}", f"--window-size=1100,{height}"
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert console_messages(result.stderr) == []
    png = shot.read_bytes()
    assert png.startswith(b"\x89PNG") and len(png) > 20_000
    target = os.environ.get("COMMITMENTS_SCREENSHOT_DIR")
    if target:
        Path(target).mkdir(parents=True, exist_ok=True)
        shutil.copy(shot, Path(target) / f"{name}.png")


@pytest.fixture(scope="module")
def demo_pages(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """The pages ``commitments demo`` writes, for a small demo team on fixed dates."""
    from cli.context import Env
    from cli.html import write_demo_pages
    from ledger.application import Ledger
    from ledger.demo import write_demo

    tmp = tmp_path_factory.mktemp("demo-html")
    db = str(tmp / "demo.db")
    ledger = Ledger.open(db)
    try:
        result = write_demo(ledger, reps=12, weeks=16, seed=1)  # up to today, as `demo` does
    finally:
        ledger.close()
    paths = write_demo_pages(Env(db=db, views=None, actor="tester"), result.team)
    coaching, history = (Path(p) for p in paths)
    assert coaching.parent == history.parent == tmp  # next to the ledger
    return {"demo-coaching": coaching, "demo-history": history}


@pytest.mark.browser
@pytest.mark.parametrize(("name", "height"), [("demo-coaching", 2400), ("demo-history", 1500)])
def test_browser_renders_the_demo_pages_with_as_many_marks_as_their_tables_list(
    demo_pages: dict[str, Path], tmp_path: Path, name: str, height: int
) -> None:
    html = text(demo_pages[name])
    if name == "demo-coaching":
        sections = html.count('<section class="manager"')
        months = len(re.findall(r"<tr><td>\d{4}-\d\d</td>", html))  # month table rows
        expected_bars, expected_ticks = sections * 8 + 2 * months, 0
        assert sections == 3 + 1  # the demo's three managers and the team
    else:
        table = html.split("<caption>Commitments on the timeline</caption>")[1].split("</table>")[0]
        expected_bars = table.count("<tr><td><code>")
        expected_ticks = len(re.findall(r"\d{4}-\d\d-\d\d: (?:[\d.]+|n/a|done|not done)", table))
        assert expected_bars > 4 and expected_ticks > 4
    dom = run_browser(demo_pages[name], tmp_path, "--dump-dom")
    assert dom.returncode == 0, dom.stderr[-2000:]
    assert console_messages(dom.stderr) == []
    assert len(re.findall(r'<rect class="bar"', dom.stdout)) == expected_bars
    assert len(re.findall(r'<g class="tick">', dom.stdout)) == expected_ticks
    shot = tmp_path / f"{name}.png"
    result = run_browser(
        demo_pages[name], tmp_path, f"--screenshot={shot}", f"--window-size=1100,{height}"
    )
    assert result.returncode == 0 and console_messages(result.stderr) == []
    assert shot.read_bytes().startswith(b"\x89PNG")
    target = os.environ.get("COMMITMENTS_SCREENSHOT_DIR")
    if target:
        shutil.copy(shot, Path(target) / f"{name}.png")


def _rep_with_verdicts(cli: Cli, rep: str, ratios: list[float]) -> None:
    """Closed count commitments of ``rep`` (target 10 per window) at these ratios."""
    for n, ratio in enumerate(ratios):
        cid = cli.ok(
            ["agree", "--rep", rep, "--manager", "bob", "--focus", f"area{n % 2}",
            "--behavior", f"task {n}", "--target", "10", "--per", "window",
            "--start", "2026-01-05", "--days", "14"],
        )  # fmt: skip
        cli.ok(f"check-in {cid[:8]} --on 2026-01-10 --actual {10 * ratio}")
        cli.ok(f"close {cid[:8]} --on 2026-01-20 --result met")


def _signal_sentence(html: str) -> str:
    m = re.search(r'<span class="badge sig-on_track">on track</span> ([^<]*)</p>', html)
    assert m is not None, "an on_track badge with its sentence"
    return m[1]


def test_the_signal_text_agrees_with_the_numbers(cli: Cli, tmp_path: Path) -> None:
    """A rep with only partial commitments is on track by the rules, but 0 % of
    the window was kept: the page must not say commitments are being kept."""
    _rep_with_verdicts(cli, "pat", [0.6, 0.7])  # partial, partial
    _rep_with_verdicts(cli, "kim", [1.0, 0.6, 1.0])  # succeeded, partial, succeeded
    at = ("--as-of", AS_OF, "--on", "2026-02-01", "--format", "html", "-o")
    for rep in ("pat", "kim"):
        cli.ok(["history", rep, *at, str(tmp_path / f"{rep}.html")])
    pat, kim = (text(tmp_path / f"{rep}.html") for rep in ("pat", "kim"))

    pat_says = _signal_sentence(pat)
    assert "being kept" not in pat_says
    assert pat_says == (
        "On track: no broken commitment in the window. None was kept in full: 2 partial "
        "(follow-through rate 0%)."
    )
    assert "<dd>0%</dd>" in pat  # the rate beside it
    assert _signal_sentence(kim) == (
        "On track: no broken commitment in the window. 2 of 3 closed in it were kept "
        "(follow-through rate 67%)."
    )
    cli.ok(["team", *at, str(tmp_path / "team.html")])
    team = text(tmp_path / "team.html")
    assert "None was kept in full: 2 partial" in team and "2 of 3 closed in it were kept" in team
