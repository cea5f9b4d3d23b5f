"""OpenVINO against PyTorch on this CPU, in one process, back to back: output megapixels/s of `upscale_image` (what
`superres upscale` runs: tiles, strips, inference mode, channels-last weights for PyTorch) for the shipped x2 and x4
models and a TinyUnet, at fp32 and bf16, on square random images; OpenVINO / PyTorch, and the largest pixel difference.

    python bench/backend_speed.py [--sizes 256 512 1024] [--reps 3] [--tiny-unet RUN]
"""
import argparse
import time

import numpy as np
import torch
from PIL import Image

from superres.backends import with_backend
from superres.hub import load_restorer
from superres.inference import upscale_image
from superres.models import restorer
from superres.precision import inference_precision


def random_tiny_unet():
    "A TinyUnet as `superres train --arch tiny_unet` makes one, with random weights (an untrained one is the identity)."
    model, g = restorer('tiny_unet'), torch.Generator().manual_seed(0)
    with torch.no_grad():
        for p in model.parameters(): p.copy_(torch.randn(p.shape, generator=g) * 0.05)
    return model.eval().to(memory_format=torch.channels_last)

def upscale(model, img, precision):
    with inference_precision(precision): return upscale_image(model, img)[0]

def best_of(reps, paths):
    "Seconds per call of each path, best of `reps`, the paths taking turns after a warm-up call each."
    for f in paths.values(): f()
    best = dict.fromkeys(paths, float('inf'))
    for _ in range(reps):
        for name, f in paths.items():
            start = time.perf_counter(); f()
            best[name] = min(best[name], time.perf_counter() - start)
    return best

if __name__ == '__main__':
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument('--sizes', type=int, nargs='+', default=[256, 512, 1024])
    p.add_argument('--reps', type=int, default=3)
    p.add_argument('--precisions', nargs='+', default=['fp32', 'bf16'])
    p.add_argument('--tiny-unet', help='a TinyUnet run folder (default: the architecture with random weights; the '
                   'speed does not depend on them)')
    a = p.parse_args()
    models = {'shipped x2': load_restorer(device='cpu', scale=2), 'shipped x4': load_restorer(device='cpu', scale=4),
              'TinyUnet': load_restorer(a.tiny_unet, device='cpu') if a.tiny_unet else random_tiny_unet()}
    print(f'{torch.get_num_threads()} threads; output MP/s, best of {a.reps}, PyTorch and OpenVINO taking turns\n')
    print('| model | input | precision | PyTorch | OpenVINO | OpenVINO / PyTorch | largest pixel difference |')
    print('|---|---|---|---|---|---|---|')
    for name, model in models.items():
        compiled, notes = with_backend(model, 'openvino')
        if notes: raise SystemExit(f'{name}: {notes[0]}')
        for size in a.sizes:
            img = Image.fromarray(np.random.default_rng(0).integers(0, 256, (size, size, 3), dtype=np.uint8))
            for precision in a.precisions:
                runs = {'torch': model, 'openvino': compiled}
                seconds = best_of(a.reps, {k: lambda m=m: upscale(m, img, precision) for k, m in runs.items()})
                mp = (size * model.card.scale) ** 2 / 1e6
                diff = np.abs(np.subtract(*(np.asarray(upscale(m, img, precision), dtype=int) for m in runs.values())))
                print(f"| {name} | {size}x{size} | {precision} | {mp / seconds['torch']:.3f} | "
                      f"{mp / seconds['openvino']:.3f} | **{seconds['torch'] / seconds['openvino']:.2f}x** | "
                      f'{diff.max()}/255 |', flush=True)
