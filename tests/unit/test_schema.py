"""Schemas: checked at construction, every supported type round-trips, reads check types."""

from __future__ import annotations

import dataclasses
import datetime
import enum
import json
from typing import Any, Literal, Optional

import pydantic
import pytest
from charms.state_helpers.v0.state import InvalidStateError, decode, encode
from scaffold import SECRET, WHERES, Hook, helper, raw, seeded


class Colour(enum.Enum):
    RED = 'red'
    BLUE = 'blue'


class Level(enum.Enum):
    LOW = 1
    HIGH = 2


@dataclasses.dataclass
class Endpoint:
    host: str = ''
    port: int = 0


@dataclasses.dataclass
class Pinned:
    host: str  # a nested dataclass may require a field: its parent's default supplies it
    port: int = 0


@dataclasses.dataclass
class Everything:
    text: str = 'x'
    count: int = 0
    ratio: float = 0.5
    flag: bool = False
    nothing: None = None
    anything: Any = None
    maybe: Optional[int] = None  # noqa: UP045 (the spelling is the point)
    either: str | None = None
    mode: Literal['a', 'b', 1, True, None] = 'a'
    colour: Colour = Colour.RED
    level: Level = Level.LOW
    endpoint: Endpoint = dataclasses.field(default_factory=Endpoint)
    pinned: Pinned = dataclasses.field(default_factory=lambda: Pinned('db'))
    numbers: list[int] = dataclasses.field(default_factory=list)
    weights: dict[str, float] = dataclasses.field(default_factory=dict)
    endpoints: list[Endpoint] = dataclasses.field(default_factory=list)
    groups: dict[str, list[str]] = dataclasses.field(default_factory=dict)
    maybe_endpoint: Endpoint | None = None


FULL = Everything(
    text='hello',
    count=-3,
    ratio=2.25,
    flag=True,
    nothing=None,
    anything={'k': [1, 'two', None, 3.5, False]},
    maybe=7,
    either='yes',
    mode=True,
    colour=Colour.BLUE,
    level=Level.HIGH,
    endpoint=Endpoint('h', 80),
    pinned=Pinned('p', 1),
    numbers=[1, 2, 3],
    weights={'a': 1.5, 'b': 2},
    endpoints=[Endpoint('x', 1), Endpoint('y', 2)],
    groups={'g': ['u', 'v'], 'empty': []},
    maybe_endpoint=Endpoint('m', 9),
)

FULL_JSON = {
    'text': 'hello',
    'count': -3,
    'ratio': 2.25,
    'flag': True,
    'nothing': None,
    'anything': {'k': [1, 'two', None, 3.5, False]},
    'maybe': 7,
    'either': 'yes',
    'mode': True,
    'colour': 'blue',
    'level': 2,
    'endpoint': {'host': 'h', 'port': 80},
    'pinned': {'host': 'p', 'port': 1},
    'numbers': [1, 2, 3],
    'weights': {'a': 1.5, 'b': 2.0},
    'endpoints': [{'host': 'x', 'port': 1}, {'host': 'y', 'port': 2}],
    'groups': {'g': ['u', 'v'], 'empty': []},
    'maybe_endpoint': {'host': 'm', 'port': 9},
}


# ---------------------------------------------------------------------------------------
# Construction


@dataclasses.dataclass
class NoDefault:
    token: str
    ready: bool = False


class NoDefaultModel(pydantic.BaseModel):
    token: str
    ready: bool = False


@pytest.mark.parametrize('where', WHERES)
@pytest.mark.parametrize('schema', [NoDefault, NoDefaultModel])
def test_field_without_default_is_a_type_error_naming_it(hook: Hook, where: str, schema: Any):
    result = hook(lambda c: helper(c, where, schema), lambda h: None, seeded(where))
    error = result.raised(TypeError)
    assert "'token'" in str(error)
    assert schema.__name__ in str(error)


class Plain:
    pass


