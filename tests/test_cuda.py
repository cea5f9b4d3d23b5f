"""The CUDA paths (model, batches and augmentation on the GPU, fp16 AMP, GPU inference): they run on the accelerator
runs of bench/gpu_checks.sh and skip where there is no GPU, as in CI."""
import numpy as np
import pytest
import torch
from fastai.callback.fp16 import MixedPrecision
from fastai.torch_core import one_param
from fastai.vision.core import TensorImage
from PIL import Image

from superres.augment import BatchTrivialAugment
from superres.data import decoded_dls, decoded_paired_dls, paired_dls
from superres.degradations import Downscale
from superres.hub import load_restorer
from superres.inference import upscale_image
from superres.learner import classifier_learner, restoration_learner
from superres.metrics import psnr
from superres.models import classifier
from superres.precision import inference_precision

pytestmark = [pytest.mark.gpu, pytest.mark.skipif(not torch.cuda.is_available(), reason='needs a CUDA GPU')]

def fit_on_the_gpu(learn):
    "One epoch; then where the model is, whether fp16 AMP ran (auto on CUDA), whether the losses are finite."
    learn.fit(1, 1e-3)
    return (one_param(learn.model).device.type, any(isinstance(cb, MixedPrecision) for cb in learn.cbs),
            bool(np.isfinite(learn.recorder.values[-1][:2]).all()))

def test_classifier_trains_on_the_gpu_from_the_decoded_cache(tiny_root):
    dls = decoded_dls(tiny_root, classes=3, bs=4)
    xb, yb = dls.train.one_batch()
    assert dls.device.type == 'cuda' and xb.device.type == 'cuda' and yb.device.type == 'cuda'
    assert xb.dtype == torch.float32 and xb.shape == (4, 3, 64, 64)  # uint8 copied over, then augmented on the GPU
    assert fit_on_the_gpu(classifier_learner(dls, preset='cpu_small')) == ('cuda', True, True)

def test_trivial_augment_with_its_tables_on_the_gpu():
    tfm = BatchTrivialAugment()  # as load_learner(cpu=False) leaves it: every tensor mapped to the GPU
    tfm.table, tfm.signed = tfm.table.cuda(), tfm.signed.cuda()
    x = TensorImage(torch.randint(0, 256, (64, 3, 16, 16), dtype=torch.uint8, device='cuda'))
    out = tfm(x, split_idx=0)
    assert out.device.type == 'cuda' and out.shape == x.shape and not torch.equal(out, x)

def test_pairs_are_degraded_on_the_gpu_as_on_the_cpu(tiny_root):
    x, y = decoded_paired_dls(tiny_root, classes=3, bs=8, erase=0).train.one_batch()
    assert x.device.type == y.device.type == 'cuda'
    as_uint8 = lambda t: (t.as_subclass(torch.Tensor) * 255).round().byte()
    on_cpu = Downscale(2).batch(as_uint8(y).cpu())
    assert (as_uint8(x).cpu().int() - on_cpu.int()).abs().max() <= 1

@pytest.mark.parametrize('decoded', [True, False])
def test_perceptual_restorer_trains_on_the_gpu(tiny_root, decoded):
    if decoded: dls = decoded_paired_dls(tiny_root, classes=3, bs=4)
    else: dls = paired_dls(tiny_root, classes=3, bs=4, num_workers=0)
    learn = restoration_learner(dls, loss='perceptual', classifier_model=classifier('cpu_small', n_out=3))
    assert fit_on_the_gpu(learn) == ('cuda', True, True)

def test_gpu_upscale_matches_the_cpu_and_fp16_stays_close():
    img = Image.fromarray(np.random.default_rng(0).integers(0, 255, (80, 96, 3), dtype=np.uint8))
    gpu, cpu = load_restorer(), load_restorer(device='cpu')
    assert one_param(gpu).device.type == 'cuda'
    with inference_precision('fp32'): on_gpu, on_cpu = upscale_image(gpu, img)[0], upscale_image(cpu, img)[0]
    as_tensor = lambda im: torch.from_numpy(np.asarray(im, dtype=np.float32) / 255).permute(2, 0, 1)[None]
    assert np.abs(np.asarray(on_gpu, dtype=int) - np.asarray(on_cpu, dtype=int)).max() <= 1
    for precision in ('fp16', 'bf16'):
        with inference_precision(precision): low = upscale_image(gpu, img)[0]
        assert psnr(as_tensor(low), as_tensor(on_cpu)) > 40, precision
