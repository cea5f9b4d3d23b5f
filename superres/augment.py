"""Augmentations on whole batches with a separate random draw per image, so they run at tensor speed (and on GPU)."""
import math
from functools import lru_cache

import numpy as np
import torch
import torch.nn.functional as F
from fastai.vision.augment import RandTransform
from fastai.vision.core import PILImage, TensorImage
from fastcore.basics import store_attr
from torchvision.transforms import TrivialAugmentWide
from torchvision.transforms.functional import _get_inverse_affine_matrix

__all__ = ['TrivialAugment', 'BatchPadCropFlip', 'RandomErase', 'erase_rects', 'TRIVIAL_AUGMENT_OPS',
           'trivial_augment_space', 'apply_trivial_augment', 'BatchTrivialAugment']

def _plain(x):
    "The tensor without fastai's type, whose per-op dispatch costs more than these small ops themselves."
    return x.as_subclass(torch.Tensor)

class TrivialAugment(RandTransform):
    "torchvision's TrivialAugmentWide, one random op per image, on the training set's PIL images only."
    order, split_idx = 3, 0
    def __init__(self, p=1., **kwargs):
        super().__init__(p=p)
        self.tfm = TrivialAugmentWide(**kwargs)
    def encodes(self, x: PILImage): return type(x)(self.tfm(x))

class BatchPadCropFlip(RandTransform):
    "Pad + random crop and horizontal flip on a batch, drawn per image and shared by every image tensor of the tuple."
    order, split_idx = 2, 0
    def __init__(self, pad=4, p_flip=0.5):
        super().__init__(p=1.)
        store_attr()
    def before_call(self, b, split_idx):
        x = b[0] if isinstance(b, tuple) else b
        n, _, h, w = x.shape
        self.top, self.left = (torch.randint(0, 2*self.pad + 1, (2, n), device=x.device))
        self.flip = torch.rand(n, device=x.device) < self.p_flip
    def encodes(self, x: TensorImage): return type(x)(self.crop_flip(_plain(x)))
    def crop_flip(self, x):
        n, _, h, w = x.shape
        xp = F.pad(x, [self.pad]*4)
        rows = (self.top[:, None] + torch.arange(h, device=x.device))[:, :, None]
        cols = self.left[:, None] + torch.arange(w, device=x.device)
        cols = torch.where(self.flip[:, None], cols.flip(1), cols)[:, None, :]
        out = xp.permute(0, 2, 3, 1)[torch.arange(n, device=x.device)[:, None, None], rows, cols]
        return out.permute(0, 3, 1, 2).contiguous()

class RandomErase(RandTransform):
    "Per-image random erasing on a batch in [0,1]; the fill matches N(0,1) after the model's own normalisation."
    order, split_idx = 100, 0
    def __init__(self, p=0.25, max_area=0.25, mean=(0.5,)*3, std=(0.25,)*3, types=TensorImage):
        super().__init__(p=1.)
        store_attr('max_area,types')
        self.erase_p, self.mean, self.std = p, torch.tensor(mean).view(1, -1, 1, 1), torch.tensor(std).view(1, -1, 1, 1)

    def encodes(self, x: TensorImage):
        if not isinstance(x, self.types): return x
        return type(x)(erase_rects(_plain(x), self.erase_p, self.max_area, self.mean.to(x), self.std.to(x)))

def erase_rects(x,  # a float batch (n, c, h, w) in [0,1]
                p,  # each image's probability of being erased
                max_area,  # the largest rectangle, a fraction of the image (the smallest: 0.02)
                mean,  # the fill's mean per channel, shaped (1, c, 1, 1)
                std):  # the fill's std per channel, (1, c, 1, 1): noise N(mean, std) clamped to [0,1]
    "Erase one random rectangle per image of `x` with probability `p`, each its own size and place."
    b, _, h, w = x.shape
    dev = x.device
    area = torch.empty(b, device=dev).uniform_(0.02, max_area) * h * w
    ratio = torch.exp(torch.empty(b, device=dev).uniform_(np.log(0.3), np.log(3.3)))
    eh = (area * ratio).sqrt().round().clamp(1, h).long()
    ew = (area / ratio).sqrt().round().clamp(1, w).long()
    top = (torch.rand(b, device=dev) * (h - eh + 1)).long()
    left = (torch.rand(b, device=dev) * (w - ew + 1)).long()
    rows, cols = torch.arange(h, device=dev)[None], torch.arange(w, device=dev)[None]
    in_rows = (rows >= top[:, None]) & (rows < (top + eh)[:, None])
    in_cols = (cols >= left[:, None]) & (cols < (left + ew)[:, None])
    mask = in_rows[:, :, None] & in_cols[:, None, :]
    idx = (torch.rand(b, device=dev) < p).nonzero().squeeze(1)  # noise is drawn only for the images that get erased
    out = x.clone()
    out[idx] = torch.where(mask[idx, None], (mean + std * torch.randn_like(x[idx])).clamp(0, 1), x[idx])
    return out

