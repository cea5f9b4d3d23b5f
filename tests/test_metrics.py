"""Image quality metrics: PSNR and SSIM by hand and against the reference SSIM, shapes refused, colourfulness."""
import numpy as np
import pytest
import torch
import torch.nn.functional as F

from superres.errors import UsageError
from superres.metrics import colorfulness, psnr, psnr_y, ssim, ssim_y


def test_metrics_hand_computed():
    a, b = torch.zeros(1, 3, 16, 16), torch.full((1, 3, 16, 16), 0.1)
    assert psnr(a, b).item() == pytest.approx(20.0, abs=1e-4)  # mse 0.01 -> 20 dB
    assert ssim(torch.rand(2, 3, 16, 16), a.expand(2, 3, 16, 16)).item() < 0.1
    x = torch.rand(2, 3, 16, 16)
    assert ssim(x, x).item() == pytest.approx(1.0, abs=1e-6)

def test_colorfulness_orders_gray_dull_and_vivid():
    t = lambda a: torch.tensor(a, dtype=torch.float32).permute(2, 0, 1)[None] / 255
    gray = t(np.full((8, 8, 3), 100))
    dull = t(np.dstack([np.full((8, 8), 120), np.full((8, 8), 100), np.full((8, 8), 90)]))
    vivid = t(np.random.default_rng(0).integers(0, 256, (8, 8, 3)))
    assert float(colorfulness(gray)) == 0 and 0 < float(colorfulness(dull)) < float(colorfulness(vivid))

@pytest.mark.parametrize('metric', [psnr, ssim, psnr_y, ssim_y], ids=lambda f: f.__name__)
@pytest.mark.parametrize('other', [(1, 3, 32, 32), (2, 3, 32, 31), (2, 1, 32, 32)], ids=['batch', 'width', 'channels'])
def test_different_shapes_are_refused_not_broadcast(metric, other):
    x = torch.rand(2, 3, 32, 32)
    with pytest.raises(UsageError, match=r'different shapes: \(2, 3, 32, 32\) and'): metric(x, torch.rand(other))
    with pytest.raises(UsageError, match='different shapes'): metric(torch.rand(other), x)

def reference_ssim(x, y, data_range, size=11, sigma=1.5):
    "SSIM as superres computed it before the separable rewrite: one 2-D 11x11 gaussian window, here all in float64."
    x, y = x.double(), y.double()
    c = x.shape[1]
    g = torch.exp(-(torch.arange(size, dtype=torch.float64) - size//2)**2 / (2 * sigma**2))
    g = g / g.sum()
    w = (g[:, None] * g[None, :]).expand(c, 1, size, size)
    filt = lambda t: F.conv2d(t, w, groups=c)
    mx, my = filt(x), filt(y)
    sxx, syy, sxy = filt(x*x) - mx**2, filt(y*y) - my**2, filt(x*y) - mx*my
    c1, c2 = (0.01 * data_range)**2, (0.03 * data_range)**2
    s = ((2*mx*my + c1) * (2*sxy + c2)) / ((mx**2 + my**2 + c1) * (sxx + syy + c2))
    return s.flatten(1).mean(1)

def reference_y(x, shave):
    "BT.601 luma in [16, 235], in float64, with `shave` border pixels removed."
    x = x.double().clamp(0, 1)
    y = 16. + 65.481 * x[:, 0:1] + 128.553 * x[:, 1:2] + 24.966 * x[:, 2:3]
    return y[..., shave:-shave, shave:-shave] if shave else y

def image_pairs(kind, seed=0):
    "A batch of images and a noisy copy: uniform noise (each pixel its own), or smooth, bright, nearly flat colours."
    g = torch.Generator().manual_seed(seed)
    if kind == 'random': x = torch.rand(3, 3, 48, 40, generator=g)
    else:
        x = F.interpolate(torch.rand(3, 3, 5, 4, generator=g), size=(48, 40), mode='bicubic', align_corners=False)
        x = x.clamp(0.05, 0.95) * 0.3 + 0.6  # bright and nearly flat: small variances on large means
    return x, (x + 0.1 * torch.randn(x.shape, generator=g)).clamp(0, 1)

@pytest.mark.parametrize('kind', ['random', 'smooth'])
def test_separable_ssim_equals_the_2d_float64_reference(kind):
    x, y = image_pairs(kind)
    ref = reference_ssim(x, y, 1.).mean().item()
    assert ssim(x, y).item() == pytest.approx(ref, abs=1e-4)
    for shave in (0, 2):
        ref_y = reference_ssim(reference_y(x, shave), reference_y(y, shave), 255.).mean().item()
        assert ssim_y(x, y, shave=shave) == pytest.approx(ref_y, abs=1e-4)
    assert 0.05 < ref < 0.99  # a comparison of images that differ, not of equal ones
