"""Open the built site in headless Chromium and check what a reader sees (``make docs``).

Usage: ``python docs/_ext/check_browser.py docs/_build/html``. Starts Debian's ``chromium``
(or the browser named by ``$MPT_CHROMIUM``) headless, talks to it through the DevTools
protocol over a pipe (``--remote-debugging-pipe``: no port, no websocket package), and opens
the index, one tutorial, the theory page and the ModelPred API page. For each page it
checks:

- no console error: no ``console.error``, no uncaught exception, no failed resource load
  (the DevTools ``Runtime`` and ``Log`` domains);
- the project's version is shown;
- where the page has math: every ``<math>`` element is laid out by the browser's MathML engine
  (computed ``display`` of ``math``/``block math``, a non-empty box) and no raw LaTeX remains
  in the visible text;
- on the ModelPred page: the methods (``fit``, ``predict``, ``save``, ``load``) are listed,
  the attributes are rendered as a definition list, and the tutorials using it are linked;
- on the tutorial page: every figure has loaded and no printed output sits in a scrolling
  box (a number hidden off its edge).

Exit status 0 when every check passes, 1 with one line per failure otherwise, 2 when the site
is missing. Without a browser it says so and exits 0, or 2 when ``MPT_REQUIRE_BROWSER=1``
(``.ci/run`` sets it, after installing chromium, so CI always runs the check).
``tests/test_docs_browser.py`` runs the same checks.
"""

from __future__ import annotations

import fcntl
import json
import os
import select
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync")
PAGES = {
    "index": "index.html",
    "tutorial": "auto_examples/plot_09_researcher_comparison.html",
    "theory": "theory.html",
    "ModelPred API": "gen_modules/api/generated/modelpred_theory.setfn.ModelPred.html",
}
MODELPRED_METHODS = ("fit", "predict", "save", "load")


def find_chromium() -> str | None:
    """Path of the browser: ``$MPT_CHROMIUM``, else ``chromium`` / ``chromium-browser``."""
    named = os.environ.get("MPT_CHROMIUM")
    if named:
        return shutil.which(named) or (named if Path(named).is_file() else None)
    return shutil.which("chromium") or shutil.which("chromium-browser")