def trivial_augment_space(num_bins=31):
    "torchvision's own TrivialAugmentWide table of ops, magnitudes and signs, so both paths draw from one definition."
    return TrivialAugmentWide(num_magnitude_bins=num_bins)._augmentation_space(num_bins)

TRIVIAL_AUGMENT_OPS = tuple(trivial_augment_space())

def _per_image(v, x): return v.to(x.device, torch.float32).view(-1, 1, 1, 1)

def _blend(x, other, ratio):
    "torchvision's uint8 blend (float maths, clamp, truncate) with one ratio per image."
    return (ratio * x + (1. - ratio) * other).clamp(0, 255).to(torch.uint8)

def _gray(x):
    r, g, b = x.unbind(1)
    return (0.2989 * r + 0.587 * g + 0.114 * b).to(torch.uint8)[:, None]

@lru_cache(maxsize=8)
def _pixel_centres(h, w, device):
    "Pixel-centre coordinates about the image centre, the grid torchvision's tensor affine starts from."
    return ((torch.arange(w, device=device).float() - w/2 + 0.5).view(1, 1, w),
            (torch.arange(h, device=device).float() - h/2 + 0.5).view(1, h, 1))

def _affine(x, matrices):
    "Nearest-neighbour warp of each image by its own inverse affine matrix, zero fill, as torchvision does for tensors."
    n, _, h, w = x.shape
    t = (torch.tensor(matrices, dtype=torch.float32, device=x.device).view(n, 2, 3)
         / torch.tensor([0.5*w, 0.5*h], device=x.device).view(1, 2, 1)).view(n, 6, 1, 1).unbind(1)
    xs, ys = _pixel_centres(h, w, x.device)
    grid = torch.stack([xs*t[0] + ys*t[1] + t[2], xs*t[3] + ys*t[4] + t[5]], -1)
    return F.grid_sample(x.float(), grid, mode='nearest', padding_mode='zeros', align_corners=False).to(torch.uint8)

# (centre, angle, translate, scale, shear) for torchvision's inverse matrix, exactly as its `_apply_op` builds them
_GEOMETRIC = {
    # about the top-left corner
    'ShearX': lambda m, h, w: ([-w*0.5, -h*0.5], 0., [0., 0.], 1., [math.degrees(math.atan(m)), 0.]),
    'ShearY': lambda m, h, w: ([-w*0.5, -h*0.5], 0., [0., 0.], 1., [0., math.degrees(math.atan(m))]),
    'TranslateX': lambda m, h, w: ([0., 0.], 0., [float(int(m)), 0.], 1., [0., 0.]),
    'TranslateY': lambda m, h, w: ([0., 0.], 0., [0., float(int(m))], 1., [0., 0.]),
    'Rotate': lambda m, h, w: ([0., 0.], -m, [0., 0.], 1., [0., 0.]),
}

def _geometric(x, names, mags):
    "Every shear, translate and rotate of the batch in one warp, each image with its own matrix."
    h, w = x.shape[-2:]
    return _affine(x, [_get_inverse_affine_matrix(*_GEOMETRIC[n](m, h, w)) for n, m in zip(names, mags.tolist())])

def _sharpen_source(x):
    "torchvision's 'degenerate' image for sharpness: 3x3 smoothing (centre weight 5, /13) inside, the original border."
    xf = x.float()
    inner = (F.avg_pool2d(xf, 3, stride=1) * 9 + 4 * xf[..., 1:-1, 1:-1]) / 13
    out = x.clone()
    out[..., 1:-1, 1:-1] = inner.round().to(torch.uint8)
    return out

def _autocontrast(x):
    lo, hi = x.amin((-2, -1), keepdim=True).float(), x.amax((-2, -1), keepdim=True).float()
    scale = 255. / (hi - lo)
    flat = ~torch.isfinite(scale)
    lo, scale = lo.masked_fill(flat, 0.), scale.masked_fill(flat, 1.)
    return ((x - lo) * scale).clamp(0, 255).to(torch.uint8)

