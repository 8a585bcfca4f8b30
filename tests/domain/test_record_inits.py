"""Events and commands carry a hand-written ``__init__`` (native under mypyc, where the one
:mod:`dataclasses` generates stays interpreted); it must mirror the declared fields exactly."""

from __future__ import annotations

import dataclasses
import inspect

import pytest

from cambist.domain.commands import COMMAND_TYPES, Command
from cambist.domain.events import EVENT_TYPES, Event


def assert_init_mirrors_fields(cls: type, *, keyword_only: bool) -> None:
    """Same names in declaration order, same defaults (and keyword-only where asked)."""
    fields = dataclasses.fields(cls)
    params = list(inspect.signature(cls.__init__).parameters.values())[1:]
    assert [p.name for p in params] == [f.name for f in fields]
    for param, field in zip(params, fields, strict=True):
        if keyword_only:
            assert param.kind is inspect.Parameter.KEYWORD_ONLY, f"{cls.__name__}.{field.name}"
        expected = (
            inspect.Parameter.empty if field.default is dataclasses.MISSING else field.default
        )
        assert param.default == expected, f"{cls.__name__}.{field.name} default differs"


@pytest.mark.parametrize("cls", EVENT_TYPES, ids=lambda cls: cls.__name__)
def test_event_init_matches_fields_in_order_with_defaults(cls: type[Event]) -> None:
    assert_init_mirrors_fields(cls, keyword_only=False)


@pytest.mark.parametrize("cls", EVENT_TYPES, ids=lambda cls: cls.__name__)
def test_event_positional_construction_sets_every_field(cls: type[Event]) -> None:
    fields = dataclasses.fields(cls)
    values = [f"v{i}" for i in range(len(fields))]
    event = cls(*values)
    assert [getattr(event, f.name) for f in fields] == values
    assert event == cls(*values)


@pytest.mark.parametrize("cls", COMMAND_TYPES, ids=lambda cls: cls.__name__)
def test_command_init_is_keyword_only_fields_in_order_with_defaults(cls: type[Command]) -> None:
    assert_init_mirrors_fields(cls, keyword_only=True)


@pytest.mark.parametrize("cls", COMMAND_TYPES, ids=lambda cls: cls.__name__)
def test_command_construction_sets_every_field(cls: type[Command]) -> None:
    fields = dataclasses.fields(cls)
    values = {f.name: f"v{i}" for i, f in enumerate(fields)}
    cmd = cls(**values)  # type: ignore[arg-type]
    assert {f.name: getattr(cmd, f.name) for f in fields} == values
    assert cmd == cls(**values)  # type: ignore[arg-type]
    required = {f.name: 1 for f in fields if f.default is dataclasses.MISSING}
    bare = cls(**required)
    for f in fields:
        assert getattr(bare, f.name) == required.get(f.name, f.default)
