"""Training throughput of the full Tiny ImageNet recipes on an accelerator, with synthetic images of the
right shape: images/s and seconds per 100k-image epoch, per classifier preset and for the SR UNets.

    python bench/gpu_throughput.py [--device cuda] [--steps 30]
"""
import argparse, json, time

import torch
from fastai.data.core import DataLoaders
from fastai.torch_core import TensorCategory
from fastai.vision.core import TensorImage

from superres.learner import classifier_learner, restoration_learner
from superres.models import PRESETS

class Synthetic:
    "Random images and labels, generated on the device, so only the model's speed is measured."
    def __init__(self, n, bs, device, target='label'):
        self.n, self.bs, self.device, self.target = n, bs, device, target
    def __len__(self): return self.n
    def __iter__(self):
        for _ in range(self.n):
            x = TensorImage(torch.rand(self.bs, 3, 64, 64, device=self.device))
            yield x, (TensorCategory(torch.randint(0, 200, (self.bs,), device=self.device)) if self.target == 'label' else TensorImage(x.clone()))

def timed_fit(learn, steps):
    "Seconds per training step after warm-up, fastai's whole loop included (callbacks, precision, optimiser)."
    dl = Synthetic(steps, learn.dls.bs, learn.dls.device, 'label' if learn.dls.target == 'label' else 'image')
    learn.dls.train, learn.dls.valid = dl, Synthetic(1, learn.dls.bs, learn.dls.device, dl.target)
    with learn.no_bar(), learn.no_logging(): learn.fit(1, 1e-3)  # warm-up (cudnn autotune, allocator)
    if learn.dls.device.type == 'cuda': torch.cuda.synchronize()
    t = time.perf_counter()
    with learn.no_bar(), learn.no_logging(): learn.fit(1, 1e-3)
    if learn.dls.device.type == 'cuda': torch.cuda.synchronize()
    return (time.perf_counter() - t) / (steps + 1)

class FakeDls(DataLoaders):
    def __init__(self, bs, device, target):
        super().__init__(Synthetic(1, bs, device, target), Synthetic(1, bs, device, target), device=device)
        self.bs, self.target, self.vocab, self.stats = bs, target, [str(i) for i in range(200)], ([0.5]*3, [0.25]*3)

if __name__ == '__main__':
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument('--device', default='cuda' if torch.cuda.is_available() else 'cpu')
    p.add_argument('--steps', type=int, default=30); p.add_argument('--bs', type=int, default=512)
    a = p.parse_args()
    dev = torch.device(a.device)
    if dev.type == 'cuda': torch.backends.cudnn.benchmark = True
    name = torch.cuda.get_device_name(dev) if dev.type == 'cuda' else 'cpu'
    for preset in PRESETS:
        learn = classifier_learner(FakeDls(a.bs, dev, 'label'), preset=preset)
        s = timed_fit(learn, a.steps)
        print(json.dumps(dict(device=name, recipe=f'classify {preset}', bs=a.bs, imgs_per_s=round(a.bs / s), s_per_epoch=round(100_000 * s / a.bs, 1))), flush=True)
    for arch in ('tiny_unet', 'tiny_unet_cross'):
        for preset in ('reference', 'cpu'):
            learn = restoration_learner(FakeDls(a.bs // 4, dev, 'image'), arch=arch, preset=preset)
            s = timed_fit(learn, a.steps)
            print(json.dumps(dict(device=name, recipe=f'superres {arch} {preset}', bs=a.bs // 4, imgs_per_s=round(a.bs / 4 / s), s_per_epoch=round(100_000 * s / (a.bs / 4), 1))), flush=True)
