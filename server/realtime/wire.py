"""WebSocket text frames as bytes (RFC 6455 §5.2), for writing to a socket without awaiting.

A server's frames are unmasked: FIN and the text opcode, the payload length in 7, 7+16 or
7+64 bits, then the UTF-8 payload. The encoding of the latest frames is cached, because the
fan-out writes the very same frame to every socket that may see it.
"""

from __future__ import annotations

from functools import lru_cache


@lru_cache(maxsize=4096)
def text_frame(text: str) -> bytes:
    payload = text.encode("utf-8")
    size = len(payload)
    if size < 126:
        header = bytes((0x81, size))
    elif size < 1 << 16:
        header = bytes((0x81, 126)) + size.to_bytes(2, "big")
    else:
        header = bytes((0x81, 127)) + size.to_bytes(8, "big")
    return header + payload
