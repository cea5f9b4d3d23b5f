"""Upscale speed of the shipped x2 model on one image, every path in one process: the naive untiled fp32 forward
with autograd on, superres in fp32 (tiled, inference mode, channels-last), superres's default (`--precision auto`:
bf16 on a CPU with AVX512-BF16/AMX or a GPU from Ampere on), and ONNX Runtime on the file `superres export` writes; on
a GPU, the other half precision instead of ONNX Runtime. Output megapixels/s, ratio to the naive path, max pixel
difference to superres fp32.

    python bench/upscale_speed.py [--size 512] [--reps 3] [--device cuda]
"""
import argparse
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from fastai.torch_core import default_device
from PIL import Image

from superres.export import export_onnx, load_onnx
from superres.hub import load_restorer
from superres.images import tensor_to_image
from superres.inference import upscale_image
from superres.precision import inference_precision, resolve_precision


def seconds(f, reps):
    f()
    start = time.perf_counter()
    for _ in range(reps): f()
    return (time.perf_counter() - start) / reps

def naive(model, img):
    "What a first script does: one forward over the whole image, autograd on, fp32."
    x = torch.from_numpy(np.asarray(img)).permute(2, 0, 1).float()[None].to(next(model.parameters()).device) / 255
    return tensor_to_image(model(x)[0].detach().cpu(), 'RGB', 255)

def in_precision(precision, f):
    with inference_precision(precision): return f()

if __name__ == '__main__':
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument('--size', type=int, default=512); p.add_argument('--reps', type=int, default=3)
    p.add_argument('--device', default=str(default_device()))
    a = p.parse_args()
    dev = torch.device(a.device)
    img = Image.fromarray(np.random.default_rng(0).integers(0, 255, (a.size, a.size, 3), dtype=np.uint8))
    model = load_restorer(device=dev)  # superres's default: channels-last weights
    plain = load_restorer(device=dev).to(memory_format=torch.contiguous_format)  # as a first script would hold them
    auto = resolve_precision('auto', dev)
    paths = {'naive untiled fp32, autograd on': lambda: naive(plain, img),
             'superres --precision fp32': lambda: in_precision('fp32', lambda: upscale_image(model, img)[0]),
             f'superres default (auto: {auto})': lambda: in_precision('auto', lambda: upscale_image(model, img)[0])}
    if dev.type == 'cuda':
        for precision in {'bf16', 'fp16'} - {auto}:
            paths[f'superres --precision {precision}'] = lambda precision=precision: in_precision(
                precision, lambda: upscale_image(model, img)[0])
    else:
        onnx_model = load_onnx(export_onnx(model, Path(tempfile.mkdtemp())/'sr_x2.onnx'))
        paths['superres fp32, ONNX Runtime'] = lambda: upscale_image(onnx_model, img)[0]
    mp = (2 * a.size) ** 2 / 1e6
    ref = np.asarray(paths['superres --precision fp32'](), dtype=int)
    base = None
    for name, f in paths.items():
        t = seconds(f, a.reps)
        base = base or t
        diff = np.abs(np.asarray(f(), dtype=int) - ref).max()
        print(f'{name:38s} {mp / t:6.3f} MP/s  {base / t:5.2f}x naive  max diff {diff}/255', flush=True)