@pytest.mark.parametrize(
    ('annotation', 'shown'),
    [
        (datetime.datetime, 'datetime'),
        (bytes, 'bytes'),
        (set[int], 'set'),
        (tuple[int, int], 'tuple'),
        (dict[int, str], 'dict'),
        (list[datetime.date], 'date'),
        (Optional[bytes], 'bytes'),  # noqa: UP045
        (Plain, 'Plain'),
        (list, 'list'),
    ],
)
@pytest.mark.parametrize('where', WHERES)
def test_unsupported_field_type_is_a_type_error_at_construction(
    hook: Hook, where: str, annotation: Any, shown: str
):
    schema = dataclasses.make_dataclass('Odd', [('fine', int, 0), ('odd', annotation, None)])
    calls: list[str] = []
    result = hook(lambda c: helper(c, where, schema), calls.append, seeded(where))
    error = result.raised(TypeError)
    assert "'odd'" in str(error)
    assert shown in str(error)
    assert calls == []  # the hook's handler never ran: the charm failed at start-up


@pytest.mark.parametrize(
    'annotation',
    [Literal[1.5], Literal[b'x']],
    ids=['float', 'bytes'],
)
def test_literal_of_an_unstorable_value_is_a_type_error(hook: Hook, annotation: Any):
    schema = dataclasses.make_dataclass('Odd', [('odd', annotation, None)])
    result = hook(lambda c: helper(c, 'app', schema), lambda h: None, seeded('app'))
    assert "'odd'" in str(result.raised(TypeError))


def test_enum_of_an_unstorable_value_is_a_type_error(hook: Hook):
    class Shape(enum.Enum):
        SQUARE = (1, 1)

    schema = dataclasses.make_dataclass('Odd', [('shape', Shape, Shape.SQUARE)])
    result = hook(lambda c: helper(c, 'app', schema), lambda h: None, seeded('app'))
    error = result.raised(TypeError)
    assert 'Shape.SQUARE' in str(error)
    assert "'shape'" in str(error)


def test_a_schema_that_is_no_dataclass_or_model_is_a_type_error(hook: Hook):
    result = hook(lambda c: helper(c, 'app', Plain), lambda h: None, seeded('app'))
    assert 'Plain' in str(result.raised(TypeError))


def test_a_default_that_cannot_be_stored_is_a_type_error(hook: Hook):
    schema = dataclasses.make_dataclass('Odd', [('ratio', float, float('nan'))])
    result = hook(lambda c: helper(c, 'app', schema), lambda h: None, seeded('app'))
    assert "'ratio'" in str(result.raised(TypeError))


# ---------------------------------------------------------------------------------------
# Every supported type round-trips


@pytest.mark.parametrize('where', WHERES)
def test_every_supported_type_round_trips(hook: Hook, where: str):
    build = lambda c: helper(c, where, Everything)  # noqa: E731
    first = hook(build, lambda h: h.set(FULL), seeded(where))
    assert first.error is None
    # 'nothing' holds its default and was never stored, so it is not sent.
    assert raw(first.out, where) == {k: v for k, v in FULL_JSON.items() if k != 'nothing'}

    second = hook(build, lambda h: h.get(), first.out)
    assert second.value == FULL
    assert type(second.value.ratio) is float
    assert second.value.colour is Colour.BLUE


@pytest.mark.parametrize('where', WHERES)
def test_defaults_of_every_supported_type_round_trip(hook: Hook, where: str):
    build = lambda c: helper(c, where, Everything)  # noqa: E731
    stored = {**FULL_JSON, 'maybe': None, 'either': None, 'mode': None, 'maybe_endpoint': None}
    result = hook(build, lambda h: h.get(), seeded(where, stored))
    assert result.value == dataclasses.replace(
        FULL, maybe=None, either=None, mode=None, maybe_endpoint=None
    )


def test_encode_and_decode_every_supported_type():
    data = encode(FULL)
    assert {key: json.loads(text) for key, text in data.items()} == FULL_JSON
    assert decode(Everything, data) == FULL


def test_an_int_is_a_valid_float(hook: Hook):
    result = hook(
        lambda c: helper(c, 'app', Everything), lambda h: h.get(), seeded('app', {'ratio': 3})
    )
    assert result.value.ratio == 3.0
    assert type(result.value.ratio) is float


# ---------------------------------------------------------------------------------------
# Reads check types


