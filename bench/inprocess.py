"""In-process measurements: CPU time per operation, hook commands, bytes sent, memory.

Every repetition runs in fresh-hook conditions, as in a deployed charm: a new model (so
no relation data is cached), a new framework and charm, and a unit database holding what
earlier hooks stored. Only the operation itself is timed.
"""

from __future__ import annotations

import dataclasses
import functools
import gc
import json
import pathlib
import statistics
import time
import timeit
import tracemalloc
from collections.abc import Callable, Sequence
from typing import Any

import ops
from ops.jujucontext import JujuContext
from ops.model import _ModelBackend
from ops.storage import SQLiteStorage

from bench import boundary
from bench.boundary import APP, World
from bench.schemas import (
    AppState20,
    AppState200,
    Blob,
    one_megabyte,
    stored_values,
    unit_record,
)

ROOT = pathlib.Path(__file__).resolve().parent.parent
META = ops.CharmMeta.from_yaml((ROOT / 'metadata.yaml').read_text())
UNIT = f'{APP}/0'


def _charm_class() -> type[ops.CharmBase]:
    """A charm with nothing of its own; each implementation builds its state objects.

    ops defines the relation events on the charm's class, once per process; a new class
    per hook stands in for the new process Juju starts for every hook.
    """

    class Events(ops.CharmEvents):
        pass

    class BenchCharm(ops.CharmBase):
        on = Events()  # pyright: ignore[reportIncompatibleMethodOverride]

    return BenchCharm


def _context(unit: str) -> JujuContext:
    return JujuContext._from_dict(
        {
            'JUJU_UNIT_NAME': unit,
            'JUJU_MODEL_NAME': 'bench',
            'JUJU_MODEL_UUID': '00000000-0000-4000-8000-000000000000',
            'JUJU_VERSION': '3.6.4',
            'JUJU_DISPATCH_PATH': 'hooks/update-status',
            'JUJU_CHARM_DIR': str(ROOT),
        }
    )


def new_hook(storage: SQLiteStorage) -> ops.CharmBase:
    """A charm as ops builds it at the start of a hook, on the given unit database."""
    backend = _ModelBackend(juju_context=_context(UNIT))
    backend._peer_endpoints = frozenset(META.peers)
    # Inside an event handler ops checks databag access; measure with the checks on.
    backend._hook_is_running = 'update_status'
    model = ops.Model(META, backend)
    framework = ops.Framework(storage, ROOT, META, model)
    return _charm_class()(framework)


def end_hook(charm: ops.CharmBase) -> None:
    """What ops does after the handler: save the unit database's changes."""
    charm.framework.commit()


# -- the worlds the workloads run in


def app_world(schema: type[Any]) -> World:
    """The leader, whose peer application databag holds a state with every field set."""
    data = {key: json.dumps(value) for key, value in stored_values(schema).items()}
    return World(UNIT, True, {'app': data, UNIT: {}})


def young_app_world(schema: type[Any], stored: int) -> World:
    """The leader, whose application databag holds only the first ``stored`` fields.

    Fields at their default are never sent, so a young state has few keys.
    """
    values = list(stored_values(schema).items())[:stored]
    data = {key: json.dumps(value) for key, value in values}
    return World(UNIT, True, {'app': data, UNIT: {}})


def units_world(count: int) -> World:
    """A follower among ``count`` units, each of which has stored its record."""
    databags: dict[str, dict[str, str]] = {'app': {}}
    for number in range(count):
        data = {key: json.dumps(value) for key, value in unit_record(number).items()}
        # Juju's own keys are in every unit databag.
        data['ingress-address'] = data['private-address'] = f'10.0.0.{number + 1}'
        data['egress-subnets'] = f'10.0.0.{number + 1}/32'
        databags[f'{APP}/{number}'] = data
    return World(UNIT, False, databags)


def local_world() -> World:
    """A unit with no peers: the LocalState workloads run no hook command."""
    return World(UNIT, False, {'app': {}, UNIT: {}})


@dataclasses.dataclass
class Workload:
    """One measured operation.

    ``phases`` are the steps of the operation, each in its own hook: the implementation's
    method to run with the charm. ``seed``, if set, is run in an earlier hook first.
    """

    name: str
    world: Callable[[], World]
    phases: list[Callable[[Any, ops.CharmBase], Any]]
    floor: tuple[int, int] = (0, 0)  # the fewest relation-get and relation-set it can take
    seed: Callable[[Any, ops.CharmBase], Any] | None = None
    memory: bool = False


_BLOB = Blob(name='ca-bundle', data=one_megabyte())
_LOCAL = stored_values(AppState20)