class Browser:
    """Headless Chromium driven over the DevTools pipe (fd 3 in, fd 4 out, NUL-terminated)."""

    def __init__(self, executable: str, timeout: float = 60.0):
        self.timeout = timeout
        self._profile = tempfile.TemporaryDirectory(prefix="mpt-chromium-")
        to_child_r, self._to_child = os.pipe()
        self._from_child, from_child_w = os.pipe()
        # the child reads commands on fd 3 and writes replies on fd 4
        self.proc = subprocess.Popen(
            [executable, *FLAGS, f"--user-data-dir={self._profile.name}",
             "--remote-debugging-pipe", "about:blank"],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            pass_fds=(3, 4), preexec_fn=_dup_to(to_child_r, from_child_w))
        os.close(to_child_r)
        os.close(from_child_w)
        self._buffer = b""
        self._next_id = 0
        self.events: list[dict] = []

    # -- protocol ---------------------------------------------------------------------------
    def _read_message(self, deadline: float) -> dict:
        while b"\0" not in self._buffer:
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError("no reply from the browser")
            ready, _, _ = select.select([self._from_child], [], [], left)
            if ready:
                chunk = os.read(self._from_child, 1 << 20)
                if not chunk:
                    raise RuntimeError("the browser closed the DevTools pipe")
                self._buffer += chunk
        raw, _, self._buffer = self._buffer.partition(b"\0")
        return json.loads(raw)

    def send(self, method: str, params: dict | None = None, session: str | None = None) -> dict:
        """Send one command and return its result (events that arrive meanwhile are kept)."""
        self._next_id += 1
        msg = {"id": self._next_id, "method": method, "params": params or {}}
        if session:
            msg["sessionId"] = session
        os.write(self._to_child, json.dumps(msg).encode() + b"\0")
        deadline = time.monotonic() + self.timeout
        while True:
            reply = self._read_message(deadline)
            if reply.get("id") == self._next_id:
                if "error" in reply:
                    raise RuntimeError(f"{method}: {reply['error']}")
                return reply.get("result", {})
            self.events.append(reply)

    def wait_for(self, method: str, session: str, seconds: float | None = None) -> dict:
        """Wait for one event of ``method`` on ``session`` (kept events count)."""
        deadline = time.monotonic() + (seconds or self.timeout)
        for event in self.events:
            if event.get("method") == method and event.get("sessionId") == session:
                return event
        while True:
            event = self._read_message(deadline)
            self.events.append(event)
            if event.get("method") == method and event.get("sessionId") == session:
                return event

    def drain(self, seconds: float) -> None:
        """Collect events for ``seconds`` (late console messages, image loads)."""
        deadline = time.monotonic() + seconds
        try:
            while True:
                self.events.append(self._read_message(deadline))
        except TimeoutError:
            pass

    # -- pages ------------------------------------------------------------------------------
    def open(self, url: str) -> str:
        """Open ``url`` in a new tab with console and log capture; returns the session id."""
        target = self.send("Target.createTarget", {"url": "about:blank"})["targetId"]
        session = self.send("Target.attachToTarget",
                            {"targetId": target, "flatten": True})["sessionId"]
        for domain in ("Runtime", "Log", "Page"):
            self.send(f"{domain}.enable", session=session)
        self.send("Page.navigate", {"url": url}, session=session)
        self.wait_for("Page.loadEventFired", session)
        self.drain(0.5)
        return session

    def evaluate(self, session: str, expression: str):
        """Value of a JavaScript expression in the page (JSON-serialisable)."""
        result = self.send("Runtime.evaluate", {"expression": expression, "returnByValue": True},
                           session=session)
        if "exceptionDetails" in result:
            raise RuntimeError(f"{expression[:60]}...: {result['exceptionDetails']}")
        return result["result"].get("value")

    def console_errors(self, session: str) -> list[str]:
        """Console errors, uncaught exceptions and failed loads seen on ``session``."""
        errors = []
        for event in self.events:
            if event.get("sessionId") != session:
                continue
            method, params = event.get("method"), event.get("params", {})
            if method == "Runtime.consoleAPICalled" and params.get("type") in ("error",
                                                                               "assert"):
                args = params.get("args", [])
                errors.append("console.error: " + " ".join(
                    str(a.get("value", a.get("description", ""))) for a in args))
            elif method == "Runtime.exceptionThrown":
                details = params.get("exceptionDetails", {})
                errors.append("exception: " + str(details.get("exception", {}).get(
                    "description", details.get("text", ""))))
            elif method == "Log.entryAdded" and params.get("entry", {}).get("level") == "error":
                entry = params["entry"]
                errors.append(f"log: {entry.get('text', '')} {entry.get('url', '')}".strip())
        return errors

    def close(self) -> None:
        try:
            self.send("Browser.close")
        except (RuntimeError, TimeoutError, OSError):
            pass
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        for fd in (self._to_child, self._from_child):
            try:
                os.close(fd)
            except OSError:
                pass
        self._profile.cleanup()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def _dup_to(read_fd: int, write_fd: int):
    def setup():  # in the child, before exec: the pipe ends become fds 3 and 4
        high_r = fcntl.fcntl(read_fd, fcntl.F_DUPFD, 10)   # out of the way of 3 and 4 first
        high_w = fcntl.fcntl(write_fd, fcntl.F_DUPFD, 10)
        os.dup2(high_r, 3)
        os.dup2(high_w, 4)
    return setup


# ---------------------------------------------------------------- what a reader must see
MATH_STATE = """(() => {
  const maths = Array.from(document.querySelectorAll('article math, main math'));
  const bad = maths.filter(m => {
    const r = m.getBoundingClientRect();
    const d = getComputedStyle(m).display;
    return !(r.width > 0 && r.height > 0 && d.includes('math'));
  });
  const main = (document.querySelector('main') || document.body).cloneNode(true);
  main.querySelectorAll('pre, code, math').forEach(e => e.remove());  // code may hold TeX
  const text = main.textContent;
  const raw = ['\\\\frac', '\\\\sum', '\\\\theta', '\\\\lambda', '$$']
    .filter(s => text.includes(s));
  return {count: maths.length, bad: bad.length, raw: raw,
          mrow: document.querySelectorAll('main mfrac, main msub, main msup').length};
})()"""

VERSION_TEXT = """Array.from(document.querySelectorAll('.mpt-version'))
  .map(e => e.innerText.trim())"""

API_STATE = """(() => {
  const ids = Array.from(document.querySelectorAll(
      'dl.py.method > dt[id], dl.py.property > dt[id]'))
    .map(e => e.id);
  const fieldNames = Array.from(document.querySelectorAll('dl.field-list > dt'))
    .map(e => e.innerText.trim().replace(/:$/, ''));
  const attrs = document.querySelectorAll('dl.field-list dd dl dt, dl.field-list dd dl.simple dt');
  const heads = Array.from(document.querySelectorAll('h2, h3, p.rubric'))
    .map(e => e.innerText.trim());
  const examples = document.querySelectorAll(
      '.sphx-glr-thumbcontainer, div.sphx-glr-thumbnails a').length;
  return {ids: ids, fields: fieldNames, n_attr_terms: attrs.length, heads: heads,
          examples: examples};
})()"""

