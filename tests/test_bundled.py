"""The x2 model shipped inside the package: loads without pickle, upscales, beats bicubic on a real photo, and scores
the README's Set5 number."""
import re
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from conftest import sr_bench
from matplotlib import cbook
from PIL import Image

from superres.evaluate import evaluate_sr
from superres.hub import WEIGHTS, bundled_model_file, load_restorer
from superres.inference import upscale_image
from superres.precision import inference_precision, resolve_precision


def test_bundled_weights_are_small_safe_and_lazy():
    files = list(WEIGHTS.glob('*.pth'))
    assert files and sum(f.stat().st_size for f in files) < 20 * 2**20
    saved = torch.load(bundled_model_file(2), weights_only=True)  # no pickle: plain tensors and a config
    assert saved['config']['scale'] == 2 and saved['config']['task'] == 'superres'
    code = ("import sys; opened = []\n"
            "sys.addaudithook(lambda e, a: opened.append(a[0])\n"
            "                 if e == 'open' and str(a[0]).endswith('.pth') else None)\n"
            "import superres.cli, superres.hub, superres.inference; superres.cli.parser(); print(len(opened))\n"
            "superres.hub.load_restorer(); print(len(opened))")
    r = subprocess.run([sys.executable, '-c', code], capture_output=True, text=True)
    assert r.returncode == 0 and r.stdout.split() == ['0', '1'], r.stderr  # read on first use, not at import

def test_bundled_model_upscales_any_size():
    model = load_restorer()
    img = Image.fromarray(np.random.default_rng(0).integers(0, 255, (37, 53, 3), dtype=np.uint8))
    out, notes = upscale_image(model, img)
    assert out.size == (106, 74) and notes == []
    out, notes = upscale_image(model, img, scale=4)
    assert out.size == (212, 148) and '2 pass' in notes[0]

def test_bundled_model_beats_bicubic_on_a_real_photo(tmp_path):
    shutil.copy(cbook.get_sample_data('grace_hopper.jpg', asfileobj=False), tmp_path/'grace_hopper.jpg')
    mean = evaluate_sr(tmp_path, 2, load_restorer())['mean']
    # measured: 33.56 dB against bicubic's 30.45 (+3.11), SSIM 0.919 against 0.886
    assert mean['model_psnr'] > mean['bicubic_psnr'] + 3.0 and mean['model_ssim'] > mean['bicubic_ssim'] + 0.02, mean

def test_auto_precision_is_bf16_only_where_native_and_keeps_quality(tmp_path):
    shutil.copy(cbook.get_sample_data('grace_hopper.jpg', asfileobj=False), tmp_path/'grace_hopper.jpg')
    model, psnr = load_restorer(), {}
    device = 'cuda' if torch.cuda.is_available() else 'cpu'
    for precision in ('fp32', 'auto'):
        with inference_precision(precision):
            assert torch.is_autocast_enabled(device) == (precision == 'auto' and resolve_precision('auto') != 'fp32')
            psnr[precision] = evaluate_sr(tmp_path, 2, model, baselines=(), precision=precision)['mean']['model_psnr']
    assert abs(psnr['auto'] - psnr['fp32']) < 0.01, psnr  # measured 0.0022 dB with bf16 (AMX/AVX512-BF16 CPU)

@pytest.mark.slow  # a 512x600 photo upscaled in a fresh process: 9-12 s
def test_cli_upscale_with_nothing_else(tmp_path):
    shutil.copy(cbook.get_sample_data('grace_hopper.jpg', asfileobj=False), tmp_path/'photo.jpg')
    r = subprocess.run([sys.executable, '-m', 'superres', 'upscale', 'photo.jpg'], cwd=tmp_path, capture_output=True,
                       text=True)
    assert r.returncode == 0, r.stderr
    with Image.open(tmp_path/'upscaled'/'photo.jpg') as im: assert im.size == (1024, 1200)

def readme_headline(set_name='Set5'):
    "The shipped model's x2 PSNR-Y on `set_name` as README.md's results table states it."
    lines = (Path(__file__).parents[1]/'README.md').read_text().splitlines()
    header = next(l for l in lines if l.startswith('| x2 |') and set_name in l)
    col = [c.strip() for c in header.strip('|').split('|')].index(set_name)
    row = next(l for l in lines if 'superres shipped model' in l)
    return float(re.match(r'\**([\d.]+)', row.strip('|').split('|')[col].strip()).group(1))

@pytest.mark.real_data
def test_set5_headline_is_the_readmes_number():
    stated = readme_headline('Set5')
    assert 30 < stated < 40  # the README's table, parsed: 36.75 (8-bit outputs)
    psnr = evaluate_sr(sr_bench('Set5'), 2, load_restorer(), progress=False)['mean']['model_psnr']  # fp32
    assert abs(psnr - stated) < 0.05, (psnr, stated)  # measured 36.752 dB
