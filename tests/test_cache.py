"""The decoded-image cache: built once, atomically, and rebuilt when its source or its own file changes."""
import numpy as np
import pytest
from PIL import Image

from superres import cache
from superres.images import load_rgb


def test_decoded_cache_built_once_and_rebuilt_when_stale(fresh_tiny, tmp_path, monkeypatch):
    files = sorted((fresh_tiny/'val'/'images').glob('*.JPEG'))[:5]
    def pil(): return np.stack([np.asarray(load_rgb(f)).transpose(2, 0, 1) for f in files])
    decodes, decode = [], cache.decode_into
    def counted(out, fs, *a, **k):
        decodes.append(len(fs))
        return decode(out, fs, *a, **k)
    monkeypatch.setattr(cache, 'decode_into', counted)
    def cached(): return cache.decoded_cache(files, load_rgb, tmp_path/'c', progress=False)
    arr = cached()
    assert isinstance(arr, np.memmap) and not arr.flags.writeable and np.array_equal(arr, pil()) and decodes == [5]
    assert [p.name for p in (tmp_path/'c').iterdir() if p.name.startswith('.')] == []  # no temporary file left
    assert np.array_equal(cached(), pil()) and decodes == [5]  # reused, not decoded again
    Image.new('RGB', (64, 64), (255, 0, 0)).save(files[2])  # the source changes
    assert np.array_equal(cached(), pil()) and decodes == [5, 5] and (cached()[2, 0] == 254).mean() > 0.9
    npy = next((tmp_path/'c').glob('*.npy'))
    with open(npy, 'r+b') as f: f.truncate(npy.stat().st_size - 100)  # a damaged cache file
    assert np.array_equal(cached(), pil()) and decodes == [5, 5, 5]

def test_interrupted_cache_build_leaves_nothing(fresh_tiny, tmp_path):
    files = sorted((fresh_tiny/'val'/'images').glob('*.JPEG'))[:5]
    def load(f):
        if f == str(files[3]): raise KeyboardInterrupt
        return load_rgb(f)
    with pytest.raises(KeyboardInterrupt): cache.decoded_cache(files, load, tmp_path/'c', progress=False)
    assert list((tmp_path/'c').iterdir()) == []
