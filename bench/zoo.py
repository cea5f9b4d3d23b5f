"""Every shipped superres model (or the models given) on Set5 and Set14 at its own scale, by `superres evaluate`'s
protocol, with and without self-ensembling (`--tta`), with its parameter count and upscale speed on this machine; the
RLFN peer (`bench/peers.py`, `../shared/peers/`) of each scale side by side in the same process.

    python bench/zoo.py [--models default_x2 runs/x4 ...] [--sets ../shared/data/sr-bench/Set5 ...] [--no-tta]
        [--no-peer]

Speed: output megapixels/s upscaling a 256x256 random image, in fp32 and in the default precision (`auto`: bf16 where
the CPU has it natively, else fp32 again), best of 5 after a warm-up; each model's cost per output pixel as a ratio to
the first row of its scale, same precision. Evaluation in fp32, as `superres evaluate` does by default.
"""
import argparse
import sys
import time
from pathlib import Path

import numpy as np
from PIL import Image

from superres.evaluate import evaluate_sr
from superres.hub import load_restorer, shipped_model_file, shipped_scales
from superres.inference import SelfEnsemble, upscale_image
from superres.precision import inference_precision, resolve_precision

sys.path.insert(0, str(Path(__file__).parent))
import peers  # noqa: E402

SETS = [Path(__file__).parents[1]/'..'/'shared'/'data'/'sr-bench'/s for s in ('Set5', 'Set14')]

def speed(model,  # a restoration model with a card (ours, a peer's, or `SelfEnsemble` of one)
          precision='auto',  # `inference_precision`'s: what the upscale runs in
          size=256, reps=5):
    "Output megapixels per second of `upscale_image` on a random `size` square."
    img = Image.fromarray(np.random.default_rng(0).integers(0, 255, (size, size, 3), dtype=np.uint8))
    s = model.card.scale
    with inference_precision(precision):
        upscale_image(model, img)
        best = min(_timed(lambda: upscale_image(model, img)) for _ in range(reps))
    return (size * s) ** 2 / best / 1e6

def _timed(f):
    t = time.perf_counter(); f()
    return time.perf_counter() - t

def peer_rows(scales):
    "RLFN with its released weights for each of `scales` it has (x2, x4), where `../shared/peers/` is present."
    if not peers.available(): return []
    return [(f'RLFN x{s} (peer)', peers.rlfn(s)) for s in scales if s in (2, 4)]

if __name__ == '__main__':
    p = argparse.ArgumentParser()
    p.add_argument('--models', nargs='+', help='model files or run folders (default: every shipped model)')
    p.add_argument('--sets', nargs='+', default=[str(s) for s in SETS])
    p.add_argument('--no-tta', action='store_true')
    p.add_argument('--no-peer', action='store_true', help='leave out the RLFN rows')
    a = p.parse_args()
    models = [(m, load_restorer(m, device='cpu'))
              for m in (a.models or [str(shipped_model_file(s)) for s in shipped_scales()])]
    if not a.no_peer: models += peer_rows(sorted({m.card.scale for _, m in models}))
    default = resolve_precision('auto')
    names = [Path(s).name for s in a.sets]
    print('| model | scale | params | ' + ' | '.join(f'{n} PSNR-Y / SSIM-Y' for n in names) +
          f' | MP/s fp32 | MP/s {default} (default) | cost per output pixel, {default}, vs the first of its scale |')
    print('|---' * (6 + len(names)) + '|')
    first = {}  # scale -> the first row's MP/s at the default precision
    for name, model in sorted(models, key=lambda nm: nm[1].card.scale):
        s, params = model.card.scale, sum(p.numel() for p in model.parameters())
        variants = [(name, model)] + ([] if a.no_tta else [(f'{name} --tta', SelfEnsemble(model))])
        for label, net in variants:
            cells = []
            for d in a.sets:
                mean = evaluate_sr(d, s, net, progress=False)['mean']
                cells.append(f"{mean['model_psnr']:.2f} / {mean['model_ssim']:.4f}")
            fp32 = speed(net, 'fp32')
            auto = fp32 if default == 'fp32' else speed(net)  # the same run where the default is fp32
            first.setdefault(s, auto)
            print(f'| {label} | x{s} | {params/1e3:.0f}K | ' + ' | '.join(cells) +
                  f' | {fp32:.3f} | {auto:.3f} | {first[s] / auto:.2f}x |', flush=True)
