"""Start-up: ``modelpred --help``, ``modelpred <cmd> --help`` and argument errors answer without
importing torch, scikit-learn or numpy (the library is imported only when work starts), and the
names the parsers list without importing the library equal the library's own."""

from __future__ import annotations

import json
import subprocess
import sys
import time

from modelpred_theory.cli import COMMANDS

_PROBE = """
import json, sys, time
t0 = time.perf_counter()
from modelpred_theory import cli
import contextlib, io
out = {}
for argv in ARGVS:
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
        out[" ".join(argv)] = cli.main(argv)
heavy = sorted(m for m in ("torch", "sklearn", "numpy", "scipy") if m in sys.modules)
print(json.dumps({"rc": out, "heavy": heavy, "seconds": time.perf_counter() - t0}))
"""


def _probe(argvs):
    code = _PROBE.replace("ARGVS", repr(argvs))
    t0 = time.perf_counter()
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=120)
    wall = time.perf_counter() - t0
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout), wall


HELP = [["--help"]] + [[c, "--help"] for c in COMMANDS]
ERRORS = [["attribute", "--methods", "nope"], ["value", "--budget", "0"],
          ["compare", "--dataset", "mnist"],
          ["whatif", "--remove", "x"], ["value", "--seed", "1099511627776"], ["frobnicate"]]


def test_help_and_argument_errors_import_no_heavy_module():
    doc, wall = _probe(HELP + ERRORS)
    assert doc["heavy"] == [], doc
    assert all(doc["rc"][" ".join(a)] == 0 for a in HELP), doc["rc"]
    assert all(doc["rc"][" ".join(a)] == 2 for a in ERRORS), doc["rc"]
    # generous bound for a loaded 2-core machine (typically ~0.3 s for all thirteen)
    assert wall < 3.0, (wall, doc["seconds"])


def test_console_help_answers_fast():
    t0 = time.perf_counter()
    proc = subprocess.run([sys.executable, "-m", "modelpred_theory.cli", "value", "--help"],
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0 and "usage: modelpred value" in proc.stdout
    assert time.perf_counter() - t0 < 3.0


def test_import_is_light_and_lazy_names_resolve():
    code = ("import sys, modelpred_theory as m; light = 'torch' not in sys.modules; "
            "from modelpred_theory import ConvergenceWarning, datasets; "
            "print(light, m.ModelPred.__name__, ConvergenceWarning.__name__)")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=120)
    assert proc.stdout.split() == ["True", "ModelPred", "ConvergenceWarning"], proc.stderr


def test_parser_name_lists_equal_the_library():
    from modelpred_theory import applications, attribution, baselines, datasets
    from modelpred_theory.cli import _common, attribute, compare, value

    assert list(_common.BUNDLED) == datasets.available()
    assert tuple(compare.METHODS) == tuple(baselines.METHODS)
    assert tuple(attribute.METHODS) == tuple(attribution.METHODS)
    assert tuple(compare.DEFAULT_METHODS) == tuple(baselines.DEFAULT_METHODS)
    assert all(hasattr(applications, m.function) for m in value.METHODS.values())
