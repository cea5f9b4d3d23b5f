"""DataLoaders: classification and restoration pairs, from per-item DataBlocks and from the decoded cache, which must
serve the same data."""
import random
import threading
from functools import partial

import numpy as np
import pytest
import torch
from conftest import wnid
from fastai.torch_core import default_device
from PIL import Image

from superres.configs import FineTuneConfig, RestorerData
from superres.data import (
    Degrade,
    PILImageLR,
    TensorImageLR,
    background,
    classification_dls,
    decoded_dls,
    decoded_paired_dls,
    decoded_pairs_unsupported,
    paired_dls,
    sr_dls,
    unsharp_mask,
)
from superres.degradations import Downscale, degrade_sr, parse_degradation
from superres.errors import UsageError
from superres.images import load_rgb
from superres.recipes import train_restorer


def plain(t): return t.as_subclass(torch.Tensor).cpu()

def as_uint8(t): return (plain(t) * 255).round().byte()

def raw_images(files):
    "The files as a float batch in [0,1], decoded by PIL without any transform."
    arrays = [torch.from_numpy(np.asarray(Image.open(f).convert('RGB'))).permute(2, 0, 1) for f in files]
    return torch.stack(arrays).float() / 255

def test_dls_grayscale_to_rgb_and_valid_untouched(tiny_root):
    dls = classification_dls(tiny_root, classes=4, bs=8, num_workers=0)
    x, y = dls.train.one_batch()
    assert x.shape == (8, 3, 64, 64) and x.min() >= 0 and x.max() <= 1
    assert list(dls.vocab) == [wnid(i) for i in range(4)]
    xv, yv = dls.valid.one_batch()
    files = dls.valid_ds.items[:len(xv)]
    assert torch.equal(xv.cpu().as_subclass(torch.Tensor), raw_images(files))  # no augmentation on the validation set
    assert [dls.vocab[i] for i in yv] == [dls.tin.label(f) for f in files]

def test_train_transforms_change_images(tiny_root):
    dls = classification_dls(tiny_root, classes=4, bs=8, num_workers=0, shuffle=False)
    files = dls.train_ds.items[:8]
    x, _ = dls.train.one_batch()
    assert not torch.equal(x.as_subclass(torch.Tensor), raw_images(files))

def test_decoded_dls_matches_files(tiny_root):
    dls = decoded_dls(tiny_root, classes=3, bs=4)
    assert dls.device == default_device()  # else a Learner leaves the model on the CPU beside a GPU
    xv, yv = dls.valid.one_batch()
    tin = dls.tin
    assert torch.equal(xv.as_subclass(torch.Tensor), raw_images(tin.val_files()[:4]))
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
    plain_, ahead = batches(False), batches(True)
    assert len(plain_) == len(dl) > 1
    assert all(torch.equal(a, b) for p, q in zip(plain_, ahead) for a, b in zip(p, q))
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

def test_decoded_pipeline_sees_the_same_data_as_the_pil_pipeline(tiny_root):
    "Same images (decoded pixels) and labels in both pipelines, so switching pipeline changes speed, not data."
    dec = decoded_dls(tiny_root, classes=4, bs=4, progress=False)
    pil = classification_dls(tiny_root, classes=4, bs=4, num_workers=0)
    for dl, files, items in ((dec.train, dec.tin.train_files(), pil.train.items),
                             (dec.valid, dec.tin.val_files(), pil.valid.items)):
        assert sorted(map(str, files)) == sorted(map(str, items))
        decoded = np.stack([np.asarray(load_rgb(f)).transpose(2, 0, 1) for f in files])
        assert np.array_equal(np.asarray(dl.dataset.x), decoded)
        assert [dec.vocab[i] for i in dl.dataset.y] == [pil.tin.label(f) for f in files]

def test_paired_items_share_crop_and_flip(tiny_root):
    dls = sr_dls(tiny_root, scale=1, erase=0, classes=5, bs=8, num_workers=0)
    x, y = dls.train.one_batch()
    assert isinstance(x, TensorImageLR) and not isinstance(y, TensorImageLR)
    assert torch.equal(plain(x), plain(y))  # un-degraded input == target, pixel for pixel, after random crop + flip

def test_degradation_and_erasing_hit_the_input_only(tiny_root):
    dls = sr_dls(tiny_root, scale=2, erase=0, classes=5, bs=8, num_workers=0)
    x, y = dls.valid.one_batch()
    files = dls.valid_ds.items[:len(y)]
    raw = raw_images(files)
    same = partial(torch.testing.assert_close, rtol=0, atol=1e-6)  # on CUDA x/255 is x*(1/255): one ulp off the CPU's
    same(plain(y), raw)
    assert (plain(x) - raw).abs().max() > 0.01
    degraded = [torch.from_numpy(np.asarray(degrade_sr(Image.open(f).convert('RGB')))).permute(2, 0, 1) for f in files]
    same(plain(x), torch.stack(degraded) / 255)
    dls = sr_dls(tiny_root, scale=1, erase=0.25, classes=5, bs=16, num_workers=0)
    x, y = dls.train.one_batch()
    assert not torch.equal(plain(x), plain(y))

