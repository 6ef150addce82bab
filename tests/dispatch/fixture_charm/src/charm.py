#!/usr/bin/env python3
"""A plain ops charm for testing the local model: it reports what it sees and writes on request."""

from __future__ import annotations

import json
import subprocess

import ops


class FixtureCharm(ops.CharmBase):
    """Prints one JSON line per hook with what it sees; writes what the `write` action asks."""

    def __init__(self, framework: ops.Framework) -> None:
        super().__init__(framework)
        for name, event in self.on.events().items():
            if name.endswith('_action') or not issubclass(event.event_type, ops.HookEvent):
                continue
            framework.observe(event, self._on_hook)
        framework.observe(self.on.write_action, self._on_write)

    def _on_hook(self, event: ops.HookEvent) -> None:
        relation = self.model.get_relation('peers')
        seen: dict[str, object] = {'event': event.handle.kind, 'relation': relation is not None}
        if relation is not None:
            seen['units'] = sorted(unit.name for unit in relation.units)
            try:
                seen['app_data'] = dict(relation.data[self.app])
            except ops.ModelError as e:
                seen['app_data'] = f'error: {e}'.strip()
        print(json.dumps(seen))

        # A hook named by the config writes everywhere, then fails: nothing may remain.
        if relation is not None and self.config['fail-hook'] == event.handle.kind:
            relation.data[self.unit]['doomed'] = 'yes'
            subprocess.run(['state-set', 'doomed=yes'], check=True)
            raise RuntimeError('failing on purpose')

    def _on_write(self, event: ops.ActionEvent) -> None:
        target, key, value = event.params['target'], event.params['key'], event.params['value']
        relation = self.model.get_relation('peers')
        assert relation is not None
        try:
            if target == 'unit':
                relation.data[self.unit][key] = value
            elif target == 'app':
                relation.data[self.app][key] = value
            elif target == 'other-unit':
                other = next(iter(relation.units))
                relation.data[other][key] = value
            elif target == 'raw-app':
                # Past ops' own leader check, straight to Juju.
                subprocess.run(
                    ['relation-set', '-r', f'peers:{relation.id}', '--app', f'{key}={value}'],
                    check=True,
                    capture_output=True,
                    text=True,
                )
            else:
                subprocess.run(['state-set', f'{key}={value}'], check=True)
        except ops.RelationDataError as e:
            event.fail(f'{type(e).__name__}: {e}')
            return
        except subprocess.CalledProcessError as e:
            event.fail(e.stderr.strip())
            return

        event.set_results({'written': key})
        if event.params['raise']:
            raise RuntimeError('failing on purpose')


if __name__ == '__main__':
    ops.main(FixtureCharm)
