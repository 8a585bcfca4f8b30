"""Instructions per message of the market-data gate under valgrind's callgrind (``bench/feeds.py
--native --instructions`` calls :func:`instructions`): a count the shared machine's load cannot
move, for the whole-gate mix of each build and for one Binance connection against cryptofeed.

Each figure is the run with the loop minus the run without it (recording, imports, setup),
divided by the messages; the loops run in this script's own processes:

    python bench/feeds_instructions.py --mix-loop REPS [--mix-n N]
    python bench/feeds_instructions.py --one-loop REPS --one trades|book gate|cryptofeed
"""

from __future__ import annotations

import argparse
import asyncio
import os
import subprocess
import sys
import time
from pathlib import Path

from cambist.feeds.merge import Merger
from cambist.feeds.sink import encode_batch
from cambist.feeds.types import Record
from cambist.feeds.venues import VENUES
from cambist.feeds.workers import tune_gc
from feeds import _cryptofeed
from feeds_gate import arrivals, cores_for, drive, record


def _drain(
    venue: str, setup: list[bytes], stream: list[tuple[bytes, ...]], ts: int, conns: int
) -> None:
    """Every message through its ``conns`` connections' cores (``stream``: ``arrivals``, built
    before the count; empty in the run without the loop) and the merger, encoding the merged
    records in batches of 512 (as the gate's sink does)."""
    pending: list[Record] = []
    cores = cores_for(venue, Merger(pending.append), setup, conns=conns)
    drive(cores, stream, ts, pending, encode_batch)


def _mix_loop(reps: int, n: int, sets: int = 1, timed: bool = False) -> None:
    """The whole-gate mix in this process (every venue's messages in order, both copies,
    through ``Core``, the merger and the log encoding). A receive time of today's magnitude
    (a small one would be a cached int object). ``timed``: also print the loop's CPU time
    per message (to stderr; for alternating two builds on a machine without hardware
    counters, where valgrind's instruction count says nothing of cycles)."""
    recs = {v: record(v, n) for v in VENUES}
    # new objects for each of ``sets`` repetitions (see ``arrivals``), made whatever ``reps``
    # is, so that they cancel out of the difference of two runs with equal ``sets``
    streams = {
        v: [arrivals(r["all"], 2, fresh=k > 0) for k in range(sets)] for v, r in recs.items()
    }
    tune_gc()  # after recording, as in measure
    msgs, ts = 0, time.time_ns()
    c0 = time.process_time()
    for k in range(reps):
        for v, r in recs.items():
            _drain(v, r["setup"], streams[v][k % sets], ts, 2)
            msgs += 2 * len(r["all"])
    if timed and msgs:
        cpu = time.process_time() - c0
        print(f"{cpu / msgs * 1e6:.3f} us CPU per message", file=sys.stderr)
    print(msgs)


def _one_loop(reps: int, n: int, kind: str, who: str) -> None:
    """Binance ``kind`` messages, once each, through the gate with one connection (books
    live first, as in ``throughput``) or through cryptofeed (``who``)."""
    r = record("binance", n)
    tune_gc()
    msgs = r[kind] * reps
    if who == "cryptofeed":
        feed, _ = _cryptofeed(r["setup"][0])

        async def run() -> None:
            for m in [m.decode() for m in msgs]:
                await feed.message_handler(m, None, 1.0)

        asyncio.run(run())
    else:
        _drain("binance", r["setup"], arrivals(msgs, 1), time.time_ns(), 1)
    print(len(msgs))


def _callgrind(args: list[str], path: str | None) -> float:
    """Instructions per message of ``bench/feeds.py *args`` (a loop printing its message
    count): the run with the loop minus the run without it (recording, imports, setup)."""
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    # one hash seed for both runs: with a random one each, the recording and imports the
    # difference cancels (about 2G instructions) vary by ~0.1%, i.e. +-1.5k per message
    env.setdefault("PYTHONHASHSEED", "0")
    if path:
        env["PYTHONPATH"] = path
    counts, msgs = [], 0
    for reps in ("0", "1"):
        run = subprocess.run(
            [
                *("valgrind", "--tool=callgrind", "--callgrind-out-file=/dev/null"),
                *(sys.executable, __file__, *[reps if a == "REPS" else a for a in args]),
            ],
            env=env,
            capture_output=True,
            text=True,
            check=True,
        )
        refs = [ln for ln in run.stderr.splitlines() if "Collected" in ln]
        counts.append(int(refs[-1].split(":")[-1].replace(",", "")))
        msgs = int(run.stdout.split()[-1]) or msgs
    return (counts[1] - counts[0]) / msgs


def instructions(native_dir: Path, n: int = 1000) -> dict[str, float]:
    """Instructions per wire message of the whole-gate mix under valgrind's callgrind, for
    each build: a count others' load on the shared machine cannot change (CPU time can, by
    2x). The run with the loop minus the run without it (recording and imports), divided by
    the messages."""
    out: dict[str, float] = {}
    for build, path in (("interpreted", None), ("native", str(native_dir))):
        out[build] = _callgrind(["--mix-loop", "REPS", "--mix-n", str(n)], path)
        print(f"  {build:12s} {out[build]:,.0f} instructions per message (callgrind, mix)")
    # one Binance connection against cryptofeed, trades and depth updates in equal numbers
    # (as ``ratio_vs_cryptofeed``): the comparison the machine's load cannot move
    for who, path in (("cryptofeed", None), ("native_one_conn", str(native_dir))):
        per = [
            _callgrind(["--one-loop", "REPS", "--one", k, who], path) for k in ("trades", "book")
        ]
        out[f"{who}_binance_trades"], out[f"{who}_binance_depth"] = per
        out[f"{who}_binance"] = sum(per) / 2
        print(f"  {who:16s} Binance trades / depth {per[0]:,.0f} / {per[1]:,.0f} instructions")
    out["cryptofeed_ratio"] = out["cryptofeed_binance"] / out["native_one_conn_binance"]
    print(f"  cryptofeed / gate (one connection, Binance) x{out['cryptofeed_ratio']:.2f}")
    out["ratio"] = out["interpreted"] / out["native"]
    print(f"  native executes x{out['ratio']:.2f} fewer instructions per message")
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--mix-loop", type=int, default=-1, help="whole-gate mix, REPS times")
    ap.add_argument("--mix-n", type=int, default=1000, help="messages recorded per venue")
    ap.add_argument(
        "--mix-sets", type=int, default=1, help="copies of the mix as new objects (>= REPS)"
    )
    ap.add_argument("--time", action="store_true", help="--mix-loop: print CPU per message")
    ap.add_argument("--one-loop", type=int, default=-1, help="one Binance kind, REPS times")
    ap.add_argument("--one", nargs=2, default=["trades", "gate"], metavar=("KIND", "WHO"))
    args = ap.parse_args()
    if args.mix_loop >= 0:
        _mix_loop(args.mix_loop, args.mix_n, args.mix_sets, args.time)
    elif args.one_loop >= 0:
        _one_loop(args.one_loop, args.mix_n, *args.one)
    else:
        ap.error("give --mix-loop or --one-loop (bench/feeds.py --instructions runs them)")


if __name__ == "__main__":
    main()