@pytest.mark.parametrize('task', ['jpeg', 'colorize', 'inpaint', 'denoise'])
def test_degradation_hits_the_input_only(tiny_root, task):
    dls = paired_dls(tiny_root, task, erase=0, classes=4, bs=8, num_workers=0)
    x, y = dls.valid.one_batch()
    raw = raw_images(dls.valid_ds.items[:len(y)])
    assert torch.equal(y.as_subclass(torch.Tensor), raw) and not torch.equal(x.as_subclass(torch.Tensor), raw)
    assert dls.scale == 1 and dls.degradation.name == task
    if task == 'colorize': assert torch.equal(x[:, 0], x[:, 1]) and torch.equal(x[:, 1], x[:, 2])

def test_decoded_pairs_are_the_datablock_pairs(tiny_root):
    deg = Downscale(2)
    fast = decoded_paired_dls(tiny_root, deg, classes=5, bs=8, erase=0, progress=False)
    slow = sr_dls(tiny_root, scale=2, classes=5, bs=8, erase=0, num_workers=0)
    (xf, yf), (xs, ys) = fast.valid.one_batch(), slow.valid.one_batch()
    assert torch.equal(as_uint8(yf), as_uint8(ys))  # same validation images, in the same order
    diff = (as_uint8(xf).int() - as_uint8(xs).int()).abs()
    assert diff.max() <= 2 and diff.float().mean() < 0.1  # the tensor resize is PIL's up to its rounding
    torch.manual_seed(0)
    x, y = fast.train.one_batch()
    assert torch.equal(as_uint8(x), deg.batch(as_uint8(y)))  # input = degraded target after the shared crop and flip
    edges = torch.stack([y[:, :, 0], y[:, :, -1], y[:, :, :, 0], y[:, :, :, -1]], 1)
    assert (plain(edges).amax((2, 3)) == 0).any()  # some crops reach into the zero padding, as the PIL path's do
    erased = decoded_paired_dls(tiny_root, deg, classes=5, bs=16, progress=False)
    x, y = erased.train.one_batch()
    assert not torch.equal(as_uint8(x), deg.batch(as_uint8(y)))  # erasing changed some inputs

def test_decoded_pairs_say_what_they_cannot_serve(tiny_root, tmp_path):
    assert decoded_pairs_unsupported(tiny_root, Downscale(3, ['bicubic', 'bilinear'], 'nearest')) is None
    assert decoded_pairs_unsupported(tmp_path, Downscale(2), size=96) is None  # photos: crops of any size
    assert decoded_pairs_unsupported([tiny_root, tmp_path], Downscale(2), size=48) is None
    assert '96' in decoded_pairs_unsupported([tiny_root, tmp_path], Downscale(2), size=96)  # Tiny ImageNet is 64
    for task in ('jpeg', 'superres:down=lanczos', 'real+superres'):  # a chain has no batched form
        assert 'no batched form' in decoded_pairs_unsupported(tiny_root, parse_degradation(task))
    with pytest.raises(UsageError, match='`pipeline` datablock'):
        train_restorer(tmp_path/'run', 'jpeg', data=RestorerData(tiny_root, classes=2, pipeline='decoded'),
                       schedule=FineTuneConfig(epochs=1))

def test_degrade_filters():
    img = PILImageLR(Image.fromarray(np.random.default_rng(0).integers(0, 255, (16, 16, 3), dtype=np.uint8)))
    out = np.asarray(Degrade(Downscale(2, 'bicubic', 'nearest'))(img))
    assert out.shape == (16, 16, 3) and (out[::2, ::2] == out[1::2, 1::2]).all()  # nearest upsample: 2x2 blocks
    assert not np.array_equal(np.asarray(Degrade('superres:scale=4')(img)), np.asarray(Degrade()(img)))
    with pytest.raises(UsageError, match='filter'): Degrade('superres:down=fancy')

def test_any_folder_of_images(tmp_path):
    rng = np.random.default_rng(0)
    for i in range(6):
        Image.fromarray(rng.integers(0, 255, (90 + i, 120, 3), dtype=np.uint8)).save(tmp_path/f'p{i}.png')
    dls = sr_dls(tmp_path, size=48, bs=2, num_workers=0, erase=0)
    x, y = dls.train.one_batch()
    assert x.shape == y.shape == (2, 3, 48, 48)

@pytest.mark.parametrize('task', ['superres', 'real:scale=2'])
def test_sharpened_targets_leave_the_inputs_alone(tiny_root, task):
    "Unsharp-masked targets (Real-ESRGAN's): the same pairs, the targets' edges boosted, flat areas and inputs kept."
    def batch(sharpen):
        torch.manual_seed(0), random.seed(0)
        return decoded_paired_dls(tiny_root, task, classes=2, bs=6, erase=0, sharpen_target=sharpen).valid.one_batch()
    (x, y), (xs, ys) = batch(None), batch(0.5)
    assert torch.equal(plain(x), plain(xs)) and type(ys) is not TensorImageLR
    assert torch.allclose(plain(ys), unsharp_mask(plain(y), 0.5), atol=1e-6)
    assert (plain(ys) - plain(y)).abs().max() > 0.05
    flat = torch.full((1, 3, 32, 32), 0.4)
    assert torch.equal(unsharp_mask(flat), flat)
