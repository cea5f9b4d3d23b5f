import random

import numpy as np
import pytest
import torch
from PIL import Image

from superres.cli import main
from superres.data import paired_dls
from superres.degradations import (GRAY, TASKS, Blur, CropSide, Downscale, Grayscale, Holes, JpegCompress, Noise, Watermark,
                                   diffusion_fill, parse_degradation)
from superres.inference import evaluate_task, restore_image
from superres.learner import task_degradation
from superres.metrics import colorfulness, psnr
from superres.models import restorer

def photo(w=64, h=48, seed=0):
    "A smooth colourful image with some texture: gradients plus noise."
    yy, xx = np.mgrid[0:h, 0:w] / max(w, h)
    a = np.stack([xx, yy, 1 - xx * yy], -1) * 200 + np.random.default_rng(seed).normal(0, 8, (h, w, 3)) + 20
    return Image.fromarray(np.clip(a, 0, 255).astype(np.uint8))

def arr(img): return np.asarray(img).astype(np.float64)

@pytest.mark.parametrize('task', list(TASKS))
def test_each_task_is_repeatable_under_a_seed_and_random_across_seeds(task):
    d, img = parse_degradation(task), photo()
    a, b = d(img, random.Random(1)), d(img, random.Random(1))
    assert np.array_equal(arr(a), arr(b)) and not np.array_equal(arr(a), arr(img))
    if task == 'superres': d = parse_degradation('superres:down=bicubic|bilinear|box')  # default: the SR benchmark's bicubic
    if task != 'colorize':
        assert any(not np.array_equal(arr(a), arr(d(img, random.Random(s)))) for s in range(2, 6))
    assert parse_degradation(d.spec).spec == d.spec  # the spec a model records rebuilds the same degradation

def test_jpeg_quality_sets_the_damage():
    img = photo()
    low, high = JpegCompress(5)(img), JpegCompress(90)(img)
    t = lambda im: torch.from_numpy(arr(im) / 255).permute(2, 0, 1)[None]
    assert psnr(t(low), t(img)) + 5 < psnr(t(high), t(img)) < 60

def test_colorize_input_is_gray_in_three_equal_channels():
    a = arr(Grayscale()(photo()))
    assert a.shape[-1] == 3 and (a[..., 0] == a[..., 1]).all() and (a[..., 1] == a[..., 2]).all()

@pytest.mark.parametrize('where', ['random', 'centre'])
def test_inpaint_hole_covers_the_stated_area_and_nothing_else_changes(where):
    img = photo(64, 64)
    out, mask = Holes(area=0.2, where=where, fill='gray').degrade(img, random.Random(3))
    m = np.asarray(mask) > 127
    assert abs(m.mean() - 0.2) < 0.02
    assert (arr(out)[m] == GRAY).all() and (arr(out)[~m] == arr(img)[~m]).all()
    if where == 'centre':
        ys, xs = np.nonzero(m)
        assert abs(ys.mean() - 31.5) <= 1 and abs(xs.mean() - 31.5) <= 1

def test_outpaint_removes_a_strip_of_the_stated_side_and_amount():
    img = photo(60, 40)
    out, mask = CropSide('left', 0.25, fill='gray').degrade(img)
    m = np.asarray(mask) > 127
    assert m[:, :15].all() and not m[:, 15:].any()
    assert (arr(out)[:, :15] == GRAY).all() and (arr(out)[:, 15:] == arr(img)[:, 15:]).all()
    big = CropSide(fill='gray').prepare(img, side='top', amount=0.5)
    assert big.size == (60, 60) and (arr(big)[:20] == GRAY).all() and (arr(big)[20:] == arr(img)).all()

def test_noise_has_the_stated_level():
    img = Image.new('RGB', (128, 128), (128, 128, 128))
    g = arr(Noise(kind='gaussian', sigma=20., gray=0.)(img, random.Random(0))) - 128
    assert 18.5 < g.std() < 21.5 and abs(g.mean()) < 1
    lo, hi = (arr(Noise(kind='poisson', peak=p, gray=0.)(img, random.Random(0))).std() for p in (5., 50.))
    assert lo > 2.5 * hi  # shot noise: std ~ 1/sqrt(peak)

