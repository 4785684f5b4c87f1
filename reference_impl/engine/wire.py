"""The wire format: what a model or a label histogram becomes on the wire, byte for byte.

Every message is a fixed 16-byte header followed by a flat little-endian payload:

=======  ======  ==============================================
offset   size    field
=======  ======  ==============================================
0        4       magic ``b"ASTR"``
4        2       format version (1)
6        2       dtype code (1 = float32, 2 = int64)
8        8       element count
16       n*size  the elements, little-endian
=======  ======  ==============================================

So a model of P parameters is exactly ``16 + 4*P`` bytes and a K-class histogram ``16 + 8*K`` bytes.
This is how federated stacks ship models (Flower, for instance, sends raw ndarray bytes): the
flattened parameter vector, not a pickled module. The bytes recorded in a trace are ``len()`` of
the object these functions return, i.e. exactly what would be written to a socket.
"""

from __future__ import annotations

import struct

import numpy as np
import torch

__all__ = [
    "HEADER_BYTES",
    "decode_counts",
    "decode_vector",
    "encode_counts",
    "encode_vector",
    "message_bytes",
]

_HEADER = struct.Struct("<4sHHQ")
HEADER_BYTES = _HEADER.size  # 16
_MAGIC = b"ASTR"
_VERSION = 1
_DTYPES = {1: np.dtype("<f4"), 2: np.dtype("<i8")}
_CODES = {np.dtype("<f4"): 1, np.dtype("<i8"): 2}


def message_bytes(count: int, *, bytes_per_element: int = 4) -> int:
    """Size on the wire of a message of ``count`` elements: ``16 + count*bytes_per_element``."""
    return HEADER_BYTES + count * bytes_per_element


def _encode(array: np.ndarray) -> bytes:
    array = np.ascontiguousarray(array)
    code = _CODES[array.dtype.newbyteorder("<") if array.dtype.byteorder == ">" else array.dtype]
    return _HEADER.pack(_MAGIC, _VERSION, code, array.size) + array.astype(_DTYPES[code], copy=False).tobytes()


def _decode(message: bytes | memoryview, expected_code: int) -> np.ndarray:
    if len(message) < HEADER_BYTES:
        raise ValueError(f"a message must hold at least {HEADER_BYTES} header bytes (got {len(message)}).")
    magic, version, code, count = _HEADER.unpack_from(message)
    if magic != _MAGIC or version != _VERSION:
        raise ValueError(f"a message must start with {_MAGIC!r} version {_VERSION} (got {magic!r} version {version}).")
    if code != expected_code:
        raise ValueError(f"a message must carry dtype code {expected_code} (got {code}).")
    dtype = _DTYPES[code]
    if len(message) != HEADER_BYTES + count * dtype.itemsize:
        raise ValueError(f"a message of {count} elements must be {HEADER_BYTES + count * dtype.itemsize} bytes (got {len(message)}).")
    return np.frombuffer(message, dtype=dtype, count=count, offset=HEADER_BYTES)


def encode_vector(vector: torch.Tensor) -> bytes:
    """Serialize a flat float32 parameter vector (see :func:`torch.nn.utils.parameters_to_vector`)."""
    return _encode(vector.detach().to(torch.float32).cpu().numpy())


def decode_vector(message: bytes | memoryview) -> torch.Tensor:
    """The float32 parameter vector carried by ``message`` (a fresh, writable tensor)."""
    return torch.from_numpy(_decode(message, 1).copy())


def encode_counts(counts: np.ndarray) -> bytes:
    """Serialize a label histogram (int64 counts)."""
    return _encode(np.asarray(counts, dtype=np.int64))


def decode_counts(message: bytes | memoryview) -> np.ndarray:
    """The int64 label histogram carried by ``message``."""
    return _decode(message, 2).copy()