def _equalize(x):
    "Per-channel histogram equalisation of every image at once, with torchvision's (PIL's) lookup table."
    flat = x.reshape(x.shape[0] * x.shape[1], -1).long()
    hist = torch.zeros(len(flat), 256, dtype=torch.long, device=x.device).scatter_add_(1, flat, torch.ones_like(flat))
    last = 255 - (hist.flip(1) != 0).long().argmax(1, keepdim=True)
    step = (hist.sum(1, keepdim=True) - hist.gather(1, last)) // 255
    safe = step.clamp(min=1)
    lut = F.pad((hist.cumsum(1) + safe // 2) // safe, [1, 0])[:, :-1].clamp(0, 255)
    lut = torch.where(step == 0, torch.arange(256, device=x.device), lut)
    return lut.gather(1, flat).to(torch.uint8).view_as(x)

_PIXEL_OPS = {  # per-pixel ops; Identity is left out on purpose: it changes nothing
    'Brightness': lambda x, m: _blend(x, 0., 1. + _per_image(m, x)),
    'Color': lambda x, m: _blend(x, _gray(x), 1. + _per_image(m, x)),
    'Contrast': lambda x, m: _blend(x, _gray(x).float().mean((-3, -2, -1), keepdim=True), 1. + _per_image(m, x)),
    'Sharpness': lambda x, m: _blend(x, _sharpen_source(x), 1. + _per_image(m, x)),
    'Posterize': lambda x, m: x & (256 - 2 ** (8 - m.long())).to(torch.uint8).to(x.device).view(-1, 1, 1, 1),
    'Solarize': lambda x, m: torch.where(x >= _per_image(m, x), 255 - x, x),
    'AutoContrast': lambda x, m: _autocontrast(x),
    'Equalize': lambda x, m: _equalize(x),
}

def apply_trivial_augment(x,  # a uint8 batch (n, 3, h, w)
                          ops,  # each image's op (n,): an index of `TRIVIAL_AUGMENT_OPS`
                          magnitudes):  # each image's signed magnitude (n,), in its op's unit (`trivial_augment_space`)
    "Apply `TRIVIAL_AUGMENT_OPS[ops[i]]` at `magnitudes[i]` to uint8 image `x[i]`, each op once over its images."
    if x.dtype != torch.uint8: raise TypeError(f'TrivialAugment works on uint8 images (as decoded), got {x.dtype}: '
                                               'apply it before IntToFloatTensor')
    out, ops = x.clone(), ops.cpu()
    names = [TRIVIAL_AUGMENT_OPS[k] for k in ops.tolist()]
    geo = torch.tensor([n in _GEOMETRIC for n in names], dtype=torch.bool)
    if geo.any():
        idx = geo.nonzero().squeeze(1)
        out[idx.to(x.device)] = _geometric(x[idx.to(x.device)], [names[i] for i in idx.tolist()], magnitudes[idx])
    for k, name in enumerate(TRIVIAL_AUGMENT_OPS):
        if name not in _PIXEL_OPS: continue
        idx = (ops == k).nonzero().squeeze(1)
        if len(idx): out[idx.to(x.device)] = _PIXEL_OPS[name](x[idx.to(x.device)], magnitudes[idx])
    return out

class BatchTrivialAugment(RandTransform):
    "TrivialAugmentWide on a uint8 batch: each image draws its own op, magnitude bin and sign, as torchvision does."
    order, split_idx = 5, 0
    def __init__(self, num_bins=31):
        super().__init__(p=1.)
        space = trivial_augment_space(num_bins)
        self.table = torch.stack([m.float() if m.ndim else m.float().expand(num_bins) for m, _ in space.values()])
        self.signed = torch.tensor([s for _, s in space.values()])

    def before_call(self, b, split_idx):
        n, dev = len(b[0] if isinstance(b, tuple) else b), self.table.device  # load_learner(cpu=False) maps it to GPU
        self.ops = torch.randint(len(self.table), (n,), device=dev)
        mags = self.table[self.ops, torch.randint(self.table.shape[1], (n,), device=dev)]
        flip = self.signed[self.ops] & (torch.randint(2, (n,), device=dev) == 1)
        self.magnitudes = torch.where(flip, -mags, mags)

    def encodes(self, x: TensorImage): return type(x)(apply_trivial_augment(_plain(x), self.ops, self.magnitudes))
