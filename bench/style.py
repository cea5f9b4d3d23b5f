"""Fast style transfer (issue 35): feed-forward style models against Gatys' optimisation of the same loss, on held-out
photos (Tiny ImageNet val, and Set14 at 128 pixels a side), in one process.

    python bench/style.py --models runs/style-skip runs/style-noskip --style docs/images/style_swirls.png \
        [--data TINY_ZIP] [--set14 ../shared/data/sr-bench/Set14] [--tiny-images 64] [--steps 300] \
        [--grid style_grid.jpg] [--json out.json]

Each image is scored by the loss the models trained on (`superres.style.StyleLoss`: the shipped classifier's
features, the same layers and weights, the style picture at each run's training size): its content term (distance
of the output's features from the photo's) and style term (distance of the Gram matrices from the style's), for the
photo itself, for each model's output, and for Gatys' method (Adam on the pixels, started from the photo, `steps`
steps). Times are per image, the model's forward pass against the optimisation, batch by batch, on this machine.
"""
import argparse
import json
import statistics
import time
from pathlib import Path

import torch
from PIL import Image

from superres.files import list_images
from superres.hub import load_classifier, load_restorer
from superres.images import image_to_tensor, load_rgb
from superres.style import StyleLoss, style_tensor, stylize_by_optimisation
from superres.tinyimagenet import find_tiny_imagenet

SHARED = Path(__file__).parents[1]/'..'/'shared'/'data'

def image_sets(data, set14, tiny_images):
    "Set name -> [0,1] batches (one per image size): Tiny ImageNet val at 64, Set14 resized to 128 a side."
    sets = {}
    if data and Path(data).exists():
        files = list_images(find_tiny_imagenet(data)/'val'/'images')[:tiny_images]
        sets['Tiny ImageNet val (64 px)'] = [torch.stack([image_to_tensor(load_rgb(f))[0] for f in files])]
    if set14 and Path(set14).exists():
        imgs = [load_rgb(f).resize((128, 128), Image.BICUBIC) for f in list_images(set14)]
        sets['Set14 (128 px)'] = [torch.stack([image_to_tensor(im)[0] for im in imgs])]
    return sets

def timed(fn, batches):
    "Outputs of `fn` on each batch and the seconds per image."
    start = time.perf_counter()
    outs = [fn(b) for b in batches]
    return outs, (time.perf_counter() - start) / sum(len(b) for b in batches)

def scores(loss, batches, outs):
    "Mean content and style terms over the images."
    terms = [loss.terms(o, b) for o, b in zip(outs, batches)]
    return {k: statistics.fmean(float(v) for t in terms for v in t[k]) for k in ('content', 'style')}

def main():
    p = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    p.add_argument('--models', nargs='+', required=True, help='style run folders (superres train --task style)')
    p.add_argument('--style', required=True, help='the style picture the runs trained on')
    p.add_argument('--data', default=SHARED/'tiny-imagenet-200.zip')
    p.add_argument('--set14', default=SHARED/'sr-bench'/'Set14')
    p.add_argument('--tiny-images', type=int, default=64)
    p.add_argument('--steps', type=int, default=300, help="Gatys' optimisation steps per image")
    p.add_argument('--grid', help='picture of photos, each model and Gatys, row by row (first 8 Tiny ImageNet images)')
    p.add_argument('--json')
    a = p.parse_args()
    torch.manual_seed(0)
    models = {Path(m).name: load_restorer(m).eval() for m in a.models}
    size = next(iter(models.values())).card.size or 64
    loss = StyleLoss(load_classifier(None), style_tensor(Image.open(a.style), size))
    results, grid = {}, []
    for name, batches in image_sets(a.data, a.set14, a.tiny_images).items():
        rows = {'photo itself': scores(loss, batches, batches)}
        with torch.no_grad():
            for m_name, model in models.items():
                outs, secs = timed(lambda b: model(b).clamp(0, 1), batches)
                rows[m_name] = dict(scores(loss, batches, outs), seconds=secs)
                if not grid and name.startswith('Tiny'): grid.append(batches[0][:8])
                if len(grid) <= len(models) and name.startswith('Tiny'): grid.append(outs[0][:8])
        outs, secs = timed(lambda b: stylize_by_optimisation(loss, b, steps=a.steps), batches)
        rows[f'Gatys, {a.steps} steps'] = dict(scores(loss, batches, outs), seconds=secs)
        if name.startswith('Tiny'): grid.append(outs[0][:8])
        results[name] = rows
        gatys = rows[f'Gatys, {a.steps} steps']
        print(f'\n{name}, {len(batches[0])} images\n| method | content | style | s per image | against Gatys: '
              'content, style, speed |\n|---|---|---|---|---|')
        for m_name, r in rows.items():
            vs = (f'{r["content"] / gatys["content"]:.2f}x, {r["style"] / gatys["style"]:.2f}x, '
                  f'{gatys["seconds"] / r["seconds"]:,.0f}x faster' if 'seconds' in r and r is not gatys else '')
            secs = f'{r["seconds"]:.4f}' if 'seconds' in r else ''
            print(f'| {m_name} | {r["content"]:.4f} | {r["style"] * 1e5:.2f}e-5 | {secs} | {vs} |')
    if a.grid and grid:
        import torchvision.utils as vutils
        vutils.save_image(torch.cat(grid), a.grid, nrow=8, padding=1)
    if a.json: Path(a.json).write_text(json.dumps(results, indent=1))

if __name__ == '__main__':
    main()
