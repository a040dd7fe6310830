"""Ctrl-C (SIGINT) during long commands: exit status 130, a message saying what was finished and
how to resume, partial output only under a name that marks it partial, never NaN as values.

The values are Shapley values of U(S) = -test loss of theta(S), the minimiser of the SUM
objective F_S(theta) = sum_{i in S} loss_i(theta) + lam/2 ||P theta||^2.
"""

from __future__ import annotations

import csv
import os
import re
import signal
import subprocess
import sys
import time

import numpy as np
import pytest

from modelpred_theory import applications as A
from modelpred_theory import cli


def _run_until(args, pattern: bytes, timeout: float = 240.0):
    """Start the CLI, wait until stderr matches ``pattern``, send SIGINT; (rc, stdout, stderr)."""
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    proc = subprocess.Popen([sys.executable, "-m", "modelpred_theory.cli", *args],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)
    os.set_blocking(proc.stderr.fileno(), False)
    buf, t0 = b"", time.monotonic()
    try:
        while not re.search(pattern, buf):
            if proc.poll() is not None or time.monotonic() - t0 > timeout:
                pytest.fail(f"the command ended or hung before {pattern!r}: {buf[-2000:]!r}")
            buf += proc.stderr.read() or b""
            time.sleep(0.05)
        proc.send_signal(signal.SIGINT)
        os.set_blocking(proc.stderr.fileno(), True)
        out, err = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            proc.kill()
    return proc.returncode, out.decode(), (buf + err).decode()


@pytest.mark.slow
def test_sigint_during_shapley_exits_130_writes_partial_and_resumes(tmp_path):
    out = tmp_path / "v.csv"
    args = ["value", "--method", "shapley", "--oracle", "influence", "--n-train", "20",
            "--budget", "10000000", "--progress", "--out", str(out)]
    # interrupt once at least one round (862 permutations here) has finished
    rc, stdout, stderr = _run_until(args, rb"round=[1-9]")
    assert rc == 130, stderr[-2000:]
    assert not out.exists()  # the requested file is never written with partial values
    part = tmp_path / "v.partial.csv"
    state = tmp_path / "v.state.npz"
    assert part.is_file() and state.is_file()
    msg = stderr.strip().splitlines()[-1]
    done = re.search(r"partial values from (\d+) of 10000000 permutations", msg)
    assert done and int(done.group(1)) > 0, msg
    assert f"--resume {state}" in msg and "interrupted" in msg
    with open(part) as fh:
        rows = list(csv.DictReader(fh))
    assert len(rows) == 20 and all(r["partial"] == "True" for r in rows)
    assert all(np.isfinite(float(r["value"])) for r in rows)
    # the printed resume command continues the run (a smaller budget ends it at once)
    n_done = int(done.group(1))
    assert cli.main(["value", "--method", "shapley", "--oracle", "influence", "--n-train", "20",
                     "--budget", str(n_done + 1), "--out", str(out), "--resume", str(state),
                     "--quiet"]) == 0
    assert out.is_file()


def test_interrupt_before_the_first_round_refuses_nan_values():
    """A run interrupted before any round finished has no values: KeyboardInterrupt propagates
    (it used to return all-NaN values)."""
    def game(M):
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        A.semivalue_from_utility(game, 5, np.ones(5), stopping=10, rng=0)


def test_interrupt_later_keeps_finished_rounds():
    """Regression: an interrupt after two rounds returns those rounds' (finite) values."""
    calls = {"n": 0}

    def game(M):
        calls["n"] += 1
        if calls["n"] == 4:  # ends, round 1, round 2, then Ctrl-C in round 3
            raise KeyboardInterrupt
        return np.asarray(M, float).sum(1) ** 0.5

    res = A.semivalue_from_utility(game, 5, np.ones(5), stopping=100, rng=0, round_size=2)
    assert res.stopped_by == "interrupted" and res.n_samples == 4
    assert np.all(np.isfinite(res.values))


def test_interrupt_before_results_exits_130_and_says_nothing_was_written(monkeypatch, capsys,
                                                                           tmp_path):
    from modelpred_theory.cli import value

    def boom(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(value, "compute", boom)
    out = tmp_path / "v.csv"
    assert cli.main(["value", "--quick", "--out", str(out)]) == 130
    err = capsys.readouterr().err
    assert "interrupted before any result was finished; nothing was written" in err
    assert not out.exists() and not list(tmp_path.iterdir())
