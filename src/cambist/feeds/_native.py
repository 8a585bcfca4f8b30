"""``mypyc_attr`` for the feed modules compiled in the native build, without a hard dependency.

The venue base classes (``VenueSession``, ``VenueWire``, ``SyncedBook``, ``L2Book``) are
compiled by mypyc in ``make native``, yet a venue module that is not compiled (the template,
a new venue before it joins tools/build_native.py) must still subclass them:
``allow_interpreted_subclasses`` says so. ``mypy_extensions`` comes with mypy (which the
native build needs); an interpreted install without the dev tools gets a no-op decorator.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")

try:
    from mypy_extensions import mypyc_attr
except ImportError:  # pragma: no cover - only without the dev tools

    def mypyc_attr(*attrs: str, **kwattrs: object) -> Callable[[T], T]:
        """Without mypy_extensions nothing is compiled: the attributes mean nothing."""

        def keep(cls: T) -> T:
            return cls

        return keep


__all__ = ["mypyc_attr"]