def test_watermark_marks_part_of_the_image_and_blur_softens():
    img = photo(64, 64)
    changed = (arr(Watermark(opacity=1., size=0.3, logo=0.)(img, random.Random(0))) != arr(img)).any(-1).mean()
    assert 0.01 < changed < 0.6
    assert np.abs(np.diff(arr(Blur(2.)(img)), axis=1)).mean() < np.abs(np.diff(arr(img), axis=1)).mean() / 2

def test_specs_parse_compose_and_reject_typos():
    d = parse_degradation('jpeg:quality=5..30+denoise:kind=gaussian,sigma=10')
    assert [p.name for p in d.parts] == ['jpeg', 'denoise'] and d.parts[0].quality == (5., 30.) and d.parts[1].sigma == 10
    assert parse_degradation('real+superres:scale=4').scale == 4
    for bad, msg in [('jpg', 'unknown task'), ('jpeg:qualty=5', 'bad parameter'), ('jpeg:5', 'key=value'),
                     ('outpaint:side=middle', 'side'), ('superres:down=fancy', 'filter')]:
        with pytest.raises(ValueError, match=msg): parse_degradation(bad)

def test_train_flags_set_only_the_superres_part():
    d = task_degradation('superres', scale=4, up='nearest')
    assert (d.scale, d.up, d.down) == (4, 'nearest', 'bicubic')
    d = task_degradation('jpeg+superres', scale=3, lr_input=True)
    assert d.scale == 3 and d.parts[1].up is None and d.parts[0].name == 'jpeg'
    with pytest.raises(ValueError, match='superres'): task_degradation('jpeg', scale=2)
    with pytest.raises(ValueError, match='low-resolution'): task_degradation('denoise', lr_input=True)

@pytest.mark.parametrize('task', ['jpeg', 'colorize', 'inpaint', 'denoise'])
def test_degradation_hits_the_input_only(tiny_root, task):
    dls = paired_dls(tiny_root, task, erase=False, classes=4, bs=8, num_workers=0)
    x, y = dls.valid.one_batch()
    files = dls.valid_ds.items[:len(y)]
    raw = torch.stack([torch.from_numpy(np.asarray(Image.open(f).convert('RGB'))).permute(2, 0, 1) for f in files]) / 255
    assert torch.equal(y.as_subclass(torch.Tensor), raw) and not torch.equal(x.as_subclass(torch.Tensor), raw)
    assert dls.scale == 1 and dls.degradation.name == task
    if task == 'colorize': assert torch.equal(x[:, 0], x[:, 1]) and torch.equal(x[:, 1], x[:, 2])

def test_smooth_and_diffusion_fills_beat_the_gray_hole_on_smooth_images():
    img = photo(64, 64)
    holed, mask = Holes(area=0.1, where='centre', fill='gray').degrade(img, random.Random(0))
    smooth, same_mask = Holes(area=0.1, where='centre').degrade(img, random.Random(0))
    m = np.asarray(mask) > 127
    assert np.array_equal(np.asarray(same_mask), np.asarray(mask))
    err = lambda im: np.abs(arr(im)[m] - arr(img)[m]).mean()
    assert err(diffusion_fill(holed, mask)) < err(holed) / 3 and err(smooth) < err(holed) / 3
    for filled in (diffusion_fill(holed, mask), smooth): assert (arr(filled)[~m] == arr(img)[~m]).all()
    with pytest.raises(ValueError, match='--mask'): Holes().prepare(img)

