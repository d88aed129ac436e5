#!/usr/bin/env python3
"""Writes the fuzz seeds (run from this directory). Protobuf and RustDesk
framing by hand, so no generator dependency: spec connection §2.1, §3.5."""
import os

def varint(n):
    out = b""
    while True:
        b = n & 0x7F
        n >>= 7
        if n:
            out += bytes([b | 0x80])
        else:
            return out + bytes([b])

def field(num, payload):  # length-delimited
    return varint(num << 3 | 2) + varint(len(payload)) + payload

def vfield(num, value):  # varint
    return varint(num << 3) + varint(value)

def frame(payload):
    n = len(payload)
    for hl in (1, 2, 3, 4):
        if n < 1 << (8 * hl - 2):
            h = n << 2 | (hl - 1)
            return h.to_bytes(hl, "little") + payload
    raise ValueError

def message(num, body):
    return field(num, body)

def login(username=b"127.0.0.1:21118", password=b"\x01" + b"\x00" * 31,
          kind=None):
    body = field(1, username) + field(2, password) + field(4, b"987654321")
    body += field(5, b"seed")
    dec = vfield(1, 1) + vfield(2, 1) + vfield(3, 1) + vfield(5, 1) + vfield(6, 1)
    body += field(6, field(10, dec))
    if kind:
        body += field(kind, b"")
    body += field(11, b"1.4.9") + field(13, b"Linux")
    return message(7, body)

test_delay_client = message(5, vfield(1, 42) + vfield(2, 1))
test_delay_echo = message(5, b"")
close_reason = message(19, field(9, b""))
refresh = message(19, vfield(10, 1))
key_event = message(15, vfield(2, 1) + vfield(3, 65))
mouse = message(10, vfield(1, 1) + vfield(2, 100) + vfield(3, 200))
empty_pubkey = message(4, b"")

worker = {
    "direct_login_then_traffic": b"\x00" + frame(login()) + frame(test_delay_client)
        + frame(test_delay_echo) + frame(refresh) + frame(key_event)
        + frame(mouse) + frame(close_reason),
    "direct_wrong_then_right": b"\x00" + frame(login(password=b"\x02" * 32))
        + frame(login()) + frame(key_event),
    "direct_empty_password": b"\x00" + frame(login(password=b"")) + frame(test_delay_client),
    "direct_file_transfer": b"\x00" + frame(login(kind=7)),
    "direct_offline": b"\x00" + frame(login(username=b"nobody")),
    "direct_garbage": b"\x00" + frame(b"\x0f\xff\xff"),
    "direct_oversized": b"\x00" + (0x3FFFFFFF << 2 | 3).to_bytes(4, "little"),
    "direct_prelogin_noise": b"\x00" + frame(key_event) * 5 + frame(b"") + frame(login()),
    "secure_empty_pubkey": b"\x01" + frame(empty_pubkey) + frame(login(username=b"123456789")),
    "secure_empty_message": b"\x01" + frame(b"") + frame(login(username=b"123456789")),
    "secure_bad_pubkey": b"\x01" + frame(message(4, field(1, b"\x01" * 32) + field(2, b"\x02" * 48))),
}
frames = {
    "hash": frame(message(9, field(1, b"s2fz7k9ma3") + field(2, b"7mqx2k"))),
    "non_minimal": bytes([0x15, 0x00]) + b"\x2a\x02\x10\x01\x00",
    "many": frame(test_delay_client) * 3 + frame(b"") + frame(close_reason),
    "big_header": bytes([0xC2, 0x45, 0x04]) + b"\x00" * 16,
}
here = os.path.dirname(os.path.abspath(__file__))
for d, seeds in (("fuzz_worker_messages", worker), ("fuzz_frame_decoder", frames)):
    for name, data in seeds.items():
        with open(os.path.join(here, d, name), "wb") as f:
            f.write(data)
