"""Training-data throughput: fastai's per-item PIL pipeline (2 workers) vs the pre-decoded cache with batched
per-image augmentation, in one process. Classification: pad+crop, flip, TrivialAugmentWide and random erasing;
`--pairs`: the super-resolution pairs (pad+crop and flip shared, x2 bicubic degradation and erasing of the input).

    python bench/data_speed.py --data ../shared/data/tiny-imagenet-200.zip --classes 20 --seconds 40 \
        [--full-cache] [--pairs]
"""
import argparse
import json
import shutil
import time

import torch
from fastai.torch_core import default_device

from superres.cache import decoded_images
from superres.data import classification_dls, decoded_dls, decoded_paired_dls, sr_dls
from superres.files import cache_dir
from superres.tinyimagenet import TinyImageNet, find_tiny_imagenet


def images_per_s(dl, seconds):
    "Images/s over whole batches for `seconds`, after the first batch (worker start-up) is out of the way."
    it = iter(dl); next(it)
    n, t0 = 0, time.perf_counter()
    for x, _ in it:
        n += len(x)
        if time.perf_counter() - t0 > seconds: break
    if x.is_cuda: torch.cuda.synchronize()
    return n / (time.perf_counter() - t0)

def timed(f):
    t = time.perf_counter(); out = f(); return out, time.perf_counter() - t

if __name__ == '__main__':
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument('--data'); p.add_argument('--classes', type=int, default=20)
    p.add_argument('--bs', type=int, default=128)
    p.add_argument('--seconds', type=float, default=40)
    p.add_argument('--pairs', action='store_true',
                   help='the super-resolution pairs instead of the classifier\'s batches')
    p.add_argument('--device', default=str(default_device()), help='where the decoded path\'s batches are augmented')
    p.add_argument('--full-cache', action='store_true',
                   help='also time building the cache of all 100,000 training images from scratch')
    a = p.parse_args()
    root = find_tiny_imagenet(a.data)
    rows = []
    if a.full_cache:
        shutil.rmtree(cache_dir()/'decoded', ignore_errors=True)
        files = TinyImageNet(root).train_files()
        arr, cold = timed(lambda: decoded_images(files))
        _, warm = timed(lambda: decoded_images(files))
        rows.append(dict(what='cache of the full train set', images=len(files), gbytes=round(arr.nbytes / 1e9, 2),
                         build_s=round(cold, 1), reuse_s=round(warm, 2)))
        print(json.dumps(rows[-1]), flush=True)
    if a.pairs:
        loaders = {'per-item PIL DataBlock, 2 workers (crop, flip, x2 bicubic, erase)':
                       lambda: sr_dls(root, classes=a.classes, bs=a.bs, num_workers=2),
                   'decoded cache, batched per-image crop, flip, x2 bicubic, erase':
                       lambda: decoded_paired_dls(root, classes=a.classes, bs=a.bs, device=a.device)}
    else:
        loaders = {'per-item PIL DataBlock, 2 workers (crop, flip, TrivialAugment, erase)':
                       lambda: classification_dls(root, classes=a.classes, bs=a.bs, num_workers=2),
                   **{'decoded cache, batched per-image crop, flip, ' + ('TrivialAugment, ' if ta else '') + 'erase':
                       (lambda ta=ta: decoded_dls(root, classes=a.classes, bs=a.bs, trivial_augment=ta,
                                                  device=a.device))
                      for ta in (True, False)}}
    start = len(rows)
    for what, make in loaders.items():
        rows.append(dict(what=what, imgs_per_s=images_per_s(make().train, a.seconds)))
        print(json.dumps(rows[-1]), flush=True)
    base = rows[start]['imgs_per_s']
    for r in rows[start+1:]: print(f"{r['what']}: {r['imgs_per_s']:.0f} images/s, "
                                   f"{r['imgs_per_s'] / base:.2f}x the PIL path ({base:.0f})")
