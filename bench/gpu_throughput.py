"""Training throughput of the full Tiny ImageNet recipes on an accelerator, with synthetic images of the
right shape: images/s and seconds per 100k-image epoch, for every classifier preset and the SR recipes (perceptual
loss through the classifier's features, as `superres train --loss perceptual` trains), in fastai's whole loop.

    python bench/gpu_throughput.py [--device cuda] [--steps 30] [--bs 512] [--precision auto fp32 ...]

With `--data TINY_IMAGENET`, instead: the step2 classifier and the SR recipe on its encoder trained from the real data
(decoded cache with and without background batches, and the per-item PIL DataBlock for the pairs) against synthetic
batches, the same learner in one process, so each ratio says how far the data path keeps the model fed.
"""
import argparse
import json
import time

import torch
from fastai.callback.core import Callback, CancelEpochException
from fastai.data.core import DataLoaders
from fastai.torch_core import TensorCategory
from fastai.vision.core import TensorImage

from superres.data import decoded_dls, decoded_paired_dls, sr_dls
from superres.learner import classifier_learner, restoration_learner
from superres.models import ARCHS, PRESETS, classifier


class Synthetic:
    "Random batches made on the device, so only the model's speed is measured: labels, or images at `lr_size` to 64."
    def __init__(self, n, bs, device, target='label', lr_size=64):
        self.n, self.bs, self.device, self.target, self.lr_size = n, bs, device, target, lr_size
    def __len__(self): return self.n
    def __iter__(self):
        for _ in range(self.n):
            y = torch.rand(self.bs, 3, 64, 64, device=self.device)
            if self.target == 'label': yield (TensorImage(y),
                                              TensorCategory(torch.randint(0, 200, (self.bs,), device=self.device)))
            else: yield TensorImage(torch.nn.functional.interpolate(y, size=self.lr_size, mode='area')), TensorImage(y)

class FakeDls(DataLoaders):
    "Just enough of superres's DataLoaders for its learner factories."
    def __init__(self, bs, device, target, lr_size=64):
        super().__init__(*(Synthetic(1, bs, device, target, lr_size) for _ in range(2)), device=device)
        self.bs, self.target, self.lr_size = bs, target, lr_size
        self.vocab, self.stats, self.scale = [str(i) for i in range(200)], ([0.5]*3, [0.25]*3), 2

class StopAfter(Callback):
    "End each epoch after `n` training batches, before validation: times the training loop alone."
    def __init__(self, n): self.n = n
    def after_batch(self):
        if self.training and self.iter + 1 >= self.n: raise CancelEpochException()

def seconds_per_step(learn, steps, train):
    "Seconds per step over `steps` training steps drawn from `train`, after a 5-step warm-up on it."
    learn.dls.train, stop, cuda = train, StopAfter(5), learn.dls.device.type == 'cuda'
    with learn.no_bar(), learn.no_logging(), learn.added_cbs(stop):
        learn.fit(1, 1e-3)
        stop.n = steps
        if cuda: torch.cuda.synchronize()
        start = time.perf_counter()
        learn.fit(1, 1e-3)
        if cuda: torch.cuda.synchronize()
    return (time.perf_counter() - start) / steps

def timed_fit(learn, steps):
    "Seconds per step of `learn` on synthetic batches shaped like its FakeDls'."
    dls = learn.dls
    return seconds_per_step(learn, steps, Synthetic(steps + 5, dls.bs, dls.device, dls.target, dls.lr_size))

def real_vs_synthetic(device_name, recipe, learn, loaders, steps, target):
    "Images/s of `learn` on each real training loader and on synthetic batches, with the ratio to synthetic."
    bs, device = loaders[0][1].bs, learn.dls.device
    synthetic = bs / seconds_per_step(learn, steps, Synthetic(steps + 5, bs, device, target))
    report(device=device_name, recipe=recipe, data='synthetic', bs=bs, imgs_per_s=round(synthetic))
    for what, dl in loaders:
        rate = bs / seconds_per_step(learn, steps, dl)
        report(device=device_name, recipe=recipe, data=what, bs=bs, imgs_per_s=round(rate),
               of_synthetic=round(rate / synthetic, 2))

