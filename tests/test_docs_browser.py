"""The built documentation as a reader's browser shows it (headless Chromium).

``docs/_ext/check_browser.py`` starts Debian's ``chromium`` and drives it over the DevTools
pipe. Here it is run (1) on a small site written by the test, whose every page breaks one rule,
so each check is shown to fail when it should, and (2) on the built site ``docs/_build/html``
when it exists (``make docs`` builds it and runs the same check at its end, so CI checks the
real site even though the test suite runs before the build).

Both skip, saying why, when no ``chromium`` is installed (Debian: ``apt-get install chromium``;
``.ci/run`` installs it); the second also skips when the site has not been built.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SITE = ROOT / "docs" / "_build" / "html"
sys.path.insert(0, str(ROOT / "docs" / "_ext"))

import check_browser  # noqa: E402

import modelpred_theory  # noqa: E402

CHROMIUM = check_browser.find_chromium()
needs_chromium = pytest.mark.skipif(
    CHROMIUM is None, reason="chromium is not installed (Debian: apt-get install chromium; "
                             ".ci/run installs it), so the site cannot be opened in a browser")

VERSION = '<span class="mpt-version">v9.9</span>'
MATH = "<math><mfrac><mi>a</mi><mi>b</mi></mfrac></math>"


def _page(body: str) -> str:
    return (f"<!DOCTYPE html><html><body>{VERSION}<main><article>{body}</article></main>"
            "</body></html>")


def _write(site: Path, pages: dict[str, str]) -> None:
    for label, rel in check_browser.PAGES.items():
        path = site / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(_page(pages[label]), encoding="utf-8")


GOOD_API = (
    '<dl class="py class"><dt id="m.ModelPred">ModelPred</dt><dd>'
    '<dl class="field-list"><dt>Attributes:</dt><dd><dl>'
    + "".join(f"<dt>a{i}</dt><dd>x</dd>" for i in range(5)) + "</dl></dd></dl>"
    + "".join(f'<dl class="py method"><dt id="m.ModelPred.{n}">{n}</dt></dl>'
              for n in check_browser.MODELPRED_METHODS)
    + '</dd></dl><p class="rubric">Examples using ModelPred</p>'
    '<div class="sphx-glr-thumbcontainer"><a href="t.html">t</a></div>')
GOOD_TUTORIAL = (f"<p>{MATH}</p><img src='data:image/gif;base64,"
                 "R0lGODlhAQABAIAAAAAAAP///yH5BAEAAAAALAAAAAABAAEAAAIBRAA7'>")


@needs_chromium
def test_browser_check_passes_a_good_site(tmp_path):
    _write(tmp_path, {"index": f"<p>{MATH}</p>", "tutorial": GOOD_TUTORIAL,
                      "theory": f"<p>{MATH}</p>", "ModelPred API": GOOD_API})
    assert check_browser.check_site(tmp_path, CHROMIUM, "9.9") == []


@needs_chromium
def test_browser_check_finds_what_a_reader_would_see(tmp_path):
    _write(tmp_path, {
        "index": "<p>raw $$\\frac{a}{b}$$ left by a broken math renderer</p>",
        "tutorial": (f"<p>{MATH}</p><img src='missing.png'>"
                     "<div class='sphx-glr-script-out'><pre style='max-height: 2em; "
                     "overflow: auto'>" + "row of a long table\n" * 30 + "</pre></div>"
                     "<script>console.error('boom from the page')</script>"),
        "theory": f"<p>{MATH}</p><script>undefined_function()</script>",
        "ModelPred API": '<dl class="py class"><dt id="m.ModelPred">ModelPred</dt></dl>',
    })
    # the pages say v9.9: asking for another version must fail on every page
    failures = "\n".join(check_browser.check_site(tmp_path, CHROMIUM, "0.0.1"))
    assert failures.count("version v0.0.1 not shown") == 4
    assert "index: no math on the page" in failures
    assert "index: raw LaTeX" in failures
    assert "tutorial: console.error: boom from the page" in failures
    assert "tutorial: figure not loaded: missing.png" in failures
    assert "tutorial: printed output in a scrolling box: 'row of a long table" in failures
    assert "theory: exception:" in failures and "undefined_function" in failures
    for name in check_browser.MODELPRED_METHODS:
        assert f"ModelPred API: method {name} not listed" in failures
    assert "ModelPred API: the Attributes section" in failures
    assert "ModelPred API: no 'Examples using ModelPred' section" in failures


@needs_chromium
@pytest.mark.skipif(not (SITE / "index.html").is_file(),
                    reason="docs/_build/html is not built (make docs builds it and then runs "
                           "this check itself)")
def test_built_site_in_the_browser():
    failures = check_browser.check_site(SITE, CHROMIUM, modelpred_theory.__version__,
                                        math_pages=check_browser.expected_math_pages(ROOT))
    assert failures == []


def test_ci_runs_the_browser_check_and_requires_the_browser(tmp_path, monkeypatch, capsys):
    makefile = (ROOT / "Makefile").read_text()
    assert "docs/_ext/check_browser.py docs/_build/html" in makefile
    ci = (ROOT / ".ci" / "run").read_text()
    assert "apt-get install -y --no-install-recommends chromium" in ci
    assert "MPT_REQUIRE_BROWSER=1 make docs" in ci
    (tmp_path / "index.html").write_text("<html></html>")
    monkeypatch.setenv("MPT_CHROMIUM", str(tmp_path / "no-such-browser"))
    monkeypatch.delenv("MPT_REQUIRE_BROWSER", raising=False)
    assert check_browser.main([str(tmp_path)]) == 0          # a local build says it skipped
    assert "SKIPPED: chromium not found" in capsys.readouterr().err
    monkeypatch.setenv("MPT_REQUIRE_BROWSER", "1")
    assert check_browser.main([str(tmp_path)]) == 2          # CI fails without the browser
    assert "FAIL: chromium not found" in capsys.readouterr().err
