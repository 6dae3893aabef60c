"""SHA-256 from CPython's own module, without loading OpenSSL.

``hashlib`` loads OpenSSL's libcrypto when it is imported: about 5 ms of every
short command's start, for digests of a few kilobytes that the built-in module
hashes as fast. The digest is the same SHA-256 either way; ``hashlib`` is the
fallback where the interpreter was built without its own hashes.
"""

from __future__ import annotations

try:
    from _sha2 import sha256  # Python 3.12 and later
except ImportError:
    try:
        from _sha256 import sha256  # Python 3.11
    except ImportError:
        from hashlib import sha256

__all__ = ["sha256", "sha256_hex"]


def sha256_hex(data: bytes) -> str:
    """The SHA-256 of ``data`` in hex."""
    return sha256(data).hexdigest()
