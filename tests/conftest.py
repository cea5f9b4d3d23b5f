"""Test fixtures: a generated Tiny ImageNet in the official layout, and a private cache folder."""
import os, tempfile, zipfile
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

os.environ['SUPERRES_CACHE'] = tempfile.mkdtemp(prefix='superres-test-cache-')
os.environ.setdefault('MPLBACKEND', 'Agg')

N_CLASSES, N_TRAIN, N_VAL = 200, 6, 2

def wnid(i): return f'n{i:08d}'

def make_tiny_imagenet(root, n_classes=N_CLASSES, n_train=N_TRAIN, n_val=N_VAL, seed=0):
    "A small Tiny ImageNet: each class a distinct colour with noise, every 7th image grayscale."
    rng = np.random.default_rng(seed)
    root = Path(root)/'tiny-imagenet-200'
    (root/'val'/'images').mkdir(parents=True)
    wnids = [wnid(i) for i in range(n_classes)]
    (root/'wnids.txt').write_text('\n'.join(wnids) + '\n')
    (root/'words.txt').write_text(''.join(f'{w}\tthing{i}, other name\n' for i, w in enumerate(wnids)) + 'n99999999\tunused\n')
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
        (root/'train'/w/f'{w}_boxes.txt').write_text('')
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

def real_data():
    "The real Tiny ImageNet, from $SUPERRES_DATA or the shared folder; CI must have it."
    for cand in (os.environ.get('SUPERRES_DATA'), Path(__file__).parents[1]/'..'/'shared'/'data'/'tiny-imagenet-200.zip'):
        if cand and Path(cand).exists(): return Path(cand)
    if os.environ.get('CI'): pytest.fail('real Tiny ImageNet not found in CI: set SUPERRES_DATA')
    pytest.skip('real Tiny ImageNet not available (set SUPERRES_DATA)')
