"""Decoded-image caches: JPEGs decoded once into a memory-mapped uint8 array, reused until their source changes."""
import hashlib
import json
import os
from pathlib import Path

import numpy as np
from fastprogress.fastprogress import progress_bar
from PIL import Image

from .files import atomic_path, atomic_write_text, cache_dir
from .images import load_rgb

__all__ = ['source_checksum', 'decode_into', 'decoded_cache', 'decoded_images']

def source_checksum(files):
    "Fingerprint of `files` (path, size and modification time of each), cheap enough to check on every run."
    h = hashlib.sha1()
    for f in files:
        st = os.stat(f)
        h.update(f'{f}\0{st.st_size}\0{st.st_mtime_ns}\n'.encode())
    return h.hexdigest()

def decode_into(out,  # a uint8 array (n, 3, size, size), in memory or memory-mapped: filled and returned
                files,  # the n images, each as `load` takes it
                load,  # file -> RGB PIL image
                size,  # the side in pixels (other sizes are resized, bicubic)
                progress=True):  # show a progress bar
    "Decode each of `files` with `load` (resized to `size` if needed) into row i of the uint8 array `out`."
    for i, f in enumerate(progress_bar(files, leave=False) if progress else files):
        im = load(f)
        if im.size != (size, size): im = im.resize((size, size), Image.BICUBIC)
        out[i] = np.asarray(im).transpose(2, 0, 1)
    return out

def _valid(arr_path, meta_path, checksum, shape):
    "A cache is used only if its metadata names this source and its array file has exactly the expected shape and size."
    try:
        meta = json.loads(Path(meta_path).read_text())
        arr = np.load(arr_path, mmap_mode='r')
    except (OSError, ValueError): return None
    expected = arr.offset + int(np.prod(shape))
    if (meta.get('checksum') != checksum or arr.shape != shape or arr.dtype != np.uint8
            or os.path.getsize(arr_path) != expected): return None
    return arr

def decoded_cache(files,  # the image files, in the array's order (a file changed since: rebuilt)
                  load,  # file -> RGB PIL image
                  folder,  # where the cache's .npy array and .json metadata live
                  size=64,  # the side in pixels (other sizes are resized, bicubic)
                  progress=True):  # show a progress bar while building
    "A read-only (n, 3, size, size) uint8 memmap of `files`, built atomically with a progress bar if missing or stale."
    files = [str(f) for f in files]
    name = hashlib.sha1(('\n'.join(files) + f'\n{size}').encode()).hexdigest()[:16]
    folder = Path(folder)
    arr_path, meta_path = folder/f'{name}.npy', folder/f'{name}.json'
    checksum, shape = source_checksum(files), (len(files), 3, size, size)
    arr = _valid(arr_path, meta_path, checksum, shape)
    if arr is not None: return arr
    # the array is replaced first and the metadata last, so a crash in between reads as stale
    meta_path.unlink(missing_ok=True)
    with atomic_path(arr_path) as tmp:
        out = np.lib.format.open_memmap(tmp, mode='w+', dtype=np.uint8, shape=shape)
        decode_into(out, files, load, size, progress)
        out.flush(); del out
    atomic_write_text(meta_path, json.dumps(dict(checksum=checksum, shape=shape, n_files=len(files), size=size)))
    return np.load(arr_path, mmap_mode='r')

def decoded_images(files,  # the image files
                   size=64,  # the side in pixels (other sizes are resized, bicubic)
                   cache=True,  # memory-mapped from the on-disk cache in `cache_dir()/decoded` (off: decoded in memory)
                   progress=True):  # show a progress bar while decoding
    "`files` decoded to (n, 3, size, size) uint8: memory-mapped from the on-disk cache (built once), or in memory."
    if not cache: return decode_into(np.empty((len(files), 3, size, size), np.uint8), files, load_rgb, size, progress)
    return decoded_cache(files, load_rgb, cache_dir()/'decoded', size=size, progress=progress)
