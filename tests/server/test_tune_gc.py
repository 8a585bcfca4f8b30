"""``tune_gc``: young collections every 5,000 allocations, their pauses in ``/metrics``, and what
survives a young collection frozen out of later ones. Run in a child interpreter: it changes
the process's collector for good."""

from __future__ import annotations

import json
import subprocess
import sys

_CHILD = r"""
import gc, json
from cambist.gateways.rest.metrics import Metrics
from cambist.server.runner import tune_gc

metrics = Metrics()
tune_gc(metrics)
frozen_at_start = gc.get_freeze_count()
keep = [[i] for i in range(12_000)]          # live state: survives young collections
for _ in range(3):                            # garbage cycles: collected while young
    for _ in range(4_000):
        a = []; a.append(a)
    del a
text = metrics.render().decode()
pauses = [l for l in text.splitlines() if l.startswith('cambist_gc_pause_seconds_count{generation="0"}')]
print(json.dumps({
    "threshold": list(gc.get_threshold()),
    "frozen_at_start": frozen_at_start,
    "frozen_now": gc.get_freeze_count(),
    "young_now": gc.get_count()[0],
    "young_pauses": float(pauses[0].split()[-1]) if pauses else -1,
    "kept": len(keep),
}))
"""


def test_tune_gc_young_threshold_pauses_observed_survivors_frozen() -> None:
    out = subprocess.run(
        [sys.executable, "-c", _CHILD], capture_output=True, text=True, check=True, timeout=120
    )
    got = json.loads(out.stdout.strip().splitlines()[-1])
    assert got["threshold"] == [5_000, 20, 100]
    assert got["young_pauses"] >= 3  # 12,000 survivors + 12,000 cycles: ~4-5 collections
    # The survivors (the 12,000 kept lists) were frozen after the collections that saw them.
    assert got["frozen_now"] - got["frozen_at_start"] >= 10_000
    assert got["young_now"] < 5_000 and got["kept"] == 12_000
