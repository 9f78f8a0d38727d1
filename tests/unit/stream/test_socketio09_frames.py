"""Socket.IO 0.9 frames: handshake, packets, events and `\\ufffd` multi-packet framing."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.stream import socketio09_frames as f


def test_handshake_gives_sid_timeouts_and_transports() -> None:
    hs = f.parse_handshake("4d5e6f:30:30:websocket,xhr-polling\n")
    assert hs == f.Handshake("4d5e6f", 30.0, 30.0, ("websocket", "xhr-polling"))


def test_handshake_timeouts_in_milliseconds_are_read_as_seconds() -> None:
    assert f.parse_handshake("abc:30000:60000:websocket").heartbeat_timeout == 30.0


def test_handshake_without_heartbeats_has_no_timeout() -> None:
    assert f.parse_handshake("abc:::websocket").heartbeat_timeout is None


@pytest.mark.parametrize("body", ["Welcome to socket.io.", '0{"sid":"x"}', "", "a:b:c", '{"code":0}'])
def test_anything_else_is_not_a_handshake(body: str) -> None:
    with pytest.raises(f.FrameError):
        f.parse_handshake(body)


@pytest.mark.parametrize(
    ("text", "packet"),
    [
        ("1::", f.Packet(f.CONNECT)),
        ("2::", f.Packet(f.HEARTBEAT)),
        ("0::", f.Packet(f.DISCONNECT)),
        ("8::", f.Packet(f.NOOP)),
        ("1::/chat", f.Packet(f.CONNECT, endpoint="/chat")),
        ("7:::1+0", f.Packet(f.ERROR, data="1+0")),
        ('5:::{"name":"a:b","args":{"x":"1:2"}}', f.Packet(f.EVENT, data='{"name":"a:b","args":{"x":"1:2"}}')),
        ('5:12+::{"name":"x"}', f.Packet(f.EVENT, id="12+", data='{"name":"x"}')),
    ],
)
def test_packets_decode(text: str, packet: f.Packet) -> None:
    assert f.decode_packet(text) == packet


@pytest.mark.parametrize("text", ["garbage", "", "9::", "x:1::", ":::"])
def test_garbage_is_not_a_packet(text: str) -> None:
    with pytest.raises(f.FrameError):
        f.decode_packet(text)


def test_heartbeat_and_connect_encode_like_the_js_client() -> None:
    assert f.encode_packet(f.Packet(f.HEARTBEAT)) == "2::"
    assert f.encode_packet(f.Packet(f.DISCONNECT)) == "0::"


def test_subscribe_goes_out_with_a_one_element_args_list() -> None:
    text = f.encode_event("subscribe", [{"account_id": "a", "auth_token": "t", "binding": "call.CHANNEL_CREATE.*"}])
    assert (
        text
        == '5:::{"name":"subscribe","args":[{"account_id":"a","auth_token":"t","binding":"call.CHANNEL_CREATE.*"}]}'
    )


def test_event_args_object_and_one_element_list_give_the_same_payload() -> None:
    name, args = f.decode_event('{"name":"CHANNEL_CREATE","args":{"Call-ID":"x"}}')
    assert (name, f.event_payload(args)) == ("CHANNEL_CREATE", {"Call-ID": "x"})
    name, args = f.decode_event('{"name":"CHANNEL_CREATE","args":[{"Call-ID":"x"}]}')
    assert (name, f.event_payload(args)) == ("CHANNEL_CREATE", {"Call-ID": "x"})
    assert f.event_payload(["a", "b"]) == ["a", "b"]


@pytest.mark.parametrize("data", ["not json", "[1,2]", '{"args":{}}', '{"name":5}'])
def test_event_data_without_a_json_name_is_refused(data: str) -> None:
    with pytest.raises(f.FrameError):
        f.decode_event(data)


def test_multi_packet_frame_splits_into_packets() -> None:
    frame = '\ufffd3\ufffd2::\ufffd25\ufffd5:::{"name":"A","args":1}'
    assert f.decode_frame(frame) == ["2::", '5:::{"name":"A","args":1}']


def test_single_packet_message_is_one_packet() -> None:
    assert f.decode_frame("2::") == ["2::"]


def test_lengths_counted_in_utf16_units_or_utf8_bytes_are_both_understood() -> None:
    packet = '5:::{"name":"A","args":"Nguyễn 📞"}'
    utf16 = len(packet.encode("utf-16-le")) // 2
    utf8 = len(packet.encode("utf-8"))
    for length in (len(packet), utf16, utf8):
        assert f.decode_frame(f"\ufffd{length}\ufffd{packet}\ufffd3\ufffd2::") == [packet, "2::"]


@pytest.mark.parametrize("frame", ["\ufffd", "\ufffdx\ufffd2::", "\ufffd9\ufffd2::", "\ufffd3\ufffd2::junk"])
def test_broken_multi_packet_frames_are_refused(frame: str) -> None:
    with pytest.raises(f.FrameError):
        f.decode_frame(frame)


def test_error_packet_data_reads_reason_and_advice() -> None:
    assert f.error_text("1+0") == ("client not handshaken", True)
    assert f.error_text("overloaded") == ("overloaded", False)


_packet_text = st.text(st.characters(blacklist_characters="\ufffd", blacklist_categories=("Cs",)), max_size=40)


@given(st.lists(st.tuples(st.text(min_size=1, max_size=10), _packet_text), min_size=1, max_size=6))
def test_encoded_event_frames_decode_back(events: list[tuple[str, str]]) -> None:
    packets = [f.encode_event(name, [data]) for name, data in events]
    decoded = [f.decode_event(f.decode_packet(p).data) for p in f.decode_frame(f.encode_frame(packets))]
    assert [(name, f.event_payload(args)) for name, args in decoded] == events


@given(st.text(max_size=60))
def test_decoding_never_raises_anything_but_frame_error(text: str) -> None:
    try:
        for packet in f.decode_frame(text):
            f.decode_packet(packet)
    except f.FrameError:
        pass


def test_unicode_digits_in_an_error_packet_or_a_frame_length_are_not_numbers() -> None:
    """`²` passes str.isdigit() and then crashes int(): ASCII digits only (bot/values.py)."""
    assert f.error_text("²+²") == ("²", False)
    assert f.error_text("٠+٠") == ("٠", False)
    for text in ("\ufffd²\ufffdabc", "\ufffd٣\ufffdabc"):
        with pytest.raises(f.FrameError):
            f.decode_frame(text)
