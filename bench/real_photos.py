"""The real-photo model against bicubic and the PSNR x4 model: scores on images degraded by the `real` chain, and a grid
of crops of real photos no one degraded by hand.

    python bench/real_photos.py scores [--sets ../shared/data/sr-bench/Set5 ... TINY_ZIP] [--limit 1000]
    python bench/real_photos.py grid [-o docs/images/real_photos.png]

scores: each image i degraded by `real+superres:scale=4` with seed i (as `superres degrade --seed 0` and `superres
evaluate --task real+superres:scale=4` do), upscaled x4 by bicubic, the shipped PSNR x4 model, the real model before
its GAN fine-tune (`--strength 0`: its PSNR parent, held in the same file) and after; Y-channel PSNR/SSIM and FID/KID
from the shipped classifier's features of 64x64 patches, as `superres evaluate --classifier` reports them.
grid: crops of matplotlib's and scikit-image's sample photos (public domain or CC0) upscaled x4 by each.
"""
import argparse
from pathlib import Path

import numpy as np
from PIL import Image

from superres.evaluate import evaluate
from superres.hub import load_classifier, load_restorer
from superres.inference import upscale_image
from superres.plots import figure, save_figure

SHARED = Path(__file__).parents[1]/'..'/'shared'/'data'
SETS = [SHARED/'sr-bench'/'Set5', SHARED/'sr-bench'/'Set14']
TASK = 'real+superres:scale=4'

def models():
    "Method name -> model (None: bicubic), in the order of the table."
    return {'bicubic': None, 'PSNR x4': load_restorer('default', device='cpu', scale=4),
            'real, before GAN': load_restorer('real', device='cpu', strength=0.),
            'real (GAN)': load_restorer('real', device='cpu')}

def scores(sets, limit=None):
    "One markdown table per set: PSNR-Y/SSIM-Y and FID/KID of every method."
    from superres.tinyimagenet import find_tiny_imagenet
    clf = load_classifier()
    for s in sets:
        hr = find_tiny_imagenet(s)/'val'/'images' if str(s).endswith('.zip') else Path(s)
        print(f'\n{Path(s).name} ({TASK}, seed 0{f", first {limit} images" if limit else ""})\n')
        print('| method | PSNR-Y | SSIM-Y | FID | KID x1000 |\n|---|---|---|---|---|')
        for name, model in models().items():
            r = evaluate(hr, TASK, model, scale=4, limit=limit, seed=0, classifier=clf, progress=False)
            key = 'model' if model is not None else 'bicubic'
            mean, dist = r['mean'], r['distances'][key]
            print(f"| {name} | {mean[f'{key}_psnr']:.2f} | {mean[f'{key}_ssim']:.4f} | {dist['fid']:.3f} | "
                  f"{dist['kid'] * 1e3:.3f} |", flush=True)

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

def grid(out):
    "Rows: photos; columns: the crop as given (nearest), then each method's x4."
    ms = models()
    rows = list(photos())
    fig, axs = figure(len(rows), len(ms) + 1, figsize=(3 * (len(ms) + 1), 3 * len(rows)), squeeze=False)
    for ax_row, (name, crop) in zip(axs, rows):
        outs = {'input (nearest)': crop.resize((crop.width * 4, crop.height * 4), Image.NEAREST)}
        for m, model in ms.items():
            outs[m] = (crop.resize((crop.width * 4, crop.height * 4), Image.BICUBIC) if model is None
                       else upscale_image(model, crop, 4)[0])
        for ax, (m, img) in zip(ax_row, outs.items()):
            ax.imshow(np.asarray(img)); ax.set_axis_off()
            ax.set_title(f'{name}: {m}' if m.startswith('input') else m, fontsize=9)
    fig.tight_layout()
    print(f'wrote {save_figure(fig, out, dpi=72)}')

if __name__ == '__main__':
    p = argparse.ArgumentParser()
    p.add_argument('what', choices=['scores', 'grid'])
    p.add_argument('--sets', nargs='+', default=[str(s) for s in SETS])
    p.add_argument('--limit', type=int, help='score only the first N images of each set')
    p.add_argument('-o', '--output', default='docs/images/real_photos.png')
    a = p.parse_args()
    scores(a.sets, a.limit) if a.what == 'scores' else grid(a.output)
