"""Properties over generated values: round trips, minimal writes, ops save/load, refusals."""

from __future__ import annotations

import dataclasses
import enum
import functools
import json
import math
from collections.abc import Callable
from typing import Any, Literal

import hypothesis.strategies as st
import ops
import pydantic
import pytest
from charms.state_helpers.v0.state import (
    InvalidStateError,
    decode,
    decode_local,
    encode,
    encode_local,
)
from hypothesis import HealthCheck, given, settings
from ops import testing
from scaffold import (
    JUJU_UNIT_DATA,
    JUJU_UNIT_KEYS,
    PEER_WHERES,
    WHERES,
    Hook,
    Spy,
    helper,
    raw,
)


def examples(count: int) -> settings:
    """The same examples on every run (CI must be reproducible), and no database on disk."""
    return settings(
        max_examples=count,
        deadline=None,
        derandomize=True,
        database=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    )


# ---------------------------------------------------------------------------------------
# Schemas: every field type the library supports, nested and in containers.


class Colour(enum.Enum):
    RED = 'red'
    BLUE = 'blue'


class Level(enum.Enum):
    # One member of each value type an Enum may be stored by.
    LOW = 1
    HALF = 2.5
    OFF = None
    NAMED = 'named'


@dataclasses.dataclass
class Inner:
    host: str = ''
    port: int = 0
    weight: float = 0.0
    tags: list[str] = dataclasses.field(default_factory=list)
    up: bool | None = None


@dataclasses.dataclass
class Rich:
    text: str = ''
    count: int = 0
    ratio: float = 0.0
    flag: bool = False
    nothing: None = None
    maybe: int | None = None
    number: int | float = 0
    mode: Literal['a', 'b', 1, True, None] = 'a'
    colour: Colour = Colour.RED
    level: Level = Level.LOW
    inner: Inner = dataclasses.field(default_factory=Inner)
    maybe_inner: Inner | None = None
    numbers: list[int] = dataclasses.field(default_factory=list)
    inners: list[Inner] = dataclasses.field(default_factory=list)
    weights: dict[str, float] = dataclasses.field(default_factory=dict)
    groups: dict[str, list[str | None]] = dataclasses.field(default_factory=dict)
    anything: Any = None
    db_host: str = dataclasses.field(default='', metadata={'alias': 'db-host'})


RICH_KEYS = [f.metadata.get('alias', f.name) for f in dataclasses.fields(Rich)]


class InnerModel(pydantic.BaseModel):
    host: str = ''
    port: int = 0
    weight: float = 0.0


class RichModel(pydantic.BaseModel):
    text: str = ''
    count: int = 0
    ratio: float = 0.0
    flag: bool = False
    maybe: int | None = None
    mode: Literal['a', 'b', 1, True, None] = 'a'
    colour: Colour = Colour.RED
    inner: InnerModel = InnerModel()
    numbers: list[int] = []
    weights: dict[str, float] = {}
    anything: Any = None
    db_host: str = pydantic.Field(default='', alias='db-host')


MODEL_KEYS = [info.alias or name for name, info in RichModel.model_fields.items()]


@dataclasses.dataclass
class Plain:
    """Only field types that ops Relation.save and Relation.load carry unchanged."""

    text: str = ''
    count: int = 0
    ratio: float = 0.0
    flag: bool = False
    maybe: int | None = None
    mode: Literal['a', 'b', 1, True, None] = 'a'
    names: list[str] = dataclasses.field(default_factory=list)
    table: dict[str, list[int]] = dataclasses.field(default_factory=dict)
    anything: Any = None
    db_host: str = dataclasses.field(default='', metadata={'alias': 'db-host'})


# ---------------------------------------------------------------------------------------
# Strategies


