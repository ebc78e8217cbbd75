"""Reader for the IDX format of MNIST-style files (optionally gzip-compressed)."""
from __future__ import annotations

import gzip
import zlib
from pathlib import Path

import numpy as np

from ..errors import AekitError

_DTYPES = {0x08: np.uint8, 0x09: np.int8, 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}


def read_idx(path: str | Path) -> np.ndarray:
    path = Path(path)
    if not path.exists():
        raise AekitError(f"{path} does not exist", "check the path or the data directory")
    try:
        opener = gzip.open if path.suffix == ".gz" else open
        with opener(path, "rb") as f:
            data = f.read()
    except (OSError, EOFError, zlib.error) as e:
        raise AekitError(f"{path} is not a readable IDX file ({e})", "the file is truncated or corrupt: delete it and fetch it again") from None
    if len(data) < 4 or data[0] != 0 or data[1] != 0 or data[2] not in _DTYPES:
        raise AekitError(f"{path} is not an IDX file (bad magic number)", "give an IDX file such as train-images-idx3-ubyte.gz")
    ndim = data[3]
    header = 4 + 4 * ndim
    if len(data) < header:
        raise AekitError(f"{path} is truncated (header incomplete)", "delete it and fetch it again")
    shape = tuple(int.from_bytes(data[4 + 4 * i: 8 + 4 * i], "big") for i in range(ndim))
    dtype = np.dtype(_DTYPES[data[2]])
    expected = int(np.prod(shape)) * dtype.itemsize
    if len(data) - header != expected:
        raise AekitError(
            f"{path} is truncated or padded: {len(data) - header} data bytes, header says {expected}",
            "delete it and fetch it again",
        )
    return np.frombuffer(data, dtype=dtype, offset=header).reshape(shape).astype(dtype.newbyteorder("="))
