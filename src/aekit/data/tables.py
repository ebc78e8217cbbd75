"""Numeric tables (CSV / TSV / whitespace, header optional, a label column by name or index) for
:func:`~aekit.data.files.load_path`: the parsing and its messages, apart from the other readers."""
from __future__ import annotations

import csv
from pathlib import Path

import numpy as np

from ..errors import AekitError
from .base import RawData
from .files import _unreadable


def _is_number(s: str) -> bool:
    try:
        float(s)
        return True
    except ValueError:
        return False


def _rows(path: Path) -> list[tuple[int, list[str]]]:
    """(line number, cells) for each non-blank, non-comment line; the delimiter is sniffed."""
    try:
        with open(path, encoding="utf-8-sig", newline="") as f:
            text = f.read()
    except UnicodeDecodeError as e:
        raise AekitError(f"{path} is not a text file ({e})", "give a numeric table in CSV/TSV/whitespace format") from None
    except OSError as e:
        raise _unreadable(path, e) from None
    lines = [(i + 1, line) for i, line in enumerate(text.splitlines()) if line.strip() and not line.lstrip().startswith("#")]
    if not lines:
        return []
    first = lines[0][1]
    suffix = path.suffix.lower()
    if suffix == ".tsv" or "\t" in first:
        delim: str | None = "\t"
    elif "," in first:
        delim = ","
    elif ";" in first:
        delim = ";"
    elif suffix == ".csv" and " " not in first.strip():
        delim = ","
    else:
        delim = None  # whitespace
    if delim is None:
        return [(n, line.split()) for n, line in lines]
    out = []
    for n, line in lines:
        cells = next(csv.reader([line], delimiter=delim))
        out.append((n, [c.strip() for c in cells]))
    return out


def _label_index(label_column: str | int, header: list[str] | None, width: int, path: Path) -> int:
    if header is not None and str(label_column) in header:
        return header.index(str(label_column))
    try:
        idx = int(str(label_column))
    except ValueError:
        names = f"; columns: {', '.join(header)}" if header else "; the file has no header row, so give a 0-based column number"
        raise AekitError(f"{path}: no column named {label_column!r}{names}", "set --label-column to a column name or 0-based index") from None
    if not -width <= idx < width:
        raise AekitError(f"{path}: label column {idx} is out of range (the table has {width} columns, 0..{width - 1})",
                         "set --label-column to a 0-based index below the number of columns")
    return idx % width


def _load_table(path: Path, label_column: str | None) -> RawData:
    rows = _rows(path)
    if not rows:
        raise AekitError(f"{path} is empty (no data rows)", "give a table with one example per row")
    header: list[str] | None = None
    first_cells = rows[0][1]
    if not all(_is_number(c) for c in first_cells):
        # a first row with any non-numeric cell is a header
        header = first_cells
        rows = rows[1:]
        if not rows:
            raise AekitError(f"{path} has a header row but no data rows", "give a table with one example per row")
    width = len(header) if header is not None else len(rows[0][1])
    lab = _label_index(label_column, header, width, path) if label_column is not None else None

    values: list[list[float]] = []
    labels: list[str] = []
    for n, cells in rows:
        if len(cells) != width:
            what = "the header" if header is not None else f"line {rows[0][0]}"
            raise AekitError(f"{path}: line {n} has {len(cells)} columns, {what} has {width}",
                             "every row needs the same number of columns; fix or remove that line")
        if lab is not None:
            if not cells[lab]:
                raise AekitError(f"{path}: line {n} has an empty label (column {lab + 1})",
                                 "give every row a label, or remove the row")
            labels.append(cells[lab])
            cells = cells[:lab] + cells[lab + 1:]
        try:
            values.append([float(c) for c in cells])
        except ValueError:
            for j, c in enumerate(cells):
                if not _is_number(c):
                    col = j + (1 if lab is not None and j >= lab else 0)
                    name = f" ({header[col]!r})" if header is not None else ""
                    shown = repr(c) if c else "an empty cell"
                    raise AekitError(
                        f"{path}: line {n}, column {col + 1}{name} is not a number: {shown}",
                        "give numbers only; use --label-column for a text label column, or drop text columns",
                    ) from None
            raise  # pragma: no cover
    x = np.asarray(values, dtype=np.float32)
    if x.ndim != 2 or x.shape[1] == 0:
        raise AekitError(f"{path}: no feature columns left (table of {width} columns)", "the table needs at least one column besides the labels")
    y = _label_values(labels) if lab is not None else None
    return RawData(x, y, "vectors", source=str(path))


def _label_values(labels: list[str]) -> np.ndarray:
    """A label column as written: integers, numbers (whole ones become integers in ``check_y``),
    or, when any cell is not a number, every label as text (class names). ``prepare`` maps the
    values to class indices and saves the mapping, so a loader never renumbers them itself."""
    try:
        return np.asarray([int(v) for v in labels], dtype=np.int64)
    except (ValueError, OverflowError):
        pass
    if all(_is_number(v) for v in labels):
        return np.asarray([float(v) for v in labels])
    return np.asarray(labels, dtype=str)