# Surrogates cannot be encoded as UTF-8, so Juju could never hold them.
TEXT = st.text(st.characters(exclude_categories=['Cs']), max_size=8)
# A few fixed keys, so that two generated dicts share keys often enough to compare them.
KEYS = st.sampled_from(['a', 'b', 'port', 'db-host']) | TEXT
INTS = (
    st.integers(-1000, 1000)
    | st.integers(-(2**64), 2**64)
    | st.integers(-(10**400), 10**400)
    | st.sampled_from([2**53, 2**53 + 1, -(2**63)])
)
FLOATS = st.floats(allow_nan=False, allow_infinity=False) | st.sampled_from(
    [-0.0, 0.0, 1e308, -1e308, 1.7976931348623157e308, 5e-324, 0.1, 1.0]
)
JSON = st.recursive(
    st.none() | st.booleans() | INTS | FLOATS | TEXT,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(KEYS, inner, max_size=3),
    max_leaves=10,
)

INNERS = st.builds(
    Inner,
    host=TEXT,
    port=INTS,
    weight=FLOATS,
    tags=st.lists(TEXT, max_size=3),
    up=st.none() | st.booleans(),
)
RICHES = st.builds(
    Rich,
    text=TEXT,
    count=INTS,
    ratio=FLOATS,
    flag=st.booleans(),
    nothing=st.none(),
    maybe=st.none() | INTS,
    number=INTS | FLOATS,
    mode=st.sampled_from(['a', 'b', 1, True, None]),
    colour=st.sampled_from(Colour),
    level=st.sampled_from(Level),
    inner=INNERS,
    maybe_inner=st.none() | INNERS,
    numbers=st.lists(INTS, max_size=3),
    inners=st.lists(INNERS, max_size=2),
    weights=st.dictionaries(KEYS, FLOATS, max_size=3),
    groups=st.dictionaries(KEYS, st.lists(st.none() | TEXT, max_size=2), max_size=2),
    anything=JSON,
    db_host=TEXT,
)
MODELS = st.builds(
    lambda fields: RichModel.model_validate(fields),
    st.fixed_dictionaries(
        {
            'text': TEXT,
            'count': INTS,
            'ratio': FLOATS,
            'flag': st.booleans(),
            'maybe': st.none() | INTS,
            'mode': st.sampled_from(['a', 'b', 1, True, None]),
            'colour': st.sampled_from(Colour),
            'inner': st.builds(InnerModel, host=TEXT, port=INTS, weight=FLOATS),
            'numbers': st.lists(INTS, max_size=3),
            'weights': st.dictionaries(KEYS, FLOATS, max_size=3),
            'anything': JSON,
            'db-host': TEXT,
        }
    ),
)
PLAINS = st.builds(
    Plain,
    text=TEXT,
    count=INTS,
    ratio=FLOATS,
    flag=st.booleans(),
    maybe=st.none() | INTS,
    mode=st.sampled_from(['a', 'b', 1, True, None]),
    names=st.lists(TEXT, max_size=3),
    table=st.dictionaries(KEYS, st.lists(INTS, max_size=2), max_size=2),
    anything=JSON,
    db_host=TEXT,
)


def untyped(where: str) -> st.SearchStrategy[dict[str, Any]]:
    """Untyped state: top-level keys are databag keys, which Juju needs non-empty."""
    keys = KEYS.filter(bool)
    if where == 'unit':
        # Juju writes these into every unit databag; they are refused as state there.
        keys = keys.filter(lambda key: key not in JUJU_UNIT_KEYS)
    return st.dictionaries(keys, JSON, max_size=5)


# Each schema with the values to generate for it; None is untyped state.
SCHEMAS: dict[str, tuple[type[Any] | None, Callable[[str], st.SearchStrategy[Any]]]] = {
    'dataclass': (Rich, lambda where: RICHES),
    'pydantic': (RichModel, lambda where: MODELS),
    'untyped': (None, untyped),
}


# ---------------------------------------------------------------------------------------
# Comparing values


