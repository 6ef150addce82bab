"""The hook commands of the local model: one script, installed under every command's name.

The local model copies this file into its `bin/` directory with a shebang that runs the
current interpreter with `-S -E`, and links every hook command name to the copy. A charm
runs a hook command as a child process and waits for it, so this script imports nothing
beyond json, os, sys and fcntl: no site-packages, no YAML unless a charm sends YAML.

Everything a command needs is in the hook's context file (`$LOCALMODEL_CONTEXT`), which the
model writes before it dispatches a hook and reads back when the hook ends. A command takes
the file's lock, reads it, does its work, records the call, and writes the file back. Writes
(relation-set, state-set, status-set, action-set...) are staged in the context file; the
model applies them only when the hook exits 0.

Arguments and output follow the Juju hook-command reference: flags may come before or after
the positional arguments, `--` ends the flags, `--format=json` gives JSON, and the default
format (yaml or smart) is printed as JSON text, which is also valid YAML. An unknown command
or flag exits 2 with an `ERROR` line on stderr, as Juju's command parser does.
"""

from __future__ import annotations

import fcntl
import json
import os
import sys

# The model rewrites this line in the installed copy: where a YAML parser can be found when
# a charm sends YAML (ops 2 does, for relation-set --file).
SITE_PACKAGES = ''


class HookCommandError(Exception):
    """A hook command failure: printed as `ERROR <message>` on stderr."""

    def __init__(self, message: str, code: int = 1) -> None:
        super().__init__(message)
        self.code = code


# Per command: flags that take a value, flags that take none, and the largest number of
# positional arguments (None: any number).
SPECS: dict[str, tuple[frozenset[str], frozenset[str], int | None]] = {
    'relation-ids': (frozenset({'--format'}), frozenset(), 1),
    'relation-list': (frozenset({'--format', '-r', '--relation'}), frozenset({'--app'}), 0),
    'relation-get': (frozenset({'--format', '-r', '--relation'}), frozenset({'--app'}), 2),
    'relation-set': (
        frozenset({'--format', '-r', '--relation', '--file'}),
        frozenset({'--app'}),
        None,
    ),
    'is-leader': (frozenset({'--format'}), frozenset(), 0),
    'juju-log': (frozenset({'--log-level', '-l', '--format'}), frozenset({'--debug'}), None),
    'status-set': (frozenset(), frozenset({'--application'}), 2),
    'status-get': (frozenset({'--format'}), frozenset({'--include-data', '--application'}), 1),
    'application-version-set': (frozenset(), frozenset(), 1),
    'config-get': (frozenset({'--format'}), frozenset({'--all', '-a'}), 1),
    'state-get': (frozenset({'--format'}), frozenset({'--strict'}), 1),
    'state-set': (frozenset({'--file'}), frozenset(), None),
    'state-delete': (frozenset(), frozenset(), 1),
    'action-get': (frozenset({'--format'}), frozenset(), 1),
    'action-set': (frozenset(), frozenset(), None),
    'action-log': (frozenset(), frozenset(), None),
    'action-fail': (frozenset(), frozenset(), 1),
    'goal-state': (frozenset({'--format'}), frozenset(), 0),
    'network-get': (
        frozenset({'--format', '-r', '--relation'}),
        frozenset(
            {'--primary-address', '--bind-address', '--egress-subnets', '--ingress-address'}
        ),
        1,
    ),
}

ACTION_COMMANDS = frozenset({'action-get', 'action-set', 'action-log', 'action-fail'})
TRUE_WORDS = frozenset({'true', 'True', 'TRUE', '1', 't', 'T'})
FALSE_WORDS = frozenset({'false', 'False', 'FALSE', '0', 'f', 'F'})


def parse(cmd: str, argv: list[str]) -> tuple[dict[str, str], list[str]]:
    """Split a command line into flags and positional arguments, as Juju's parser does.

    Returns:
        The flags by name (a flag without a value maps to 'true') and the positionals.

    Raises:
        HookCommandError: for an unknown flag, a missing flag value, or extra arguments.
    """
    valued, boolean, max_positional = SPECS[cmd]
    flags: dict[str, str] = {}
    positional: list[str] = []
    i = 0
    while i < len(argv):
        arg = argv[i]
        i += 1
        if arg == '--':
            positional.extend(argv[i:])
            break
        if not arg.startswith('-') or arg == '-':
            positional.append(arg)
            continue

        name, has_value, value = arg.partition('=')
        if name in valued:
            if not has_value:
                if i >= len(argv):
                    raise HookCommandError(f'flag needs an argument: {name}', 2)
                value = argv[i]
                i += 1
            flags[name] = value
        elif name in boolean:
            if has_value and value not in TRUE_WORDS | FALSE_WORDS:
                raise HookCommandError(f'invalid value "{value}" for flag {name}', 2)
            flags[name] = 'false' if value in FALSE_WORDS else 'true'
        else:
            raise HookCommandError(f'option provided but not defined: {name}', 2)

    if max_positional is not None and len(positional) > max_positional:
        raise HookCommandError(f'unrecognized args: {json.dumps(positional[max_positional:])}', 2)
    return flags, positional


