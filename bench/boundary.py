"""A stand-in for the Juju agent at the process boundary, for in-process timing.

ops runs every hook command through ``subprocess.run`` in ``ops.hookcmds``. Answering
those calls from dicts keeps every line of ops and of the library in the measurement
(argument building, JSON of the command's input and output, caching, validation) and
takes only the subprocesses out of it.
"""

from __future__ import annotations

import collections
import dataclasses
import json
import subprocess
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from ops.hookcmds import _utils as hookcmd_utils

APP = 'state-helpers'
RELATION = 'cluster'
RELATION_ID = 1


@dataclasses.dataclass
class World:
    """The model as one unit sees it: its leadership, its peers and their databags.

    Each databag's ``relation-get`` answer is kept as JSON text beside the data, so that
    serving a read costs the stand-in nothing it would not cost the real agent.
    """

    unit: str
    leader: bool
    databags: dict[str, dict[str, str]]  # 'app' or a unit name: the databag
    calls: collections.Counter[str] = dataclasses.field(default_factory=collections.Counter)
    bytes_sent: int = 0
    _texts: dict[str, str] = dataclasses.field(default_factory=dict)

    def copy(self) -> World:
        """A fresh world with the same data and no calls, for the next repetition."""
        databags = {name: dict(data) for name, data in self.databags.items()}
        world = World(self.unit, self.leader, databags)
        world._texts = dict(self._texts)
        return world

    def answer(self, args: Sequence[str], stdin: str | None) -> str:
        """The stdout of one hook command."""
        command = args[0]
        self.calls[command] += 1
        if command == 'relation-ids':
            return json.dumps([f'{RELATION}:{RELATION_ID}'])
        if command == 'relation-list':
            if '--app' in args:
                return json.dumps(APP)
            others = [name for name in self.databags if name not in ('app', self.unit)]
            return json.dumps(others)
        if command == 'relation-get':
            name = 'app' if '--app' in args else args[-1]
            text = self._texts.get(name)
            if text is None:
                text = self._texts[name] = json.dumps(self.databags.get(name, {}))
            return text
        if command == 'relation-set':
            assert stdin is not None
            self.bytes_sent += len(stdin.encode())
            name = 'app' if '--app' in args else self.unit
            databag = self.databags.setdefault(name, {})
            for key, value in json.loads(stdin).items():
                if value == '':
                    databag.pop(key, None)
                else:
                    databag[key] = value
            self._texts.pop(name, None)
            return ''
        if command == 'is-leader':
            return json.dumps(self.leader)
        if command == 'juju-log':
            return ''
        raise NotImplementedError(f'the stand-in agent does not answer {command}')


_current: list[World] = []


def _run(args: Sequence[str], **kwargs: Any) -> subprocess.CompletedProcess[str]:
    stdout = _current[-1].answer(args, kwargs.get('input'))
    return subprocess.CompletedProcess(list(args), 0, stdout=stdout, stderr='')


class _Subprocess:
    """What ``ops.hookcmds`` uses of the subprocess module, answered by the world."""

    run = staticmethod(_run)
    CalledProcessError = subprocess.CalledProcessError


def use(world: World) -> None:
    """Answer hook commands from ``world`` from now on, inside ``serving``."""
    _current[-1] = world


@contextmanager
def serving(world: World) -> Iterator[World]:
    """Answer every hook command ops runs from ``world``, for the ``with`` block."""
    original = hookcmd_utils.subprocess
    hookcmd_utils.subprocess = _Subprocess  # type: ignore[assignment]
    _current.append(world)
    try:
        yield world
    finally:
        _current.pop()
        hookcmd_utils.subprocess = original