def identical(a: Any, b: Any, *, numbers_as_json: bool = False) -> bool:
    """Equal, and of the same types all the way down: 1 is not 1.0 here, -0.0 is not 0.0.

    With numbers_as_json, numbers compare as JSON numbers (1 is 1.0, -0.0 is 0.0): a helper
    writes only what changed by JSON value, so it may keep a stored number's other spelling.
    """
    same = functools.partial(identical, numbers_as_json=numbers_as_json)
    if numbers_as_json and type(a) in (int, float) and type(b) in (int, float):
        return a == b
    if type(a) is not type(b):
        return False
    if dataclasses.is_dataclass(a):
        return all(same(getattr(a, f.name), getattr(b, f.name)) for f in dataclasses.fields(a))
    if isinstance(a, pydantic.BaseModel):
        return all(same(getattr(a, name), getattr(b, name)) for name in type(a).model_fields)
    if isinstance(a, float):
        return a == b and math.copysign(1.0, a) == math.copysign(1.0, b)
    if isinstance(a, list):
        return len(a) == len(b) and all(map(same, a, b))
    if isinstance(a, dict):
        return a.keys() == b.keys() and all(same(v, b[k]) for k, v in a.items())
    return a == b


def same_json(a: Any, b: Any) -> bool:
    """Whether two JSON values are one JSON value: 1 is 1.0, but True is not 1."""
    numbers = (int, float)
    if type(a) in numbers and type(b) in numbers:
        return a == b
    if type(a) is not type(b):
        return False
    if isinstance(a, list):
        return len(a) == len(b) and all(map(same_json, a, b))
    if isinstance(a, dict):
        return a.keys() == b.keys() and all(same_json(v, b[k]) for k, v in a.items())
    return a == b


def json_values(value: Any) -> dict[str, Any]:
    """A value's JSON value by databag key, as another reader of the databag sees it."""
    return {key: json.loads(text) for key, text in encode(value).items()}


def twin(value: Any) -> Any:
    """The same JSON value with its numbers retyped: ints as floats, whole floats as ints."""
    if type(value) is int and abs(value) <= 2**53:
        return float(value)
    if type(value) is float and value.is_integer() and abs(value) <= 2**53:
        return int(value)
    if isinstance(value, list):
        return [twin(item) for item in value]
    if isinstance(value, dict):
        return {key: twin(item) for key, item in value.items()}
    return value


def boolean_as_int(value: Any) -> Any:
    """Another JSON value: every bool becomes the int Python says it equals."""
    if type(value) is bool:
        return int(value)
    if isinstance(value, list):
        return [boolean_as_int(item) for item in value]
    if isinstance(value, dict):
        return {key: boolean_as_int(item) for key, item in value.items()}
    return value


# ---------------------------------------------------------------------------------------
# Running helpers in hooks


def peer_state(where: str, texts: dict[str, str] | None = None) -> testing.State:
    """A State whose peer databag at `where` holds `texts`, as Juju stores them."""
    texts = texts or {}
    if where == 'app':
        relation = testing.PeerRelation('peers', local_app_data=texts)
    else:
        relation = testing.PeerRelation('peers', local_unit_data={**JUJU_UNIT_DATA, **texts})
    return testing.State(leader=True, relations={relation})


def empty_state(where: str) -> testing.State:
    return peer_state('app') if where == 'local' else peer_state(where)


def peer_texts(out: testing.State, where: str) -> dict[str, str]:
    """The peer databag at `where` as text, Juju's unit keys left out."""
    (relation,) = [r for r in out.relations if r.endpoint == 'peers']
    assert isinstance(relation, testing.PeerRelation)
    data = relation.local_app_data if where == 'app' else relation.local_unit_data
    return {key: text for key, text in data.items() if key not in JUJU_UNIT_KEYS}


def entity(charm: ops.CharmBase, where: str) -> ops.Application | ops.Unit:
    return charm.app if where == 'app' else charm.unit


def peers(charm: ops.CharmBase) -> ops.Relation:
    relation = charm.model.get_relation('peers')
    assert relation is not None
    return relation