WORKLOADS = [
    Workload(
        'app state, 20 fields: read',
        lambda: app_world(AppState20),
        [lambda impl, charm: impl.read_app(charm, AppState20)],
        floor=(1, 0),
    ),
    Workload(
        'app state, 20 fields: change one',
        lambda: app_world(AppState20),
        [lambda impl, charm: impl.change_app(charm, AppState20, True)],
        floor=(1, 1),
    ),
    Workload(
        'app state, 20 fields: change nothing',
        lambda: app_world(AppState20),
        [lambda impl, charm: impl.change_app(charm, AppState20, False)],
        floor=(1, 0),
    ),
    Workload(
        'app state, 200 fields: read',
        lambda: app_world(AppState200),
        [lambda impl, charm: impl.read_app(charm, AppState200)],
        floor=(1, 0),
    ),
    Workload(
        'app state, 200 fields, 3 of them stored: read',
        lambda: young_app_world(AppState200, 3),
        [lambda impl, charm: impl.read_app(charm, AppState200)],
        floor=(1, 0),
    ),
    Workload(
        'app state, 200 fields: change one',
        lambda: app_world(AppState200),
        [lambda impl, charm: impl.change_app(charm, AppState200, True)],
        floor=(1, 1),
    ),
    Workload(
        'app state, 200 fields: change nothing',
        lambda: app_world(AppState200),
        [lambda impl, charm: impl.change_app(charm, AppState200, False)],
        floor=(1, 0),
    ),
    Workload(
        'unit records, 10 units: read all',
        lambda: units_world(10),
        [lambda impl, charm: impl.read_units(charm)],
        floor=(10, 0),
    ),
    Workload(
        'unit records, 100 units: read all',
        lambda: units_world(100),
        [lambda impl, charm: impl.read_units(charm)],
        floor=(100, 0),
    ),
    Workload(
        'local state, 20 fields: change one',
        local_world,
        [lambda impl, charm: impl.change_local(charm, _LOCAL)],
        seed=lambda impl, charm: impl.seed_local(charm, _LOCAL),
    ),
    Workload(
        'local state, 1 MB value: store, then reload',
        local_world,
        [
            lambda impl, charm: impl.store_blob(charm, _BLOB),
            lambda impl, charm: impl.load_blob(charm),
        ],
        memory=True,
    ),
]


@dataclasses.dataclass
class Result:
    """What one implementation costs on one workload."""

    workload: str
    implementation: str
    calls: dict[str, int]
    bytes_sent: int
    cpu: list[float]  # seconds per operation, one per repetition
    peak_memory: int | None = None  # bytes above the start, if measured

    @property
    def median(self) -> float:
        """The median CPU time per operation, in seconds."""
        return statistics.median(self.cpu)

    @property
    def quartiles(self) -> tuple[float, float]:
        """The first and third quartile of CPU time per operation, in seconds."""
        q1, _, q3 = statistics.quantiles(self.cpu, n=4)
        return q1, q3


class _Run:
    """One repetition of a workload with one implementation, hook by hook."""

    def __init__(self, workload: Workload, impl: Any, template: World):
        self.workload = workload
        self.impl = impl
        self.world = template.copy()
        self.storage = SQLiteStorage(':memory:')
        boundary.use(self.world)
        if workload.seed is not None:
            charm = new_hook(self.storage)
            workload.seed(impl, charm)
            end_hook(charm)
        self.world.calls.clear()
        self.charm: ops.CharmBase | None = None

    def start(self) -> None:
        # Untimed: what ops does before the handler runs.
        self.charm = new_hook(self.storage)

    def step(self, phase: Callable[[Any, ops.CharmBase], Any]) -> None:
        # Timed: the handler's work, and the unit database commit at the end of the hook.
        assert self.charm is not None
        phase(self.impl, self.charm)
        end_hook(self.charm)


def _one(workload: Workload, impl: Any, template: World) -> tuple[float, _Run]:
    run = _Run(workload, impl, template)
    total = 0.0
    for phase in workload.phases:
        run.start()
        timer = timeit.Timer(functools.partial(run.step, phase), timer=time.process_time)
        total += timer.timeit(number=1)
    return total, run


def measure(
    workload: Workload, impls: Sequence[Any], *, budget: float, min_reps: int, max_reps: int
) -> list[Result]:
    """Repeat one operation in fresh hooks, for every implementation, side by side.

    The implementations take turns, one repetition each in a rotating order, so that
    whatever else the machine does slows them all alike. The loop stops after about
    ``budget`` seconds of CPU time, once each has ``min_reps`` samples.
    """
    template = workload.world()
    results: list[Result] = []
    with boundary.serving(template):
        for impl in impls:
            # The first run warms up what lives for the whole process (compiled schemas,
            # imports), as in any hook after the first import; its calls are the counts.
            _, first = _one(workload, impl, template)
            calls = dict(first.world.calls)
            results.append(Result(workload.name, impl.label, calls, first.world.bytes_sent, []))

        deadline = time.process_time() + budget
        rep = 0
        while rep < max_reps and (rep < min_reps or time.process_time() < deadline):
            for turn in range(len(impls)):
                index = (rep + turn) % len(impls)
                seconds, _ = _one(workload, impls[index], template)
                results[index].cpu.append(seconds)
            rep += 1

        if workload.memory:
            for impl, result in zip(impls, results, strict=True):
                result.peak_memory = _peak_memory(workload, impl, template)
    return results


def _peak_memory(workload: Workload, impl: Any, template: World) -> int:
    """The most memory one operation holds at once, above what was held before it."""
    gc.collect()
    run = _Run(workload, impl, template)
    tracemalloc.start()
    try:
        peak = 0
        for phase in workload.phases:
            run.start()
            tracemalloc.reset_peak()
            before = tracemalloc.get_traced_memory()[0]
            run.step(phase)
            peak = max(peak, tracemalloc.get_traced_memory()[1] - before)
    finally:
        tracemalloc.stop()
    return peak
