"""Sequence files, (N, T, C): UCR text tables and sktime ``.ts`` files, and the named time-series
sets read from the data directory (``ecg5000``, ``gunpoint``; never downloaded).

UCR layout (:func:`read_ucr`): a ``.txt`` / ``.tsv`` / ``.csv`` file read with ``data.kind=sequences``
holds one univariate series per row, the class label in the FIRST column (the UCR archive's
``*_TRAIN.txt`` / ``*_TRAIN.tsv``), values separated by whitespace, commas, semicolons or tabs (as
sniffed for tables). ``data.label_column`` says otherwise: a column name (with a header row) or a
0-based index (negative counts from the end of each row), or ``none`` for a file without labels.
Labels are kept as written (ECG5000's 1..5 stay 1..5; ``prepare`` maps them to class indices).
Rows of different lengths are variable-length series: each is padded at the END with NaN to the
longest row. Empty cells and ``NaN`` at the end of a row are padding too; a missing value before the
last value of a row is an error naming the line (aekit does not impute). The result is (N, T, 1).

sktime ``.ts`` (:func:`read_ts`, read whatever ``data.kind`` is, except images): the header lines
(``@problemName``, ``@timeStamps false``, ``@missing``, ``@univariate``, ``@dimensions``,
``@equalLength``, ``@seriesLength``, ``@classLabel true a b ...``) and then ``@data``; each line holds
the dimensions separated by ``:``, the values of one dimension by ``,``, and the class label last;
``?`` is a missing value. Shorter series are padded at the end with NaN; the dimensions of one
series must have the same length; a missing value inside a series is an error naming the line.
Time stamps are not supported; regression targets (``@targetLabel true``) are dropped (said in the
log). A label not declared by ``@classLabel`` is an error.
"""
from __future__ import annotations

import logging
import math
from collections.abc import Callable
from pathlib import Path

import numpy as np

from ..errors import AekitError
from .base import RawData, pad_sequences
from .files import _unreadable
from .tables import _is_number, _label_index, _label_values, _rows

log = logging.getLogger("aekit")

_MISSING = ("", "?")  # cells read as NaN (besides NaN itself)


def _text(path: Path, what: str) -> str:
    try:
        return path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError as e:
        raise AekitError(f"{path} is not a text file ({e})", f"give {what}") from None
    except OSError as e:
        raise _unreadable(path, e) from None


def _series(cells: list[str], path: Path, line: int, skip: int | None) -> np.ndarray:
    """The values of one UCR row (the label cell, column ``skip``, already taken out): missing cells
    are NaN, allowed only at the end (padding), which is cut off."""
    col = lambda j: j + 1 + (skip is not None and j >= skip)  # noqa: E731 - 1-based column in the file
    vals = _numbers(cells, lambda j, c: AekitError(
        f"{path}: line {line}, column {col(j)} is not a number: {c!r}",
        "give numbers only (a missing value is NaN, '?' or an empty cell); "
        "the class label goes in one column (data.label_column, default the first)"))
    present = np.flatnonzero(~np.isnan(vals))
    if len(present) == 0:
        raise AekitError(f"{path}: line {line} has no values", "remove the empty series, or give its values")
    end = int(present[-1]) + 1
    gaps = np.flatnonzero(np.isnan(vals[:end]))
    if len(gaps):
        raise AekitError(
            f"{path}: line {line}, column {col(int(gaps[0]))} is missing inside the series (before its last value, "
            f"column {col(end - 1)}); sequences take missing values only as end padding",
            "impute the missing values (e.g. interpolate) before loading, or cut the series there")
    return vals[:end]


# --- UCR text tables -----------------------------------------------------------------------------

def read_ucr(path: str | Path, label_column: str | None = None) -> RawData:
    """A UCR-layout text table (see the module docstring) as (N, T, 1) sequences and their labels."""
    path = Path(path)
    rows = _rows(path)
    if not rows:
        raise AekitError(f"{path} is empty (no data rows)", "give one series per row, the class label first")
    header: list[str] | None = None
    first = rows[0][1]
    label_at = _label_position(label_column, len(first))  # a text label in the first row is no header
    if any(c.strip() not in _MISSING and not _is_number(c) for j, c in enumerate(first) if j != label_at):
        header, rows = first, rows[1:]
        if not rows:
            raise AekitError(f"{path} has a header row but no data rows", "give one series per row")
    width = len(header) if header is not None else len(rows[0][1])
    lab: int | None
    from_end = 0  # a negative label index counts from the end of each (possibly shorter) row
    if label_column is None:
        lab = 0
    elif str(label_column).strip().lower() == "none":
        lab = None
    else:
        lab = _label_index(label_column, header, width, path)
        if (header is None or str(label_column) not in header) and str(label_column).lstrip().startswith("-"):
            from_end = width - lab
    series: list[np.ndarray] = []
    labels: list[str] = []
    for n, cells in rows:
        j = None
        if lab is not None:
            j = len(cells) - from_end if from_end else lab
            if not 0 <= j < len(cells) or not cells[j].strip():
                raise AekitError(f"{path}: line {n} has no label (column {j + 1})",
                                 "give every row its class label, or set data.label_column=none for a file without labels")
            labels.append(cells[j].strip())
            cells = cells[:j] + cells[j + 1:]
        series.append(_series(cells, path, n, j))
    lengths = [len(s) for s in series]
    x = pad_sequences(series)
    said = "no labels" if lab is None else ("the class label first" if lab == 0 and not from_end else f"labels in column {lab}")
    log.info("%s: read as UCR sequences, one series per row with %s: %d series, %s%s", path, said, len(x),
             f"length {x.shape[1]}" if min(lengths) == max(lengths) else f"lengths {min(lengths)}..{max(lengths)}",
             "" if header is None else " (header row skipped)")
    y = _label_values(labels) if lab is not None else None
    return RawData(x, y, "sequences", source=str(path))


