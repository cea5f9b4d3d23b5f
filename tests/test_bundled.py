"""The models shipped inside the package: load without pickle, upscale, beat bicubic on a real photo, and score the
README's Set5 numbers."""
import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from conftest import real_data, sr_bench
from matplotlib import cbook
from PIL import Image

from superres.evaluate import evaluate, evaluate_sr
from superres.hub import WEIGHTS, load_classifier, load_restorer, shipped_model_file, shipped_scales
from superres.inference import upscale_image
from superres.precision import inference_precision, resolve_precision


def test_shipped_weights_are_small_safe_and_lazy():
    files = list(WEIGHTS.glob('*.pth'))
    assert files and sum(f.stat().st_size for f in files) < 20 * 2**20
    assert shipped_scales() == [2, 4]  # x3: the x4 model resized, above bicubic on every image (BENCHMARKS.md)
    for s in shipped_scales():
        saved = torch.load(shipped_model_file(s), weights_only=True)  # no pickle: plain tensors and a config
        assert saved['config']['scale'] == s and saved['config']['task'].startswith('superres')
        assert shipped_model_file(s).stat().st_size < 2 * 2**20  # float16
    code = ("import sys; opened = []\n"
            "sys.addaudithook(lambda e, a: opened.append(a[0])\n"
            "                 if e == 'open' and str(a[0]).endswith('.pth') else None)\n"
            "import superres.cli, superres.hub, superres.inference; superres.cli.parser(); print(len(opened))\n"
            "superres.hub.load_restorer(); print(len(opened))")
    r = subprocess.run([sys.executable, '-c', code], capture_output=True, text=True)
    assert r.returncode == 0 and r.stdout.split() == ['0', '1'], r.stderr  # read on first use, not at import

@pytest.mark.parametrize('scale', [2, 4])
def test_each_shipped_model_upscales_any_size(scale):
    model = load_restorer(scale=scale)
    img = Image.fromarray(np.random.default_rng(0).integers(0, 255, (37, 53, 3), dtype=np.uint8))
    out, notes = upscale_image(model, img)
    assert model.card.scale == scale and out.size == (53 * scale, 37 * scale) and notes == []
    out, notes = upscale_image(model, img, scale=scale * 2)
    assert out.size == (53 * scale * 2, 37 * scale * 2) and '2 pass' in notes[0]

def test_shipped_model_beats_bicubic_on_a_real_photo(tmp_path):
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

def readme_headline(set_name='Set5', scale=2):
    "The shipped model's PSNR-Y on `set_name` at x`scale` as README.md's results table states it."
    lines = (Path(__file__).parents[1]/'README.md').read_text().splitlines()
    header = next(l for l in lines if l.startswith('| x2 / x3 / x4 |'))
    col = [c.strip() for c in header.strip('|').split('|')].index(f'{set_name} x{scale}')
    row = next(l for l in lines if l.startswith('| **superres** '))
    return float(re.match(r'\**([\d.]+)', row.strip('|').split('|')[col].strip()).group(1))

@pytest.mark.real_data
@pytest.mark.parametrize('scale', [2, 3, 4])
def test_set5_headline_is_the_readmes_number(scale):
    stated = readme_headline('Set5', scale)
    assert 30 < stated < 40  # the README's table, parsed (8-bit outputs)
    psnr = evaluate_sr(sr_bench('Set5'), scale, load_restorer(scale=scale), progress=False)['mean']['model_psnr']
    assert abs(psnr - stated) < 0.05, (psnr, stated)  # fp32, as `superres evaluate`

@pytest.mark.real_data
def test_shipped_classifier_is_what_the_readme_says():
    from superres.hub import SHIPPED_CLASSIFIER
    from superres.inference import predict_topk
    from superres.tinyimagenet import TinyImageNet, find_tiny_imagenet
    assert set(torch.load(SHIPPED_CLASSIFIER, weights_only=True)) == {'config', 'state_dict', 'sha256'}
    model = load_classifier()  # no path: the shipped one
    assert len(model.card.vocab) == 200
    data = TinyImageNet(find_tiny_imagenet(real_data()), val_per_class=5)
    files = data.val_files()
    top1 = sum(r[0][1] == data.label(f) for r, f in zip(predict_topk(model, files, k=1), files)) / len(files)
    assert len(files) == 1000 and top1 > 0.51, top1  # measured 53.5% on these 1000; 55.7% on all 10,000

