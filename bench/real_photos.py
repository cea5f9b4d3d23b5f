"""Real photos, by recipes the models did not train on: each clean image downscaled (PIL bicubic), then damaged at the
low resolution where a real small photo has its artefacts; then upscaled by every method side by side, in one process.

    python bench/real_photos.py scores --scale 4 [--sets ../shared/data/sr-bench/Set5 ... TINY_ZIP] [--limit 1000]
    python bench/real_photos.py grid --scale 4 [-o docs/images/real_photos.png]

scores: per set and recipe, image i damaged with seed i (as `superres evaluate --task RECIPE` does); Y-channel PSNR /
SSIM (`scale` px shaved), FID of 64x64 patches by the shipped classifier's features (the perceptual loss that trained
the GAN stage uses the same features: FID can flatter it), how many images fall below bicubic's SSIM-Y, and the cost
of each network in milliseconds per output megapixel (default precision, 128x128 input, best of 3). Methods: bicubic,
the shipped PSNR model of the scale, the shipped real model of the scale at strength 0, its default and 1, and
Real-ESRGAN's compact model (`realesr-general-x4v3 -dn 0.5`, x4; at x2 its x4 output resized down, as its
`--outscale 2` does) from `../shared/peers/` (left out with `--no-peer` or where that folder is absent).
grid: crops of matplotlib's and scikit-image's sample photos (public domain or CC0), damaged by no one, through the same
methods.
"""
import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from superres.evaluate import evaluate
from superres.hub import WEIGHTS, load_classifier, load_restorer
from superres.inference import upscale_image
from superres.plots import figure, save_figure
from superres.precision import inference_precision

sys.path.insert(0, str(Path(__file__).parent))
import peers  # noqa: E402

SHARED = Path(__file__).parents[1]/'..'/'shared'/'data'
SETS = [SHARED/'sr-bench'/'Set5', SHARED/'sr-bench'/'Set14', SHARED/'tiny-imagenet-200.zip']

def recipes(scale):
    "Damage at the low resolution, name -> task spec: JPEG, colour noise, noise then JPEG (the issue's three rows)."
    down = f'superres:scale={scale}'
    return {'JPEG q30': f'{down}+jpeg:quality=30', 'noise sigma 10': f'{down}+denoise:kind=gaussian,sigma=10,gray=0',
            'noise sigma 5 + JPEG q40': f'{down}+denoise:kind=gaussian,sigma=5,gray=0+jpeg:quality=40'}

def methods(scale, peer=True):
    "Method name -> model (None: bicubic), in the order of the table; the real model's strengths as it ships them."
    ms = {'bicubic': None, f'PSNR x{scale}': load_restorer('default', device='cpu', scale=scale)}
    real = WEIGHTS/f'real_x{scale}.pth'
    if real.is_file():
        default = load_restorer(real, device='cpu')
        ms[f'real x{scale}, strength 0'] = load_restorer(real, device='cpu', strength=0.)
        ms[f'real x{scale}, default ({default.card.strength or 1:g})'] = default
        ms[f'real x{scale}, strength 1'] = load_restorer(real, device='cpu', strength=1.)
    if peer and peers.available(): ms['Real-ESRGAN compact (peer)'] = peers.realesrgan_compact()
    return ms

def ms_per_mp(model, scale, size=128, reps=3):
    "Milliseconds per output megapixel of `upscale_image` in the default precision (None: bicubic)."
    if model is None: return float('nan')
    img = Image.fromarray(np.random.default_rng(0).integers(0, 255, (size, size, 3), dtype=np.uint8))
    with inference_precision('auto'), torch.inference_mode():
        upscale_image(model, img, scale)
        best = min(_timed(lambda: upscale_image(model, img, scale)) for _ in range(reps))
    return best * 1e3 / ((size * scale) ** 2 / 1e6)

def _timed(f):
    t = time.perf_counter(); f()
    return time.perf_counter() - t

def _images(s):
    from superres.tinyimagenet import find_tiny_imagenet
    return find_tiny_imagenet(s)/'val'/'images' if str(s).endswith('.zip') else Path(s)

