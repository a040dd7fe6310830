"""Numerical checks of the statements in THEORY.md: one script per statement.

Each ``check_*.py`` script has ``main(argv) -> dict`` (a ``--quick`` default and a ``--full``
paper-size mode), is seeded and deterministic, records for every claim the measured quantity,
the bound or predicted value, their ratio and PASS/FAIL, and saves a figure under the output
folder (``--out``, default ``./modelpred_check_output``). Run one with
``python -m proofs_checks.check_stability --full`` or all with ``modelpred check``.
"""
