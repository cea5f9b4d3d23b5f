import os, random, threading, zipfile
from pathlib import Path

import numpy as np
import pytest
import torch
from fastai.torch_core import default_device
from fastai.vision.core import TensorImage
from PIL import Image

from superres.augment import BatchPadCropFlip, RandomErase
from superres.data import (DataError, TinyImageNet, background, cache_dir, classification_dls,
                           decoded_dls, find_tiny_imagenet, image_stats, is_val, validate_tiny_imagenet)
from conftest import N_TRAIN, N_VAL, wnid

def test_find_folder_parent_and_env(tiny_root, monkeypatch):
    assert find_tiny_imagenet(tiny_root) == tiny_root
    assert find_tiny_imagenet(tiny_root.parent) == tiny_root
    monkeypatch.setenv('SUPERRES_DATA', str(tiny_root))
    assert find_tiny_imagenet() == tiny_root

def test_find_falls_back_to_fastai_data_folder(tiny_root, monkeypatch, tmp_path):
    monkeypatch.delenv('SUPERRES_DATA', raising=False)
    import fastai.data.external as ext
    monkeypatch.setattr(ext, 'fastai_path', lambda folder: tiny_root.parent)
    assert find_tiny_imagenet() == tiny_root
    monkeypatch.setattr(ext, 'fastai_path', lambda folder: tmp_path)
    with pytest.raises(DataError, match='not found'): find_tiny_imagenet(download=False)

def test_download_goes_to_fastai_data_folder(tiny_zip, monkeypatch, tmp_path):
    "With nothing local, the official URL is fetched (here: a stand-in that copies the fixture zip)."
    import fastai.data.external as ext, fastdownload
    monkeypatch.delenv('SUPERRES_DATA', raising=False)
    monkeypatch.setattr(ext, 'fastai_path', lambda folder: tmp_path)
    urls = []
    def fake_download(url, dest, show_progress=True):
        urls.append(url); Path(dest).write_bytes(tiny_zip.read_bytes())
    monkeypatch.setattr(fastdownload, 'download_url', fake_download)
    root = find_tiny_imagenet()
    assert urls == ['http://cs231n.stanford.edu/tiny-imagenet-200.zip']
    assert (tmp_path/'tiny-imagenet-200.zip').is_file() and (root/'wnids.txt').is_file()

def test_zip_extracted_once_into_cache(tiny_zip):
    root = find_tiny_imagenet(tiny_zip)
    assert cache_dir() in root.parents and (root/'wnids.txt').is_file()
    marker = root/'marker'
    marker.write_text('x')
    assert find_tiny_imagenet(tiny_zip) == root and marker.exists()  # reused, not re-extracted
    marker.unlink()

def test_interrupted_extraction_is_never_used(tiny_root, tmp_path, monkeypatch):
    from conftest import zip_folder
    z = zip_folder(tiny_root, tmp_path/'tiny-imagenet-200.zip')
    def broken(self, path=None, *a, **k):
        (Path(path)/'tiny-imagenet-200').mkdir(parents=True)
        raise OSError('disk full')
    monkeypatch.setattr(zipfile.ZipFile, 'extractall', broken)
    with pytest.raises(DataError, match='not a complete zip'): find_tiny_imagenet(z)
    monkeypatch.undo()
    root = find_tiny_imagenet(z)
    validate_tiny_imagenet(root)