# ---------------------------------------------------------------------------------------
# 1. Round trips


@examples(150)
@given(value=RICHES)
def test_encode_then_decode_gives_the_value_back(value: Rich):
    assert identical(decode(Rich, encode(value)), value)


@examples(80)
@given(value=MODELS)
def test_encode_then_decode_gives_a_pydantic_value_back(value: RichModel):
    assert identical(decode(RichModel, encode(value)), value)


@examples(120)
@given(value=untyped('app'))
def test_encode_then_decode_gives_untyped_state_back(value: dict[str, Any]):
    assert identical(decode(None, encode(value)), value)


@pytest.mark.parametrize('schema_id', list(SCHEMAS))
@pytest.mark.parametrize('where', PEER_WHERES)
@examples(20)
@given(data=st.data())
def test_peer_state_set_then_get_in_the_next_hook(where: str, schema_id: str, data: st.DataObject):
    schema, values = SCHEMAS[schema_id]
    value = data.draw(values(where))
    hook = Hook(Spy())
    build = functools.partial(helper, where=where, schema=schema)

    written = hook(build, lambda h: h.set(value), peer_state(where))
    assert written.error is None

    # From the defaults, 0 where the default is 0.0 is no change by JSON value, so not sent.
    read = hook(build, lambda h: h.get(), written.out)
    assert read.error is None
    assert identical(read.value, value, numbers_as_json=True)


@pytest.mark.parametrize('schema_id', list(SCHEMAS))
@examples(20)
@given(data=st.data())
def test_local_state_round_trips(schema_id: str, data: st.DataObject):
    schema, values = SCHEMAS[schema_id]
    value = data.draw(values('local'))
    hook = Hook(Spy())
    build = functools.partial(helper, where='local', schema=schema)

    # What encode_local seeds, get() reads.
    seeded = testing.State(stored_states={encode_local('state', value)})
    assert identical(hook(build, lambda h: h.get(), seeded).value, value)

    # What set() stores, decode_local and the next hook's get() read; from the defaults, 0
    # where the default is 0.0 is no change by JSON value, so not stored.
    written = hook(build, lambda h: h.set(value), testing.State())
    assert written.error is None
    assert identical(decode_local(written.out, 'state', schema), value, numbers_as_json=True)
    read = hook(build, lambda h: h.get(), written.out)
    assert identical(read.value, value, numbers_as_json=True)


# ---------------------------------------------------------------------------------------
# 2. Minimal writes


@st.composite
def typed_pairs(draw: st.DrawFn, values: st.SearchStrategy[Any]) -> tuple[Any, Any]:
    """Two values that share some fields: b takes each field from a, a retyping, or c."""
    a, c = draw(values), draw(values)
    if isinstance(a, pydantic.BaseModel):
        names = list(type(a).model_fields)
    else:
        names = [f.name for f in dataclasses.fields(a)]
    changes: dict[str, Any] = {}
    for name in names:
        how = draw(st.sampled_from(['keep', 'keep', 'other', 'twin']))
        if how == 'other':
            changes[name] = getattr(c, name)
        elif how == 'twin' and name in ('number', 'anything'):
            changes[name] = twin(getattr(a, name))
    if isinstance(a, pydantic.BaseModel):
        return a, a.model_copy(update=changes)
    return a, dataclasses.replace(a, **changes)


