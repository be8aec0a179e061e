"""Saving and loading nested dicts of arrays as ``.npz`` files, never with pickle.

A checkpoint is a tree: dicts with string keys whose leaves are arrays (NumPy or CuPy), Tensors,
numbers, strings, bools, None, or lists of those. ``save`` splits the tree in two:

- every array leaf goes into the ``.npz`` under its path, ``"model/fc1.weight"``, ``"optimizer/state/0/m"``
  (GPU arrays are copied to the CPU first);
- everything else — the shape of the tree, the small values, and the caller's ``header`` — goes into one
  JSON document, stored as a uint8 array under the key ``__minigen__``.

``load`` reads both back with ``np.load(..., allow_pickle=False)``: a file can hold numbers, never code.

Writes are atomic: the file is written to a temporary name in the same folder, flushed to disk
(``fsync``) and renamed over the target with ``os.replace``. A crash in the middle leaves the previous
file as it was. A writer killed outright (SIGKILL, out of memory) cannot remove its temporary file;
the temporary name holds the writer's process id and host, and the next write of the same file
removes those whose process is gone.
"""
from __future__ import annotations

import contextlib
import json
import os
import socket
import tempfile
import zipfile
import zlib

import numpy as np

from . import backend

FORMAT_VERSION = 1
HEADER_KEY = "__minigen__"
_ARRAY = "__array__"    # a JSON leaf {"__array__": "a/b/c"} stands for the array stored under a/b/c


# --------------------------------------------------------------------------------- atomic writes
@contextlib.contextmanager
def atomic_path(path):
    """A temporary name beside ``path`` to write a file by name (``np.lib.format.open_memmap``, say);
    when the block ends it replaces ``path``, flushed to disk, and on error it vanishes.

    ``with atomic_path("out.npy") as tmp: ...write tmp...``
    """
    path = os.fspath(path)
    folder, name = os.path.split(os.path.abspath(path))
    _remove_stale_temporaries(folder, name)
    fd, tmp = tempfile.mkstemp(dir=folder, prefix=f".{name}.{os.getpid()}-{socket.gethostname()}.",
                               suffix=".tmp")
    os.close(fd)
    try:
        yield tmp
        with open(tmp, "rb+") as f:
            os.fsync(f.fileno())       # the bytes are on disk before the name points at them
        os.replace(tmp, path)
    except BaseException:              # KeyboardInterrupt too: never leave a half-written file
        with contextlib.suppress(FileNotFoundError):
            os.remove(tmp)
        raise
    _fsync_folder(folder)


@contextlib.contextmanager
def atomic_write(path, mode="wb"):
    """Open a temporary file beside ``path``; on success it replaces ``path``, on error it vanishes.

    ``with atomic_write("run/config.json", "w") as f: f.write(...)``
    """
    with atomic_path(path) as tmp:
        with open(tmp, mode) as f:
            yield f


def process_alive(pid: int) -> bool:
    """Whether a process with this id runs on this machine (signal 0 only asks)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:              # it exists, under another user
        return True
    except OSError:                      # not a valid id here: no such process
        return False
    return True


def _remove_stale_temporaries(folder, name):
    """Remove the temporary files ``.NAME.PID-HOST.XXXX.tmp`` of earlier writers of ``name`` on this
    host whose process is gone (killed in the middle of a write); a live writer's are left alone."""
    prefix, host = f".{name}.", socket.gethostname()
    try:
        entries = os.listdir(folder)
    except OSError:
        return
    for entry in entries:
        if not (entry.startswith(prefix) and entry.endswith(".tmp")):
            continue
        owner = entry[len(prefix):-len(".tmp")].rpartition(".")[0]     # "PID-HOST"
        pid, _, their_host = owner.partition("-")
        if their_host == host and pid.isdigit() and not process_alive(int(pid)):
            with contextlib.suppress(OSError):
                os.remove(os.path.join(folder, entry))