def output(flags: dict[str, str], value: object) -> str:
    """Format a command's result; JSON text serves the yaml and smart formats too."""
    fmt = flags.get('--format', 'smart')
    if fmt not in ('json', 'yaml', 'smart'):
        raise HookCommandError(f'invalid value "{fmt}" for option --format', 2)
    if fmt == 'smart' and isinstance(value, str):
        return value + '\n'
    return json.dumps(value) + '\n'


def load_mapping(text: str) -> dict[str, object]:
    """Read the YAML or JSON mapping a charm sends on stdin (`--file -`)."""
    try:
        data = json.loads(text) if text.strip() else {}
    except ValueError:
        # Only charms that send YAML (ops 2) pay for importing a YAML parser.
        if SITE_PACKAGES:
            sys.path.append(SITE_PACKAGES)
        import yaml

        data = yaml.safe_load(text) or {}
    if not isinstance(data, dict):
        raise HookCommandError('expected a YAML map of settings')
    return data


def read_settings(flags: dict[str, str], positional: list[str]) -> dict[str, str]:
    """The key=value settings of relation-set or state-set, from the arguments and --file."""
    settings: dict[str, object] = {}
    if '--file' in flags:
        path = flags['--file']
        if path == '-':
            text = sys.stdin.read()
        else:
            with open(path, encoding='utf-8') as file:
                text = file.read()
        settings.update(load_mapping(text))
    for arg in positional:
        key, sep, value = arg.partition('=')
        if not sep or not key:
            raise HookCommandError(f'expected "key=value", got "{arg}"', 2)
        settings[key] = value

    for key, value in settings.items():
        if not isinstance(value, str):
            raise HookCommandError(f'cannot set "{key}": value is not a string')
    return settings  # type: ignore[return-value]


def relation_of(ctx: dict, flags: dict[str, str]) -> str:
    """The relation id a command names with -r, or the hook's own relation."""
    ref = flags.get('-r', flags.get('--relation', ''))
    if not ref:
        ref = ctx['env'].get('JUJU_RELATION_ID', '')
        if not ref:
            raise HookCommandError('no relation id specified', 2)
    endpoint, _, number = ref.rpartition(':')
    rel = ctx['relations'].get(number)
    if rel is None or (endpoint and endpoint != rel['endpoint']):
        raise HookCommandError(f'invalid value "{ref}" for option -r: relation not found', 2)
    return number


def databag(ctx: dict, rid: str, bag: str) -> dict[str, str]:
    """A databag as this unit sees it now: committed data with this hook's writes on top."""
    data = dict(ctx['relations'][rid]['data'].get(bag, {}))
    for key, value in ctx['staged']['relations'].get(rid, {}).get(bag, {}).items():
        if value == '':
            data.pop(key, None)
        else:
            data[key] = value
    return data


def require_data_access(ctx: dict, rid: str) -> None:
    """Refuse relation data where Juju does: a relation listed in install, before it is joined."""
    if ctx['relations'][rid]['access'] == 'denied':
        raise HookCommandError('permission denied')


def cmd_relation_ids(ctx: dict, flags: dict[str, str], args: list[str]) -> str:
    if not args:
        raise HookCommandError('no endpoint name specified', 2)
    ids = [
        f'{rel["endpoint"]}:{rid}'
        for rid, rel in ctx['relations'].items()
        if rel['endpoint'] == args[0]
    ]
    return output(flags, ids)


def cmd_relation_list(ctx: dict, flags: dict[str, str], args: list[str]) -> str:
    rel = ctx['relations'][relation_of(ctx, flags)]
    if flags.get('--app') == 'true':
        return output(flags, rel['remote_app'])
    return output(flags, rel['members'])


