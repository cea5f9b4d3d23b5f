"""Image quality metrics: PSNR and SSIM (training and the SR benchmark protocol), colourfulness, seam visibility."""
import torch

from .errors import UsageError

__all__ = ['psnr', 'ssim', 'colorfulness', 'rgb_to_y', 'psnr_y', 'ssim_y', 'seam_visibility']

def _images(x): return x.as_subclass(torch.Tensor).float().clamp(0, 1)

def _same_shape(pred, targ):
    "Refuse to compare images of different shapes (broadcasting would score something else without a word)."
    if pred.shape != targ.shape:
        raise UsageError(f'cannot compare images of different shapes: {tuple(pred.shape)} and {tuple(targ.shape)}')

def psnr(pred,  # outputs (n, c, h, w), clamped to [0,1]
         targ,  # targets of the same shape, clamped to [0,1]
         data_range=1.):  # the peak value in the formula
    "Mean PSNR (dB) over a batch of [0,1] images; per image first, as papers report it."
    _same_shape(pred, targ)
    mse = (_images(pred) - _images(targ)).pow(2).flatten(1).mean(1)
    return (10 * torch.log10(data_range**2 / mse.clamp_min(1e-12))).mean()

def _gaussian(size=11, sigma=1.5):
    "The 1-D gaussian window, normalised in float64, as Python floats."
    g = torch.exp(-(torch.arange(size, dtype=torch.float64) - size//2)**2 / (2 * sigma**2))
    return (g / g.sum()).tolist()

def _blur(t, g):
    "The gaussian window over the valid region, separably: weighted sums of shifted slices, rows then columns."
    k, (h, w) = len(g), t.shape[-2:]
    t = sum(g[i] * t[..., i:w - k + 1 + i] for i in range(k))
    return sum(g[i] * t[..., i:h - k + 1 + i, :] for i in range(k))

def _ssim(x, y, data_range, size=11, sigma=1.5):
    "SSIM per image (Wang et al. 2004: 11x11 gaussian window, sigma 1.5, valid region only), in float32."
    shift = 0.5 * data_range  # (co)variances of centred values stay exact in float32
    x, y = x.float() - shift, y.float() - shift
    mx, my, fxx, fyy, fxy = _blur(torch.stack([x, y, x*x, y*y, x*y]), _gaussian(size, sigma))
    sxx, syy, sxy = fxx - mx**2, fyy - my**2, fxy - mx*my
    mx, my = mx + shift, my + shift
    c1, c2 = (0.01 * data_range)**2, (0.03 * data_range)**2
    s = ((2*mx*my + c1) * (2*sxy + c2)) / ((mx**2 + my**2 + c1) * (sxx + syy + c2))
    return s.flatten(1).mean(1)

def ssim(pred, targ):
    "Mean SSIM over a batch of [0,1] images."
    _same_shape(pred, targ)
    return _ssim(_images(pred), _images(targ), 1.).mean()

def colorfulness(x):
    "Hasler & Suesstrunk's colourfulness per image (0 for gray; ~33 'moderately', ~59 'quite' colourful on 0-255 RGB)."
    x = _images(x) * 255
    rg, yb = x[:, 0] - x[:, 1], 0.5 * (x[:, 0] + x[:, 1]) - x[:, 2]
    std = (rg.flatten(1).std(1)**2 + yb.flatten(1).std(1)**2).sqrt()
    mean = (rg.flatten(1).mean(1)**2 + yb.flatten(1).mean(1)**2).sqrt()
    return std + 0.3 * mean

def rgb_to_y(x):
    "ITU-R BT.601 luma in [16, 235] of [0,1] RGB images, as the SR benchmark protocol defines it."
    r, g, b = x[:, 0:1], x[:, 1:2], x[:, 2:3]
    return 16. + 65.481 * r + 128.553 * g + 24.966 * b

def _shave(x, n): return x[..., n:-n, n:-n] if n else x

def _y(x, shave): return _shave(rgb_to_y(_images(x)), shave)

def psnr_y(pred,  # [0,1] RGB outputs (n, 3, h, w)
           targ,  # [0,1] RGB targets of the same shape
           shave=0):  # border pixels dropped on each side (the protocol: the scale)
    "PSNR on the Y channel with `shave` border pixels removed (the standard SR protocol)."
    _same_shape(pred, targ)
    py, ty = _y(pred, shave).double(), _y(targ, shave).double()
    mse = (py - ty).pow(2).flatten(1).mean(1)
    return float((10 * torch.log10(255.**2 / mse.clamp_min(1e-12))).mean())

def ssim_y(pred,  # [0,1] RGB outputs (n, 3, h, w)
           targ,  # [0,1] RGB targets of the same shape
           shave=0):  # border pixels dropped on each side (the protocol: the scale)
    "SSIM on the Y channel (0-255 range) with `shave` border pixels removed."
    _same_shape(pred, targ)
    return float(_ssim(_y(pred, shave), _y(targ, shave), 255.).mean())

def seam_visibility(x,  # a [0,1] CHW image
                    seams,  # positions s of seams between lines s - 1 and s (1 to the lines - 1), as in `Layout.seams`
                    dim=-1,  # -1: seams are columns, along the width; -2: rows
                    band=8):  # lines either side the seam is compared with
    """How much each seam of a [0,1] CHW image stands out: the gradient energy across it (mean squared step from the
    pixel line before `seam` to it, along `dim`) against the image's own within `band` lines either side; about 1
    where the seam is no stronger than the image around it, well above 1 where it shows (a constant-fill step)."""
    x = _images(x)
    steps = x.diff(dim=dim).pow(2).transpose(dim, -1).flatten(0, -2).mean(0)  # steps[i]: line i to line i + 1
    floor = (0.5 / 255) ** 2  # half a level of 8-bit: flat on both sides is no seam
    out = []
    for s in seams:
        if not 1 <= s <= len(steps): raise UsageError(f'a seam at {s} is outside the image (1 to {len(steps)})')
        around = torch.cat([steps[max(0, s - 1 - band):s - 1], steps[s:s + band]])
        out.append(float((steps[s - 1] + floor) / (around.mean() + floor)))
    return out
