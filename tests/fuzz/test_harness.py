"""The fuzz suite's own checks can fail: the log watch sees an ERROR or a traceback, and the wire encoder writes
what real servers write."""

from __future__ import annotations

import logging

from hypothesis import given

from tests.fuzz.harness import watching_logs
from tests.fuzz.profiles import fuzz
from tests.fuzz.strategies import RawJSON, stream_garbage, wire_json

log = logging.getLogger("tests.fuzz.probe")


def test_the_log_watch_catches_errors_and_tracebacks_but_not_warnings() -> None:
    with watching_logs() as watch:
        log.warning("event rejected name=X reason=Y")
        watch.assert_clean("a warning")
        try:
            raise ValueError("boom")
        except ValueError:
            log.warning("handled, but with a traceback", exc_info=True)
        log.error("saving legs failed")
    assert [r.getMessage() for r in watch.problems] == ["handled, but with a traceback", "saving legs failed"]
    try:
        watch.assert_clean("two problems")
    except AssertionError as exc:
        assert "saving legs failed" in str(exc) and "ValueError: boom" in str(exc)
    else:
        raise AssertionError("assert_clean passed with problems logged")


def test_wire_json_escapes_surrogates_writes_nan_and_splices_raw_json() -> None:
    text = wire_json({"a": "x\ud800", "b": float("nan"), "c": RawJSON("[" * 3000 + "1" + "]" * 3000)})
    assert text.isascii() and "\\ud800" in text and '"b":NaN' in text
    assert text.count("[") == 3000


@fuzz(max_examples=25)
@given(stream_garbage(account="test-account"))
def test_stream_garbage_always_goes_on_the_wire(events: list[tuple[str, object]]) -> None:
    """Whatever the strategy draws can be sent: the fuzz tests never fail in their own encoder."""
    assert events
    for name, payload in events:
        assert isinstance(name, str)
        assert wire_json([name, payload]).isascii()