MISMATCHES = [
    # field, stored JSON value, expected type as the message names it, found type
    ('count', True, 'int', 'bool'),
    ('count', 1.5, 'int', 'float'),
    ('count', SECRET, 'int', 'str'),
    ('ratio', True, 'float', 'bool'),
    ('ratio', SECRET, 'float', 'str'),
    ('flag', 1, 'bool', 'int'),
    ('flag', SECRET, 'bool', 'str'),
    ('text', 5, 'str', 'int'),
    ('nothing', SECRET, 'None', 'str'),
    ('maybe', SECRET, 'int | None', 'str'),
    ('mode', SECRET, "one of 'a'", 'str'),
    ('mode', 2, "one of 'a'", 'int'),
    ('colour', SECRET, 'Colour', 'str'),
    ('level', '1', 'Level', 'str'),
    ('endpoint', SECRET, 'Endpoint', 'str'),
    ('endpoint', {'host': 1}, 'str', 'int'),
    ('pinned', {'port': 1}, 'host', 'none'),
    ('numbers', [1, SECRET], 'int', 'str'),
    ('numbers', SECRET, 'list', 'str'),
    ('weights', {'a': SECRET}, 'float', 'str'),
    ('endpoints', [{'host': 'a', 'port': SECRET}], 'int', 'str'),
    ('groups', {'g': [1]}, 'str', 'int'),
]


@pytest.mark.parametrize(('field', 'stored', 'expected', 'found'), MISMATCHES)
@pytest.mark.parametrize('where', WHERES)
def test_read_of_a_wrong_type_names_field_and_types(
    hook: Hook, where: str, field: str, stored: Any, expected: str, found: str
):
    state = seeded(where, {field: stored})
    result = hook(lambda c: helper(c, where, Everything), lambda h: h.get(), state)
    message = str(result.raised(InvalidStateError))
    assert f"'{field}'" in message
    assert expected in message
    assert found in message
    assert_names_the_databag(message, where)
    assert_no_secret(message)


def assert_names_the_databag(message: str, where: str) -> None:
    if where == 'local':
        assert "LocalState 'state'" in message
    else:
        assert "'peers'" in message
        assert ('application databag' if where == 'app' else 'unit databag of host/0') in message


def assert_no_secret(message: str) -> None:
    assert SECRET[:4] not in message
    assert SECRET[-4:] not in message


@pytest.mark.parametrize('schema', [Everything, None])
@pytest.mark.parametrize('where', ['app', 'unit'])
def test_text_that_is_not_json_is_named_but_not_shown(hook: Hook, where: str, schema: Any):
    relation_state = seeded(where)
    (relation,) = relation_state.relations
    bag = 'local_app_data' if where == 'app' else 'local_unit_data'
    relation = dataclasses.replace(relation, **{bag: {**getattr(relation, bag), 'text': SECRET}})
    state = dataclasses.replace(relation_state, relations={relation})

    result = hook(lambda c: helper(c, where, schema), lambda h: h.get(), state)
    message = str(result.raised(InvalidStateError))
    assert "'text'" in message
    assert 'JSON' in message
    assert_names_the_databag(message, where)
    assert_no_secret(message)


def test_refused_by_the_dataclass_itself_names_the_type_only(hook: Hook):
    @dataclasses.dataclass
    class Checked:
        port: int = 1

        def __post_init__(self) -> None:
            if self.port < 1:
                raise ValueError(f'port {self.port} out of range')

    state = seeded('app', {'port': -4321})
    result = hook(lambda c: helper(c, 'app', Checked), lambda h: h.get(), state)
    message = str(result.raised(InvalidStateError))
    assert 'Checked' in message
    assert '4321' not in message


# ---------------------------------------------------------------------------------------
# pydantic models


class Limits(pydantic.BaseModel):
    when: datetime.datetime = datetime.datetime(2020, 1, 1, tzinfo=datetime.timezone.utc)
    port: int = pydantic.Field(default=80, ge=1, le=65535)
    token: str = ''


