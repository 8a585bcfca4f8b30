"""The read models' exceptions, in a module of their own: ``make native`` compiles the projector
modules with mypyc, which cannot subclass builtin exceptions, so they live where it never looks."""

from __future__ import annotations


class ProjectorConflict(RuntimeError):
    """Another runner moved this projector's mark: two runners of one projector at once."""
