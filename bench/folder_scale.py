"""Folder upscaling spread over processes: `superres upscale DIR` alone, then under `accelerate launch` with more
processes (gloo on CPUs, one GPU each where there are GPUs), back to back on the same generated folder with the shipped
x2 model; wall-clock images/s including start-up, and whether the outputs are byte-identical.

    python bench/folder_scale.py --images 48 --size 512 384 --processes 1 2
"""
import argparse
import hashlib
import json
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from PIL import Image


def photos(folder, n, size, seed=0):
    "Smooth colourful images with texture, `size` (w, h), as PNG."
    folder.mkdir(parents=True)
    w, h = size
    yy, xx = np.mgrid[0:h, 0:w] / max(w, h)
    for i in range(n):
        rng = np.random.default_rng(seed + i)
        a = np.stack([xx, yy, 1 - xx * yy], -1) * rng.uniform(100, 220) + rng.normal(0, 12, (h, w, 3)) + 20
        Image.fromarray(np.clip(a, 0, 255).astype(np.uint8)).save(folder/f'img_{i}.png')
    return folder

def free_port():
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        return s.getsockname()[1]

def upscale(src, out, processes):
    "Seconds for one folder run with `processes` processes."
    args = ['-m', 'superres', 'upscale', str(src), '-o', str(out)]
    cmd = [sys.executable, *args] if processes == 1 else [
        sys.executable, '-m', 'accelerate.commands.launch', '--multi_gpu', '--num_processes', str(processes),
        '--num_machines', '1', '--mixed_precision', 'no', '--dynamo_backend', 'no', '--main_process_port',
        str(free_port()), *args]
    t = time.perf_counter()
    r = subprocess.run(cmd, capture_output=True, text=True)
    if r.returncode: raise RuntimeError(r.stderr[-3000:])
    return time.perf_counter() - t

def digest(folder):
    return hashlib.sha256(b''.join(p.read_bytes() for p in sorted(Path(folder).rglob('*.png')))).hexdigest()

def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument('--images', type=int, default=48)
    p.add_argument('--size', type=int, nargs=2, default=[512, 384])
    p.add_argument('--processes', type=int, nargs='+', default=[1, 2])
    a = p.parse_args()
    with tempfile.TemporaryDirectory() as d:
        src = photos(Path(d)/'in', a.images, a.size)
        base = None
        for n in a.processes:
            out = Path(d)/f'out{n}'
            s = upscale(src, out, n)
            same = digest(out) == (base := base or digest(out))
            print(json.dumps(dict(processes=n, images=a.images, size=a.size, seconds=round(s, 1),
                                  images_per_s=round(a.images / s, 2), identical_to_first=same)), flush=True)

if __name__ == '__main__': main()