def test_partial_zip_is_a_clear_error(tiny_zip, tmp_path):
    part = tmp_path/'tiny-imagenet-200.zip'
    part.write_bytes(tiny_zip.read_bytes()[:len(tiny_zip.read_bytes())//2])
    with pytest.raises(DataError): find_tiny_imagenet(part)

def test_validation_names_what_is_missing(fresh_tiny):
    import shutil
    shutil.rmtree(fresh_tiny/'train'/wnid(5)/'images')
    ann = fresh_tiny/'val'/'val_annotations.txt'
    ann.write_text(ann.read_text() + 'val_x.JPEG\tn12345678\t0\t0\t1\t1\n')
    with pytest.raises(DataError) as e: validate_tiny_imagenet(fresh_tiny)
    msg = str(e.value)
    assert wnid(5) in msg and 'n12345678' in msg and 'val_x.JPEG' in msg

def test_validation_missing_files_and_class_count(fresh_tiny):
    (fresh_tiny/'val'/'val_annotations.txt').unlink()
    lines = (fresh_tiny/'wnids.txt').read_text().split()
    (fresh_tiny/'wnids.txt').write_text('\n'.join(lines[:150]))
    with pytest.raises(DataError) as e: validate_tiny_imagenet(fresh_tiny)
    assert 'val_annotations.txt' in str(e.value) and '150 classes' in str(e.value)

def test_missing_path_is_clear(tmp_path):
    with pytest.raises(DataError, match='does not exist'): find_tiny_imagenet(tmp_path/'nope')
    (tmp_path/'a.txt').write_text('x')
    with pytest.raises(DataError, match='not a zip'): find_tiny_imagenet(tmp_path/'a.txt')

def test_labels_names_and_subset(tiny_root):
    tin = TinyImageNet(tiny_root, classes=3, per_class=4)
    assert tin.wnids == [wnid(i) for i in range(3)]
    assert tin.names[wnid(1)] == 'thing1'
    train = tin.train_files()
    assert len(train) == 12 and [f.name for f in train[:4]] == [f'{wnid(0)}_{k}.JPEG' for k in range(4)]
    assert all(tin.label(f) == f.parent.parent.name for f in train)
    val = tin.val_files()
    assert len(val) == 3 * N_VAL and all(is_val(f) for f in val)
    assert [tin.label(f) for f in val] == [wnid(i) for i in range(3) for _ in range(N_VAL)]

def test_image_stats_match_numpy(tiny_root):
    files = TinyImageNet(tiny_root, classes=2).train_files()
    mean, std = image_stats(files)
    a = np.concatenate([np.asarray(Image.open(f).convert('RGB'), dtype=np.float64).reshape(-1, 3) / 255 for f in files])
    np.testing.assert_allclose(mean, a.mean(0), rtol=1e-6)
    np.testing.assert_allclose(std, a.std(0), rtol=1e-6)

def test_dls_grayscale_to_rgb_and_valid_untouched(tiny_root):
    dls = classification_dls(tiny_root, classes=4, bs=8, num_workers=0)
    x, y = dls.train.one_batch()
    assert x.shape == (8, 3, 64, 64) and x.min() >= 0 and x.max() <= 1
    assert list(dls.vocab) == [wnid(i) for i in range(4)]
    xv, yv = dls.valid.one_batch()
    files = dls.valid_ds.items[:len(xv)]
    raw = torch.stack([torch.from_numpy(np.asarray(Image.open(f).convert('RGB'))).permute(2, 0, 1) for f in files]).float() / 255
    assert torch.equal(xv.cpu().as_subclass(torch.Tensor), raw)  # no augmentation on the validation set
    assert [dls.vocab[i] for i in yv] == [dls.tin.label(f) for f in files]

def test_train_transforms_change_images(tiny_root):
    dls = classification_dls(tiny_root, classes=4, bs=8, num_workers=0, shuffle=False)
    files = dls.train_ds.items[:8]
    raw = torch.stack([torch.from_numpy(np.asarray(Image.open(f).convert('RGB'))).permute(2, 0, 1) for f in files]).float() / 255
    x, _ = dls.train.one_batch()
    assert not torch.equal(x.as_subclass(torch.Tensor), raw)

def batch(n=16, val=0.5): return TensorImage(torch.full((n, 3, 64, 64), val))

def test_random_erase_per_image():
    torch.manual_seed(0)
    x = batch()
    assert torch.equal(RandomErase(p=0.)(x, split_idx=0), x)
    out = RandomErase(p=1.)(x, split_idx=0)
    erased = (out != 0.5).any(1).flatten(1).sum(1)
    assert (erased > 0).all() and len(set(erased.tolist())) > 4  # every image, each its own rectangle
    assert torch.equal(RandomErase(p=1.)(x, split_idx=1), x)  # never on the validation set

def test_random_erase_respects_types():
    class Other(TensorImage): pass
    erase = RandomErase(p=1., types=Other)
    assert not torch.equal(erase(Other(torch.full((4, 3, 8, 8), 0.5)), split_idx=0).as_subclass(torch.Tensor), torch.full((4, 3, 8, 8), .5))
    y = batch(4)
    assert torch.equal(erase(y, split_idx=0), y)

def test_batch_crop_flip_identical_on_tuple_and_per_image():
    torch.manual_seed(0)
    x = TensorImage(torch.rand(32, 3, 16, 16))
    a, b = BatchPadCropFlip(pad=2)((x, x.clone()), split_idx=0)
    assert torch.equal(a, b) and not torch.equal(a, x)
    shifts = {tuple(((a[i] != 0).float().sum((0, 1)) > 0).nonzero().flatten().tolist()) for i in range(32)}
    assert len(shifts) > 2  # per-image offsets, not one draw per batch
    same = BatchPadCropFlip(pad=0, p_flip=0.)(x, split_idx=0)
    assert torch.equal(same, x)
    flipped = BatchPadCropFlip(pad=0, p_flip=1.)(x, split_idx=0)
    assert torch.equal(flipped, x.flip(-1))

def test_decoded_dls_matches_files(tiny_root):
    dls = decoded_dls(tiny_root, classes=3, bs=4)
    assert dls.device == default_device()  # else a Learner leaves the model on the CPU beside a GPU
    xv, yv = dls.valid.one_batch()
    tin = dls.tin
    raw = torch.stack([torch.from_numpy(np.asarray(Image.open(f).convert('RGB'))).permute(2, 0, 1) for f in tin.val_files()[:4]]).float() / 255
    assert torch.equal(xv.as_subclass(torch.Tensor), raw)
    assert [tin.wnids[i] for i in yv] == [tin.label(f) for f in tin.val_files()[:4]]
    x, y = dls.train.one_batch()
    assert x.shape == (4, 3, 64, 64) and x.dtype == torch.float32
    train = dls.train.dataset
    raw = torch.from_numpy(np.asarray(train.x)).float() / 255
    batches = [dls.train.one_batch()[0].as_subclass(torch.Tensor) for _ in range(3)]
    unchanged = sum(any(torch.equal(b[j], r) for r in raw) for b in batches for j in range(len(b)))
    assert unchanged <= 2  # crop/flip/erase ran on the training set (a zero-offset unflipped crop is rare)

def test_prefetched_batches_are_the_same_batches(tiny_root):
    dl = decoded_dls(tiny_root, classes=3, bs=4, progress=False).train
    def batches(prefetch):
        dl.prefetch, dl.rng = prefetch, random.Random(0)  # same shuffle
        torch.manual_seed(0)  # same augmentation draws
        return [(x.clone(), y.clone()) for x, y in dl]
    plain, ahead = batches(False), batches(True)
    assert len(plain) == len(dl) > 1
    assert all(torch.equal(a, b) for p, q in zip(plain, ahead) for a, b in zip(p, q))
    threads = threading.active_count()
    it = iter(dl)
    next(it); it.close()  # stopped early (a time budget, one_batch): the thread ends with it
    assert threading.active_count() == threads
    dl.prefetch = None  # the default: background batches on a GPU only
    it = iter(dl)
    next(it)
    assert threading.active_count() == threads + (dl.device.type == 'cuda')
    it.close()

def test_background_raises_the_error_where_it_is_consumed():
    def failing():
        yield 1
        raise ValueError('bad batch')
    got = []
    with pytest.raises(ValueError, match='bad batch'):
        for o in background(failing()): got.append(o)
    assert got == [1]

def test_decoded_cache_built_once_and_rebuilt_when_stale(fresh_tiny, tmp_path, monkeypatch):
    from superres import cache
    from superres.data import load_rgb
    files = sorted((fresh_tiny/'val'/'images').glob('*.JPEG'))[:5]
    def pil(): return np.stack([np.asarray(load_rgb(f)).transpose(2, 0, 1) for f in files])
    decodes, decode = [], cache.decode_into
    monkeypatch.setattr(cache, 'decode_into', lambda out, fs, *a, **k: decodes.append(len(fs)) or decode(out, fs, *a, **k))
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
    from superres.cache import decoded_cache
    from superres.data import load_rgb
    files = sorted((fresh_tiny/'val'/'images').glob('*.JPEG'))[:5]
    def load(f):
        if f == str(files[3]): raise KeyboardInterrupt
        return load_rgb(f)
    with pytest.raises(KeyboardInterrupt): decoded_cache(files, load, tmp_path/'c', progress=False)
    assert list((tmp_path/'c').iterdir()) == []

def test_decoded_pipeline_sees_the_same_data_as_the_pil_pipeline(tiny_root):
    "Same images (decoded pixels) and labels in both pipelines, so switching pipeline changes speed, not data."
    from superres.data import load_rgb
    dec = decoded_dls(tiny_root, classes=4, bs=4, progress=False)
    pil = classification_dls(tiny_root, classes=4, bs=4, num_workers=0)
    for dl, files, items in ((dec.train, dec.tin.train_files(), pil.train.items), (dec.valid, dec.tin.val_files(), pil.valid.items)):
        assert sorted(map(str, files)) == sorted(map(str, items))
        assert np.array_equal(np.asarray(dl.dataset.x), np.stack([np.asarray(load_rgb(f)).transpose(2, 0, 1) for f in files]))
        assert [dec.vocab[i] for i in dl.dataset.y] == [pil.tin.label(f) for f in files]
