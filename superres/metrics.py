"""Image quality metrics: PSNR and SSIM as training metrics and in the standard SR benchmark protocol."""
import torch
import torch.nn.functional as F

__all__ = ['psnr', 'ssim', 'rgb_to_y', 'psnr_y', 'ssim_y']

def _images(x): return x.as_subclass(torch.Tensor).float().clamp(0, 1)

def psnr(pred, targ, data_range=1.):
    "Mean PSNR (dB) over a batch of [0,1] images; per image first, as papers report it."
    mse = (_images(pred) - _images(targ)).pow(2).flatten(1).mean(1)
    return (10 * torch.log10(data_range**2 / mse.clamp_min(1e-12))).mean()

def _gaussian(size=11, sigma=1.5, device=None):
    g = torch.exp(-(torch.arange(size, device=device, dtype=torch.float64) - size//2)**2 / (2 * sigma**2))
    g = g / g.sum()
    return (g[:, None] * g[None, :]).float()

def _ssim(x, y, data_range, size=11, sigma=1.5):
    "SSIM per image (Wang et al. 2004: 11x11 gaussian window, sigma 1.5, valid region only)."
    c = x.shape[1]
    w = _gaussian(size, sigma, x.device).to(x.dtype).expand(c, 1, size, size)
    filt = lambda t: F.conv2d(t, w, groups=c)
    mx, my = filt(x), filt(y)
    sxx, syy, sxy = filt(x*x) - mx**2, filt(y*y) - my**2, filt(x*y) - mx*my
    c1, c2 = (0.01 * data_range)**2, (0.03 * data_range)**2
    s = ((2*mx*my + c1) * (2*sxy + c2)) / ((mx**2 + my**2 + c1) * (sxx + syy + c2))
    return s.flatten(1).mean(1)

def ssim(pred, targ):
    "Mean SSIM over a batch of [0,1] images."
    return _ssim(_images(pred), _images(targ), 1.).mean()

def rgb_to_y(x):
    "ITU-R BT.601 luma in [16, 235] of [0,1] RGB images, as the SR benchmark protocol defines it."
    r, g, b = x[:, 0:1], x[:, 1:2], x[:, 2:3]
    return 16. + 65.481 * r + 128.553 * g + 24.966 * b

def _shave(x, n): return x[..., n:-n, n:-n] if n else x

def _y(x, shave): return _shave(rgb_to_y(_images(x)), shave).double()

def psnr_y(pred, targ, shave=0):
    "PSNR on the Y channel with `shave` border pixels removed (the standard SR protocol)."
    py, ty = _y(pred, shave), _y(targ, shave)
    mse = (py - ty).pow(2).flatten(1).mean(1)
    return float((10 * torch.log10(255.**2 / mse.clamp_min(1e-12))).mean())

def ssim_y(pred, targ, shave=0):
    "SSIM on the Y channel (0-255 range) with `shave` border pixels removed."
    return float(_ssim(_y(pred, shave), _y(targ, shave), 255.).mean())