def inline_and_background(dl):
    "Two copies of a decoded training loader: batches made in the loop, and in a background thread."
    copies = {on: dl.new(shuffle=True, drop_last=True) for on in (False, True)}
    for on, copy in copies.items(): copy.prefetch = on
    return [(f'decoded cache, {"background" if on else "inline"} batches', copy) for on, copy in copies.items()]

SR_RECIPES = {  # name: (arch, unet preset, classifier preset of the perceptual loss, encoder pretrained)
    'tiny_unet reference, perceptual': ('tiny_unet', 'reference', 'step2', False),
    'tiny_unet_cross reference, perceptual': ('tiny_unet_cross', 'reference', 'step2', False),
    'tiny_unet on the step2 encoder, perceptual': ('tiny_unet', 'reference', 'step2', True),
    'dynamic_unet on the step2 encoder, perceptual': ('dynamic_unet', 'reference', 'step2', True),
    'sr_resnet reference (LR input), perceptual': ('sr_resnet', 'reference', 'step2', False),
    'tiny_unet cpu, perceptual': ('tiny_unet', 'cpu', 'cpu', False),
}

def report(**row): print(json.dumps(row), flush=True)

if __name__ == '__main__':
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument('--device', default='cuda' if torch.cuda.is_available() else 'cpu')
    p.add_argument('--steps', type=int, default=30); p.add_argument('--bs', type=int, default=512)
    p.add_argument('--sr-bs', type=int, default=128)
    p.add_argument('--precision', nargs='+', default=['auto'],
                   help='each measured in turn: auto (fp16 on CUDA), fp32, bf16, fp16')
    p.add_argument('--data', help='Tiny ImageNet: compare real-data training with synthetic instead (see above)')
    a = p.parse_args()
    dev = torch.device(a.device)
    name = torch.cuda.get_device_name(dev) if dev.type == 'cuda' else 'cpu'
    if a.data:
        dls = decoded_dls(a.data, bs=a.bs, device=dev, progress=False)
        learn = classifier_learner(dls, preset='step2')
        real_vs_synthetic(name, 'classify step2', learn, inline_and_background(dls.train), a.steps, 'label')
        pairs = decoded_paired_dls(a.data, bs=a.sr_bs, device=dev, progress=False)
        learn = restoration_learner(pairs, arch='tiny_unet', preset='reference', loss='perceptual',
                                    classifier_model=learn.model)
        loaders = inline_and_background(pairs.train) + [('per-item PIL DataBlock, 2 workers',
                                                         sr_dls(a.data, bs=a.sr_bs, device=dev).train)]
        real_vs_synthetic(name, 'superres tiny_unet on the step2 encoder, perceptual', learn, loaders, a.steps, 'image')
        raise SystemExit
    for precision in a.precision:
        for preset in PRESETS:
            s = timed_fit(classifier_learner(FakeDls(a.bs, dev, 'label'), preset=preset, precision=precision), a.steps)
            report(device=name, recipe=f'classify {preset}', precision=precision, bs=a.bs, imgs_per_s=round(a.bs / s),
                   s_per_epoch=round(100_000 * s / a.bs, 1))
        for recipe, (arch, preset, clf_preset, pretrained) in SR_RECIPES.items():
            lr_size = 32 if ARCHS[arch].takes_lr else 64
            learn = restoration_learner(FakeDls(a.sr_bs, dev, 'image', lr_size), arch=arch, preset=preset,
                                        loss='perceptual', classifier_model=classifier(clf_preset),
                                        pretrained=pretrained, precision=precision)
            s = timed_fit(learn, a.steps)
            report(device=name, recipe=f'superres {recipe}', precision=precision, bs=a.sr_bs,
                   imgs_per_s=round(a.sr_bs / s), s_per_epoch=round(100_000 * s / a.sr_bs, 1))
