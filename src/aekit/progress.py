"""Progress display, one way for the whole package: a tqdm bar on stderr when a person is watching
(a terminal or a notebook), nothing otherwise; long work also reports plain lines where it says so
(the trainer writes one line per epoch)."""
from __future__ import annotations

import sys
from collections.abc import Iterable, Iterator
from typing import Any, TypeVar

T = TypeVar("T")


def interactive() -> bool:
    """True when stderr is a terminal or the code runs in a Jupyter kernel."""
    try:
        if sys.stderr.isatty():
            return True
    except (AttributeError, ValueError):
        pass
    return "ipykernel" in sys.modules


class _NoBar:
    n = 0
    total = None

    def update(self, n: int = 1) -> None:
        self.n += n

    def set_postfix(self, *a: Any, **k: Any) -> None:
        pass

    def set_description(self, *a: Any, **k: Any) -> None:
        pass

    def close(self) -> None:
        pass

    def write(self, text: str) -> None:
        print(text, file=sys.stderr, flush=True)


def bar(total: int | None, desc: str, unit: str = "it", enabled: bool = True, **kw: Any) -> Any:
    """A tqdm bar (``update``, ``set_postfix``, ``close``), or a stand-in doing nothing."""
    if enabled and interactive():
        try:
            from tqdm.auto import tqdm

            return tqdm(total=total, desc=desc, unit=unit, leave=False, dynamic_ncols=True, file=sys.stderr, **kw)
        except ImportError:  # pragma: no cover - tqdm is a dependency
            pass
    return _NoBar()


def iterate(items: Iterable[T], total: int | None, desc: str, unit: str = "it", enabled: bool = True) -> Iterator[T]:
    """``items`` with a bar when more than one step is coming."""
    b = bar(total, desc, unit, enabled and (total is None or total > 1))
    try:
        for item in items:
            yield item
            b.update(1)
    finally:
        b.close()


def line(text: str) -> None:
    """One plain progress line on stderr that does not break a live bar."""
    try:
        from tqdm.auto import tqdm

        tqdm.write(text, file=sys.stderr)
    except ImportError:  # pragma: no cover
        print(text, file=sys.stderr, flush=True)
