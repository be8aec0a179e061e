"""The files the commands read and write, checked before any slow work starts.

    output_file(path, flag)         a file to (over)write: not a folder; a missing folder above it is
                                    created (as ``train`` creates its run folder), an unwritable one refused
    output_folder(path, flag)       a folder to write into (created if missing): not a file
    not_a_file(path, flag)          a folder that will be created later: not a file now
    load_array(path, flag)          a NumPy .npy array, never a pickle
    load_png(path, flag, channels)  a PNG image as a condition image (grey levels; alpha as a mask)
    save_array(path, array)         float32 .npy, written atomically
    save_array_in_chunks(path, shape, chunks)    the same, filled chunk by chunk through a memory map, so
                                    that N samples need memory for one chunk only; refused up front
                                    when the disk cannot hold the file
"""
from __future__ import annotations

import math
import os
import shutil

import numpy as np

from .. import io
from ..recipe import UsageError


def _folder_of(path):
    return os.path.dirname(os.path.abspath(path))


def output_file(path, flag):
    """``path``, once it is known that a file can be written there (see the module docstring)."""
    if os.path.isdir(path):
        raise UsageError(f"{flag} {path} is a folder; give a file name, like {os.path.join(path, 'out.npy')}")
    folder = _folder_of(path)
    output_folder(folder, flag)
    return path


def not_a_file(folder, flag):
    """``folder``, unless a file stands where it should be (it is created later, when needed)."""
    if os.path.exists(folder) and not os.path.isdir(folder):
        raise UsageError(f"{flag}: {folder} is a file, not a folder")
    return folder


def output_folder(folder, flag):
    """``folder``, created if missing, once it is known to be a writable folder."""
    not_a_file(folder, flag)
    try:
        os.makedirs(folder, exist_ok=True)
    except OSError as e:
        raise UsageError(f"{flag}: cannot create the folder {folder} ({e.strerror})") from None
    if not os.access(folder, os.W_OK):
        raise UsageError(f"{flag}: cannot write into {folder} (permission denied)")
    return folder


def load_array(path, flag):
    if not os.path.exists(path):
        raise UsageError(f"{flag}: no such file {path}")
    if os.path.isdir(path):
        raise UsageError(f"{flag}: {path} is a folder, not a .npy file")
    with open(path, "rb") as f:
        if f.read(6) != b"\x93NUMPY":
            raise UsageError(f"{flag}: {path} is not a NumPy .npy array (it does not start as one: another "
                             "format, or a damaged file)")
    try:
        array = np.load(path, allow_pickle=False)
    except (ValueError, OSError, EOFError) as e:
        raise UsageError(f"{flag}: {path} is not a NumPy .npy array ({e})") from None
    if not isinstance(array, np.ndarray):          # an .npz archive
        raise UsageError(f"{flag}: {path} is an .npz archive; give one .npy array")
    return array


def save_array(path, array):
    with io.atomic_write(path) as f:
        np.save(f, np.asarray(array, dtype=np.float32), allow_pickle=False)


def _human(n_bytes):
    for unit in ("bytes", "kB", "MB", "GB", "TB", "PB"):
        if n_bytes < 1000 or unit == "PB":
            return f"{n_bytes:.0f} {unit}" if unit == "bytes" else f"{n_bytes:.1f} {unit}"
        n_bytes /= 1000


def check_room(path, shape, flag="--out"):
    """Refuse an output of float32 ``shape`` that the disk under ``path`` cannot hold."""
    needed = math.prod(shape) * 4
    free = shutil.disk_usage(_folder_of(path)).free
    if needed > free:
        raise UsageError(f"{flag}: {shape[0]:,} samples of shape {tuple(shape[1:])} need {_human(needed)} on "
                         f"disk, and {_folder_of(path)} has {_human(free)} free; ask for fewer")


def save_array_in_chunks(path, shape, chunks):
    """Write float32 ``shape`` to the .npy file ``path`` from ``chunks``, an iterable of arrays that
    together fill it along the first axis; atomically (nothing at ``path`` unless it completes)."""
    check_room(path, shape)
    with io.atomic_path(path) as tmp:
        array = np.lib.format.open_memmap(tmp, mode="w+", dtype=np.float32, shape=tuple(shape))
        start = 0
        for chunk in chunks:
            array[start:start + len(chunk)] = chunk
            start += len(chunk)
        if start != shape[0]:
            raise RuntimeError(f"save_array_in_chunks: the chunks held {start} rows, not {shape[0]}")
        array.flush()
        del array


def load_png(path, flag, channels):
    """A PNG image as a condition (channels, H, W) in [0, 1]: its grey levels (the mean of R, G, B);
    with channels = 2, the grey levels where the alpha channel is opaque (> 0.5) and that mask."""
    import matplotlib.image
    try:
        image = np.asarray(matplotlib.image.imread(path), dtype=np.float32)
    except (OSError, ValueError, SyntaxError) as e:
        raise UsageError(f"{flag}: {path} is not a readable PNG image ({e})") from None
    if image.dtype.kind != "f" or image.max() > 1:
        image = image / 255.0
    if image.ndim == 2:
        grey, alpha = image, None
    else:
        colour = image[..., :3] if image.shape[-1] >= 3 else image[..., :1]
        grey = colour.mean(axis=-1)
        alpha = image[..., -1] if image.shape[-1] in (2, 4) else None
    if channels == 1:
        return grey[None]
    if channels == 2:
        if alpha is None:
            raise UsageError(f"{flag}: {path} has no alpha channel; this model's condition is a digit with "
                             "hidden pixels and its mask: make the hidden pixels transparent")
        mask = (alpha > 0.5).astype(np.float32)
        return np.stack([grey * mask, mask])
    raise UsageError(f"{flag}: a PNG holds 1 or 2 condition channels; this model needs {channels}: give a .npy array")