@pytest.mark.parametrize('where', WHERES)
def test_pydantic_rich_types_round_trip(hook: Hook, where: str):
    value = Limits(
        when=datetime.datetime(2024, 5, 6, 7, 8, tzinfo=datetime.timezone.utc), port=8080
    )
    build = lambda c: helper(c, where, Limits)  # noqa: E731
    first = hook(build, lambda h: h.set(value), seeded(where))
    assert raw(first.out, where) == {'when': '2024-05-06T07:08:00Z', 'port': 8080}
    assert hook(build, lambda h: h.get(), first.out).value == value


@pytest.mark.parametrize(('field', 'stored'), [('port', 0), ('port', SECRET), ('when', SECRET)])
@pytest.mark.parametrize('where', WHERES)
def test_pydantic_refusal_names_the_field_not_the_text(
    hook: Hook, where: str, field: str, stored: Any
):
    state = seeded(where, {field: stored})
    result = hook(lambda c: helper(c, where, Limits), lambda h: h.get(), state)
    message = str(result.raised(InvalidStateError))
    assert field in message
    assert_names_the_databag(message, where)
    assert_no_secret(message)


def test_pydantic_write_of_an_invalid_assignment_is_refused(hook: Hook):
    def write(h: Any) -> None:
        value = Limits()
        value.port = 0  # assignments are not validated by pydantic by default
        h.set(value)

    result = hook(lambda c: helper(c, 'app', Limits), write, seeded('app'))
    assert 'port' in str(result.raised(InvalidStateError))
    assert raw(result.out, 'app') == {}


# ---------------------------------------------------------------------------------------
# More schema mistakes, caught at construction


@dataclasses.dataclass
class HiddenField:
    shown: int = 0
    hidden: int = dataclasses.field(default=0, init=False)


@dataclasses.dataclass
class EmptyAlias:
    value: int = dataclasses.field(default=0, metadata={'alias': ''})


@dataclasses.dataclass
class SameKeyTwice:
    first: int = dataclasses.field(default=0, metadata={'alias': 'key'})
    second: int = dataclasses.field(default=0, metadata={'alias': 'key'})


@dataclasses.dataclass
class UnresolvedAnnotation:
    value: Undefined = None  # type: ignore  # noqa: F821


@dataclasses.dataclass
class BrokenDefaults:
    port: int = 0

    def __post_init__(self) -> None:
        if self.port == 0:
            raise ValueError('port 0 is not allowed')


@pytest.mark.parametrize(
    ('schema', 'named'),
    [
        (HiddenField, "'hidden'"),
        (EmptyAlias, "'value'"),
        (SameKeyTwice, "'key'"),
        (UnresolvedAnnotation, 'UnresolvedAnnotation'),
        (BrokenDefaults, 'BrokenDefaults()'),
    ],
)
@pytest.mark.parametrize('where', WHERES)
def test_schema_mistakes_are_type_errors_at_construction(
    hook: Hook, where: str, schema: Any, named: str
):
    result = hook(lambda c: helper(c, where, schema), lambda h: None, seeded(where))
    assert named in str(result.raised(TypeError))


def test_an_instance_is_not_a_schema(hook: Hook):
    instance: Any = Endpoint()
    result = hook(lambda c: helper(c, 'app', instance), lambda h: None, seeded('app'))
    assert 'Endpoint' in str(result.raised(TypeError))


def test_annotated_fields_store_their_type(hook: Hook):
    from typing import Annotated

    schema = dataclasses.make_dataclass('Tagged', [('port', Annotated[int, 'a port'], 0)])
    build = lambda c: helper(c, 'app', schema)  # noqa: E731
    first = hook(build, lambda h: h.set(schema(port=8)), seeded('app'))
    assert raw(first.out, 'app') == {'port': 8}
    wrong = hook(build, lambda h: h.get(), seeded('app', {'port': 'eight'}))
    assert "'port'" in str(wrong.raised(InvalidStateError))


# ---------------------------------------------------------------------------------------
# Writes check types too: a wrong value is refused before anything is sent


