"""Every shipped superres model (or the models given) on Set5 and Set14 at its own scale, by `superres evaluate`'s
protocol, with and without self-ensembling (`--tta`), with its parameter count and upscale speed on this machine.

    python bench/zoo.py [--models default_x2 runs/x4 ...] [--sets ../shared/data/sr-bench/Set5 ...] [--no-tta]

Speed: output megapixels/s upscaling a 256x256 random image in the default precision (`auto`), best of 3 after a
warm-up; evaluation in fp32, as `superres evaluate` does by default.
"""
import argparse
import time
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from superres.evaluate import evaluate_sr
from superres.hub import load_restorer, shipped_model_file, shipped_scales
from superres.inference import SelfEnsemble, upscale_image
from superres.precision import inference_precision

SETS = [Path(__file__).parents[1]/'..'/'shared'/'data'/'sr-bench'/s for s in ('Set5', 'Set14')]

def speed(model, size=256, reps=3):
    "Output megapixels per second of `upscale_image` on a random `size` square, default precision."
    img = Image.fromarray(np.random.default_rng(0).integers(0, 255, (size, size, 3), dtype=np.uint8))
    s = model.card.scale
    with inference_precision('auto'):
        upscale_image(model, img)
        best = min(_timed(lambda: upscale_image(model, img)) for _ in range(reps))
    return (size * s) ** 2 / best / 1e6

def _timed(f):
    t = time.perf_counter(); f()
    return time.perf_counter() - t

if __name__ == '__main__':
    p = argparse.ArgumentParser()
    p.add_argument('--models', nargs='+', help='model files or run folders (default: every shipped model)')
    p.add_argument('--sets', nargs='+', default=[str(s) for s in SETS])
    p.add_argument('--no-tta', action='store_true')
    a = p.parse_args()
    torch.set_num_threads(torch.get_num_threads())
    models = a.models or [str(shipped_model_file(s)) for s in shipped_scales()]
    names = [Path(s).name for s in a.sets]
    print('| model | scale | params | ' + ' | '.join(f'{n} PSNR-Y / SSIM-Y' for n in names) + ' | MP/s |')
    print('|---' * (4 + len(names)) + '|')
    for m in models:
        model = load_restorer(m, device='cpu')
        s, params = model.card.scale, sum(p.numel() for p in model.parameters())
        variants = [(m, model)] + ([] if a.no_tta else [(f'{m} --tta', SelfEnsemble(model))])
        for name, net in variants:
            cells = []
            for d in a.sets:
                mean = evaluate_sr(d, s, net, progress=False)['mean']
                cells.append(f"{mean['model_psnr']:.2f} / {mean['model_ssim']:.4f}")
            print(f'| {name} | x{s} | {params/1e3:.0f}K | ' + ' | '.join(cells) + f' | {speed(net):.3f} |', flush=True)
