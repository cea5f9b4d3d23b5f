"""Degradations: each task's damage is what its spec says, repeatable under a seed, and specs parse or are refused."""
import random

import numpy as np
import pytest
import torch
from conftest import smooth_photo as photo
from PIL import Image

from superres.degradations import (
    TASKS,
    Blur,
    CropSide,
    Downscale,
    Grayscale,
    Holes,
    JpegCompress,
    Noise,
    RealPhoto,
    Watermark,
    blur_kernel,
    filter_image,
    parse_degradation,
    sinc_kernel,
    task_degradation,
)
from superres.errors import UsageError
from superres.fills import GRAY, diffusion_fill
from superres.metrics import psnr


def arr(img): return np.asarray(img).astype(np.float64)

@pytest.mark.parametrize('task', [t for t in TASKS if t != 'style'])  # style's input is the photo (test_style.py)
def test_each_task_is_repeatable_under_a_seed_and_random_across_seeds(task):
    d, img = parse_degradation(task), photo()
    a, b = d(img, random.Random(1)), d(img, random.Random(1))
    assert np.array_equal(arr(a), arr(b)) and not np.array_equal(arr(a), arr(img))
    if task == 'superres':  # by default the SR benchmark's bicubic, always the same
        d = parse_degradation('superres:down=bicubic|bilinear|box')
    if task != 'colorize':
        assert any(not np.array_equal(arr(a), arr(d(img, random.Random(s)))) for s in range(2, 6))
    assert parse_degradation(d.spec).spec == d.spec  # the spec a model records rebuilds the same degradation

def test_jpeg_quality_sets_the_damage():
    img = photo()
    low, high = JpegCompress(5)(img), JpegCompress(90)(img)
    t = lambda im: torch.from_numpy(arr(im) / 255).permute(2, 0, 1)[None]
    assert psnr(t(low), t(img)) + 5 < psnr(t(high), t(img)) < 60

def test_colorize_input_is_gray_in_three_equal_channels():
    a = arr(Grayscale()(photo()))
    assert a.shape[-1] == 3 and (a[..., 0] == a[..., 1]).all() and (a[..., 1] == a[..., 2]).all()

@pytest.mark.parametrize('where', ['random', 'centre'])
def test_inpaint_hole_covers_the_stated_area_and_nothing_else_changes(where):
    img = photo(64, 64)
    out, mask = Holes(area=0.2, where=where, fill='gray').degrade(img, random.Random(3))
    m = np.asarray(mask) > 127
    assert abs(m.mean() - 0.2) < 0.02
    assert (arr(out)[m] == GRAY).all() and (arr(out)[~m] == arr(img)[~m]).all()
    if where == 'centre':
        ys, xs = np.nonzero(m)
        assert abs(ys.mean() - 31.5) <= 1 and abs(xs.mean() - 31.5) <= 1

def test_outpaint_removes_a_strip_of_the_stated_side_and_amount():
    img = photo(60, 40)
    out, mask = CropSide('left', 0.25, fill='gray').degrade(img)
    m = np.asarray(mask) > 127
    assert m[:, :15].all() and not m[:, 15:].any()
    assert (arr(out)[:, :15] == GRAY).all() and (arr(out)[:, 15:] == arr(img)[:, 15:]).all()
    big = CropSide(fill='gray').prepare(img, side='top', amount=0.5)
    assert big.size == (60, 60) and (arr(big)[:20] == GRAY).all() and (arr(big)[20:] == arr(img)).all()

def test_noise_has_the_stated_level():
    img = Image.new('RGB', (128, 128), (128, 128, 128))
    g = arr(Noise(kind='gaussian', sigma=20., gray=0.)(img, random.Random(0))) - 128
    assert 18.5 < g.std() < 21.5 and abs(g.mean()) < 1
    lo, hi = (arr(Noise(kind='poisson', peak=p, gray=0.)(img, random.Random(0))).std() for p in (5., 50.))
    assert lo > 2.5 * hi  # shot noise: std ~ 1/sqrt(peak)

def test_watermark_marks_part_of_the_image_and_blur_softens():
    img = photo(64, 64)
    changed = (arr(Watermark(opacity=1., size=0.3, logo=0.)(img, random.Random(0))) != arr(img)).any(-1).mean()
    assert 0.01 < changed < 0.6
    assert np.abs(np.diff(arr(Blur(2.)(img)), axis=1)).mean() < np.abs(np.diff(arr(img), axis=1)).mean() / 2

def test_specs_parse_compose_and_reject_typos():
    d = parse_degradation('jpeg:quality=5..30+denoise:kind=gaussian,sigma=10')
    assert [p.name for p in d.parts] == ['jpeg', 'denoise']
    assert d.parts[0].quality == (5., 30.) and d.parts[1].sigma == 10
    assert parse_degradation('real+superres:scale=4').scale == 4 and parse_degradation('real:scale=4').scale == 4
    for bad, msg in [('jpg', 'unknown task'), ('jpeg:qualty=5', 'bad parameter'), ('jpeg:5', 'key=value'),
                     ('outpaint:side=middle', 'side'), ('superres:down=fancy', 'filter')]:
        with pytest.raises(UsageError, match=msg): parse_degradation(bad)

