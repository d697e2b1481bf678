"""Sortable, unguessable ids: `<prefix>_` + 48-bit milliseconds + 80 random bits, base32 (ULID).

Monotonic within a process: an id made in the same millisecond as the previous one increments
its random part, so ids sort in creation order (the task list pages by id).
"""

from __future__ import annotations

import os
import threading
import time

_ALPHABET = "0123456789abcdefghjkmnpqrstvwxyz"  # Crockford's base32, lower case
_lock = threading.Lock()
_last = (0, 0)  # (milliseconds, random part) of the previous id


def new_id(prefix: str) -> str:
    global _last
    with _lock:
        ms = int(time.time() * 1000)
        last_ms, last_rand = _last
        if ms <= last_ms:
            ms, rand = last_ms, last_rand + 1
        else:
            rand = int.from_bytes(os.urandom(10), "big") >> 1  # room to increment
        _last = (ms, rand)
    value = (ms << 80) | rand
    chars = []
    for _ in range(26):
        value, rem = divmod(value, 32)
        chars.append(_ALPHABET[rem])
    return f"{prefix}_{''.join(reversed(chars))}"
