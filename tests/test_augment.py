"""Batched augmentations: TrivialAugment per image on a batch must be torchvision's TrivialAugmentWide, op for op and in
distribution; erasing and crop/flip draw per image."""
import pytest
import torch
import torch.nn.functional as F
from fastai.vision.core import TensorImage
from scipy.stats import ks_2samp
from torchvision.transforms import InterpolationMode, TrivialAugmentWide
from torchvision.transforms.autoaugment import _apply_op

from superres.augment import (
    TRIVIAL_AUGMENT_OPS,
    BatchPadCropFlip,
    BatchTrivialAugment,
    RandomErase,
    apply_trivial_augment,
    trivial_augment_space,
)


def photos(n, seed=0, size=64):
    "Smooth, photo-like uint8 images (low-frequency colour fields, a little noise): every op has something to change."
    g = torch.Generator().manual_seed(seed)
    low = F.interpolate(torch.rand(n, 3, 6, 6, generator=g), size=size, mode='bicubic', align_corners=False)
    noise = 0.05 * torch.randn(n, 3, size, size, generator=g)
    x = (low * torch.rand(n, 1, 1, 1, generator=g) * 1.4 + noise).clamp(0, 1)
    return (x * 255).round().to(torch.uint8)

EXACT = {'Identity', 'ShearX', 'ShearY', 'TranslateX', 'TranslateY', 'Rotate', 'Posterize', 'Solarize', 'AutoContrast',
         'Equalize'}

@pytest.mark.parametrize('name', TRIVIAL_AUGMENT_OPS)
def test_each_op_matches_torchvision(name):
    x = photos(6)
    mags, signed = trivial_augment_space()[name]
    for m in (mags.tolist()[::5] if mags.ndim else [0.]):
        for mag in ([m, -m] if signed else [m]):
            ref = torch.stack([_apply_op(im, name, mag, InterpolationMode.NEAREST, None) for im in x])
            ops = torch.full((6,), TRIVIAL_AUGMENT_OPS.index(name))
            out = apply_trivial_augment(x, ops, torch.full((6,), float(mag)))
            diff = (ref.int() - out.int()).abs()
            # colour blends round a float product; torchvision's python-float ratio and our float32 one can differ by 1
            assert diff.max() <= (0 if name in EXACT else 1), (name, mag)
            if name not in EXACT: assert (diff > 0).float().mean() < 0.1, (name, mag)

def test_each_image_draws_its_own_op_and_magnitude():
    ta = BatchTrivialAugment()
    torch.manual_seed(0)
    ta.before_call(torch.zeros(14_000, 3, 2, 2, dtype=torch.uint8), split_idx=0)
    counts = torch.bincount(ta.ops, minlength=len(TRIVIAL_AUGMENT_OPS))
    assert counts.min() > 850 and counts.max() < 1150  # 1,000 expected for each of the 14 ops
    shear = ta.magnitudes[ta.ops == TRIVIAL_AUGMENT_OPS.index('ShearX')]
    assert 0.4 < (shear < 0).float().mean() < 0.6  # signed ops flip sign half the time
    assert len(shear.abs().unique()) == 31  # every magnitude bin is drawn
    assert (ta.magnitudes[ta.ops == TRIVIAL_AUGMENT_OPS.index('Posterize')] >= 2).all()

def test_distribution_matches_torchvision_per_item():
    "Per-image change statistics of the batched op and of torchvision applied item by item come from one distribution."
    x = photos(1500, seed=1)
    torch.manual_seed(0)
    ours = BatchTrivialAugment()(TensorImage(x), split_idx=0).as_subclass(torch.Tensor)
    tv = TrivialAugmentWide()
    theirs = torch.stack([tv(im) for im in x])
    for stat in (lambda a: (a.float() - x.float()).abs().mean((1, 2, 3)), lambda a: a.float().mean((1, 2, 3)),
                 lambda a: a.float().std((1, 2, 3))):
        assert ks_2samp(stat(ours).numpy(), stat(theirs).numpy()).pvalue > 0.01
    # and it is not the identity, nor one op for the whole batch
    changed = (ours != x).flatten(1).any(1).float().mean()
    assert 0.8 < changed < 0.98

def test_only_on_uint8_training_batches():
    x = TensorImage(photos(4))
    ta = BatchTrivialAugment()
    assert torch.equal(ta(x, split_idx=1), x)
    with pytest.raises(TypeError, match='uint8'): ta(TensorImage(x.float() / 255), split_idx=0)

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
    full = torch.full((4, 3, 8, 8), .5)
    assert not torch.equal(erase(Other(torch.full((4, 3, 8, 8), 0.5)), split_idx=0).as_subclass(torch.Tensor), full)
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
