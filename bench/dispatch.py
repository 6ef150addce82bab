"""Whole-process wall time of one dispatched hook: the host charm against its twin.

Both charms are deployed on the local model (``tests/localmodel``), three units each, and
the same hook is dispatched on the same unit of each, in turns. The model records every
hook command a hook runs and the bytes it sends.
"""

from __future__ import annotations

import dataclasses
import shutil
import statistics
import tempfile
import time
from pathlib import Path

from bench.inprocess import ROOT
from tests.localmodel import HookRun, LocalModel

HOST = 'host charm (library)'
TWIN = 'hand-written twin'


@dataclasses.dataclass
class HookResult:
    """One charm, one hook on one unit, dispatched many times."""

    workload: str
    implementation: str
    calls: dict[str, int]
    bytes_sent: int
    wall: list[float]  # seconds per hook

    @property
    def median(self) -> float:
        """The median wall time of a hook, in seconds."""
        return statistics.median(self.wall)

    @property
    def quartiles(self) -> tuple[float, float]:
        """The first and third quartile of wall time, in seconds."""
        q1, _, q3 = statistics.quantiles(self.wall, n=4)
        return q1, q3


def _twin_source(root: Path) -> Path:
    """The twin as a charm source tree: the host charm's metadata, the twin's code, no lib."""
    source = root / 'twin-source'
    (source / 'src').mkdir(parents=True)
    shutil.copy(Path(__file__).parent / 'twin' / 'charm.py', source / 'src' / 'charm.py')
    for name in ('metadata.yaml', 'charmcraft.yaml'):
        shutil.copy(ROOT / name, source / name)
    return source


def _timed(model: LocalModel, unit: str, hook: str) -> tuple[float, HookRun]:
    # The local model's dispatch() also writes and reads its context file around the
    # hook; that overhead is the same for both charms.
    started = time.perf_counter()
    run = model.dispatch(unit, hook)
    seconds = time.perf_counter() - started
    if not run.ok:
        raise RuntimeError(f'{hook} failed on {unit}:\n{run.stderr}')
    return getattr(run, 'seconds', seconds), run


def measure(repetitions: int, hook: str = 'update-status') -> list[HookResult]:
    """Dispatch ``hook`` on the leader and on a follower of each charm, in turns."""
    root = Path(tempfile.mkdtemp(prefix='bench-dispatch-'))
    try:
        models = {
            TWIN: LocalModel(root / 'twin', _twin_source(root)),
            HOST: LocalModel(root / 'host', ROOT),
        }
        units = {}
        for label, model in models.items():
            units[label] = model.deploy(3)

        results: list[HookResult] = []
        for index, role in ((0, 'leader'), (1, 'follower')):
            workload = f'dispatched {hook} hook, {role} of 3 units: wall time'
            by_label: dict[str, HookResult] = {}
            for label, model in models.items():
                # The first hook compiles the charm's modules into __pycache__, as the
                # first hook after a deploy does; the measured ones find them compiled.
                _, run = _timed(model, units[label][index], hook)
                by_label[label] = HookResult(workload, label, run.counts(), run.sent_bytes(), [])
            for rep in range(repetitions):
                order = list(models) if rep % 2 == 0 else list(reversed(models))
                for label in order:
                    seconds, _ = _timed(models[label], units[label][index], hook)
                    by_label[label].wall.append(seconds)
            results.extend(by_label.values())
        return results
    finally:
        shutil.rmtree(root, ignore_errors=True)
