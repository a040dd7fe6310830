"""What every ``modelpred`` command shares: data flags, output flags, checked paths, learners.

* ``--dataset NAME`` or ``--data FILE.csv|.npz --target COL`` (``add_data_args``/``load_data``);
* ``--json`` (JSON only on stdout; status goes to stderr), ``--quiet``, ``--progress`` /
  ``--no-progress`` (tqdm bars default to on only when stderr is a terminal);
* argparse types that refuse bad numbers with the flag named (``positive_int``, ...);
* output paths checked before any work and taken relative to the current directory.

The learners built here minimise the SUM objective F_S(theta) = sum_{i in S} w_i loss_i(theta)
+ lam/2 ||P theta||^2 (C = 1/lam; docs/design.md).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import TextIO

LEARNERS = ("auto", "logistic", "ridge", "svm")
TASKS = ("auto", "regression", "classification", "binary", "multiclass")


class CommandError(Exception):
    """A user-facing error: printed as ``modelpred <cmd>: error: <msg>``, exit status 2."""


# ------------------------------------------------------------------------------ argparse types
def _number(kind, minimum=None, strict=False):
    word = "an integer" if kind is int else "a number"
    cond = "" if minimum is None else f" {'>' if strict else '>='} {minimum:g}"

    def parse(text: str):
        try:
            v = kind(text)
        except (TypeError, ValueError):
            raise argparse.ArgumentTypeError(f"must be {word}{cond}, got {text!r}") from None
        if kind is float and not math.isfinite(v):
            raise argparse.ArgumentTypeError(f"must be a finite number, got {text!r}")
        if minimum is not None and (v <= minimum if strict else v < minimum):
            raise argparse.ArgumentTypeError(f"must be {word}{cond}, got {text!r}")
        return v

    parse.__name__ = f"{kind.__name__}{cond.replace(' ', '')}"
    return parse


positive_int = _number(int, 1)
nonneg_int = _number(int, 0)
positive_float = _number(float, 0, strict=True)


def seed_int(text: str) -> int:
    """A seed in [0, 2**32 - 1] (numpy's and scikit-learn's 32-bit random_state)."""
    v = nonneg_int(text)
    if v > 2**32 - 1:
        raise argparse.ArgumentTypeError(f"must be an integer in [0, 2**32 - 1] = [0, "
                                         f"{2**32 - 1}], got {text!r}")
    return v


def open_fraction(text: str) -> float:
    """A float strictly between 0 and 1."""
    v = _number(float)(text)
    if not 0.0 < v < 1.0:
        raise argparse.ArgumentTypeError(f"must lie strictly between 0 and 1, got {text!r}")
    return v


def fraction_list(text: str) -> list[float]:
    """Comma-separated floats in (0, 1), e.g. ``0.1,0.5``."""
    parts = [t.strip() for t in text.split(",") if t.strip()]
    if not parts:
        raise argparse.ArgumentTypeError(f"must be comma-separated numbers in (0, 1), got "
                                         f"{text!r}")
    try:
        return [open_fraction(t) for t in parts]
    except argparse.ArgumentTypeError as exc:
        raise argparse.ArgumentTypeError(f"{exc} (in {text!r})") from None


def column_list(text: str) -> list[str]:
    """Comma-separated column names, e.g. ``age,income`` (spaces around names ignored)."""
    cols = [t.strip() for t in text.split(",") if t.strip()]
    if not cols:
        raise argparse.ArgumentTypeError(f"must be comma-separated column names, got {text!r}")
    if len(set(cols)) != len(cols):
        raise argparse.ArgumentTypeError(f"column names repeat in {text!r}")
    return cols


def separator(text: str) -> str:
    """One delimiter character; ``\\t`` and ``tab`` mean a tab."""
    text = {"\\t": "\t", "tab": "\t", "TAB": "\t"}.get(text, text)
    if len(text) != 1:
        raise argparse.ArgumentTypeError(f"must be one character (e.g. ';' or '\\t'), got "
                                         f"{text!r}")
    return text


def index_list(text: str) -> list[int]:
    """Comma-separated non-negative integers and ranges, e.g. ``3,17,40`` or ``0-9,20``."""
    out: list[int] = []
    for part in (t.strip() for t in text.split(",")):
        if not part:
            continue
        lo, sep, hi = part.partition("-")
        try:
            a = int(lo)
            b = int(hi) if sep else a
        except ValueError:
            raise argparse.ArgumentTypeError(
                f"must be comma-separated row numbers (0-based) or ranges a-b, got {text!r}"
            ) from None
        if a < 0 or b < a:
            raise argparse.ArgumentTypeError(f"bad row number or range {part!r} in {text!r}")
        out.extend(range(a, b + 1))
    if not out:
        raise argparse.ArgumentTypeError(f"no row numbers in {text!r}")
    if len(set(out)) != len(out):
        dup = sorted({i for i in out if out.count(i) > 1})
        raise argparse.ArgumentTypeError(f"row numbers repeat: {dup}")
    return out


# The bundled data sets (``datasets.available()``; a test keeps the two equal, so that
# --help and argument errors need no import of the library).
BUNDLED = ("iris2", "breast_cancer", "wine", "digits", "diabetes")


def dataset_name(text: str) -> str:
    """One of the bundled data sets (a file name gets a pointer to --data)."""
    if text in BUNDLED:
        return text
    hint = (f"; for your own file use --data {text} --target COLUMN"
            if Path(text).suffix.lower() in (".csv", ".npz") else "")
    raise argparse.ArgumentTypeError(f"unknown data set {text!r}; choose from "
                                     f"{', '.join(BUNDLED)}{hint}")


def data_file(text: str) -> Path:
    """An existing .csv or .npz file (relative paths are relative to the current folder)."""
    p = Path(text)
    if p.suffix.lower() not in (".csv", ".npz"):
        raise argparse.ArgumentTypeError(f"must be a .csv or .npz file, got {text!r}")
    if not p.is_file():
        raise argparse.ArgumentTypeError(f"file {text!r} does not exist"
                                         + (" (it is a folder)" if p.is_dir() else ""))
    return p


# ------------------------------------------------------------------------------ common flags
def add_data_args(ap: argparse.ArgumentParser, default: str = "breast_cancer",
                  n_train: bool = True) -> None:
    """``--dataset`` | ``--data FILE --target COL``, ``--task``, ``--test-size``, ``--n-train``."""
    g = ap.add_argument_group("data")
    src = g.add_mutually_exclusive_group()
    src.add_argument("--dataset", default=None, type=dataset_name, metavar="NAME",
                     help=f"a bundled data set: {', '.join(BUNDLED)} "
                          f"(default {default})")
    src.add_argument("--data", type=data_file, default=None, metavar="FILE",
                     help="your own data: a .csv with a header row (needs --target) or an .npz "
                          "with arrays X and y; split, standardised and scaled into the unit "
                          "ball as the bundled data are")
    g.add_argument("--target", default=None, metavar="COL",
                   help="with --data: the target (label) column of the CSV / array of the .npz")
    g.add_argument("--task", choices=TASKS, default="auto",
                   help="with --data: the task (default: inferred from the target column)")
    g.add_argument("--test-size", type=open_fraction, default=0.25, metavar="F",
                   help="held-out fraction of the rows (default 0.25)")
    if n_train:
        g.add_argument("--n-train", type=positive_int, default=None, metavar="N",
                       help="keep a stratified subsample of N training rows")
    c = ap.add_argument_group("CSV files (with --data FILE.csv)")
    cols = c.add_mutually_exclusive_group()
    cols.add_argument("--features", type=column_list, default=None, metavar="COLS",
                      help="comma-separated feature columns (default: every column but the "
                           "target and identifier-like ones: id, *_id, row numbers, which are "
                           "dropped with a warning unless listed here)")
    cols.add_argument("--drop", type=column_list, default=None, metavar="COLS",
                      help="comma-separated columns to leave out")
    c.add_argument("--sep", type=separator, default=None, metavar="CHAR",
                   help="field delimiter (default ','; e.g. ';' or '\\t')")
    c.add_argument("--decimal", choices=(".", ","), default=None,
                   help="decimal mark of the numbers (default '.'; ',' needs another --sep)")
    c.add_argument("--encoding", default=None, metavar="NAME",
                   help="text encoding of the file (default utf-8; e.g. latin-1, cp1252)")
    ap.set_defaults(_default_dataset=default)


def add_learner_args(ap: argparse.ArgumentParser, default: str = "auto") -> None:
    ap.add_argument("--learner", choices=LEARNERS, default=default,
                    help="auto: L2 logistic regression for classification, ridge for "
                         "regression; svm: squared-hinge SVM (binary)")
    ap.add_argument("--lam", type=positive_float, default=1.0,
                    help="L2 strength lam = 1/C of the sum objective (default 1)")
    ap.add_argument("--penalize-intercept", action="store_true",
                    help="penalise the intercept too (F_S is then lam-strongly convex and every "
                         "certificate is finite; the squared-hinge SVM has none without it)")


def add_output_args(ap: argparse.ArgumentParser) -> None:
    g = ap.add_argument_group("output")
    g.add_argument("--json", action="store_true",
                   help="print only JSON on stdout (status messages go to stderr)")
    g.add_argument("--quiet", action="store_true", help="no status messages or progress bars")
    g.add_argument("--progress", action=argparse.BooleanOptionalAction, default=None,
                   help="progress bars on stderr (default: on only when stderr is a terminal)")


_CSV_FLAGS = {"features": "--features", "drop": "--drop", "sep": "--sep",
              "decimal": "--decimal", "encoding": "--encoding"}


def check_data_args(ap: argparse.ArgumentParser, args) -> None:
    """Flag combinations argparse cannot express (exit status 2 via ``ap.error``)."""
    given = [flag for key, flag in _CSV_FLAGS.items() if getattr(args, key, None) is not None]
    if given and (args.data is None or args.data.suffix.lower() != ".csv"):
        ap.error(f"{', '.join(given)} {'is' if len(given) == 1 else 'are'} for --data FILE.csv")
    if getattr(args, "decimal", None) == "," and (getattr(args, "sep", None) or ",") == ",":
        ap.error("--decimal , needs another field delimiter: add --sep ';' (or --sep '\\t')")
    if args.data is None:
        if args.target is not None:
            ap.error("--target is for --data FILE (a bundled --dataset has its own target)")
        if args.task != "auto":
            ap.error("--task is for --data FILE (a bundled --dataset has its own task)")
        if args.dataset is None:
            args.dataset = args._default_dataset
    elif args.data.suffix.lower() == ".csv" and args.target is None:
        ap.error(f"--data {args.data} needs --target COLUMN (the name of the label column)")


def load_data(args, n_train: int | None = None):
    """The Dataset of ``--dataset``/``--data`` (ValueError -> CommandError)."""
    import warnings

    from .. import datasets

    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            if args.data is None:
                ds = datasets.load(args.dataset, seed=args.seed, test_size=args.test_size,
                                   n_train=n_train)
            else:
                csv = {"features": getattr(args, "features", None),
                       "drop": getattr(args, "drop", None),
                       "delimiter": getattr(args, "sep", None),
                       "decimal": getattr(args, "decimal", None),
                       "encoding": getattr(args, "encoding", None)}
                ds = datasets.load(args.data, seed=args.seed, test_size=args.test_size,
                                   n_train=n_train, target=args.target,
                                   task=None if args.task == "auto" else args.task, **csv)
    except (ValueError, TypeError) as exc:
        raise CommandError(str(exc)) from None
    for w in caught:
        print(f"warning: {w.message}", file=sys.stderr)
    return ds


def describe(ds) -> str:
    what = ds.task if ds.task == "regression" else (
        f"{ds.task}, classes {', '.join(map(str, ds.classes_.tolist()[:6]))}"
        + (" ..." if ds.n_classes > 6 else ""))
    return f"{ds.name}: {ds.n_train} training / {ds.n_test} test rows, {ds.n_features} " \
           f"features ({what})"


def make_learner(kind: str, lam: float, ds, penalize_intercept: bool = False):
    """The learner of ``--learner`` for this data (CommandError if they do not fit)."""
    from ..learners import LogisticRegression, Ridge, SquaredHingeSVM

    pen = {"penalize_intercept": bool(penalize_intercept)}

    if kind == "auto":
        kind = "ridge" if ds.task == "regression" else "logistic"
    if kind == "ridge":
        if ds.task != "regression":
            raise CommandError(f"--learner ridge needs a regression target; {ds.name} is "
                               f"{ds.task} (use --learner logistic)")
        return Ridge(lam=lam, **pen)
    if ds.task == "regression":
        raise CommandError(f"--learner {kind} needs class labels; {ds.name} is regression "
                           "(use --learner ridge)")
    if kind == "svm":
        if ds.task != "binary":
            raise CommandError(f"--learner svm needs a binary data set; {ds.name} has "
                               f"{ds.n_classes} classes")
        return SquaredHingeSVM(lam=lam, **pen)
    return LogisticRegression(lam=lam, n_classes=ds.n_classes if ds.n_classes > 2 else None,
                              **pen)


def model_targets(ds):
    """(y_train, y_test) as the learners take them: class indices into ``ds.classes_``."""
    if ds.task == "regression":
        return ds.y_train, ds.y_test
    return ds.encode_labels(ds.y_train), ds.encode_labels(ds.y_test)


def pick(value, full, quick, is_quick: bool):
    """An explicit flag wins over ``--quick``, which wins over the full default."""
    if value is not None:
        return value
    return quick if is_quick else full


# ------------------------------------------------------------------------------ output paths
def _nearest_existing(p: Path) -> Path:
    q = p
    while not q.exists():
        if q.parent == q:
            break
        q = q.parent
    return q


def check_out_dir(text: str | os.PathLike, flag: str = "--out") -> Path:
    """A folder that exists and is writable, or can be created (relative to the cwd)."""
    p = Path(text).expanduser()
    p = p if p.is_absolute() else Path.cwd() / p
    if p.exists() and not p.is_dir():
        raise CommandError(f"{flag} {text}: exists and is not a folder")
    base = _nearest_existing(p)
    if not base.is_dir():
        raise CommandError(f"{flag} {text}: {base} is not a folder, so it cannot hold one")
    if not os.access(base, os.W_OK | os.X_OK):
        raise CommandError(f"{flag} {text}: {base} is not writable")
    return p


def check_out_file(text: str | os.PathLike, flag: str = "--out",
                   suffixes: tuple[str, ...] = ()) -> Path:
    """A file path whose folder exists (or can be created) and is writable."""
    p = Path(text).expanduser()
    p = p if p.is_absolute() else Path.cwd() / p
    if suffixes and p.suffix.lower() not in suffixes:
        raise CommandError(f"{flag} {text}: must end in {' or '.join(suffixes)}")
    if p.is_dir():
        raise CommandError(f"{flag} {text}: is a folder, expected a file name")
    if p.exists() and not os.access(p, os.W_OK):
        raise CommandError(f"{flag} {text}: is not writable")
    check_out_dir(p.parent, flag)
    return p


def write_text(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` atomically (an interrupted write leaves no half file)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    try:
        tmp.write_text(text)
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()


def partial_path(path: Path, suffix: str | None = None) -> Path:
    """``v.csv`` -> ``v.partial.csv``: where an interrupted run writes what it finished."""
    return path.with_name(f"{path.stem}.partial{suffix or path.suffix}")


class Interrupted(Exception):
    """A command stopped by Ctrl-C after writing what it finished (exit status 130).

    The message says what was finished, where it was written and how to resume.
    """


# ------------------------------------------------------------------------------ the context
@dataclass
class Context:
    """Where a command writes: ``out`` (results: stdout), ``err`` (status: stderr)."""

    prog: str
    out: TextIO
    err: TextIO
    json: bool = False
    quiet: bool = False
    progress: bool = False
    argv: tuple = ()  # the command's own arguments (to print a resume command)

    def status(self, msg: str) -> None:
        """A status line on stderr (silenced by --quiet)."""
        if not self.quiet:
            print(msg, file=self.err, flush=True)

    def result(self, text: str) -> None:
        """Human-readable result on stdout (never used with --json)."""
        self.out.write(text if text.endswith("\n") else text + "\n")

    def emit_json(self, obj) -> None:
        """The one JSON document of --json on stdout (NaN and inf written as null)."""
        self.out.write(json.dumps(json_safe(obj), indent=1) + "\n")


def make_context(prog: str, args, out: TextIO, err: TextIO, argv=()) -> Context:
    quiet = bool(getattr(args, "quiet", False))
    progress = getattr(args, "progress", None)
    if progress is None:
        progress = (not quiet) and _isatty(err)
    return Context(prog, out, err, json=bool(getattr(args, "json", False)), quiet=quiet,
                   progress=bool(progress), argv=tuple(argv))


def _isatty(stream) -> bool:
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError):
        return False


def json_safe(obj):
    import numpy as np

    if isinstance(obj, dict):
        return {str(k): json_safe(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [json_safe(v) for v in obj]
    if isinstance(obj, np.ndarray):
        return json_safe(obj.tolist())
    if isinstance(obj, np.generic):
        return json_safe(obj.item())
    if isinstance(obj, float) and not math.isfinite(obj):
        return None
    if isinstance(obj, Path):
        return str(obj)
    return obj
