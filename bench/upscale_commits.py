"""Seconds for superres to upscale one large image, per precision, using only the API every commit has: run it with
PYTHONPATH pointing at another commit's checkout, then at this one, back to back, to compare tiling changes.

    git worktree add /tmp/old COMMIT && PYTHONPATH=/tmp/old python bench/upscale_commits.py --size 2048
    python bench/upscale_commits.py --size 2048
"""
import argparse
import time

import numpy as np
from PIL import Image

from superres.inference import upscale_image

try:  # the reshaped layout (issue 19)
    from superres.hub import load_restorer
    from superres.precision import inference_precision
except ImportError:  # commits before it
    from superres.inference import inference_precision, load_restorer

if __name__ == '__main__':
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument('--size', type=int, default=2048); p.add_argument('--device', default='cpu')
    p.add_argument('--precision', nargs='+', default=['fp32', 'auto'])
    p.add_argument('--save', help='save the last output here (.npy) to compare commits pixel by pixel')
    a = p.parse_args()
    model = load_restorer(device=a.device)
    img = Image.fromarray(np.random.default_rng(0).integers(0, 255, (a.size, a.size, 3), dtype=np.uint8))
    upscale_image(model, img.crop((0, 0, 300, 300)))  # warm-up
    for precision in a.precision:
        with inference_precision(precision):
            start = time.perf_counter(); out = upscale_image(model, img)[0]; s = time.perf_counter() - start
        print(f'{precision:5s} {(2 * a.size) ** 2 / 1e6 / s:.3f} MP/s  {s:.1f} s', flush=True)
    if a.save: np.save(a.save, np.asarray(out))