def test_train_flags_set_only_the_superres_part():
    d = task_degradation('superres', scale=4, up='nearest')
    assert (d.scale, d.up, d.down) == (4, 'nearest', 'bicubic')
    d = task_degradation('jpeg+superres', scale=3, lr_input=True)
    assert d.scale == 3 and d.parts[1].up is None and d.parts[0].name == 'jpeg'
    with pytest.raises(UsageError, match='superres'): task_degradation('jpeg', scale=2)
    with pytest.raises(UsageError, match='low-resolution'): task_degradation('denoise', lr_input=True)

def test_smooth_and_diffusion_fills_beat_the_gray_hole_on_smooth_images():
    img = photo(64, 64)
    holed, mask = Holes(area=0.1, where='centre', fill='gray').degrade(img, random.Random(0))
    smooth, same_mask = Holes(area=0.1, where='centre').degrade(img, random.Random(0))
    m = np.asarray(mask) > 127
    assert np.array_equal(np.asarray(same_mask), np.asarray(mask))
    err = lambda im: np.abs(arr(im)[m] - arr(img)[m]).mean()
    assert err(diffusion_fill(holed, mask)) < err(holed) / 3 and err(smooth) < err(holed) / 3
    for filled in (diffusion_fill(holed, mask), smooth): assert (arr(filled)[~m] == arr(img)[~m]).all()
    with pytest.raises(UsageError, match='`mask`'): Holes().prepare(img)  # the CLI names it --mask

def test_downscale_batch_draws_a_filter_per_image():
    torch.manual_seed(0)
    x = torch.randint(0, 256, (64, 3, 16, 16), dtype=torch.uint8)
    out = Downscale(2, ['bicubic', 'nearest'], None).batch(x)
    bicubic, nearest = Downscale(2, 'bicubic', None).batch(x), Downscale(2, 'nearest', None).batch(x)
    is_bicubic = (out == bicubic).flatten(1).all(1)
    assert out.shape == (64, 3, 8, 8) and (is_bicubic | (out == nearest).flatten(1).all(1)).all()
    assert 16 < is_bicubic.sum() < 48

def blockiness(img):
    "Mean step across the columns and rows on JPEG's 8x8 grid over the mean step elsewhere (1: no grid)."
    y = arr(img.convert('L'))
    dx, dy = np.abs(np.diff(y, axis=1)), np.abs(np.diff(y, axis=0))
    on = lambda d, ax: np.take(d, np.arange(7, d.shape[ax], 8), axis=ax).mean()
    off = lambda d, ax: np.take(d, [i for i in range(d.shape[ax]) if i % 8 != 7], axis=ax).mean()
    return (on(dx, 1) + on(dy, 0)) / (off(dx, 1) + off(dy, 0))

def test_real_puts_its_jpeg_blocks_on_the_low_resolution_grid():
    "Artefacts at the photo's own scale: JPEG last at the low resolution, not at full size then shrunk x4."
    img = photo(256, 256)
    new, old = task_degradation('real:scale=4', lr_input=True), task_degradation('real+superres:scale=4', lr_input=True)
    seeds = range(24)
    b_new = np.mean([blockiness(new(img, random.Random(s))) for s in seeds])
    b_old = np.mean([blockiness(old(img, random.Random(s))) for s in seeds])
    assert new(img, random.Random(0)).size == old(img, random.Random(0)).size == (64, 64)
    assert b_new > 1.15 and b_old < 1.05 and b_new > b_old + 0.1, (b_new, b_old)

def test_real_scale_and_up_follow_the_task_flags():
    d = task_degradation('real', scale=2)
    assert isinstance(d, RealPhoto) and (d.scale, d.up) == (2, 'bicubic')
    assert d(photo(64, 48), random.Random(0)).size == (64, 48)  # upsampled back for full-size nets
    lr = task_degradation('real:scale=2', lr_input=True)
    assert lr.up is None and lr(photo(64, 48), random.Random(0)).size == (32, 24)
    with pytest.raises(UsageError, match='real:scale'): task_degradation('real', lr_input=True)
    with pytest.raises(UsageError, match='`down`'): task_degradation('real:scale=4', down='box')
    x = torch.from_numpy(np.stack([np.asarray(photo(32, 32))] * 3)).permute(0, 3, 1, 2).contiguous()
    assert lr.batch(x).shape == (3, 3, 16, 16)

def test_blur_kernels_are_normalised_and_filter_keeps_flat_images():
    for k in (blur_kernel(21, 3., 1., 0.7), blur_kernel(7, 1., 1., beta=3.), blur_kernel(9, 2., 1., 1., 1.5, True),
              sinc_kernel(13, np.pi / 4)):
        assert abs(k.sum() - 1) < 1e-6 and np.allclose(k, k[::-1, ::-1])  # point-symmetric: convolution = correlation
    flat = Image.new('RGB', (5, 4), (200, 10, 90))  # smaller than the kernel: edges replicated
    assert np.array_equal(arr(filter_image(flat, blur_kernel(21, 3., 2., 0.3))), arr(flat))
    wide, narrow = (filter_image(photo(64, 64), blur_kernel(21, s, s)) for s in (3., 0.5))
    assert np.abs(np.diff(arr(wide), axis=1)).mean() < np.abs(np.diff(arr(narrow), axis=1)).mean()
