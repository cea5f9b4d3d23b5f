"""Peak memory of upscaling one huge photo x2: superres's strip-by-strip path vs accumulating the whole output in
float (the path before strips), each in a fresh process. The network is a tiny `sr_resnet` (random weights) so the
run takes minutes, not hours; memory depends on the image size, not on the network's width.

    python bench/huge_image.py --width 12000 --height 9000
"""
import argparse
import subprocess
import sys

RUN = '''
import sys, time, numpy as np, torch
from PIL import Image
from superres.images import tensor_to_image
from superres.inference import upscale_image
from superres.tiling import refine
from superres.models import restorer
w, h, path = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
torch.manual_seed(0)
model = restorer('sr_resnet', nf=8, n_blocks=1).eval()
img = Image.fromarray(np.random.default_rng(0).integers(0, 256, (h, w, 3), dtype=np.uint8))
# this process's peak RSS
kib = lambda: int(next(l for l in open('/proc/self/status') if l.startswith('VmHWM')).split()[1])
before, t = kib(), time.perf_counter()
if path == 'strips': out = upscale_image(model, img)[0]
else: out = tensor_to_image(refine(model, torch.from_numpy(np.asarray(img)).permute(2, 0, 1).float() / 255), 'RGB', 255)
print(json.dumps(dict(path=path, seconds=round(time.perf_counter() - t, 1), peak_gib=round(kib() / 2**20, 2),
                      added_gib=round((kib() - before) / 2**20, 2), output_gib=round(2*w * 2*h * 3 / 2**30, 2))))
'''

if __name__ == '__main__':
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument('--width', type=int, default=12000); p.add_argument('--height', type=int, default=9000)
    p.add_argument('--paths', nargs='+', default=['strips', 'whole'])
    a = p.parse_args()
    for path in a.paths:
        r = subprocess.run([sys.executable, '-c', 'import json\n' + RUN, str(a.width), str(a.height), path],
                           capture_output=True, text=True)
        print(r.stdout.strip() or f'{path}: failed (exit {r.returncode}): '
                                  f'{r.stderr.strip().splitlines()[-1] if r.stderr.strip() else ""}', flush=True)
