"""Evaluation: the SR protocol's PSNR-Y by hand, and a task's model and baselines on repeatably degraded images."""
import math

import numpy as np
import pytest
from conftest import smooth_photo as photo
from conftest import untrained_task_model as _model
from PIL import Image

from superres.evaluate import evaluate_sr, evaluate_task
from superres.models import restorer


def test_evaluate_hand_computed_psnr(tmp_path):
    rng = np.random.default_rng(0)
    hr = Image.fromarray(rng.integers(0, 255, (41, 30, 3), dtype=np.uint8))  # odd size: cropped to 40x30
    hr.save(tmp_path/'a.png')
    row = evaluate_sr(tmp_path, 2)['images'][0]
    c = hr.crop((0, 0, 30, 40))
    bic = np.asarray(c.resize((15, 20), Image.BICUBIC).resize((30, 40), Image.BICUBIC), dtype=np.float64) / 255
    ref = np.asarray(c, dtype=np.float64) / 255
    y = lambda a: 16 + 65.481 * a[..., 0] + 128.553 * a[..., 1] + 24.966 * a[..., 2]
    mse = ((y(bic) - y(ref))[2:-2, 2:-2] ** 2).mean()
    assert row['bicubic_psnr'] == pytest.approx(10 * math.log10(255**2 / mse), abs=1e-6)
    model_row = evaluate_sr(tmp_path, 2, restorer().eval())['images'][0]
    assert model_row['model_psnr'] == pytest.approx(model_row['bicubic_psnr'], abs=0.05)  # identity model ~ bicubic

def test_evaluate_task_scores_model_and_baselines(tmp_path):
    for i in range(3): photo(48, 40, seed=i).save(tmp_path/f'{i}.png')
    rep = evaluate_task(tmp_path, 'inpaint:fill=gray', _model('inpaint:fill=gray'))
    assert rep['methods'] == ['input', 'diffusion', 'model']
    m = rep['mean']
    assert abs(m['model_psnr'] - m['input_psnr']) < 0.2  # identity model == the degraded input
    assert m['diffusion_psnr'] > m['input_psnr'] + 3
    assert evaluate_task(tmp_path, 'inpaint')['mean']['input_psnr'] > m['input_psnr'] + 3  # smooth fill by default
    assert evaluate_task(tmp_path, 'inpaint')['images'] == evaluate_task(tmp_path, 'inpaint')['images']  # seeded
    rep = evaluate_task(tmp_path, 'colorize')
    assert rep['mean']['input_colorfulness'] == 0 < rep['mean']['target_colorfulness']

def test_evaluate_a_chain_with_superres_makes_each_lr_by_the_chain_and_seed(tmp_path):
    "real+superres: image i's LR is the chain's with seed i (as `superres degrade` writes it), by the SR protocol."
    for i in range(3): photo(64, 48, seed=i).save(tmp_path/f'{i}.png')
    clean, real = evaluate_sr(tmp_path, 4), evaluate_task(tmp_path, 'real+superres:scale=4', scale=4)
    assert real['task'].startswith('real') and real['seed'] == 0 and real['scale'] == 4
    assert real['images'] == evaluate_task(tmp_path, 'real+superres:scale=4', scale=4)['images']  # repeatable
    assert real['images'] != evaluate_task(tmp_path, 'real+superres:scale=4', scale=4, seed=1)['images']
    assert real['mean']['bicubic_psnr'] < clean['mean']['bicubic_psnr'] - 0.5  # noise, blur and JPEG cost more
    model = restorer('sr_resnet', scale=4).eval()  # starts as bicubic upsampling of the same LR: near its row
    rep = evaluate_task(tmp_path, 'real+superres:scale=4', model, scale=4)
    assert rep['mean']['model_psnr'] == pytest.approx(rep['mean']['bicubic_psnr'], abs=0.3)  # torch vs PIL bicubic

def test_evaluate_without_progress_writes_nothing_to_stdout(tmp_path, capsys):
    "fastprogress's console bar prints even with display off; output piped elsewhere must stay clean."
    for i in range(2): photo(32, 32, seed=i).save(tmp_path/f'{i}.png')
    evaluate_sr(tmp_path, 2, progress=False)
    assert capsys.readouterr().out == ''
