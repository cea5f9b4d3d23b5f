"""Upscale speed of the shipped x2 model run by PyTorch vs by ONNX Runtime (exported by `superres export`), one process.

    python bench/onnx_speed.py [--size 512] [--reps 3]
"""
import argparse, tempfile, time
from pathlib import Path

import numpy as np
from PIL import Image

from superres.export import export_onnx, load_onnx
from superres.inference import load_restorer, upscale_image

def seconds(f, reps):
    f()
    start = time.perf_counter()
    for _ in range(reps): f()
    return (time.perf_counter() - start) / reps

if __name__ == '__main__':
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument('--size', type=int, default=512); p.add_argument('--reps', type=int, default=3)
    a = p.parse_args()
    img = Image.fromarray(np.random.default_rng(0).integers(0, 255, (a.size, a.size, 3), dtype=np.uint8))
    torch_model = load_restorer()
    onnx_model = load_onnx(export_onnx(torch_model, Path(tempfile.mkdtemp())/'sr_x2.onnx'))
    mp = (2 * a.size) ** 2 / 1e6
    t_torch = seconds(lambda: upscale_image(torch_model, img), a.reps)
    t_onnx = seconds(lambda: upscale_image(onnx_model, img), a.reps)
    diff = np.abs(np.asarray(upscale_image(torch_model, img)[0], dtype=int) - np.asarray(upscale_image(onnx_model, img)[0], dtype=int)).max()
    print(f'{a.size}x{a.size} -> x2: PyTorch {mp / t_torch:.3f} MP/s, ONNX Runtime {mp / t_onnx:.3f} MP/s, '
          f'ratio {t_torch / t_onnx:.2f}x; max pixel difference {diff}/255')
