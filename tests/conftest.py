"""Test fixtures: a generated Tiny ImageNet in the official layout, and a private cache folder."""
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

os.environ['SUPERRES_CACHE'] = tempfile.mkdtemp(prefix='superres-test-cache-')
os.environ.setdefault('MPLBACKEND', 'Agg')

N_CLASSES, N_TRAIN, N_VAL = 200, 6, 2

def wnid(i): return f'n{i:08d}'

def make_tiny_imagenet(root, n_classes=N_CLASSES, n_train=N_TRAIN, n_val=N_VAL, seed=0):
    "A small Tiny ImageNet: each class a distinct colour with noise, every 7th image grayscale; boxes as listed."
    rng = np.random.default_rng(seed)
    root = Path(root)/'tiny-imagenet-200'
    (root/'val'/'images').mkdir(parents=True)
    wnids = [wnid(i) for i in range(n_classes)]
    (root/'wnids.txt').write_text('\n'.join(wnids) + '\n')
    words = ''.join(f'{w}\tthing{i}, other name\n' for i, w in enumerate(wnids))
    (root/'words.txt').write_text(words + 'n99999999\tunused\n')
    colours = rng.integers(0, 256, (n_classes, 3))
    def img(c, k):
        a = np.clip(colours[c] + rng.normal(0, 40, (64, 64, 3)), 0, 255).astype(np.uint8)
        im = Image.fromarray(a)
        return im.convert('L') if k % 7 == 3 else im
    ann = []
    for c, w in enumerate(wnids):
        d = root/'train'/w/'images'
        d.mkdir(parents=True)
        for k in range(n_train): img(c, k).save(d/f'{w}_{k}.JPEG', quality=95)
        (root/'train'/w/f'{w}_boxes.txt').write_text(''.join(f'{w}_{k}.JPEG\t{4+k}\t8\t{40+k}\t60\n'
                                                             for k in range(n_train)))
        for k in range(n_val):
            name = f'val_{c*n_val + k}.JPEG'
            img(c, k + 1).save(root/'val'/'images'/name, quality=95)
            ann.append(f'{name}\t{w}\t0\t0\t63\t63')
    (root/'val'/'val_annotations.txt').write_text('\n'.join(ann) + '\n')
    return root

def zip_folder(root, dest):
    with zipfile.ZipFile(dest, 'w', zipfile.ZIP_STORED) as z:
        for p in sorted(root.rglob('*')): z.write(p, p.relative_to(root.parent))
    return dest

@pytest.fixture(scope='session')
def tiny_root(tmp_path_factory):
    return make_tiny_imagenet(tmp_path_factory.mktemp('data'))

@pytest.fixture(scope='session')
def tiny_zip(tiny_root, tmp_path_factory):
    return zip_folder(tiny_root, tmp_path_factory.mktemp('zip')/'tiny-imagenet-200.zip')

@pytest.fixture
def fresh_tiny(tmp_path):
    "A fixture copy a test may break."
    return make_tiny_imagenet(tmp_path, n_train=2, n_val=1)

SHARED = Path(__file__).parents[1]/'..'/'shared'/'data'  # the data folder beside the project

def real_data():
    "The real Tiny ImageNet, from $SUPERRES_DATA or the shared folder; CI must have it."
    for cand in (os.environ.get('SUPERRES_DATA'), SHARED/'tiny-imagenet-200.zip'):
        if cand and Path(cand).exists(): return Path(cand)
    if os.environ.get('CI'): pytest.fail('real Tiny ImageNet not found in CI: set SUPERRES_DATA')
    pytest.skip('real Tiny ImageNet not available (set SUPERRES_DATA)')

def sr_bench(name):
    "An SR benchmark set (Set5, Set14) from sr-bench/ beside the real Tiny ImageNet; CI must have it."
    data = os.environ.get('SUPERRES_DATA')
    cands = ([Path(data).parent/'sr-bench'/name] if data else []) + [SHARED/'sr-bench'/name]
    for cand in cands:
        if cand.is_dir() and any(cand.iterdir()): return cand
    if os.environ.get('CI'):
        pytest.fail(f'SR benchmark {name} not found in CI: put sr-bench/{name} beside SUPERRES_DATA')
    pytest.skip(f'SR benchmark {name} not available (sr-bench/{name} beside SUPERRES_DATA)')

CONTRACT_MEAN, CONTRACT_STD = (0.48, 0.44, 0.37), (0.27, 0.26, 0.27)

@pytest.fixture(scope='module')
def contract_clf():
    "A small untrained classifier with its own (non-default) normalisation: the input contract under test."
    import torch

    from superres.models import classifier
    torch.manual_seed(0)
    return classifier('cpu_small', n_out=5, mean=CONTRACT_MEAN, std=CONTRACT_STD).eval()

def smooth_photo(w=64, h=48, seed=0):
    "A smooth colourful image with some texture: gradients plus noise."
    yy, xx = np.mgrid[0:h, 0:w] / max(w, h)
    a = np.stack([xx, yy, 1 - xx * yy], -1) * 200 + np.random.default_rng(seed).normal(0, 8, (h, w, 3)) + 20
    return Image.fromarray(np.clip(a, 0, 255).astype(np.uint8))

def randomised(model, seed=0):
    "Untrained restorers are the identity (zero-initialised): random weights make parity mean something."
    import torch
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in model.parameters(): p.copy_(torch.randn(p.shape, generator=g) * 0.05)
    return model.eval()

def untrained_task_model(task):
    "An untrained restorer (the identity) that says it was trained for `task` at scale 1."
    from superres.card import update_config
    from superres.degradations import parse_degradation
    from superres.models import restorer
    return update_config(restorer().eval(), task=parse_degradation(task).spec, scale=1)

def run_cli(*args, **kw):
    "The real console command in a subprocess, as a user runs it."
    return subprocess.run([sys.executable, '-m', 'superres', *map(str, args)], capture_output=True, text=True, **kw)

def cli_here(capsys, *args):
    """`superres ARGS` in this process: (exit status, stdout, stderr); a refusal by the parser exits like the rest.
    For refusals, which need no fresh process: a subprocess spends 5-10 s importing what this one has loaded."""
    from superres.cli import main
    try: rc = main([str(a) for a in args])
    except SystemExit as e: rc = e.code
    out = capsys.readouterr()
    return rc, out.out, out.err

def noise(w, h, seed=0): return Image.fromarray(np.random.default_rng(seed).integers(0, 255, (h, w, 3), dtype=np.uint8))

@pytest.fixture(scope='module')
def sr_model(tmp_path_factory):
    "An untrained restorer's weights file, for commands that only need some model."
    from superres.hub import save_model
    from superres.models import restorer
    f = tmp_path_factory.mktemp('model')/'model.pth'
    save_model(restorer().eval(), f)
    return f

def chromium():
    "Debian's Chromium for the browser tests; CI must have it."
    exe = os.environ.get('CHROMIUM') or shutil.which('chromium') or shutil.which('chromium-browser')
    if exe: return exe
    if os.environ.get('CI'): pytest.fail('CI must run the browser test: install chromium (apt-get install chromium)')
    pytest.skip('no chromium on this machine (apt-get install chromium)')

def free_port():
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        return s.getsockname()[1]
