"""Seconds for `superres evaluate` on an Urban100-sized set (100 images of 1024x768, x2) with the shipped model, and
the share of it spent in SSIM. The images are photos from ../shared/data/sr-train resized to 1024x768 (speed does
not depend on content). With PYTHONPATH at an older checkout it times that checkout's `evaluate_sr` instead.

    python bench/evaluate_speed.py --photos ../shared/data/sr-train --n 100 --precision fp32 auto
"""
import argparse
import tempfile
import time
from pathlib import Path

from PIL import Image

import superres
from superres.files import list_images


def urban100_sized(photos, n, size=(1024, 768)):
    "A folder of `n` photos resized to `size`, written once to a temporary folder."
    out = Path(tempfile.mkdtemp(prefix='urban100-sized-'))
    for i, f in enumerate(list_images(photos)[:n]):
        with Image.open(f) as im: im.convert('RGB').resize(size, Image.BICUBIC).save(out/f'img_{i:03d}.png')
    return out

def timed(f):
    "`f` wrapped to add its run time to `timed.seconds[f.__name__]`."
    def run(*args, **kwargs):
        start = time.perf_counter()
        try: return f(*args, **kwargs)
        finally: timed.seconds[f.__name__] = timed.seconds.get(f.__name__, 0.) + time.perf_counter() - start
    return run
timed.seconds = {}

if __name__ == '__main__':
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument('--photos', required=True); p.add_argument('--n', type=int, default=100)
    p.add_argument('--precision', nargs='+', default=['fp32', 'auto'])
    a = p.parse_args()
    folder = urban100_sized(a.photos, a.n)
    try:  # the reshaped layout (issue 19)
        import superres.evaluate as ev
        from superres.hub import load_restorer
        run = lambda precision: ev.evaluate(folder, 'superres', load_restorer(), 2, precision=precision, progress=False)
    except ImportError:  # before it: evaluate_sr in superres.inference, precision from the caller's context
        import superres.inference as ev
        run = lambda precision: ev.evaluate_sr(folder, 2, ev.load_restorer())
        a.precision = ['fp32']
    import superres.metrics
    if hasattr(ev, 'ssim_y'): ev.ssim_y = timed(ev.ssim_y)  # bound in the evaluation module
    else: superres.metrics.ssim_y = timed(superres.metrics.ssim_y)  # the old layout imported it inside the function
    for precision in a.precision:
        timed.seconds.clear()
        start = time.perf_counter()
        report = run(precision)
        total = time.perf_counter() - start
        ssim_s = timed.seconds.get('ssim_y', 0.)
        print(f"{superres.__file__}: {len(report['images'])} images, precision {precision}: {total:.1f} s "
              f"({total / len(report['images']):.2f} s an image), SSIM {ssim_s:.1f} s ({ssim_s / total:.1%}); "
              f"model PSNR-Y {report['mean']['model_psnr']:.3f} dB", flush=True)