def score_rows(images, task, models, scale, limit=None, classifier=None):
    "One row per method for `images` damaged by `task`: PSNR-Y, SSIM-Y, FID, images below bicubic's SSIM-Y."
    rows = []
    for name, model in models.items():
        r = evaluate(images, task, model, scale=scale, limit=limit, seed=0, classifier=classifier, progress=False)
        key = 'bicubic' if model is None else 'model'
        below = sum(im[f'{key}_ssim'] < im['bicubic_ssim'] for im in r['images'])
        rows.append(dict(method=name, psnr=r['mean'][f'{key}_psnr'], ssim=r['mean'][f'{key}_ssim'],
                         fid=r['distances'][key]['fid'] if classifier is not None else None, below_bicubic=below,
                         images=len(r['images'])))
    return rows

def scores(sets, scale, limit=None, peer=True, out_json=None):
    "A markdown table per set and recipe; every row also as JSON if `out_json`."
    clf, ms = load_classifier(), methods(scale, peer)
    cost = {name: ms_per_mp(m, scale) for name, m in ms.items()}
    report = []
    for s in sets:
        for recipe, task in recipes(scale).items():
            rows = score_rows(_images(s), task, ms, scale, limit, clf)
            n = rows[0]['images']
            print(f'\n{Path(s).name}, x{scale}, {recipe} (`{task}`, seed 0, {n} images)\n')
            print('| method | PSNR-Y | SSIM-Y | FID | images below bicubic SSIM-Y | ms per output MP |')
            print('|---|---|---|---|---|---|')
            for r in rows:
                print(f"| {r['method']} | {r['psnr']:.2f} | {r['ssim']:.4f} | {r['fid']:.2f} | {r['below_bicubic']} "
                      f"| {cost[r['method']]:.0f} |", flush=True)
            report += [dict(r, set=Path(s).name, recipe=recipe, task=task, ms_per_mp=cost[r['method']]) for r in rows]
    if out_json: Path(out_json).write_text(json.dumps(report, indent=1))
    return report

def photos():
    "(name, crop) of real photos shipped with matplotlib and scikit-image: public domain or CC0."
    import matplotlib.cbook as cbook
    import skimage.data
    root = Path(skimage.data.__file__).parent
    picks = [(cbook.get_sample_data('grace_hopper.jpg', asfileobj=False), (150, 90, 246, 186), 'Grace Hopper (JPEG)'),
             (root/'chelsea.png', (120, 40, 216, 136), 'chelsea'), (root/'coffee.png', (250, 60, 346, 156), 'coffee'),
             (root/'rocket.jpg', (272, 300, 368, 396), 'rocket at night (JPEG)'),
             (root/'astronaut.png', (180, 60, 276, 156), 'astronaut')]
    for f, box, name in picks:
        with Image.open(f) as im: yield name, im.convert('RGB').crop(box)

def grid(out, scale, peer=True):
    "Rows: photos; columns: the crop as given (nearest), then each method's upscale."
    ms = methods(scale, peer)
    rows = list(photos())
    fig, axs = figure(len(rows), len(ms) + 1, figsize=(3 * (len(ms) + 1), 3 * len(rows)), squeeze=False)
    for ax_row, (name, crop) in zip(axs, rows):
        size = (crop.width * scale, crop.height * scale)
        outs = {'input (nearest)': crop.resize(size, Image.NEAREST)}
        for m, model in ms.items():
            outs[m] = crop.resize(size, Image.BICUBIC) if model is None else upscale_image(model, crop, scale)[0]
        for ax, (m, img) in zip(ax_row, outs.items()):
            ax.imshow(np.asarray(img)); ax.set_axis_off()
            ax.set_title(f'{name}: {m}' if m.startswith('input') else m, fontsize=9)
    fig.tight_layout()
    print(f'wrote {save_figure(fig, out, dpi=72)}')

if __name__ == '__main__':
    p = argparse.ArgumentParser()
    p.add_argument('what', choices=['scores', 'grid'])
    p.add_argument('--scale', type=int, default=4, choices=[2, 4])
    p.add_argument('--sets', nargs='+', default=[str(s) for s in SETS])
    p.add_argument('--limit', type=int, help='score only the first N images of each set')
    p.add_argument('--no-peer', dest='peer', action='store_false', help='leave the peer model out')
    p.add_argument('--json', help='also write every row to this JSON file')
    p.add_argument('-o', '--output', default='docs/images/real_photos.png')
    a = p.parse_args()
    if a.what == 'scores': scores(a.sets, a.scale, a.limit, a.peer, a.json)
    else: grid(a.output, a.scale, a.peer)
