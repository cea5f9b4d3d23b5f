"""OpenVINO against PyTorch on the SR benchmarks: PSNR-Y / SSIM-Y of the shipped models through each backend at fp32
and bf16 (`superres evaluate`'s protocol), and the largest pixel difference between the two backends' outputs.

    python bench/backend_quality.py ../shared/data/sr-bench/Set5 ../shared/data/sr-bench/Set14 [--scales 2 4]
"""
import argparse
from pathlib import Path

import numpy as np
from PIL import Image

from superres.backends import with_backend
from superres.evaluate import evaluate_sr
from superres.files import list_images
from superres.hub import load_restorer
from superres.inference import upscale_image
from superres.precision import inference_precision


def largest_difference(models, folder, scale, precision):
    "The largest difference in 1/255 between the backends' saved outputs, on the protocol's bicubic inputs."
    worst = 0
    for f in list_images(folder):
        with Image.open(f) as im: hr = im.convert('RGB')
        lr = hr.resize((hr.width // scale, hr.height // scale), Image.BICUBIC)
        with inference_precision(precision):
            a, b = (np.asarray(upscale_image(m, lr)[0], dtype=int) for m in models.values())
        worst = max(worst, int(np.abs(a - b).max()))
    return worst

if __name__ == '__main__':
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument('sets', nargs='+', help='folders of HR images (Set5, Set14)')
    p.add_argument('--scales', type=int, nargs='+', default=[2, 4])
    p.add_argument('--precisions', nargs='+', default=['fp32', 'bf16'])
    a = p.parse_args()
    print('| set | scale | precision | PSNR-Y / SSIM-Y PyTorch | OpenVINO | difference (dB) | largest pixel diff. |')
    print('|---|---|---|---|---|---|---|')
    for scale in a.scales:
        torch_model = load_restorer(device='cpu', scale=scale)
        ov_model, notes = with_backend(torch_model, 'openvino')
        if notes: raise SystemExit(notes[0])
        models = {'torch': torch_model, 'openvino': ov_model}
        for folder in a.sets:
            for precision in a.precisions:
                mean = {k: evaluate_sr(folder, scale, m, baselines=(), precision=precision, progress=False)['mean']
                        for k, m in models.items()}
                psnr = {k: m['model_psnr'] for k, m in mean.items()}
                cells = [f"{psnr[k]:.4f} / {mean[k]['model_ssim']:.4f}" for k in models]
                print(f'| {Path(folder).name} | x{scale} | {precision} | {" | ".join(cells)} | '
                      f"{psnr['openvino'] - psnr['torch']:+.4f} | "
                      f'{largest_difference(models, folder, scale, precision)}/255 |', flush=True)
