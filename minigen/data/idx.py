"""Reading IDX files, the format MNIST and Fashion-MNIST are published in.

An IDX file is a header and then the array, row-major, every number big-endian:

    bytes 0-1   0x00 0x00
    byte  2     element type: 0x08 uint8, 0x09 int8, 0x0B int16, 0x0C int32, 0x0D float32,
                0x0E float64
    byte  3     number of dimensions d
    then        d sizes, each an unsigned 32-bit integer
    then        prod(sizes) elements

The files are usually gzipped; ``read_idx`` recognises gzip by its first two bytes (0x1f 0x8b), not
by the file name.
"""
import gzip
import zlib
from pathlib import Path

import numpy as np

_ELEMENT_TYPES = {0x08: ">u1", 0x09: ">i1", 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}
_GZIP_MAGIC = b"\x1f\x8b"


def _read_bytes(path):
    raw = path.read_bytes()
    if not raw.startswith(_GZIP_MAGIC):
        return raw
    try:
        return gzip.decompress(raw)
    except (OSError, EOFError, zlib.error) as err:  # bad CRC, bad deflate data, cut-off stream
        raise ValueError(f"{path}: not a readable gzip file ({err})") from None


def read_idx(path):
    """The array stored in the IDX file at path (gzipped or not), in native byte order."""
    path = Path(path)
    data = _read_bytes(path)
    if len(data) < 4 or data[:2] != b"\x00\x00" or data[2] not in _ELEMENT_TYPES:
        raise ValueError(f"{path}: not an IDX file: expected a header 00 00 <type> <ndim> "
                         f"with type one of {', '.join(f'{t:#04x}' for t in _ELEMENT_TYPES)}, "
                         f"got {data[:4].hex(' ') or 'an empty file'}")
    dtype, ndim = np.dtype(_ELEMENT_TYPES[data[2]]), data[3]
    header_size = 4 + 4 * ndim
    if len(data) < header_size:
        raise ValueError(f"{path}: truncated IDX header: {ndim} sizes need {header_size} bytes, "
                         f"the file has {len(data)}")
    shape = tuple(int(s) for s in np.frombuffer(data, dtype=">u4", count=ndim, offset=4))
    expected = header_size + int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
    if len(data) != expected:
        what = "truncated" if len(data) < expected else "has trailing bytes"
        raise ValueError(f"{path}: IDX file {what}: shape {shape} of {dtype.name} needs {expected} "
                         f"bytes, the file has {len(data)}")
    array = np.frombuffer(data, dtype=dtype, offset=header_size).reshape(shape)
    return array.astype(dtype.newbyteorder("="))