def _label_position(label_column: str | None, width: int) -> int | None:
    """The label's cell in a row when ``label_column`` gives it by index (None: the first)."""
    if label_column is None:
        return 0
    try:
        j = int(str(label_column))
    except ValueError:
        return None
    return j % width if -width <= j < width else None


# --- sktime .ts ----------------------------------------------------------------------------------

def _flag(value: str, tag: str, path: Path, line: int) -> bool:
    v = value.strip().lower()
    if v not in ("true", "false"):
        raise AekitError(f"{path}: line {line}: {tag} must be true or false, got {value.strip()!r}", "fix the header line")
    return v == "true"


def read_ts(path: str | Path, kind: str = "auto") -> RawData:
    """An sktime ``.ts`` file (see the module docstring) as (N, T, C) sequences and their labels."""
    path = Path(path)
    if kind == "images":
        raise AekitError(f"{path}: data.kind=images, but a .ts file holds sequences",
                         "drop data.kind (a .ts file is read as sequences) or set data.kind=sequences")
    head: dict[str, str] = {}
    classes: list[str] | None = None
    dims: int | None = None
    target = False
    data_at: int | None = None
    series: list[np.ndarray] = []
    labels: list[str] = []
    for i, raw_line in enumerate(_text(path, "an sktime .ts file").splitlines()):
        n, line = i + 1, raw_line.strip()
        if not line or line.startswith("#"):
            continue
        if data_at is None:
            if not line.startswith("@"):
                raise AekitError(f"{path}: line {n} holds data before the @data line: {line[:40]!r}",
                                 "a .ts file has header lines (@problemName ...), then @data, then one series per line")
            tag, _, value = line.partition(" ")
            tag = tag.lower()
            head[tag] = value
            if tag == "@data":
                data_at = n
            elif tag == "@timestamps" and _flag(value, "@timeStamps", path, n):
                raise AekitError(f"{path}: time-stamped series (@timeStamps true) are not supported",
                                 "save the values without time stamps, one value per step")
            elif tag == "@classlabel":
                words = value.split()
                if words and _flag(words[0], "@classLabel", path, n):
                    classes = words[1:]
                    if not classes:
                        raise AekitError(f"{path}: line {n}: @classLabel true names no classes", "list them: @classLabel true a b ...")
            elif tag == "@targetlabel":
                target = bool(value.split()) and _flag(value.split()[0], "@targetLabel", path, n)
            elif tag == "@univariate" and _flag(value, "@univariate", path, n):
                dims = 1
            elif tag in ("@dimensions", "@dimension"):
                try:
                    dims = int(value)
                except ValueError:
                    raise AekitError(f"{path}: line {n}: @dimensions must be a whole number, got {value!r}", "fix the header line") from None
            continue
        parts = line.split(":")
        extra = 1 if (classes is not None or target) else 0
        if dims is None:
            dims = len(parts) - extra
        if len(parts) != dims + extra or dims < 1:
            what = f"{dims} dimension{'s' if dims != 1 else ''}" + (" and the class label" if classes is not None else
                                                                     " and the target" if target else "")
            raise AekitError(f"{path}: line {n} has {len(parts)} parts separated by ':', expected {dims + extra} ({what})",
                             "each line holds the dimensions separated by ':', values by ',', the class label last; "
                             "fix or remove that line")
        if extra:
            label = parts[-1].strip()
            if classes is not None:
                if label not in classes:
                    raise AekitError(f"{path}: line {n}: class label {label!r} is not one of those @classLabel declares: "
                                     f"{', '.join(classes)}", "fix the label, or declare the class in the @classLabel line")
                labels.append(label)
        channels = [parts[k].split(",") for k in range(dims)]
        if len({len(c) for c in channels}) > 1:
            raise AekitError(f"{path}: line {n}: the dimensions have different lengths ({', '.join(str(len(c)) for c in channels)})",
                             "give every dimension of a series the same number of values ('?' for a missing one at the end)")
        vals = np.stack([_channel(c, path, n, k) for k, c in enumerate(channels)], axis=1)
        keep = ~np.isnan(vals).all(axis=1)  # steps with a value in some channel
        end = int(np.flatnonzero(keep)[-1]) + 1 if keep.any() else 0
        inside = np.argwhere(np.isnan(vals[:end]))
        if end == 0 or len(inside):
            where = (f"dimension {int(inside[0][1]) + 1}, value {int(inside[0][0]) + 1} is missing inside the series "
                     "(missing values are allowed only as end padding, in every dimension)") if end else "the series has no values"
            raise AekitError(f"{path}: line {n}: {where}", "impute the missing values (e.g. interpolate) before loading, "
                             "or cut the series there")
        series.append(vals[:end])
    if data_at is None:
        raise AekitError(f"{path} has no @data line", "a .ts file has header lines, then @data, then one series per line")
    if not series:
        raise AekitError(f"{path} holds no series after @data", "give one series per line after @data")
    lengths = [len(s) for s in series]
    declared = head.get("@serieslength", "").strip()
    if head.get("@equallength", "").strip().lower() == "true" and declared.isdigit():
        bad = [(k, t) for k, t in enumerate(lengths) if t != int(declared)]
        if bad:
            raise AekitError(f"{path}: series {bad[0][0]} has {bad[0][1]} values, but the header says @equalLength true, "
                             f"@seriesLength {declared} ({len(bad)} series differ)",
                             "fix the series, or the header (@equalLength false) for series of different lengths")
    x = pad_sequences(series)
    if target:
        log.info("%s: the regression targets (@targetLabel true, the last field) are not read", path)
    log.info("%s: sktime .ts%s: %d series, %d dimension%s, %s%s", path,
             f" {head['@problemname'].strip()}" if head.get("@problemname") else "", len(x), x.shape[2],
             "s" if x.shape[2] != 1 else "",
             f"length {x.shape[1]}" if min(lengths) == max(lengths) else f"lengths {min(lengths)}..{max(lengths)}",
             f", {len(classes)} classes" if classes is not None else "")
    y = _label_values(labels) if classes is not None else None
    return RawData(x, y, "sequences", source=str(path))


