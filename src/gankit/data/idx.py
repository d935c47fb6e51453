"""Reader for the IDX files of MNIST and Fashion-MNIST (LeCun et al.), gzipped or raw."""
from __future__ import annotations

import gzip
import struct
import zlib
from pathlib import Path

import numpy as np

from ..errors import DataError

_DTYPES = {0x08: np.uint8, 0x09: np.int8, 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}


def parse_idx(data: bytes, name: str = "IDX data") -> np.ndarray:
    """Parse IDX bytes: magic (0, 0, dtype, ndim), ndim big-endian uint32 sizes, then the values."""
    if len(data) < 4 or data[0] != 0 or data[1] != 0 or data[2] not in _DTYPES or data[3] == 0:
        raise DataError(f"{name} is not an IDX file (bad magic number); re-download it")
    ndim = data[3]
    header = 4 + 4 * ndim
    if len(data) < header:
        raise DataError(f"{name} is truncated (header cut short); re-download it")
    dims = struct.unpack(f">{ndim}I", data[4:header])
    dtype = np.dtype(_DTYPES[data[2]])
    expected = int(np.prod(dims, dtype=np.int64)) * dtype.itemsize
    if len(data) - header != expected:
        raise DataError(f"{name} is truncated or corrupt ({len(data) - header} data bytes, expected "
                        f"{expected} for shape {tuple(dims)}); re-download it")
    return np.frombuffer(data, dtype=dtype, offset=header).reshape(dims)


def read_idx(path: Path) -> np.ndarray:
    try:
        raw = path.read_bytes()
        if raw[:2] == b"\x1f\x8b":
            raw = gzip.decompress(raw)
    except (OSError, EOFError, gzip.BadGzipFile, zlib.error) as e:
        raise DataError(f"cannot read {path}: {e}; the file is corrupt or truncated, re-download it") from None
    return parse_idx(raw, str(path))


def find_idx(raw_dir: Path, stem: str) -> Path | None:
    for suffix in ("", ".gz"):
        p = raw_dir / f"{stem}{suffix}"
        if p.is_file():
            return p
    return None
