"""Events carry a hand-written ``__init__`` (native under mypyc); it must mirror the fields."""

from __future__ import annotations

import dataclasses
import inspect

import pytest

from cambist.domain.events import EVENT_TYPES, Event


@pytest.mark.parametrize("cls", EVENT_TYPES, ids=lambda cls: cls.__name__)
def test_event_init_matches_fields_in_order_with_defaults(cls: type[Event]) -> None:
    fields = dataclasses.fields(cls)
    params = list(inspect.signature(cls.__init__).parameters.values())[1:]
    assert [p.name for p in params] == [f.name for f in fields]
    for param, field in zip(params, fields, strict=True):
        expected = (
            inspect.Parameter.empty if field.default is dataclasses.MISSING else field.default
        )
        assert param.default == expected, f"{cls.__name__}.{field.name} default differs"


@pytest.mark.parametrize("cls", EVENT_TYPES, ids=lambda cls: cls.__name__)
def test_event_positional_construction_sets_every_field(cls: type[Event]) -> None:
    fields = dataclasses.fields(cls)
    values = [f"v{i}" for i in range(len(fields))]
    event = cls(*values)
    assert [getattr(event, f.name) for f in fields] == values
    assert event == cls(*values)
