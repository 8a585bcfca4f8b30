"""Running the read-model projectors: inside ``cambist serve`` and as separate processes.

The journal stores commands; events come from the engine. So a projector process derives its
events by folding the journal's commands through its own :class:`Engine`, started from the newest
snapshot at or below the lowest mark of the projectors it runs (the engine is deterministic: the
same log gives the same events the serving node published). This module may import the engine;
:mod:`cambist.readmodels` may not (tests/test_import_rules.py).

Inside ``cambist serve`` the projectors consume the node's subscription instead, after catching
up from the journal to where the node was when they started.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import os
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any

import structlog

from cambist.domain.engine import Engine
from cambist.gateways.rest.view import View
from cambist.log.journal import commands_after, read_commands
from cambist.log.recovery import gc_paused, recover
from cambist.log.segments import WATERMARK_FILE, Cursor, Watermark
from cambist.node import Applied, Node
from cambist.readmodels.projectors import PROJECTORS
from cambist.readmodels.runner import DEFAULT_BATCH, ProjectorGroup, marks
from cambist.readmodels.store import Store, open_store

log = structlog.get_logger("cambist.projectors")

READMODELS_FILE = "readmodels.sqlite"
DEFAULT_MAX_DELAY_S = 0.2
"""How long a tailing projector lets a command wait for more before committing it."""
URL_ENV = "CAMBIST_READMODELS_URL"


def default_url(data_dir: Path) -> str:
    """``$CAMBIST_READMODELS_URL`` (e.g. a ``postgresql://`` URL), else SQLite in the data dir."""
    return os.environ.get(URL_ENV) or str(Path(data_dir) / READMODELS_FILE)


def engine_at(data_dir: Path, seq: int) -> Engine:
    """The engine state right after ``seq`` (newest snapshot at or below it, then replay)."""
    engine = recover(data_dir, to_seq=seq).engine
    if engine.last_seq != seq:
        raise RuntimeError(
            f"the journal in {data_dir} ends at {engine.last_seq}, before the read models'"
            f" mark {seq}: they belong to another journal (rebuild them)"
        )
    return engine


def journal_stream(data_dir: Path, after: int, to_seq: int | None = None) -> Iterator[Applied]:
    """Applied commands after ``after`` up to ``to_seq`` (or the committed end), with events."""
    engine = engine_at(data_dir, after)
    wm = Watermark(data_dir / WATERMARK_FILE, writable=False)
    try:
        for cmd in read_commands(data_dir, after + 1, to_seq, limit=wm.read):
            yield Applied(cmd.seq, cmd.ts, cmd, engine.apply(cmd))
    finally:
        wm.close()


def catch_up(
    group: ProjectorGroup,
    data_dir: Path,
    to_seq: int | None = None,
    *,
    batch: int = DEFAULT_BATCH,
    progress: Callable[[int], None] | None = None,
) -> int:
    """Project the journal from the group's lowest mark to ``to_seq``; return commands read."""
    n = 0
    due = batch - group.pending
    with gc_paused():
        for a in journal_stream(data_dir, group.low_mark, to_seq):
            group.apply(a)
            n += 1
            if n >= due:  # counted here: asking every projector per command cost 4 us
                group.flush()
                due = n + batch
                if progress is not None:
                    progress(a.seq)
    group.flush()
    group.analyze()
    if progress is not None:
        progress(group.low_mark)
    return n


def follow(
    group: ProjectorGroup,
    data_dir: Path,
    stop: threading.Event,
    *,
    batch: int = DEFAULT_BATCH,
    max_delay_s: float = DEFAULT_MAX_DELAY_S,
    poll_s: float = 0.005,
) -> None:
    """Tail the journal forever (until ``stop``): fold, project, and flush once ``batch``
    commands are waiting or the oldest of them has waited ``max_delay_s``
    (``cambist projector run``).

    Flushing at every tail reached instead made a transaction per group commit under load:
    each rewrote the same hot index pages and paid the commit, and the projector fell behind
    at a fraction of its catch-up rate. ``max_delay_s`` bounds what waiting adds to the lag.

    On PostgreSQL a batch commits in a writer thread while the next one folds: the server's
    work (about half of the total) then overlaps the fold instead of following it, and the
    thread mostly waits on the socket without the GIL. Never more than one batch is in flight,
    so batches commit in order; a failed commit is raised here at the next flush. SQLite
    commits inline: its per-row calls would hand the GIL back and forth with the fold."""
    engine = engine_at(data_dir, group.low_mark)
    wm_path = data_dir / WATERMARK_FILE
    while not wm_path.exists() and not stop.is_set():
        time.sleep(poll_s)
    wm = Watermark(wm_path, writable=False)
    cursor = Cursor(data_dir, group.low_mark + 1, wm.read)
    last_analyze = time.monotonic()
    _settle_gc()
    writer = _BatchWriter(group) if group.store.dialect == "postgres" else None
    flush = writer.flush if writer is not None else group.flush
    flush_at = 0.0  # when the oldest unflushed command has waited max_delay_s (0: none waits)
    try:
        while not stop.is_set():
            rec = cursor.next_record()
            if rec is None:
                if flush_at and time.monotonic() >= flush_at:
                    flush()
                    flush_at = 0.0
                if time.monotonic() - last_analyze > 600:
                    if writer is not None:
                        writer.wait()
                    group.analyze()
                    last_analyze = time.monotonic()
                stop.wait(poll_s)
                continue
            for cmd in commands_after(cursor, rec, engine.last_seq):
                group.apply(Applied(cmd.seq, cmd.ts, cmd, engine.apply(cmd)))
            now = time.monotonic()
            if not flush_at:
                flush_at = now + max_delay_s
            if group.pending >= batch or now >= flush_at:
                flush()
                flush_at = 0.0
                gc.freeze()
        flush()
        if writer is not None:
            writer.wait()
    finally:
        if writer is not None:
            writer.close()
        cursor.close()
        wm.close()


class _BatchWriter:
    """Commits sealed batches in one thread, at most one in flight (see :func:`follow`)."""

    def __init__(self, group: ProjectorGroup) -> None:
        self.group = group
        self.pool = ThreadPoolExecutor(1, thread_name_prefix="projector-writer")
        self.in_flight: Future[None] | None = None

    def wait(self) -> None:
        """Until the batch in flight is committed; its failure is raised here."""
        if self.in_flight is not None:
            done, self.in_flight = self.in_flight, None
            try:
                done.result()
            except BaseException:
                self.group.reload()
                raise

    def flush(self) -> None:
        self.wait()
        commit = self.group.seal()
        if commit is not None:
            self.in_flight = self.pool.submit(commit)

    def close(self) -> None:
        self.pool.shutdown(wait=True)


def _settle_gc() -> None:
    """The engine's book and the projectors' caches are long-lived and keep growing; the cyclic
    collector rescanned them for nothing (a tenth of a tailing projector's CPU, charged to
    whatever allocated). Everything alive is frozen out of it now and after every flush (O(1);
    refcounting still frees what dies), and young collections run less often."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(50_000, 50, 100)


class ServeProjectors:
    """The projectors of ``cambist serve``: catch up from the journal, then follow the node.

    Database work runs in one worker thread of its own (batches in order), so the event loop
    never waits on it. A batch is projected once ``batch`` commands wait, once the oldest has
    waited ``max_delay_s``, or at once when a reader waits for a sequence not yet committed
    (:meth:`wait_for`: every history request reads its own writes). Projecting whatever had
    arrived at each wake-up instead meant three SQLite transactions per group commit at a low
    rate: at 1,000 orders/s under ``make run`` the projector thread took about a quarter of a
    core, and its Python work competed with the event loop for the GIL.

    Commands arrive through a node listener (a list extended once per group commit) rather than
    a subscription queue (an ``asyncio.Queue`` item per command).
    """

    def __init__(
        self,
        node: Node,
        data_dir: Path,
        url: str | None = None,
        names: Sequence[str] = ("all",),
        *,
        batch: int = DEFAULT_BATCH,
        max_delay_s: float = DEFAULT_MAX_DELAY_S,
    ) -> None:
        self.node = node
        self.data_dir = Path(data_dir)
        self.url = url or default_url(self.data_dir)
        self.names = names
        self.batch = batch
        self.max_delay_s = max_delay_s
        self.group: ProjectorGroup | None = None
        self.task: asyncio.Task[None] | None = None
        self.position = 0
        self.error: BaseException | None = None
        self._pending: list[Applied] = []  # applied by the node, not yet handed to the thread
        self._arrived = asyncio.Event()  # _pending is not empty
        self._demand = asyncio.Event()  # project now: a reader waits, or a full batch waits
        self._changed = asyncio.Event()
        self._lock = threading.Lock()
        self._pool = ThreadPoolExecutor(1, thread_name_prefix="projectors")

    def read_store(self) -> Store:
        """A new connection for queries (one per query thread)."""
        return open_store(self.url)

    async def _in_thread(self, fn: Callable[..., Any], *args: Any) -> Any:
        return await asyncio.get_running_loop().run_in_executor(self._pool, fn, *args)

    async def start(self) -> None:
        self.node.listen(self._on_applied)
        target = self.node.engine.last_seq
        self.group = await self._in_thread(
            lambda: ProjectorGroup(open_store(self.url), self.names).open()
        )
        self.position = self.group.committed
        self.task = asyncio.ensure_future(self._run(target))

    def _on_applied(self, batch: list[Applied]) -> None:
        self._pending.extend(batch)
        self._arrived.set()
        if len(self._pending) >= self.batch:
            self._demand.set()

    def _take(self) -> list[Applied]:
        """At most ``batch`` of the pending commands, oldest first."""
        pending = self._pending
        if len(pending) <= self.batch:
            self._pending = []
            items = pending
        else:
            items, self._pending = pending[: self.batch], pending[self.batch :]
        if not self._pending:
            self._arrived.clear()
        if len(self._pending) < self.batch:
            self._demand.clear()
        return items

    async def _run(self, target: int) -> None:
        group = self.group
        assert group is not None
        try:
            if group.low_mark < target:
                log.info("projectors.catching_up", mark=group.low_mark, target=target)
                await self._in_thread(
                    lambda: catch_up(group, self.data_dir, target, batch=self.batch)
                )
                if len(self._pending) < self.batch:
                    self._demand.clear()  # a reader still short of its seq asks again
                self._advanced(group.committed)
            while True:
                await self._arrived.wait()
                if not self._demand.is_set():
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(self._demand.wait(), self.max_delay_s)
                await self._in_thread(self._project, group, self._take())
                self._advanced(group.committed)
        except asyncio.CancelledError:
            raise
        except BaseException as exc:
            self.error = exc
            log.error("projectors.failed", error=repr(exc))
            self._changed.set()

    def _project(self, group: ProjectorGroup, items: list[Applied]) -> None:
        with self._lock:
            for a in items:
                group.apply(a)
            group.flush()

    def _advanced(self, position: int) -> None:
        self.position = position
        self._changed.set()
        self._changed = asyncio.Event()

    async def wait_for(self, seq: int, timeout: float) -> bool:
        """True once every projector has committed ``seq``; False after ``timeout`` seconds.
        Waiting asks for the commands held back for a bigger batch to be projected now."""
        deadline = time.monotonic() + timeout
        while self.position < seq:
            left = deadline - time.monotonic()
            if left <= 0 or self.error is not None:
                return False
            self._demand.set()
            try:
                await asyncio.wait_for(self._changed.wait(), left)
            except TimeoutError:
                return False
        return True

    def status(self) -> list[tuple[str, int, int]]:
        """(name, committed position, lag in commands behind the engine) per projector."""
        head = self.node.engine.last_seq
        if self.group is None:
            return []
        return [(p.name, p.mark - p.pending, head - (p.mark - p.pending))
                for p in self.group.projectors]  # fmt: skip

    async def stop(self) -> None:
        """Project what the node already applied, then close.

        A batch the cancelled task handed to the worker thread still runs there; this one
        queues behind it on the same thread, so the batches commit in order."""
        self.node.unlisten(self._on_applied)
        if self.task is not None:
            self.task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self.task
        group = self.group
        if group is not None:
            items, self._pending = self._pending, []
            if self.error is None:
                await self._in_thread(self._project, group, items)
            await self._in_thread(group.store.close)
        self._pool.shutdown(wait=False)


class ExternalProjectors:
    """The history endpoints' view of projectors that run as separate ``cambist projector run``
    processes (``external_projectors = true``): nothing is projected here; the committed marks
    are read from the database every :attr:`poll_s`, so ``min_sequence`` waits and
    ``/admin/status`` work as with the projectors inside the server.

    At start it creates the tables (idempotent, as each projector process does), so the history
    endpoints answer (empty, or 503 for a ``min_sequence`` not reached) before the first
    projector process has started.
    """

    def __init__(self, node: Node, data_dir: Path, url: str | None = None,
                 poll_s: float = 0.005) -> None:  # fmt: skip
        self.node = node
        self.url = url or default_url(Path(data_dir))
        self.poll_s = poll_s
        self.position = 0
        self.marks: dict[str, int] = {}
        self.error: BaseException | None = None
        self._store: Store | None = None
        self._changed = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    def read_store(self) -> Store:
        return open_store(self.url)

    async def start(self) -> None:
        def prepare() -> Store:
            group = ProjectorGroup(open_store(self.url))
            for p in group.projectors:
                p.open()
            return group.store

        self._store = await asyncio.to_thread(prepare)
        self._read(self._store)
        self._task = asyncio.ensure_future(self._poll())

    def _read(self, store: Store) -> None:
        found = marks(store)
        self.marks = {name: found.get(name, (0, 0))[0] for name in PROJECTORS}
        self.position = min(self.marks.values())

    async def _poll(self) -> None:
        store = self._store
        assert store is not None
        while True:
            await asyncio.sleep(self.poll_s)
            before = self.position
            try:
                await asyncio.to_thread(self._read, store)
                self.error = None
            except Exception as exc:  # the database went away: keep polling, say so once
                if self.error is None:
                    log.error("projectors.marks_unreadable", error=repr(exc))
                self.error = exc
            if self.position != before:
                self._changed.set()
                self._changed = asyncio.Event()

    async def wait_for(self, seq: int, timeout: float) -> bool:
        """True once every projector process has committed ``seq``; False after ``timeout``."""
        deadline = time.monotonic() + timeout
        while self.position < seq:
            left = deadline - time.monotonic()
            if left <= 0:
                return False
            try:
                await asyncio.wait_for(self._changed.wait(), left)
            except TimeoutError:
                return False
        return True

    def status(self) -> list[tuple[str, int, int]]:
        head = self.node.engine.last_seq
        return [(name, mark, head - mark) for name, mark in self.marks.items()]

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        if self._store is not None:
            self._store.close()


def status_rows(url: str, data_dir: Path | None) -> list[tuple[str, int, int | None]]:
    """(name, position, lag) from the marks table; lag needs the journal's committed end."""
    store = open_store(url)
    try:
        found = marks(store)
    finally:
        store.close()
    head: int | None = None
    if data_dir is not None and (Path(data_dir) / WATERMARK_FILE).exists():
        wm = Watermark(Path(data_dir) / WATERMARK_FILE, writable=False)
        head = wm.read()
        wm.close()
    return [(n, s, None if head is None else head - s) for n, (s, _) in found.items()]


async def start_history(
    node: Node, view: View, data_dir: Path, timeout_s: float, *, external: bool = False
) -> tuple[ServeProjectors | ExternalProjectors, Callable[[list[Any]], list[Any]]]:
    """Start the projectors of ``cambist serve`` (or, ``external``, follow those of separate
    processes); return them and the gateway's route hook that serves the history endpoints
    from their tables."""
    from cambist.gateways.rest.history import History

    projectors: ServeProjectors | ExternalProjectors = (
        ExternalProjectors(node, data_dir) if external else ServeProjectors(node, data_dir)
    )
    await projectors.start()
    return projectors, History(view, projectors, timeout_s, time.time_ns).override
