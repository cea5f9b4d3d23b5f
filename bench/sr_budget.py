"""Super-resolution under a fixed CPU budget per model on Tiny ImageNet (x2), against nearest and bicubic;
then the CPU recipe (L1, 48px crops, no erasing) for `--best-budget` seconds, Set5/Set14 x2 of the models,
and `upscale` speed on a 512x512 image.

    python bench/sr_budget.py --data ../shared/data/tiny-imagenet-200.zip --classifier runs/bench-classify \
        --budget 180 --best-budget 600 --sr-bench ../shared/data/sr-bench [--only mse,perceptual]
"""
import argparse
import json
import time
from dataclasses import asdict, replace
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from superres.configs import FineTuneConfig, RestorerData, RestorerLoss, RestorerNet
from superres.evaluate import evaluate_sr
from superres.hub import load_classifier, load_restorer
from superres.inference import upscale_image
from superres.recipes import train_restorer
from superres.tinyimagenet import find_tiny_imagenet

BEST = dict(net=RestorerNet('tiny_unet'), loss=RestorerLoss('l1'), data=dict(size=48, erase=0, bs=32, per_class=100),
            lr=3e-3)

MODELS = {  # perceptual: the features of --classifier, whose body the pretrained UNets copy
    'mse': dict(net=RestorerNet('tiny_unet'), loss=RestorerLoss('mse')),
    'perceptual': dict(net=RestorerNet('tiny_unet', pretrained=False), loss=RestorerLoss('perceptual')),
    'pretrained': dict(net=RestorerNet('tiny_unet'), loss=RestorerLoss('perceptual')),
    'cross': dict(net=RestorerNet('tiny_unet_cross'), loss=RestorerLoss('perceptual')),
    'dynamic': dict(net=RestorerNet('dynamic_unet'), loss=RestorerLoss('perceptual')),
}

def mean(rows, key): return float(np.mean([r[key] for r in rows]))

def summary(rows, names):
    return {n: dict(psnr=mean(rows, f'{n}_psnr'), ssim=mean(rows, f'{n}_ssim')) for n in names}

def run_model(name, a, root, val_dir, budget, net, loss, data=(), lr=None):
    "`net` trained with `loss` for `budget` seconds on --classes, --per-class, --bs (`data` overriding them), scored."
    out, lr = Path(a.out)/name, lr or a.lr
    data = replace(RestorerData(root, classes=a.classes, per_class=a.per_class, val_per_class=2, bs=a.bs), **dict(data))
    clf = load_classifier(a.classifier) if loss.loss == 'perceptual' else None
    start = time.perf_counter()
    train_restorer(out, data=data, net=net, loss=loss, schedule=FineTuneConfig(budget=budget, lr=lr, seed=0),
                   classifier=clf)
    wall = time.perf_counter() - start
    settings = dict(**asdict(net), **asdict(loss), **{k: v for k, v in asdict(data).items() if k != 'data'}, lr=lr)
    rows = evaluate_sr(val_dir, 2, load_restorer(out), limit=a.val_images, baselines=('nearest', 'bicubic'))['images']
    res = dict(name=name, **settings, wall_s=round(wall), epochs=json.loads((out/'metrics.json').read_text())['epochs'],
               tiny_val=summary(rows, ['nearest', 'bicubic', 'model']))
    print(json.dumps(res), flush=True)
    return res

def upscale_speed(model, reps=3):
    "Megapixels of output per second for a 512x512 input: superres (tiled, inference mode) vs naive untiled fp32."
    img = Image.fromarray(np.random.default_rng(0).integers(0, 255, (512, 512, 3), dtype=np.uint8))
    def timed(f):
        f(); t = time.perf_counter()
        for _ in range(reps): f()
        return (time.perf_counter() - t) / reps
    ours = timed(lambda: upscale_image(model, img))
    x = torch.from_numpy(np.asarray(img.resize((1024, 1024), Image.BICUBIC))).permute(2, 0, 1)[None].float() / 255
    naive = timed(lambda: model(x))  # autograd on, one 1024x1024 pass
    mp = 1024 * 1024 / 1e6
    tiled = upscale_image(model, img)[0]
    with torch.inference_mode(): whole = upscale_image(model, img, tile=4096)[0]
    seam = int(np.abs(np.asarray(tiled, dtype=int) - np.asarray(whole, dtype=int)).max())
    return dict(superres_mp_s=mp / ours, naive_mp_s=mp / naive, ratio=naive / ours,
                tiled_vs_untiled_max_diff_0_255=seam)

if __name__ == '__main__':
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument('--data'); p.add_argument('--classifier', required=True)
    p.add_argument('--budget', type=float, default=180)
    p.add_argument('--classes', type=int, default=200); p.add_argument('--per-class', type=int, default=25)
    p.add_argument('--bs', type=int, default=64); p.add_argument('--lr', type=float, default=3e-3)
    p.add_argument('--val-images', type=int, default=1000)
    p.add_argument('--sr-bench', default='../shared/data/sr-bench')
    p.add_argument('--only', default=','.join(MODELS)); p.add_argument('--out', default='runs/bench-sr')
    p.add_argument('--best-budget', type=float, default=600, help='seconds for the CPU recipe (0: skip)')
    a = p.parse_args()
    root = find_tiny_imagenet(a.data)
    val = root/'val'/'images'
    results = [run_model(n, a, root, val, a.budget, **MODELS[n]) for n in a.only.split(',') if n]
    if a.best_budget: results.append(run_model('cpu_recipe', a, root, val, a.best_budget, **BEST))
    top = sorted(results, key=lambda r: -r['tiny_val']['model']['psnr'])[:2]
    for r in top:
        model = load_restorer(Path(a.out)/r['name'])
        for s in ('Set5', 'Set14'):
            rows = evaluate_sr(Path(a.sr_bench)/s, 2, model)['images']
            print(json.dumps(dict(benchmark=s, name=r['name'], **summary(rows, ['bicubic', 'model']))), flush=True)
    print(json.dumps(dict(name=top[0]['name'], upscale_512=upscale_speed(load_restorer(Path(a.out)/top[0]['name'])))),
          flush=True)
