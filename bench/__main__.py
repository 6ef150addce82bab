"""Run every benchmark and write the results to docs/benchmarks.md: ``python -m bench``."""

from __future__ import annotations

import argparse
import time

from bench import dispatch, imports, inprocess, report
from bench.implementations import IMPLEMENTATIONS


def main() -> None:
    """Measure, print the table, and write the page."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument('--budget', type=float, default=4.0, help='CPU seconds per workload')
    parser.add_argument('--dispatches', type=int, default=20, help='hooks per charm and unit')
    parser.add_argument('--imports', type=int, default=7, help='interpreters per import')
    parser.add_argument('--output', default=str(inprocess.ROOT / 'docs' / 'benchmarks.md'))
    args = parser.parse_args()
    started = time.monotonic()

    results: list[inprocess.Result] = []
    for workload in inprocess.WORKLOADS:
        results.extend(
            inprocess.measure(
                workload, IMPLEMENTATIONS, budget=args.budget, min_reps=30, max_reps=3000
            )
        )
        print(f'measured {workload.name}', flush=True)
    hooks = dispatch.measure(args.dispatches)
    print('measured dispatched hooks', flush=True)
    import_times = imports.measure(args.imports)
    print('measured import times', flush=True)

    page = report.page(results, hooks, import_times, time.monotonic() - started)
    with open(args.output, 'w') as f:
        f.write(page)
    print(page)


if __name__ == '__main__':
    main()