OUTPUT_SCROLL = """(() => Array.from(document.querySelectorAll('div.sphx-glr-script-out pre'))
  .filter(p => p.scrollWidth > p.clientWidth + 1 || p.scrollHeight > p.clientHeight + 1)
  .map(p => p.innerText.slice(0, 60)))()"""

IMAGES = """(() => Array.from(document.querySelectorAll('main img')).map(
  i => ({src: i.getAttribute('src'), ok: i.complete && i.naturalWidth > 0})))()"""


def check_site(site: str | Path, executable: str, version: str | None = None,
               math_pages: tuple[str, ...] = ("index", "tutorial", "theory")) -> list[str]:
    """Failures (one line each) of the reader checks on the built site; [] when all pass.

    Every page of ``PAGES`` is checked for console errors, the version, unrendered math and
    raw LaTeX; the pages in ``math_pages`` must in addition contain typeset math.
    """
    site = Path(site).resolve()
    failures: list[str] = []
    missing = [p for p in PAGES.values() if not (site / p).is_file()]
    if missing:
        return [f"page not built: {p}" for p in missing]
    with Browser(executable) as browser:
        for label, rel in PAGES.items():
            session = browser.open((site / rel).as_uri())
            if label == "tutorial":  # figures are lazy-loaded below the fold: scroll through
                browser.evaluate(session, "window.scrollTo(0, document.body.scrollHeight)")
                browser.drain(1.0)
            for err in browser.console_errors(session):
                failures.append(f"{label}: {err}")
            shown = browser.evaluate(session, VERSION_TEXT) or []
            if version is not None and f"v{version}" not in shown:
                failures.append(f"{label}: version v{version} not shown (found {shown})")
            math = browser.evaluate(session, MATH_STATE)
            if math["count"] == 0 and label in math_pages:
                failures.append(f"{label}: no math on the page")
            if math["bad"]:
                failures.append(f"{label}: {math['bad']} of {math['count']} math elements "
                                "not laid out as MathML")
            if math["raw"]:
                failures.append(f"{label}: raw LaTeX in the text: {math['raw']}")
            if label == "ModelPred API":
                api = browser.evaluate(session, API_STATE)
                listed = {i.rsplit(".", 1)[-1] for i in api["ids"]}
                for name in MODELPRED_METHODS:
                    if name not in listed:
                        failures.append(f"{label}: method {name} not listed")
                if "Attributes" not in api["fields"] or api["n_attr_terms"] < 5:
                    failures.append(f"{label}: the Attributes section is not a list of names "
                                    f"(fields {api['fields']}, {api['n_attr_terms']} terms)")
                if not any(h.startswith("Examples using") for h in api["heads"]):
                    failures.append(f"{label}: no 'Examples using ModelPred' section")
                if api["examples"] == 0:
                    failures.append(f"{label}: no tutorial linked under 'Examples using'")
            if label == "tutorial":
                for text in browser.evaluate(session, OUTPUT_SCROLL) or []:
                    failures.append(f"{label}: printed output in a scrolling box: {text!r}")
                images = browser.evaluate(session, IMAGES)
                if not images:
                    failures.append(f"{label}: no figure")
                failures.extend(f"{label}: figure not loaded: {i['src']}"
                                for i in images if not i["ok"])
    return failures


def expected_math_pages(root: str | Path | None = None) -> tuple[str, ...]:
    """Pages that must show typeset math: the index and the tutorial always; the theory page
    when its source (THEORY.md) writes math in TeX (``$...$``)."""
    root = Path(root) if root else Path(__file__).resolve().parents[2]
    theory = root / "THEORY.md"
    has_tex = theory.is_file() and "$" in theory.read_text(encoding="utf-8")
    return ("index", "tutorial", "theory") if has_tex else ("index", "tutorial")


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if len(argv) != 1:
        sys.stderr.write("usage: check_browser.py BUILT_SITE_FOLDER\n")
        return 2
    site = Path(argv[0])
    if not (site / "index.html").is_file():
        sys.stderr.write(f"{site}: no index.html (build the site first: make docs)\n")
        return 2
    executable = find_chromium()
    if executable is None:
        required = os.environ.get("MPT_REQUIRE_BROWSER", "") not in ("", "0")
        sys.stderr.write(f"{'FAIL' if required else 'SKIPPED'}: chromium not found (Debian: "
                         "apt-get install chromium; or set MPT_CHROMIUM), so the built site "
                         "was not opened in a browser\n")
        return 2 if required else 0
    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
    import modelpred_theory

    t0 = time.perf_counter()
    failures = check_site(site, executable, modelpred_theory.__version__,
                          math_pages=expected_math_pages())
    for line in failures:
        print(f"FAIL {line}")
    print(f"browser check: {len(PAGES)} pages, {len(failures)} failures "
          f"({time.perf_counter() - t0:.1f} s)")
    return 1 if failures else 0


if __name__ == "__main__":
    raise SystemExit(main())
