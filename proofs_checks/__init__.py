"""Numerical checks of the statements in THEORY.md: one script per statement.

Each ``check_*.py`` script has ``main(argv) -> dict`` (a ``--quick`` default and a ``--full``
paper-size mode), is seeded and deterministic, prints for every claim the measured quantity, the
bound or predicted value and PASS/FAIL, and saves a figure under ``figures/output/``. Run one with
``python -m proofs_checks.check_stability --full`` or all with ``modelpred check``.
"""