WRONG_WRITES = [
    ('ratio', 'fast', 'float'),
    ('ratio', True, 'float'),
    ('count', 1.0, 'int'),
    ('flag', 0, 'bool'),
    ('text', None, 'str'),
    ('colour', 'red', 'Colour'),
    ('mode', 'c', "one of 'a'"),
    ('weights', [1.0], 'dict'),
    ('weights', {1: 1.0}, 'str keys'),
    ('numbers', (1, 2), 'list'),
    ('endpoint', {'host': 'h'}, 'Endpoint'),
    ('maybe', 'seven', 'int | None'),
]


@pytest.mark.parametrize(('field', 'bad', 'expected'), WRONG_WRITES)
@pytest.mark.parametrize('where', WHERES)
def test_write_of_a_wrong_type_is_refused(
    hook: Hook, where: str, field: str, bad: Any, expected: str
):
    value = dataclasses.replace(FULL, **{field: bad})
    result = hook(lambda c: helper(c, where, Everything), lambda h: h.set(value), seeded(where))
    message = str(result.raised(InvalidStateError))
    assert f"'{field}'" in message
    assert expected in message
    assert raw(result.out, where) == {}


@pytest.mark.parametrize('where', WHERES)
def test_untyped_write_with_a_key_that_is_not_str_is_refused(hook: Hook, where: str):
    result = hook(lambda c: helper(c, where, None), lambda h: h.set({1: 'one'}), seeded(where))
    assert 'str keys' in str(result.raised(InvalidStateError))
    assert raw(result.out, where) == {}


@pytest.mark.parametrize('text', ['NaN', 'Infinity', '-Infinity', '{"a": NaN}'])
@pytest.mark.parametrize('schema', [Everything, None])
def test_stored_nan_is_not_json(hook: Hook, schema: Any, text: str):
    state = seeded('app')
    (relation,) = state.relations
    relation = dataclasses.replace(relation, local_app_data={'anything': text})
    result = hook(
        lambda c: helper(c, 'app', schema),
        lambda h: h.get(),
        dataclasses.replace(state, relations={relation}),
    )
    message = str(result.raised(InvalidStateError))
    assert "'anything'" in message
    assert 'not JSON' in message


# ---------------------------------------------------------------------------------------
# decode() checks as get() does


def test_decode_of_text_that_is_not_json_names_the_key():
    with pytest.raises(InvalidStateError, match="'count'") as info:
        decode(Everything, {'count': SECRET})
    assert SECRET[:4] not in str(info.value)


def test_decode_of_a_wrong_type_names_field_and_types():
    with pytest.raises(InvalidStateError, match=r"'flag'.*expected bool, found int"):
        decode(Everything, {'flag': '1'})


def test_encode_of_a_wrong_type_names_the_field():
    with pytest.raises(InvalidStateError, match="'count'"):
        encode(dataclasses.replace(FULL, count='many'))


def test_pydantic_fields_sharing_an_alias_are_a_type_error(hook: Hook):
    class SameAlias(pydantic.BaseModel):
        first: int = pydantic.Field(default=0, alias='key')
        second: int = pydantic.Field(default=0, alias='key')

    result = hook(lambda c: helper(c, 'app', SameAlias), lambda h: None, seeded('app'))
    assert "'key'" in str(result.raised(TypeError))


@dataclasses.dataclass
class Endpoint2:
    host: str
    port: int


@dataclasses.dataclass
class WithOptionalNested:
    primary: Endpoint2 | None = None
    replicas: list[Endpoint2] | None = None


def test_an_optional_nested_dataclass_names_the_missing_field():
    with pytest.raises(InvalidStateError) as raised:
        decode(WithOptionalNested, {'primary': '{"host": "db-0"}'})

    assert str(raised.value) == (
        "decode(): field 'primary' of WithOptionalNested cannot be read: "
        'expected a value for Endpoint2.port, found none at .port'
    )


def test_an_optional_list_names_the_item_and_field():
    with pytest.raises(InvalidStateError) as raised:
        decode(WithOptionalNested, {'replicas': '[{"host": "db-1", "port": "5432"}]'})

    assert str(raised.value).endswith('expected int, found str at [0].port')


def test_an_optional_of_the_wrong_kind_names_the_union():
    with pytest.raises(InvalidStateError) as raised:
        decode(WithOptionalNested, {'primary': '3'})

    assert str(raised.value).endswith('expected Endpoint2 | None, found int')
