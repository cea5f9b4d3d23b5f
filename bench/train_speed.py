"""Training throughput on this CPU, same model and same batches for every loop: the reference's plain fp32 eager
PyTorch loop, the best bare PyTorch loop with superres's settings (bf16 autocast + channels_last), and superres's
fastai Learner. Data comes from memory (uint8, as the decoded cache serves it), so the model and the loop are measured.

    python bench/train_speed.py --presets cpu step2 --bs 128
"""
import argparse
import json
import time

import numpy as np
import torch
from fastai.callback.core import Callback, CancelFitException
from fastai.data.core import DataLoaders
from fastai.data.transforms import IntToFloatTensor

from superres.data import ArrayDL, ImageArrays
from superres.learner import classifier_learner
from superres.models import classifier


def synthetic(n, n_classes=200, seed=0):
    rng = np.random.default_rng(seed)
    return rng.integers(0, 256, (n, 3, 64, 64), dtype=np.uint8), rng.integers(0, n_classes, n)

def seconds_per_step(times, warmup):
    return (times[-1] - times[warmup - 1]) / (len(times) - warmup)

def bare_loop(model, x, y, bs, steps, bf16, channels_last, warmup):
    "A plain PyTorch training loop; returns the wall clock at the end of every step."
    if channels_last: model = model.to(memory_format=torch.channels_last)
    opt = torch.optim.AdamW(model.parameters(), 1e-3, eps=1e-5, weight_decay=0.01)
    loss_fn, times = torch.nn.CrossEntropyLoss(label_smoothing=0.1), []
    model.train()
    for i in range(steps):
        xb = torch.from_numpy(x[i*bs:(i+1)*bs]).float().div_(255)
        if channels_last: xb = xb.contiguous(memory_format=torch.channels_last)
        yb = torch.from_numpy(y[i*bs:(i+1)*bs])
        with torch.autocast('cpu', dtype=torch.bfloat16, enabled=bf16): out = model(xb)
        loss = loss_fn(out.float(), yb)
        loss.backward(); opt.step(); opt.zero_grad()
        times.append(time.perf_counter())
    return times

class StepTimes(Callback):
    "Wall clock at the end of every training step; stops after `steps`."
    order = 100
    def __init__(self, steps): self.steps, self.times = steps, []
    def after_batch(self):
        self.times.append(time.perf_counter())
        if len(self.times) == self.steps: raise CancelFitException()

def superres_loop(preset, x, y, bs, steps):
    "superres's own Learner (classifier_learner, default precision and memory format) fed the same batches."
    dl = ArrayDL(ImageArrays(x, y, 0), bs=bs, after_batch=[IntToFloatTensor()], num_workers=0)
    dls = DataLoaders(dl, dl)
    dls.vocab, dls.stats = [str(i) for i in range(200)], ([0.5]*3, [0.25]*3)
    learn = classifier_learner(dls, preset=preset)
    timer = StepTimes(steps)
    with learn.no_bar(), learn.no_logging(): learn.fit(1, 1e-3, cbs=timer)
    return timer.times

if __name__ == '__main__':
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument('--presets', nargs='+', default=['cpu', 'step2']); p.add_argument('--bs', type=int, default=128)
    p.add_argument('--steps', type=int, nargs='+', default=[24, 5],
                   help='steps per preset (the first --warmup are not timed)')
    p.add_argument('--warmup', type=int, default=2)
    a = p.parse_args()
    print(json.dumps(dict(torch=torch.__version__, threads=torch.get_num_threads())))
    for preset, steps in zip(a.presets, a.steps):
        x, y = synthetic(steps * a.bs)
        row = dict(preset=preset, bs=a.bs)
        for name, fn in (('reference fp32 eager',
                          lambda: bare_loop(classifier(preset), x, y, a.bs, steps, False, False, a.warmup)),
                         ('bare bf16 + channels_last',
                          lambda: bare_loop(classifier(preset), x, y, a.bs, steps, True, True, a.warmup)),
                         ('superres Learner', lambda: superres_loop(preset, x, y, a.bs, steps))):
            torch.manual_seed(0)
            row[name] = round(a.bs / seconds_per_step(fn(), a.warmup), 1)
            print(json.dumps(dict(preset=preset, loop=name, imgs_per_s=row[name])), flush=True)
        print(f"{preset}: superres {row['superres Learner']} images/s = "
              f"{row['superres Learner'] / row['reference fp32 eager']:.2f}x the reference fp32 loop, "
              f"{row['superres Learner'] / row['bare bf16 + channels_last']:.3f}x the bare bf16 loop", flush=True)