@st.composite
def untyped_pairs(draw: st.DrawFn, where: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """Two dicts sharing keys: each of a's keys is kept, retyped, replaced or removed."""
    a, c = draw(untyped(where)), draw(untyped(where))
    b: dict[str, Any] = {}
    for key, value in a.items():
        how = draw(st.sampled_from(['keep', 'twin', 'bool-as-int', 'other', 'remove']))
        if how == 'keep':
            b[key] = value
        elif how == 'twin':
            b[key] = twin(value)
        elif how == 'bool-as-int':
            b[key] = boolean_as_int(value)
        elif how == 'other':
            b[key] = draw(JSON)
    for key, value in c.items():
        b.setdefault(key, value)
    return a, b


@pytest.mark.parametrize('schema_id', list(SCHEMAS))
@pytest.mark.parametrize('where', PEER_WHERES)
@examples(30)
@given(data=st.data())
def test_set_sends_exactly_the_keys_whose_json_value_changed(
    where: str, schema_id: str, data: st.DataObject
):
    schema, values = SCHEMAS[schema_id]
    pairs = untyped_pairs(where) if schema is None else typed_pairs(values(where))
    a, b = data.draw(pairs)
    spy = Spy()
    hook = Hook(spy)
    build = functools.partial(helper, where=where, schema=schema)
    first = hook(build, lambda h: h.set(a), peer_state(where))
    assert first.error is None
    spy.calls.clear()

    second = hook(build, lambda h: h.set(b), first.out)
    assert second.error is None

    before, after = json_values(a), json_values(b)
    changed = {k for k, v in after.items() if k not in before or not same_json(v, before[k])}
    removed = set(before) - set(after)
    sent = spy.sent()
    assert len(sent) == (1 if changed | removed else 0)
    if sent:
        assert set(sent[0]) == changed | removed
        assert all(sent[0][key] == '' for key in removed)
        assert all(same_json(json.loads(sent[0][key]), after[key]) for key in changed)
    stored = json_values(decode(schema, peer_texts(second.out, where)))
    assert stored.keys() == after.keys()
    assert all(same_json(stored[key], after[key]) for key in after)


# ---------------------------------------------------------------------------------------
# 3. Compatibility with ops Relation.save and Relation.load


COMPATIBLE = {'dataclass': (Plain, PLAINS), 'pydantic': (RichModel, MODELS)}


@pytest.mark.parametrize('schema_id', list(COMPATIBLE))
@pytest.mark.parametrize('where', PEER_WHERES)
@examples(20)
@given(data=st.data())
def test_relation_save_is_read_by_get(where: str, schema_id: str, data: st.DataObject):
    schema, values = COMPATIBLE[schema_id]
    value = data.draw(values)
    hook = Hook(Spy())

    saved = hook(lambda c: c, lambda c: peers(c).save(value, entity(c, where)), peer_state(where))
    assert saved.error is None

    read = hook(
        functools.partial(helper, where=where, schema=schema), lambda h: h.get(), saved.out
    )
    assert read.error is None
    assert identical(read.value, value)


@pytest.mark.parametrize('schema_id', list(COMPATIBLE))
@pytest.mark.parametrize('where', PEER_WHERES)
@examples(20)
@given(data=st.data())
def test_set_is_read_by_relation_load(where: str, schema_id: str, data: st.DataObject):
    schema, values = COMPATIBLE[schema_id]
    value = data.draw(values)
    hook = Hook(Spy())

    build = functools.partial(helper, where=where, schema=schema)
    written = hook(build, lambda h: h.set(value), peer_state(where))
    assert written.error is None

    # set() sends only what differs from the defaults by JSON value, so -0.0 may read as 0.0.
    loaded = hook(lambda c: c, lambda c: peers(c).load(schema, entity(c, where)), written.out)
    assert loaded.error is None
    assert identical(loaded.value, value, numbers_as_json=True)


# ---------------------------------------------------------------------------------------
# 4. Errors never show stored text


# CJK ideographs (and letters rare in English): no message of the library uses a run of six
# of them, so any run of the marker in a message leaked.
MARKERS = st.text(
    st.sampled_from([chr(c) for c in range(0x9375, 0x9395)] + ['Q', 'X', 'Z']),
    min_size=8,
    max_size=16,
)


def marked_json(marker: str) -> st.SearchStrategy[Any]:
    """JSON values in which the marker shows up as strings and as dict keys."""
    leaves = st.none() | st.booleans() | INTS | FLOATS | st.just(marker) | TEXT.map(marker.join)
    keys = st.just(marker) | KEYS
    return st.recursive(
        leaves,
        lambda inner: st.lists(inner, max_size=3) | st.dictionaries(keys, inner, max_size=3),
        max_leaves=8,
    )


@st.composite
def corrupt_texts(draw: st.DrawFn, marker: str) -> str:
    """Stored text holding the marker that is not JSON, or JSON that is likely mistyped."""
    value = draw(marked_json(marker))
    text = json.dumps(value)
    how = draw(st.sampled_from(['json', 'string', 'bare', 'cut', 'tail', 'key']))
    if how == 'string':
        return json.dumps(marker)
    if how == 'bare':
        return marker
    if how == 'cut':
        return text[: draw(st.integers(0, len(text)))] + marker
    if how == 'tail':
        return text + marker
    if how == 'key':
        return json.dumps({marker: marker})
    return text


def leaked(marker: str, message: str) -> list[str]:
    """The runs of six or more characters of the marker (as written, repr'd or JSON-escaped)."""
    forms = {marker, ascii(marker)[1:-1], json.dumps(marker)[1:-1]}
    runs = {form[i : i + 6] for form in forms for i in range(len(form) - 5)}
    return sorted(run for run in runs if run in message)


def assert_secret(marker: str, result: Any) -> None:
    """The read either worked or raised InvalidStateError, and said nothing of the marker."""
    if isinstance(result, BaseException):
        assert isinstance(result, InvalidStateError), repr(result)
        assert leaked(marker, str(result)) == []


READABLE = {'dataclass': (Rich, RICH_KEYS), 'pydantic': (RichModel, MODEL_KEYS)}


@pytest.mark.parametrize('schema_id', list(READABLE))
@examples(40)
@given(data=st.data())
def test_decode_errors_never_show_stored_text(schema_id: str, data: st.DataObject):
    schema, keys = READABLE[schema_id]
    marker = data.draw(MARKERS)
    texts = data.draw(st.dictionaries(st.sampled_from(keys), corrupt_texts(marker), min_size=1))

    try:
        result: Any = decode(schema, texts)
    except Exception as e:
        result = e
    assert_secret(marker, result)


@pytest.mark.parametrize('schema_id', [*READABLE, 'untyped'])
@pytest.mark.parametrize('where', WHERES)
@examples(20)
@given(data=st.data())
def test_get_errors_never_show_stored_text(where: str, schema_id: str, data: st.DataObject):
    schema, keys = READABLE.get(schema_id, (None, ['a', 'b']))
    marker = data.draw(MARKERS)
    texts = data.draw(st.dictionaries(st.sampled_from(keys), corrupt_texts(marker), min_size=1))
    if where == 'local':
        # The unit database holds JSON values, not text: only a mistyped value is possible.
        content = {key: json.loads(text) for key, text in texts.items() if is_json(text)}
        state = testing.State(
            stored_states={
                testing.StoredState('_stored', owner_path='LocalState[state]', content=content)
            }
        )
    else:
        state = peer_state(where, texts)

    read = hook_get(where, schema, state)
    assert_secret(marker, read)


def is_json(text: str) -> bool:
    try:
        json.loads(text)
    except ValueError:
        return False
    return True


def hook_get(where: str, schema: type[Any] | None, state: testing.State) -> Any:
    """What get() returned, or the exception it raised, in a hook over `state`."""
    result = Hook(Spy())(
        functools.partial(helper, where=where, schema=schema), lambda h: h.get(), state
    )
    return result.value if result.error is None else result.error


@pytest.mark.parametrize('schema_id', list(READABLE))
@examples(20)
@given(data=st.data())
def test_units_errors_never_show_a_peers_stored_text(schema_id: str, data: st.DataObject):
    schema, keys = READABLE[schema_id]
    marker = data.draw(MARKERS)
    texts = data.draw(st.dictionaries(st.sampled_from(keys), corrupt_texts(marker), min_size=1))
    relation = testing.PeerRelation(
        'peers', local_unit_data={**JUJU_UNIT_DATA}, peers_data={1: {**JUJU_UNIT_DATA, **texts}}
    )
    state = testing.State(leader=True, relations={relation})

    result = Hook(Spy())(
        functools.partial(helper, where='unit', schema=schema), lambda h: h.units(), state
    )
    assert_secret(marker, result.error)


# ---------------------------------------------------------------------------------------
# 5. Reads are total: any stored text reads as a value set() takes back, or is refused


NUMBER_TEXTS = st.from_regex(
    r'-?(0|[1-9][0-9]{0,2})(\.[0-9]{1,3})?([eE][+-]?[0-9]{1,3})?', fullmatch=True
)
# Texts at the edges of what JSON and Python agree on: numbers a float cannot hold, and
# nesting deeper than Python's parser goes.
EDGES = [
    '1e400',
    '-1e400',
    '1' + '0' * 400,
    '-0',
    '-0.0',
    '"\\ud800"',
    '[' * 5000 + ']' * 5000,
    '{"a":' * 5000 + '1' + '}' * 5000,
    '[' * 100000,
]
EDGE_TEXTS = st.sampled_from(EDGES)


@pytest.mark.parametrize('schema_id', [*READABLE, 'untyped'])
@examples(100)
@given(data=st.data())
def test_any_stored_text_reads_as_a_storable_value_or_is_refused(
    schema_id: str, data: st.DataObject
):
    schema, keys = READABLE.get(schema_id, (None, ['a', 'b']))
    texts_of = NUMBER_TEXTS | EDGE_TEXTS | JSON.map(json.dumps) | st.text(max_size=12)
    texts = data.draw(st.dictionaries(st.sampled_from(keys), texts_of, min_size=1))

    try:
        value = decode(schema, texts)
    except InvalidStateError:
        return
    assert identical(decode(schema, encode(value)), value)


@pytest.mark.parametrize('text', EDGES)
@pytest.mark.parametrize(
    ('schema_id', 'key'),
    [('dataclass', key) for key in RICH_KEYS]
    + [('pydantic', key) for key in MODEL_KEYS]
    + [('untyped', 'a')],
)
def test_every_field_reads_edge_texts_as_storable_values_or_refuses_them(
    schema_id: str, key: str, text: str
):
    # The generated texts above rarely land one of these on each field; here every pair runs.
    schema = READABLE.get(schema_id, (None, []))[0]

    try:
        value = decode(schema, {key: text})
    except InvalidStateError:
        return
    assert identical(decode(schema, encode(value)), value)


# ---------------------------------------------------------------------------------------
# 6. Values JSON cannot carry are refused at write time, and nothing is sent


class Opaque:
    """An object of a type no schema stores."""


NOT_FINITE = st.sampled_from([math.nan, math.inf, -math.inf])
# Deeper than Python's recursion limit: JSON text of it would not read back.
TOO_DEEP = st.just(functools.reduce(lambda inner, _: [inner], range(5000), 0))
# Not JSON, or JSON that reads back as something else (a list, a str key).
NOT_JSON = (
    NOT_FINITE
    | st.dictionaries(
        st.integers() | st.none() | st.booleans() | FLOATS, JSON, min_size=1, max_size=2
    )
    | st.sets(st.integers(), max_size=2)
    | st.frozensets(TEXT, max_size=2)
    | st.binary(max_size=3)
    | st.binary(max_size=3).map(bytearray)
    | st.tuples(INTS)
    | st.complex_numbers(allow_nan=False, allow_infinity=False)
    | st.builds(Opaque)
    | TOO_DEEP
)
# Python writes no int of more than 4300 digits as text; the unit database needs no text.
TOO_LONG = st.just(10**5000)


@st.composite
def buried(draw: st.DrawFn, bad: st.SearchStrategy[Any]) -> Any:
    """A JSON value with a bad value somewhere inside it, at any depth."""
    value = draw(bad)
    for _ in range(draw(st.integers(0, 3))):
        if draw(st.booleans()):
            siblings: list[Any] = draw(st.lists(JSON, max_size=2))
            siblings.insert(draw(st.integers(0, len(siblings))), value)
            value = siblings
        else:
            mapping: dict[str, Any] = draw(st.dictionaries(KEYS, JSON, max_size=2))
            mapping[draw(KEYS)] = value
            value = mapping
    return value


# A float field takes an int, but only one that a float can hold.
BAD_FLOATS = NOT_FINITE | st.just(10**400)


@st.composite
def unstorable(draw: st.DrawFn, schema_id: str, *, as_text: bool = True) -> Any:
    """A value of the schema with one unstorable value in it, in any place that can hold one."""
    bad = NOT_JSON | TOO_LONG if as_text else NOT_JSON
    if schema_id == 'untyped':
        value = draw(untyped('unit'))
        value[draw(KEYS.filter(lambda k: k not in JUJU_UNIT_KEYS).filter(bool))] = draw(
            buried(bad)
        )
        return value
    if schema_id == 'pydantic':
        return draw(MODELS).model_copy(update={'anything': draw(buried(bad))})

    rich: Rich = draw(RICHES)
    place = draw(
        st.sampled_from(['anything', 'ratio', 'number', 'weights', 'inner', 'inners', 'keys'])
    )
    if place == 'anything':
        return dataclasses.replace(rich, anything=draw(buried(bad)))
    if place == 'ratio':
        return dataclasses.replace(rich, ratio=draw(BAD_FLOATS))
    if place == 'number':
        # int | float takes a big int as an int; only what neither arm takes is refused.
        return dataclasses.replace(rich, number=draw(NOT_FINITE))
    if place == 'weights':
        return dataclasses.replace(rich, weights={**rich.weights, 'w': draw(BAD_FLOATS)})
    if place == 'inner':
        return dataclasses.replace(
            rich, inner=dataclasses.replace(rich.inner, weight=draw(BAD_FLOATS))
        )
    if place == 'inners':
        bad = dataclasses.replace(draw(INNERS), weight=draw(BAD_FLOATS))
        return dataclasses.replace(rich, inners=[*rich.inners, bad])
    key = draw(st.integers() | st.none() | st.booleans())
    return dataclasses.replace(rich, groups={**rich.groups, key: []})


KEPT = {'text': '"kept"'}


@pytest.mark.parametrize('schema_id', [*READABLE, 'untyped'])
@examples(40)
@given(data=st.data())
def test_encode_refuses_unstorable_values(schema_id: str, data: st.DataObject):
    value = data.draw(unstorable(schema_id))

    with pytest.raises(InvalidStateError):
        encode(value)


@pytest.mark.parametrize('schema_id', [*READABLE, 'untyped'])
@pytest.mark.parametrize('where', WHERES)
@examples(20)
@given(data=st.data())
def test_set_refuses_unstorable_values_and_sends_nothing(
    where: str, schema_id: str, data: st.DataObject
):
    schema = READABLE.get(schema_id, (None, []))[0]
    value = data.draw(unstorable(schema_id, as_text=where != 'local'))
    spy = Spy()
    if where == 'local':
        content = {'text': 'kept'}
        stored = testing.StoredState('_stored', owner_path='LocalState[state]', content=content)
        state = testing.State(stored_states={stored}, relations={testing.PeerRelation('peers')})
    else:
        state = peer_state(where, KEPT)

    result = Hook(spy)(
        functools.partial(helper, where=where, schema=schema), lambda h: h.set(value), state
    )

    assert isinstance(result.error, InvalidStateError), repr(result.error)
    assert spy.sent() == []
    if where == 'local':
        assert raw(result.out, 'local') == {'text': 'kept'}
    else:
        assert peer_texts(result.out, where) == KEPT