def test_colorfulness_orders_gray_dull_and_vivid():
    t = lambda a: torch.tensor(a, dtype=torch.float32).permute(2, 0, 1)[None] / 255
    gray = t(np.full((8, 8, 3), 100))
    dull = t(np.dstack([np.full((8, 8), 120), np.full((8, 8), 100), np.full((8, 8), 90)]))
    vivid = t(np.random.default_rng(0).integers(0, 256, (8, 8, 3)))
    assert float(colorfulness(gray)) == 0 and 0 < float(colorfulness(dull)) < float(colorfulness(vivid))

def _model(task):
    m = restorer().eval()
    m.config['task'], m.config['scale'] = parse_degradation(task).spec, 1
    return m

def test_restore_image_prepares_each_task_input():
    img = photo(40, 30)
    out, _ = restore_image(_model('outpaint:fill=gray'), img, side='right', amount=0.5)
    assert out.size == (60, 30)  # an untrained model is the identity: the extension is still gray
    assert np.allclose(arr(out)[:, 40:], GRAY, atol=1) and np.allclose(arr(out)[:, :40], arr(img), atol=1)
    mask = Image.new('L', img.size, 0); mask.paste(255, (5, 5, 15, 15))
    out, _ = restore_image(_model('inpaint:fill=gray'), img, mask=mask)
    assert np.allclose(arr(out)[5:15, 5:15], GRAY, atol=1) and np.allclose(arr(out)[20:], arr(img)[20:], atol=1)
    with pytest.raises(ValueError, match='mask is 4x4'): restore_image(_model('inpaint'), img, mask=Image.new('L', (4, 4)))
    out, _ = restore_image(_model('colorize'), img.convert('L'))
    assert out.mode == 'RGB' and out.size == img.size
    out, _ = restore_image(_model('jpeg'), img.convert('RGBA'))
    assert out.mode == 'RGBA'
    with pytest.raises(ValueError, match='same size'): restore_image(_model('jpeg'), img, scale=2)

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

@pytest.mark.parametrize('task', ['jpeg', 'colorize', 'inpaint', 'outpaint', 'watermark', 'denoise', 'real'])
def test_cli_round_trip_per_task(task, tiny_root, tmp_path, capsys):
    run = tmp_path/'run'
    assert main(['train', '--task', task, '--data', str(tiny_root), '--classes', '2', '--epochs', '1', '--bs', '4',
                 '--size', '32', '--no-erase', '--out', str(run)]) == 0
    imgs = tmp_path/'imgs'; imgs.mkdir()
    photo(40, 36).save(imgs/'p.png')
    assert main(['degrade', '--task', task, str(imgs), '-o', str(tmp_path/'deg')]) == 0
    extra = ['--mask', str(tmp_path/'deg-masks')] if task == 'inpaint' else ['--side', 'bottom'] if task == 'outpaint' else []
    assert main(['restore', str(tmp_path/'deg'), '--model', str(run), '-o', str(tmp_path/'out'), *extra]) == 0
    out = Image.open(tmp_path/'out'/'p.png')
    assert out.size == ((40, 45) if task == 'outpaint' else (40, 36)) and out.mode == 'RGB'
    capsys.readouterr()
    assert main(['evaluate', '--hr-dir', str(imgs), '--model', str(run)]) == 0
    report = capsys.readouterr().out
    assert 'model' in report and 'input' in report and task in report
    assert main(['restore', str(imgs), '--model', str(run), '--task', 'superres', '-o', str(tmp_path/'x')]) == 2
    assert f'trained for the {parse_degradation(task).name} task' in capsys.readouterr().err

def test_restore_without_a_model_explains_and_typos_are_usage_errors(tmp_path, capsys):
    photo().save(tmp_path/'p.png')
    assert main(['restore', str(tmp_path/'p.png'), '--task', 'jpeg', '-o', str(tmp_path/'o')]) == 2
    assert 'train one with `superres train --task jpeg' in capsys.readouterr().err
    with pytest.raises(SystemExit) as e: main(['degrade', '--task', 'jpegg', str(tmp_path)])
    assert e.value.code == 2 and 'unknown task' in capsys.readouterr().err
