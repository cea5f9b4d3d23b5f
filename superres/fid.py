"""FID and KID from a superres classifier's features, with images fed through the classifier's own input contract."""
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image
from torch import nn

from .errors import ContractError, UsageError, broken_outputs
from .files import list_images
from .images import image_to_tensor, open_image
from .layers import Normalizer

__all__ = ['image_tensors', 'ClassifierFeatures', 'frechet_distance', 'kernel_distance', 'distances',
           'feature_distances']

@contextmanager
def _hook_output(module):
    "The last output of `module` as `.stored`, detached (fastai's `hook_output` lives with its training side)."
    class Hook: stored = None
    hook = Hook()
    handle = module.register_forward_hook(lambda m, i, o: setattr(hook, 'stored', o.detach()))
    try: yield hook
    finally: handle.remove()

def _load(path):
    img = open_image(path)  # guarded as every command reads images: a bad file is one line naming it
    return image_to_tensor(img if img.mode.startswith('I;16') else img.convert('RGB'))[0]

def image_tensors(images):
    "CHW tensors from files, folders, PIL images, CHW/NCHW tensors or lists of them; uint8 scaled, floats kept as is."
    if isinstance(images, (str, Path)):
        path = Path(images)
        if not path.exists(): raise UsageError(f'{path} does not exist')
        yield from (_load(f) for f in (list_images(path) if path.is_dir() else [path]))
    elif isinstance(images, Image.Image): yield image_to_tensor(images.convert('RGB'))[0]
    elif isinstance(images, torch.Tensor):
        x = images.as_subclass(torch.Tensor)
        if x.dtype == torch.uint8: x = x.float() / 255
        if x.ndim == 3: yield x
        elif x.ndim == 4: yield from x
        else: raise UsageError(f'expected CHW or NCHW image tensors, got shape {tuple(x.shape)}')
    else:
        for item in images: yield from image_tensors(item)

