"""The pure, deterministic trading core: wallets, order books, matching.

Nothing here does I/O, reads a clock, draws randomness or makes ids: time and ids arrive on the
commands (assigned by the sequencer), so the same command log gives the same events and the same
state on every machine. ``tests/test_import_rules.py`` enforces that.

Public surface: :class:`~cambist.domain.engine.Engine`, the commands in
:mod:`cambist.domain.commands`, the events in :mod:`cambist.domain.events`, and the enums in
:mod:`cambist.domain.types`.
"""