def cmd_relation_get(ctx: dict, flags: dict[str, str], args: list[str]) -> str:
    rid = relation_of(ctx, flags)
    require_data_access(ctx, rid)
    rel = ctx['relations'][rid]
    key = args[0] if args else '-'
    unit = args[1] if len(args) > 1 else ctx['env'].get('JUJU_REMOTE_UNIT', '')
    if flags.get('--app') == 'true':
        unit = unit.split('/')[0] if unit else ctx['env'].get('JUJU_REMOTE_APP', '')
    if not unit:
        raise HookCommandError('no unit or application specified', 2)

    # A unit outside the relation's scope has no settings to read.
    if unit not in rel['data']:
        raise HookCommandError(
            f'cannot read settings for unit "{unit}" in relation "{rel["key"]}": '
            f'unit "{unit}": settings not found'
        )
    # Only the leader reads its own application's databag, except on a peer relation.
    if unit == ctx['app'] and not rel['peer'] and not ctx['leader']:
        raise HookCommandError('permission denied')

    data = databag(ctx, rid, unit)
    return output(flags, data if key == '-' else data.get(key, ''))


def cmd_relation_set(ctx: dict, flags: dict[str, str], args: list[str]) -> str:
    rid = relation_of(ctx, flags)
    settings = read_settings(flags, args)
    require_data_access(ctx, rid)
    app = flags.get('--app') == 'true'
    if app and not ctx['leader']:
        raise HookCommandError('permission denied')

    bag = ctx['app'] if app else ctx['unit']
    staged = ctx['staged']['relations'].setdefault(rid, {}).setdefault(bag, {})
    staged.update(settings)
    return ''


def cmd_is_leader(ctx: dict, flags: dict[str, str], args: list[str]) -> str:
    return output(flags, ctx['leader'])


def cmd_juju_log(ctx: dict, flags: dict[str, str], args: list[str]) -> str:
    level = flags.get('--log-level', flags.get('-l', 'INFO'))
    ctx['staged']['log'].append([level, ' '.join(args)])
    return ''


def cmd_status_set(ctx: dict, flags: dict[str, str], args: list[str]) -> str:
    if not args:
        raise HookCommandError('invalid args, require <status> [message] [data]', 2)
    if args[0] not in ('maintenance', 'blocked', 'waiting', 'active'):
        raise HookCommandError(f'invalid status "{args[0]}"', 2)
    app = flags.get('--application') == 'true'
    if app and not ctx['leader']:
        raise HookCommandError('this unit is not the leader')

    ctx['staged']['status']['app' if app else 'unit'] = [args[0], args[1] if len(args) > 1 else '']
    return ''


def cmd_status_get(ctx: dict, flags: dict[str, str], args: list[str]) -> str:
    app = flags.get('--application') == 'true'
    if app and not ctx['leader']:
        raise HookCommandError('finding service status: this unit is not the leader')
    which = 'app' if app else 'unit'
    status, message = ctx['staged']['status'].get(which) or ctx['status'][which]
    if flags.get('--include-data') != 'true':
        return output(flags, status)

    record = {'status': status, 'message': message, 'status-data': {}}
    if app:
        record['units'] = {}
        return output(flags, {'application-status': record})
    return output(flags, record)


def cmd_application_version_set(ctx: dict, flags: dict[str, str], args: list[str]) -> str:
    if not args:
        raise HookCommandError('no version specified', 2)
    ctx['staged']['version'] = args[0]
    return ''


def cmd_config_get(ctx: dict, flags: dict[str, str], args: list[str]) -> str:
    if args:
        return output(flags, ctx['config'].get(args[0]))
    return output(flags, ctx['config'])


def server_state(ctx: dict) -> dict[str, str]:
    """The unit's server-side state as this hook sees it."""
    state = dict(ctx['server_state'])
    for key, value in ctx['staged']['server_state'].items():
        if value is None:
            state.pop(key, None)
        else:
            state[key] = value
    return state


def cmd_state_get(ctx: dict, flags: dict[str, str], args: list[str]) -> str:
    state = server_state(ctx)
    if not args:
        return output(flags, state)
    if args[0] not in state:
        if flags.get('--strict') == 'true':
            raise HookCommandError(f'"{args[0]}" not found')
        return ''
    return output(flags, state[args[0]])


def cmd_state_set(ctx: dict, flags: dict[str, str], args: list[str]) -> str:
    ctx['staged']['server_state'].update(read_settings(flags, args))
    return ''