def _fit(x, size):
    "Resize the short side to `size` and centre-crop: whole images at the classifier's resolution."
    h, w = x.shape[-2:]
    if (h, w) != (size, size):
        s = size / min(h, w)
        x = F.interpolate(x[None].float(), size=(max(size, round(h*s)), max(size, round(w*s))), mode='bilinear',
                          antialias=True, align_corners=False)[0]
        h, w = x.shape[-2:]
        x = x[:, (h-size)//2:(h-size)//2+size, (w-size)//2:(w-size)//2+size]
    return x[None]

def _patches(x, size):
    "Non-overlapping `size` patches at native resolution, where detail (what restoration changes) survives."
    h, w = x.shape[-2:]
    if h < size or w < size: return _fit(x, size)
    return (x[:, :h//size*size, :w//size*size].unfold(1, size, size).unfold(2, size, size)
            .permute(1, 2, 0, 3, 4).reshape(-1, x.shape[0], size, size))

class ClassifierFeatures:
    "Features of a superres classifier at one layer, with images fed through the classifier's own input contract."
    def __init__(self, model, layer=None, size=None, patches=False, check=True, bs=64):
        if not isinstance(getattr(model, 'contract', None), Normalizer):
            raise ContractError(f'{type(model).__name__} is not a superres classifier (it carries no input contract): '
                                'pass a model trained by `superres classify train`')
        self.model, self.contract, self.check, self.bs, self.patches = model.eval(), model.contract, check, bs, patches
        self.size = size or model.card.size
        if layer is None: self.module = next(m for m in model.head.modules() if isinstance(m, nn.AdaptiveAvgPool2d))
        elif 0 < layer < len(model) - 1: self.module = model[layer]
        else: raise UsageError(f'feature layer {layer} is outside the classifier body (valid: 1..{len(model)-2})')

    def batches(self, images):
        "Batches of `size`-square crops or patches, in the value range they were given in."
        cut = _patches if self.patches else _fit
        buf, n = [], 0
        for x in image_tensors(images):
            if x.shape[0] != 3: raise UsageError(f'expected RGB images (3 channels), got {x.shape[0]}')
            buf.append(cut(x.float(), self.size)); n += len(buf[-1])
            if n >= self.bs:
                yield torch.cat(buf); buf, n = [], 0
        if buf: yield torch.cat(buf)

    @torch.inference_mode()
    def __call__(self, images):
        "An (N, D) float64 array of features; refuses images that break the contract unless `check` is off."
        device = next(self.model.parameters()).device
        feats, s, s2, count = [], 0., 0., 0
        with _hook_output(self.module) as hook:
            for xb in self.batches(images):
                if self.check:
                    self.contract.check_range(xb)
                    xb = xb.clamp(*self.contract.input_range)
                    s, s2, count = (s + xb.sum((0, 2, 3)).double(), s2 + xb.pow(2).sum((0, 2, 3)).double(),
                                    count + xb[:, 0].numel())
                self.model(xb.to(device))
                f = hook.stored.float()
                feats.append((f.mean((2, 3)) if f.ndim == 4 else f.flatten(1)).cpu().double())
        if not feats: raise UsageError('no images to compute features of')
        feats = torch.cat(feats)
        if not torch.isfinite(feats).all(): raise broken_outputs('classifier')  # never a NaN distance
        if self.check:
            mean = s / count
            self.contract.check_stats(mean, (s2 / count - mean**2).clamp_min(0).sqrt())
        return feats.numpy()

def frechet_distance(f1,  # (N, D) features of one image set
                     f2,  # (M, D) features of the other
                     eps=1e-6):  # added to the covariances' diagonals where their product's square root fails
    "Frechet distance between Gaussians fitted to two feature sets: FID when the features come from a classifier."
    from scipy import linalg
    mu1, mu2 = f1.mean(0), f2.mean(0)
    s1, s2 = np.atleast_2d(np.cov(f1, rowvar=False)), np.atleast_2d(np.cov(f2, rowvar=False))
    covmean = linalg.sqrtm(s1 @ s2)
    # singular product (fewer samples than dimensions): regularise as pytorch-fid does
    if not np.isfinite(covmean).all():
        off = np.eye(len(s1)) * eps
        covmean = linalg.sqrtm((s1 + off) @ (s2 + off))
    return float(((mu1 - mu2)**2).sum() + np.trace(s1) + np.trace(s2) - 2 * np.trace(covmean.real))

def kernel_distance(f1,  # (N, D) features of one image set
                    f2,  # (M, D) features of the other
                    n_subsets=100,  # random subsets KID is averaged over
                    subset_size=1000,  # feature rows per subset (at most half the smaller set, at least 2)
                    seed=0):  # the subsets' random draw
    "KID: unbiased MMD^2 (cubic polynomial kernel) at any N, unlike FID; mean/spread over subsets of up to half a set."
    n = min(len(f1), len(f2))
    if n < 2: raise UsageError(f'FID and KID need at least 2 images (or patches) in each set, not {n}: add images')
    m = min(subset_size, max(2, n // 2))
    d, rng, vals = f1.shape[1], np.random.default_rng(seed), []
    for _ in range(n_subsets):
        x, y = f1[rng.choice(len(f1), m, replace=False)], f2[rng.choice(len(f2), m, replace=False)]
        kxx, kyy, kxy = ((a @ b.T / d + 1)**3 for a, b in ((x, x), (y, y), (x, y)))
        vals.append((kxx.sum() - np.trace(kxx) + kyy.sum() - np.trace(kyy)) / (m * (m-1)) - 2 * kxy.mean())
    return float(np.mean(vals)), float(np.std(vals))

def distances(fa,  # (N, D) features of one image set
              fb,  # (M, D) features of the other
              n_subsets=100,  # random subsets KID is averaged over
              subset_size=1000):  # feature rows per subset (at most half the smaller set, at least 2)
    "FID and KID of two feature sets, with the counts a reader needs to judge them."
    kid, kid_std = kernel_distance(fa, fb, n_subsets, subset_size)
    return dict(fid=frechet_distance(fa, fb), kid=kid, kid_std=kid_std, n_a=len(fa), n_b=len(fb), dim=fa.shape[1])

def feature_distances(a,  # image files, folders, PIL images or [0,1] tensors, or a list of them
                      b,  # the other set, likewise
                      model,  # a superres classifier (`load_classifier`)
                      n_subsets=100,  # random subsets KID is averaged over
                      subset_size=1000,  # feature rows per subset (at most half the smaller set, at least 2)
                      **kwargs):  # `ClassifierFeatures`'s: `layer`, `size`, `patches`, `check`, `bs`
    "FID and KID between image sets (files, folders, PIL images or [0,1] tensors) on a superres classifier's features."
    feats = ClassifierFeatures(model, **kwargs)
    return distances(feats(a), feats(b), n_subsets, subset_size)
