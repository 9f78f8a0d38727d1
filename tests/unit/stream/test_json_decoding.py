"""Stream frames are read by orjson, and what orjson refuses by the standard library: the answer is json's."""

from __future__ import annotations

import json

import pytest

from bot.calls import jsontext
from bot.calls.events import normalise
from bot.stream import safe_json

SAME_AS_JSON = [
    '{"Call-ID": "a@b", "Timestamp": 63963910984, "Custom-Channel-Vars": {"Account-ID": "x"}}',
    '["CHANNEL_CREATE", {"call_id": "x", "duration": "25"}]',
    '{"caller_id_name": "Nguy\\u1ec5n V\\u0103n A"}',
    '{"a": 1, "a": 2}',
    "[1.5, -0, 18446744073709551615]",
    "[NaN, Infinity]",  # orjson refuses these; json reads them
    '["\\ud800"]',  # a lone surrogate: orjson refuses it
    "[1e400]",
]


@pytest.mark.parametrize("text", SAME_AS_JSON)
def test_decoding_gives_what_json_gives(text: str) -> None:
    expected = json.loads(text)
    for got in (jsontext.loads(text), jsontext.loads(text.encode("utf-8", "surrogatepass")), safe_json.loads(text)):
        assert json.dumps(got) == json.dumps(expected)


@pytest.mark.parametrize("text", ["nope", "{", '{"a": }', ""])
def test_not_json_raises_a_value_error(text: str) -> None:
    with pytest.raises(ValueError):
        jsontext.loads(text)
    with pytest.raises(ValueError):
        safe_json.loads(text)


def test_nested_past_what_python_reads_is_an_unreadable_event_not_an_exception() -> None:
    deep = "[" * 100_000 + "]" * 100_000
    assert safe_json.loads(deep) == [safe_json.UNREADABLE]
    with pytest.raises(RecursionError):
        jsontext.loads(deep)


@pytest.mark.parametrize("digits", [150, 5000])
def test_a_number_too_long_to_be_anything_is_no_number_and_the_rest_of_the_event_counts(digits: int) -> None:
    text = '["CHANNEL_DESTROY", {"call_id": "x", "caller_id_number": ' + "9" * digits + ', "duration": "25"}]'
    name, payload = safe_json.loads(text)
    event = normalise(name, payload)
    assert (event.name, event.leg_id, event.caller_number, event.duration) == ("CHANNEL_DESTROY", "x", None, 25)
