"""Panoramas by repeated outpainting (issue 35): how visible each pass's seam is for an outpainting model against the
classic fills, over 1..N passes, on held-out photos (Set14, Tiny ImageNet val), in one process.

    python bench/panorama.py --model runs/outpaint-pano [--sets ../shared/data/sr-bench/Set14 TINY_ZIP] \
        [--tiny-images 100] [--passes 4] [--side right] [--amount 0.25] [--json out.json]

Each photo becomes a panorama of `passes` passes by each method: the model (`superres restore --passes`), the classic
fill `superres evaluate` compares outpainting with (OpenCV's Telea where installed, else diffusion), and the smooth
push-pull fill the model starts from. Passes are deterministic and each reads only what came before, so the N-pass
panorama is the first N passes of the longest one: one panorama per photo and method gives every N. Scores per N, the
median over the photos: seam visibility (`superres.metrics.seam_visibility`: gradient energy across each seam against
the image's own within 8 pixels either side, averaged over the panorama's seams; 1 is as continuous as the photo) and
detail (gradient energy of the painted strips over the photo's own; 1 is as busy as the photo, 0 flat).
"""
import argparse
import json
import statistics
import time
from pathlib import Path

from superres.files import list_images
from superres.fills import extend_canvas, fill_holes, inpaint_baselines, side_pixels
from superres.hub import load_restorer
from superres.images import image_to_tensor, load_rgb
from superres.inference import restore_image
from superres.metrics import seam_visibility
from superres.panorama import paint_panorama, panorama_layout
from superres.tinyimagenet import find_tiny_imagenet

SHARED = Path(__file__).parents[1]/'..'/'shared'/'data'

def photos(path, tiny_images):
    "(set name, images) of a folder of photos, or of the first `tiny_images` Tiny ImageNet val images."
    if path.suffix == '.zip' or (path/'wnids.txt').is_file():
        return 'Tiny ImageNet val', list_images(find_tiny_imagenet(path)/'val'/'images')[:tiny_images]
    return path.name, list_images(path)

def methods(model, amount):
    "Method name -> f(photo, side, passes): the panorama."
    (classic, fill), = inpaint_baselines().items()
    def filled(how):
        return lambda img, side, passes: paint_panorama(img, lambda w, s: how(*extend_canvas(w, s, amount)), side,
                                                        amount, passes)
    return {'model': lambda img, side, passes: restore_image(model, img, side=side, amount=amount, passes=passes)[0],
            f'{classic} fill (classic)': filled(fill), 'smooth fill (model input)': filled(fill_holes)}

def gradient_energy(x):
    "Mean squared step between neighbouring pixels, across and down, of a [0,1] CHW tensor."
    return float(x.diff(dim=-1).pow(2).mean() + x.diff(dim=-2).pow(2).mean())

def scores(pano, img, side, amount, passes):
    "Per N = 1..passes: (mean seam visibility of the N-pass panorama, detail of its strips)."
    layout, x = panorama_layout(img.size, side, amount, passes), image_to_tensor(pano)[0]
    dim = -1 if side in ('left', 'right', 'both') else -2
    seams = seam_visibility(x, [at for _, at in layout.seams], dim=dim)
    own, details = gradient_energy(image_to_tensor(img)[0]), []
    for s, at in layout.seams:
        n = side_pixels(img.size, s, amount)
        details.append(gradient_energy(x.narrow(dim, at if s in ('right', 'bottom') else at - n, n)) / max(own, 1e-12))
    per = len(layout.seams) // passes  # seams a pass makes
    return [(statistics.mean(seams[:k * per]), statistics.mean(details[:k * per])) for k in range(1, passes + 1)]

def print_table(rows, passes):
    "The markdown table of BENCHMARKS.md from the rows printed above (or their --json)."
    ns = range(1, passes + 1)
    print(f'\n| set (photos) | method | {" | ".join(f"seams, N={n}" for n in ns)} | detail, N={passes} | s/photo |')
    print('|---|---|' + '---|' * (passes + 2))
    for r in rows:
        print(f'| {r["set"]} ({r["photos"]}) | {r["method"]} | {" | ".join(f"{v:.2f}" for v in r["seam"])} | '
              f'{r["detail"][-1]:.4f} | {r["s_per_photo"]:.2f} |')

if __name__ == '__main__':
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument('--model', required=True, help='an outpainting run folder or model file')
    p.add_argument('--sets', nargs='+', type=Path, default=[SHARED/'sr-bench'/'Set14', SHARED/'tiny-imagenet-200.zip'])
    p.add_argument('--tiny-images', type=int, default=100)
    p.add_argument('--passes', type=int, default=4)
    p.add_argument('--side', default='right')
    p.add_argument('--amount', type=float, default=0.25)
    p.add_argument('--json')
    a = p.parse_args()
    ms = methods(load_restorer(a.model, device='cpu'), a.amount)
    rows = []
    for path in a.sets:
        name, files = photos(path, a.tiny_images)
        for method, make in ms.items():
            start, per_photo = time.perf_counter(), []
            for f in files:
                img = load_rgb(f)
                per_photo.append(scores(make(img, a.side, a.passes), img, a.side, a.amount, a.passes))
            seconds = (time.perf_counter() - start) / len(files)
            row = dict(set=name, photos=len(files), method=method, s_per_photo=seconds,
                       seam=[statistics.median(p[k][0] for p in per_photo) for k in range(a.passes)],
                       detail=[statistics.median(p[k][1] for p in per_photo) for k in range(a.passes)])
            rows.append(row)
            print(json.dumps(row), flush=True)
    print_table(rows, a.passes)
    if a.json: Path(a.json).write_text(json.dumps(rows, indent=1))
