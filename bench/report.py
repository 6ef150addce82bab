"""The results as one markdown table, with the machine and the targets: docs/benchmarks.md."""

from __future__ import annotations

import datetime
import os
import platform
import statistics
import sys
from collections.abc import Sequence

import ops

from bench.dispatch import HOST, TWIN, HookResult
from bench.inprocess import WORKLOADS, Result

LIBRARY = 'library'
OPS = 'ops save/load'
HEADER = (
    '| workload | implementation | relation-get | relation-set | is-leader | other hook '
    'commands | bytes sent | median | spread (IQR) | library ÷ this | peak memory | status |'
)
RULE = '|' + '---|' * 12


def _time(seconds: float) -> str:
    if seconds < 1e-3:
        return f'{seconds * 1e6:.0f} µs'
    return f'{seconds * 1e3:.2f} ms'


def _spread(q1: float, q3: float) -> str:
    return f'{_time(q1)} to {_time(q3)}'


def _others(calls: dict[str, int]) -> str:
    main = ('relation-get', 'relation-set', 'is-leader')
    rest = sorted((cmd, n) for cmd, n in calls.items() if cmd not in main)
    return ', '.join(f'{cmd} {n}' for cmd, n in rest) or 'none'


def _cpu_status(library: Result, ops_result: Result) -> str:
    ratio = library.median / ops_result.median
    if ratio <= 1.0:
        return f'CPU {ratio:.2f}x ops: met'
    if ratio >= 1.5:
        return f'CPU {ratio:.2f}x ops: **defect** (target ≤ 1.0x)'
    within = ops_result.median >= library.quartiles[0]
    noise = ', within the spread' if within else ''
    return f'CPU {ratio:.2f}x ops: **missed**{noise} (target ≤ 1.0x)'


def _command_status(library: Result, hand: Result, floor: tuple[int, int]) -> str:
    gets, sets = library.calls.get('relation-get', 0), library.calls.get('relation-set', 0)
    leader = library.calls.get('is-leader', 0)
    problems: list[str] = []
    if gets > floor[0]:
        problems.append(f'{gets} relation-get (floor {floor[0]})')
    if sets > floor[1]:
        problems.append(f'{sets} relation-set (floor {floor[1]})')
    if leader > hand.calls.get('is-leader', 0):
        problems.append(f'{leader} is-leader (hand-written: {hand.calls.get("is-leader", 0)})')
    return 'commands at floor' if not problems else '**above floor**: ' + ', '.join(problems)


def _rows(results: Sequence[Result]) -> list[str]:
    rows: list[str] = []
    for workload in WORKLOADS:
        mine = {r.implementation: r for r in results if r.workload == workload.name}
        library = mine[LIBRARY]
        for label, result in mine.items():
            status = ''
            if label == LIBRARY:
                status = '; '.join(
                    [
                        _command_status(library, mine['hand-written'], workload.floor),
                        _cpu_status(library, mine[OPS]),
                    ]
                )
            memory = (
                f'{result.peak_memory / 2**20:.2f} MB' if result.peak_memory is not None else ''
            )
            rows.append(
                f'| {workload.name} | {label} | {result.calls.get("relation-get", 0)} '
                f'| {result.calls.get("relation-set", 0)} | {result.calls.get("is-leader", 0)} '
                f'| {_others(result.calls)} | {result.bytes_sent} | {_time(result.median)} '
                f'| {_spread(*result.quartiles)} | {library.median / result.median:.2f} '
                f'| {memory} | {status} |'
            )
    return rows


def _hook_rows(hooks: Sequence[HookResult]) -> list[str]:
    rows: list[str] = []
    for workload in dict.fromkeys(h.workload for h in hooks):
        mine = {h.implementation: h for h in hooks if h.workload == workload}
        host, twin = mine[HOST], mine[TWIN]
        for label in (TWIN, HOST):
            result = mine[label]
            status = ''
            if label == HOST:
                extra = host.median - twin.median
                if host.median <= twin.quartiles[1]:
                    status = f'{extra * 1e3:+.1f} ms vs the twin, within its spread: met'
                else:
                    status = f'{extra * 1e3:+.1f} ms vs the twin, beyond its spread: **missed**'
            rows.append(
                f'| {workload} | {label} | {result.calls.get("relation-get", 0)} '
                f'| {result.calls.get("relation-set", 0)} | {result.calls.get("is-leader", 0)} '
                f'| {_others(result.calls)} | {result.bytes_sent} | {_time(result.median)} '
                f'| {_spread(*result.quartiles)} | {host.median / result.median:.2f} '
                f'| | {status} |'
            )
    return rows


def _import_rows(times: tuple[list[float], list[float], list[float]]) -> list[str]:
    ops_times, library_times, cold_times = times
    ops_median = statistics.median(ops_times)
    rows: list[str] = []
    entries = (
        ('ops', ops_times, ''),
        ('library, after ops', library_times, 'target < 5 % of ops'),
        ('library, after ops, not yet compiled (first hook)', cold_times, 'for information'),
    )
    for label, values, target in entries:
        median = statistics.median(values)
        q1, _, q3 = statistics.quantiles(values, n=4)
        ratio = median / ops_median
        status = ''
        if target.startswith('target'):
            verdict = 'met' if ratio < 0.05 else '**missed**'
            status = f'{ratio * 100:.1f} % of ops: {verdict}'
        elif target:
            status = f'{ratio * 100:.1f} % of ops, {target}'
        library_ratio = statistics.median(library_times) / median
        rows.append(
            f'| import time (python -X importtime, {len(values)} runs) | {label} | | | | | '
            f'| {_time(median)} | {_spread(q1, q3)} | {library_ratio:.2f} | | {status} |'
        )
    return rows


