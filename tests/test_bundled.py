"""The x2 model shipped inside the package: loads without pickle, upscales, and beats bicubic on a real photo."""
import shutil, subprocess, sys

import numpy as np
import pytest
import torch
from matplotlib import cbook
from PIL import Image

from superres.inference import BUNDLED, auto_precision, bundled_model_file, evaluate_sr, inference_precision, load_restorer, upscale_image
from superres.learner import cpu_supports_bf16

def test_bundled_weights_are_small_safe_and_lazy():
    files = list(BUNDLED.glob('*.pth'))
    assert files and sum(f.stat().st_size for f in files) < 20 * 2**20
    saved = torch.load(bundled_model_file(2), weights_only=True)  # no pickle: plain tensors and a config
    assert saved['config']['scale'] == 2 and saved['config']['task'] == 'superres'
    code = ("import sys; opened = []\n"
            "sys.addaudithook(lambda e, a: opened.append(a[0]) if e == 'open' and str(a[0]).endswith('.pth') else None)\n"
            "import superres.cli, superres.inference; superres.cli.parser(); print(len(opened))\n"
            "superres.inference.load_restorer(); print(len(opened))")
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
    assert mean['model_psnr'] > mean['bicubic_psnr'] + 0.5 and mean['model_ssim'] > mean['bicubic_ssim'], mean

def test_auto_precision_is_bf16_only_where_native_and_keeps_quality(tmp_path):
    shutil.copy(cbook.get_sample_data('grace_hopper.jpg', asfileobj=False), tmp_path/'grace_hopper.jpg')
    model, psnr = load_restorer(), {}
    device = 'cuda' if torch.cuda.is_available() else 'cpu'
    for precision in ('fp32', 'auto'):
        with inference_precision(precision):
            assert torch.is_autocast_enabled(device) == (precision == 'auto' and auto_precision() != 'fp32')
            psnr[precision] = evaluate_sr(tmp_path, 2, model, baselines=())['mean']['model_psnr']
    assert abs(psnr['auto'] - psnr['fp32']) < 0.05, psnr

@pytest.mark.parametrize('cuda,gpu_bf16,want', [(True, True, 'bf16'), (True, False, 'fp16'), (False, False, None)])
def test_auto_precision_by_device(monkeypatch, cuda, gpu_bf16, want):
    monkeypatch.setattr(torch.cuda, 'is_available', lambda: cuda)
    monkeypatch.setattr(torch.cuda, 'is_bf16_supported', lambda *a, **k: gpu_bf16)
    assert auto_precision() == (want or ('bf16' if cpu_supports_bf16() else 'fp32'))

def test_cli_upscale_with_nothing_else(tmp_path):
    shutil.copy(cbook.get_sample_data('grace_hopper.jpg', asfileobj=False), tmp_path/'photo.jpg')
    r = subprocess.run([sys.executable, '-m', 'superres', 'upscale', 'photo.jpg'], cwd=tmp_path, capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    with Image.open(tmp_path/'upscaled'/'photo.jpg') as im: assert im.size == (1024, 1200)