def _channel(cells: list[str], path: Path, line: int, k: int) -> np.ndarray:
    return _numbers(cells, lambda j, c: AekitError(
        f"{path}: line {line}: dimension {k + 1}, value {j + 1} is not a number: {c!r}",
        "values are numbers separated by ',' ('?' for a missing one); dimensions are separated "
        "by ':' and the class label comes last"))


def _numbers(cells: list[str], bad: Callable[[int, str], AekitError]) -> np.ndarray:
    """The cells as float64, a missing cell (:data:`_MISSING`) as NaN; ``bad(j, cell)`` is the error
    for a cell that is not a number."""
    out = np.empty(len(cells), dtype=np.float64)
    for j, c in enumerate(cells):
        c = c.strip()
        if c in _MISSING:
            out[j] = math.nan
            continue
        try:
            out[j] = float(c)
        except ValueError:
            raise bad(j, c) from None
    return out


# --- named sets from the data directory ----------------------------------------------------------

_UCR = "the UCR Time Series Classification Archive (Dau et al.; www.cs.ucr.edu/~eamonn/time_series_data_2018/)"


def _local(root: Path, name: str, filename: str, origin: str) -> Path:
    """``<root>/timeseries/<filename>``, or an error saying where to put it (these are not downloaded)."""
    p = Path(root) / "timeseries" / filename
    if not p.is_file():
        raise AekitError(f"data set {name!r}: {p} is missing (aekit does not download it)",
                         f"put {filename} (from {origin}) in {p.parent}/, or set --data-dir / AEKIT_DATA_DIR "
                         f"to a folder that holds timeseries/{filename}")
    return p


def load_ecg5000(root: Path) -> RawData:
    """UCR ECG5000, the training split (500 series of 140 steps, labels 1..5); no test split of its
    own here: ``data.test_fraction`` carves one (the UCR test file, if you have it, can be given as
    ``data.test_data``)."""
    raw = read_ucr(_local(root, "ecg5000", "ECG5000_TRAIN.txt", _UCR))
    raw.source = "ecg5000"
    return raw


def load_gunpoint(root: Path) -> RawData:
    """UCR GunPoint (sktime .ts): 50 train / 150 test series of 150 steps, labels 1 and 2."""
    tr = read_ts(_local(root, "gunpoint", "GunPoint_TRAIN.ts", _UCR + " or the sktime package"))
    te = read_ts(_local(root, "gunpoint", "GunPoint_TEST.ts", _UCR + " or the sktime package"))
    t = max(tr.x_train.shape[1], te.x_train.shape[1])  # variable-length splits: padded alike
    x, xt = (pad_sequences(list(r.x_train), t) if r.x_train.shape[1] < t else r.x_train for r in (tr, te))
    return RawData(x, tr.y_train, "sequences", xt, te.y_train, source="gunpoint")