def _bytes_note(results: Sequence[Result]) -> str:
    sent = {
        (r.workload, r.implementation): r.bytes_sent for r in results if 'change one' in r.workload
    }
    small = sent.get(('app state, 20 fields: change one', LIBRARY))
    large = sent.get(('app state, 200 fields: change one', LIBRARY))
    verdict = 'met' if small == large else '**missed**'
    return (
        f'- Bytes sent: changing one field sends {small} bytes with 20 fields and {large} '
        f'with 200, and nothing when nothing changed: they grow with the changed fields, not '
        f'with the state size ({verdict}).'
    )


def _misses(rows: Sequence[str]) -> list[str]:
    """One line per row whose status reports a missed target or a defect."""
    found: list[str] = []
    for row in rows:
        cells = [cell.strip() for cell in row.strip('|').split('|')]
        status = cells[-1]
        if '**' in status:
            found.append(f'- {cells[0]}: {status}')
    return found or ['- none']


def page(
    results: Sequence[Result],
    hooks: Sequence[HookResult],
    import_times: tuple[list[float], list[float], list[float]],
    elapsed: float,
) -> str:
    """docs/benchmarks.md."""
    rows = [*_rows(results), *_hook_rows(hooks), *_import_rows(import_times)]
    now = datetime.datetime.now(datetime.timezone.utc).strftime('%Y-%m-%d %H:%M UTC')
    machine = (
        f'{os.cpu_count()} cores, {platform.machine()}, {platform.system()} '
        f'{platform.release()}; Python {platform.python_version()}; ops {ops.__version__}'
    )
    lines = [
        '# Benchmarks',
        '',
        'The library against what charm authors write today, measured side by side in one run',
        'of `tox -e bench` (regenerate this page with it):',
        '',
        '- **hand-written**: the ops guide "How to manage stored state": a `json.dumps` per',
        '  key, `relation.data[app][key] = value` per key, plain `StoredState` attributes;',
        '- **ops save/load**: `Relation.save` and `Relation.load`; in the unit database, the',
        '  dataclass as JSON text in one `StoredState` attribute (`asdict`, `json.dumps`);',
        '- **library**: `PeerState` and `LocalState`.',
        '',
        f'Run on {now}: {machine}; the run took {elapsed:.0f} s.',
        '',
        HEADER,
        RULE,
        *rows,
        '',
        '## Targets missed in this run',
        '',
        *_misses(rows),
        '',
        '## How to read it',
        '',
        '- **Hook commands** and **bytes sent** are per hook. For the in-process rows they are',
        '  counted by the stand-in agent the in-process runs use (`bench/boundary.py`), which',
        '  answers the hook commands ops runs through `subprocess.run`; for the dispatched',
        '  rows, by the local model (`tests/localmodel`), which records every call a hook makes.',
        '  Bytes sent are the bytes of the `relation-set` input. "Other hook commands" lists the',
        '  rest; `juju-log` is one process per log line that reaches the root logger.',
        '- **median** and **spread** are CPU time per operation (`time.process_time`, each',
        '  repetition timed by `timeit` in a fresh hook: a new model with nothing cached, a new',
        '  framework and charm, a unit database holding what earlier hooks stored), the',
        '  implementations taking turns. For the dispatched rows they are the wall time of one',
        "  hook, measured around the local model's dispatch (a child process running",
        "  `./dispatch`, plus the model's own bookkeeping, the same for both charms). For the",
        '  import rows, the time `python -X importtime` reports.',
        "- **library ÷ this**: the library's median over this row's; above 1.00 the library",
        "  is slower. On the import rows, the library's import time over this row's.",
        '- **peak memory**: the most memory (tracemalloc) the operation held at once, above',
        '  what was held before it, with the 1 MB value itself already in memory.',
        '- "Change one" and "change nothing" read the whole state, change one field (or none)',
        '  and store the whole state back; LocalState "change one" does the same on a',
        '  20-field state in the unit database. "Unit records" reads every unit\'s record,',
        "  this unit's included, as a follower. '3 of them stored' is a young state: the",
        '  library never sends a field at its default, so most keys are absent.',
        '',
        '## Targets',
        '',
        '- Hook commands at the floor everywhere: one `relation-get` per databag read, no',
        '  `relation-set` when nothing changed, one per written databag, no more `is-leader`',
        '  than hand-written code (the status column of each library row).',
        _bytes_note(results),
        '- CPU per operation at most 1.0x ops `Relation.save`/`load` on the same schema;',
        '  1.5x or more is a defect (status column).',
        '- A dispatched hook of the host charm no slower than its hand-written twin beyond',
        '  noise (`bench/twin/charm.py`; status column of the host charm rows).',
        '- Library import under 5 % of the ops import (status column of the import rows).',
        '',
    ]
    return '\n'.join(lines)


if __name__ == '__main__':
    sys.exit('run python -m bench')