def _fsync_folder(folder):
    """Make the rename itself durable (POSIX); a no-op where folders cannot be opened (Windows)."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


# --------------------------------------------------------------------------------------- save
def _is_array(value):
    from .autograd import Tensor
    return isinstance(value, (np.ndarray, Tensor)) or hasattr(value, "__cuda_array_interface__")


def _split(value, path, arrays):
    """The JSON form of ``value``; array leaves are moved into ``arrays`` under their path."""
    from .autograd import Tensor
    where = "/".join(path) or "<root>"
    if _is_array(value):
        array = backend.to_numpy(value.data if isinstance(value, Tensor) else value)
        if array.dtype.hasobject:
            raise TypeError(f"save: the array at '{where}' has dtype object; minigen stores numbers "
                            "only (object arrays would need pickle)")
        key = "/".join(path)
        if key in arrays or key == HEADER_KEY:
            raise ValueError(f"save: two entries map to the same stored name '{key}' "
                             "(a dict key containing '/' clashes with a nested key)")
        arrays[key] = array
        return {_ARRAY: key}
    if isinstance(value, dict):
        out = {}
        for k, v in value.items():
            if not isinstance(k, str):
                raise TypeError(f"save: dict keys must be strings, got {type(k).__name__} {k!r} at "
                                f"'{where}'")
            if k == _ARRAY:
                raise ValueError(f"save: '{_ARRAY}' is reserved and cannot be a key (at '{where}')")
            out[k] = _split(v, path + [k], arrays)
        return out
    if isinstance(value, (list, tuple)):
        return [_split(v, path + [str(i)], arrays) for i, v in enumerate(value)]
    if isinstance(value, np.generic):           # np.float32(1.5) -> 1.5
        return value.item()
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    raise TypeError(f"save: cannot store a {type(value).__name__} at '{where}'; expected arrays, "
                    "Tensors, numbers, strings, bools, None, and dicts/lists of those")


def save(obj: dict, path, header: dict | None = None) -> None:
    """Write the nested dict ``obj`` to ``path`` (.npz) atomically; ``header`` is stored beside it
    as JSON (model name, config, ...) and can be read back alone with ``read_header``."""
    if not isinstance(obj, dict):
        raise TypeError(f"save: expected a dict (e.g. a state_dict), got {type(obj).__name__}")
    if header is not None and not isinstance(header, dict):
        raise TypeError(f"save: header must be a dict, got {type(header).__name__}")
    arrays = {}
    tree = _split(obj, [], arrays)
    header_arrays = {}
    header = _split(header or {}, [], header_arrays)
    if header_arrays:
        raise TypeError(f"save: the header holds small JSON values only, but has arrays at "
                        f"{sorted(header_arrays)}")
    meta = {"format": "minigen", "format_version": FORMAT_VERSION, "minigen_version": _version(),
            "header": header, "tree": tree}
    arrays[HEADER_KEY] = np.frombuffer(json.dumps(meta).encode("utf-8"), dtype=np.uint8)
    with atomic_write(path) as f:
        np.savez(f, **arrays)


def _version():
    from . import __version__
    return __version__


# --------------------------------------------------------------------------------------- load
def _open(path):
    """np.load the file, checking it is a minigen .npz; returns (NpzFile, meta dict)."""
    path = os.fspath(path)
    if not os.path.exists(path):
        raise FileNotFoundError(f"no such file: {path}")
    if not zipfile.is_zipfile(path):
        raise ValueError(f"{path} is not a minigen .npz file (not a zip archive: damaged, cut short, or "
                         "another format)")
    try:
        npz = np.load(path, allow_pickle=False)
    except (ValueError, OSError, zipfile.BadZipFile) as e:
        raise ValueError(f"{path} is not a minigen .npz file ({e})") from None
    if not isinstance(npz, np.lib.npyio.NpzFile):
        raise ValueError(f"{path} is a single .npy array, not a minigen .npz file")
    if HEADER_KEY not in npz.files:
        npz.close()
        raise ValueError(f"{path} is an .npz file but not one written by minigen "
                         f"(it has no '{HEADER_KEY}' entry); load it with numpy.load instead")
    try:
        meta = json.loads(bytes(_read(npz, HEADER_KEY, path)).decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        npz.close()
        raise ValueError(f"{path}: its minigen header is not valid JSON ({e})") from None
    version = meta.get("format_version")
    if not isinstance(version, int) or version > FORMAT_VERSION:
        npz.close()
        raise ValueError(f"{path} was written in minigen file format {version!r} (minigen "
                         f"{meta.get('minigen_version')}); this minigen {_version()} reads formats up "
                         f"to {FORMAT_VERSION}: upgrade minigen")
    return npz, meta


def _read(npz, key, path):
    try:
        return npz[key]
    except ValueError as e:
        if "allow_pickle" in str(e) or "pickle" in str(e).lower():
            raise ValueError(f"{path}: entry '{key}' contains pickled objects; minigen never loads "
                             "pickle") from None
        raise ValueError(f"{path}: entry '{key}' cannot be read ({e})") from None
    except (zipfile.BadZipFile, EOFError, zlib.error, OSError) as e:     # a damaged or truncated file
        raise ValueError(f"{path}: entry '{key}' is damaged ({type(e).__name__}: {e})") from None


def _join(value, arrays):
    if isinstance(value, dict):
        if set(value) == {_ARRAY}:
            return arrays[value[_ARRAY]]
        return {k: _join(v, arrays) for k, v in value.items()}
    if isinstance(value, list):
        return [_join(v, arrays) for v in value]
    return value


def load(path) -> dict:
    """Read a file written by ``save``: the nested dict with NumPy arrays at its leaves."""
    npz, meta = _open(path)
    with npz:
        # every entry is read, so a file with any pickled entry is refused whole
        arrays = {key: _read(npz, key, os.fspath(path)) for key in npz.files if key != HEADER_KEY}
    return _join(meta["tree"], arrays)


def read_header(path) -> dict:
    """The ``header`` given to ``save``, plus ``format_version`` and ``minigen_version``; the arrays
    are not read."""
    npz, meta = _open(path)
    npz.close()
    return {**meta["header"], "format_version": meta["format_version"],
            "minigen_version": meta["minigen_version"]}