def cmd_state_delete(ctx: dict, flags: dict[str, str], args: list[str]) -> str:
    if not args:
        raise HookCommandError('no key specified', 2)
    ctx['staged']['server_state'][args[0]] = None
    return ''


def require_action(ctx: dict, cmd: str) -> None:
    """Action commands work only while an action runs, as in Juju."""
    if not ctx['env'].get('JUJU_ACTION_NAME'):
        raise HookCommandError(f'"{cmd}" is only available in actions')


def cmd_action_get(ctx: dict, flags: dict[str, str], args: list[str]) -> str:
    require_action(ctx, 'action-get')
    params = ctx['action']['params']
    if args:
        return output(flags, params.get(args[0]))
    return output(flags, params)


def cmd_action_set(ctx: dict, flags: dict[str, str], args: list[str]) -> str:
    require_action(ctx, 'action-set')
    results = ctx['staged']['action']['results']
    for arg in args:
        key, sep, value = arg.partition('=')
        if not sep or not key:
            raise HookCommandError(f'argument "{arg}" must be of the form key...=value', 2)
        *parents, leaf = key.split('.')
        node = results
        for parent in parents:
            node = node.setdefault(parent, {})
        node[leaf] = value
    return ''


def cmd_action_log(ctx: dict, flags: dict[str, str], args: list[str]) -> str:
    require_action(ctx, 'action-log')
    ctx['staged']['action']['log'].append(' '.join(args))
    return ''


def cmd_action_fail(ctx: dict, flags: dict[str, str], args: list[str]) -> str:
    require_action(ctx, 'action-fail')
    ctx['staged']['action']['failed'] = args[0] if args else 'action failed without reason given'
    return ''


def cmd_goal_state(ctx: dict, flags: dict[str, str], args: list[str]) -> str:
    return output(flags, ctx['goal_state'])


def cmd_network_get(ctx: dict, flags: dict[str, str], args: list[str]) -> str:
    if not args:
        raise HookCommandError('no endpoint specified', 2)
    if args[0] not in ctx['bindings']:
        raise HookCommandError(f'no network config found for binding "{args[0]}"')
    if flags.get('-r') or flags.get('--relation'):
        relation_of(ctx, flags)

    address = ctx['address']
    network = {
        'bind-addresses': [
            {
                'mac-address': '',
                'interface-name': 'eth0',
                'addresses': [{'hostname': '', 'value': address, 'cidr': ctx['cidr']}],
                'macaddress': '',
                'interfacename': 'eth0',
            }
        ],
        'egress-subnets': [f'{address}/32'],
        'ingress-addresses': [address],
    }
    return output(flags, network)


def main() -> int:
    """Run the hook command named by argv[0] against the hook's context file."""
    cmd = os.path.basename(sys.argv[0])
    handler = globals().get('cmd_' + cmd.replace('-', '_'))
    if cmd not in SPECS or handler is None:
        sys.stderr.write(f'ERROR unknown hook command: {cmd}\n')
        return 2

    path = os.environ.get('LOCALMODEL_CONTEXT', '')
    if not path:
        sys.stderr.write(f'ERROR {cmd}: not running inside a local model hook\n')
        return 2
    with open(path, 'r+', encoding='utf-8') as f:
        fcntl.flock(f, fcntl.LOCK_EX)
        ctx = json.load(f)
        call = {'cmd': cmd, 'args': sys.argv[1:]}
        ctx['calls'].append(call)
        try:
            flags, args = parse(cmd, sys.argv[1:])
            if cmd in ACTION_COMMANDS:
                require_action(ctx, cmd)
            if cmd == 'relation-set':
                # Read stdin here so the call record can count the bytes sent.
                stdin = sys.stdin.read() if flags.get('--file') == '-' else ''
                call['bytes'] = len(stdin.encode()) + sum(len(a.encode()) for a in args)
                sys.stdin = _Text(stdin)
            out = handler(ctx, flags, args)
            code = 0
        except HookCommandError as e:
            call['error'] = str(e)
            out, code = '', e.code
            sys.stderr.write(f'ERROR {e}\n')

        call['exit'] = code
        f.seek(0)
        f.truncate()
        json.dump(ctx, f)
    sys.stdout.write(out)
    return code


class _Text:
    """Stdin already read, offered again to the command that reads it."""

    def __init__(self, text: str) -> None:
        self.text = text

    def read(self) -> str:
        return self.text


if __name__ == '__main__':
    sys.exit(main())