def test_shipped_real_model_holds_its_psnr_parent_and_upscales_x4():
    f = WEIGHTS/'real_x4.pth'
    saved = torch.load(f, weights_only=True)  # no pickle, and no critic: the generator and its PSNR parent only
    assert saved['config']['scale'] == 4 and saved['config']['task'].startswith('real')
    assert saved['parent_state_dict'].keys() == saved['state_dict'].keys() and f.stat().st_size < 3 * 2**20
    img = Image.fromarray(np.random.default_rng(0).integers(0, 255, (37, 53, 3), dtype=np.uint8))
    gan, psnr = (np.asarray(upscale_image(load_restorer('real', strength=s), img)[0], dtype=float) for s in (1., 0.))
    assert gan.shape == (148, 212, 3) and np.abs(gan - psnr).mean() > 0.5  # the GAN fine-tune changed it

# issue 30's rows: Set14 downscaled x4, then damaged at the low resolution, as a small real photo is
LOW_RES_DAMAGE = {'jpeg': 'superres:scale=4+jpeg:quality=30',
                  'noise': 'superres:scale=4+denoise:kind=gaussian,sigma=10,gray=0',
                  'noise+jpeg': 'superres:scale=4+denoise:kind=gaussian,sigma=5,gray=0+jpeg:quality=40'}

@pytest.mark.slow
@pytest.mark.real_data
@pytest.mark.parametrize('damage', list(LOW_RES_DAMAGE))
def test_real_model_on_set14_damaged_at_the_low_resolution(damage):
    "Against bicubic, at strength 0 and the default (measured: BENCHMARKS.md); the issue's +0.5 dB bar is not met yet."
    real_data()
    gain = {}
    for strength in (0., None):
        r = evaluate(sr_bench('Set14'), LOW_RES_DAMAGE[damage], load_restorer('real', strength=strength), scale=4,
                     seed=0, progress=False)
        gain[strength] = (r['mean']['model_psnr'] - r['mean']['bicubic_psnr'],
                          r['mean']['model_ssim'] - r['mean']['bicubic_ssim'])
    # measured (dB, SSIM-Y) at strength 0 / the default 0.25: jpeg -0.07, +0.021 / -0.20, +0.020; noise -0.26, -0.004 /
    # -0.37, -0.007; noise+jpeg -0.13, +0.019 / -0.25, +0.018 (the model before this one: down to -1.4 dB, -0.08)
    floor = {'jpeg': (-0.15, 0.017), 'noise': (-0.35, -0.008), 'noise+jpeg': (-0.2, 0.015)}[damage]
    assert gain[0.][0] > floor[0] and gain[0.][1] > floor[1], gain
    assert gain[None][0] > floor[0] - 0.15 and gain[None][1] > floor[1] - 0.004, gain

@pytest.mark.slow
@pytest.mark.real_data
def test_real_photos_bench_rows_come_from_this_code(tmp_path):
    "bench/real_photos.py's table rows, on two Set5 images: every method and recipe, finite scores and costs."
    real_data()
    bench = Path(__file__).parents[1]/'bench'/'real_photos.py'
    r = subprocess.run([sys.executable, bench, 'scores', '--sets', sr_bench('Set5'), '--limit', '2', '--json',
                        tmp_path/'rows.json'], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    rows = json.loads((tmp_path/'rows.json').read_text())
    assert {row['recipe'] for row in rows} == {'JPEG q30', 'noise sigma 10', 'noise sigma 5 + JPEG q40'}
    methods = [row['method'] for row in rows[:len(rows) // 3]]
    assert methods[:2] == ['bicubic', 'PSNR x4'] and 'real x4, strength 0' in methods and len(methods) >= 5
    assert all(row['images'] == 2 and 10 < row['psnr'] < 50 and 0 < row['ssim'] <= 1 and row['fid'] >= 0
               for row in rows)
    assert all(row['ms_per_mp'] > 0 for row in rows if row['method'] != 'bicubic')
    assert f"| {rows[0]['method']} | {rows[0]['psnr']:.2f} | {rows[0]['ssim']:.4f} |" in r.stdout
