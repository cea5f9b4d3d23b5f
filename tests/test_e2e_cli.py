"""End to end through the console command: train, then predict, upscale, restore, evaluate and compute FID with what
was trained, as a user runs them."""
import json

import numpy as np
import pytest
import torch
from conftest import run_cli as run
from conftest import smooth_photo as photo
from PIL import Image

from superres.cli import main
from superres.degradations import parse_degradation
from superres.hub import load_classifier, save_model
from superres.inference import prepare_image
from superres.models import restorer


def images(n=6, seed=0, size=64):
    return torch.from_numpy(np.random.default_rng(seed).random((n, 3, size, size), dtype=np.float32))

@pytest.mark.slow
def test_train_then_predict_end_to_end(tiny_root, tmp_path):
    out = tmp_path/'run'
    r = run('classify', 'train', '--data', tiny_root, '--preset', 'cpu_small', '--classes', '6', '--per-class', '4',
            '--epochs', '1', '--bs', '8', '--out', out)
    assert r.returncode == 0, r.stderr
    assert 'accuracy' in r.stdout and (out/'model.pth').is_file() and (out/'export.pkl').is_file()
    img = tiny_root/'val'/'images'/'val_0.JPEG'
    assert run('classify', 'predict', img, '--model', out/'export.pkl').returncode == 2  # a pickle needs --trust-pickle
    clf = load_classifier(out)
    with torch.no_grad(): direct, direct_idx = clf(prepare_image(img)[None]).softmax(1)[0].topk(5)  # the model itself
    vocab = clf.card.vocab
    for model in (out, out/'model.pth', out/'export.pkl'):
        p = run('classify', 'predict', img, '--model', model, '--json', '-', '--trust-pickle')
        assert p.returncode == 0, p.stderr
        rows = json.loads(p.stdout)[str(img)]
        assert len(rows) == 5 and rows[0]['name'].startswith('thing')
        probs = [r['prob'] for r in rows]  # softmax probabilities of the top 5 of 6 classes
        assert all(0 < q <= 1 for q in probs) and probs == sorted(probs, reverse=True)
        assert sum(probs) < 1 and sum(probs) == pytest.approx(direct.sum().item(), abs=1e-5)
        assert [r['wnid'] for r in rows] == [vocab[i] for i in direct_idx]
    table = run('classify', 'predict', img, '--model', out)
    assert table.returncode == 0 and '%' in table.stdout

@pytest.mark.slow
def test_cli_train_upscale_evaluate(tiny_root, tmp_path):
    out = tmp_path/'run'
    r = run('train', '--data', tiny_root, '--classes', '3', '--epochs', '1', '--bs', '4', '--out', out)
    assert r.returncode == 0, r.stderr
    for name in ('model.pth', 'export.pkl', 'history.csv', 'history.png', 'results.png', 'metrics.json'):
        assert (out/name).is_file()
    imgs = tmp_path/'imgs'; imgs.mkdir()
    Image.new('RGB', (30, 20), (1, 2, 3)).save(imgs/'a b é.png')
    r = run('upscale', imgs, '-o', tmp_path/'up', '--model', out)
    assert r.returncode == 0, r.stderr
    assert Image.open(tmp_path/'up'/'a b é.png').size == (60, 40)
    r = run('evaluate', '--hr-dir', imgs, '--model', out, '--json', tmp_path/'e.json')
    assert r.returncode == 0 and 'bicubic' in r.stdout and 'model' in r.stdout
    mean = json.loads((tmp_path/'e.json').read_text())['mean']
    assert set(mean) == {'bicubic_psnr', 'bicubic_ssim', 'model_psnr', 'model_ssim'}
    r = run('upscale', imgs, '-o', tmp_path/'up2', '--model', tmp_path/'missing')
    assert r.returncode == 2 and 'does not exist' in r.stderr

@pytest.mark.parametrize('task', ['jpeg', 'colorize', 'inpaint', 'outpaint', 'watermark', 'denoise', 'real'])
def test_cli_round_trip_per_task(task, tiny_root, tmp_path, capsys):
    run_dir = tmp_path/'run'
    assert main(['train', '--task', task, '--data', str(tiny_root), '--classes', '2', '--epochs', '1', '--bs', '4',
                 '--size', '32', '--no-erase', '--out', str(run_dir)]) == 0
    imgs = tmp_path/'imgs'; imgs.mkdir()
    photo(40, 36).save(imgs/'p.png')
    assert main(['degrade', '--task', task, str(imgs), '-o', str(tmp_path/'deg')]) == 0
    extra = {'inpaint': ['--mask', str(tmp_path/'deg-masks')], 'outpaint': ['--side', 'bottom']}.get(task, [])
    assert main(['restore', str(tmp_path/'deg'), '--model', str(run_dir), '-o', str(tmp_path/'out'), *extra]) == 0
    out = Image.open(tmp_path/'out'/'p.png')
    assert out.size == ((40, 45) if task == 'outpaint' else (40, 36)) and out.mode == 'RGB'
    capsys.readouterr()
    assert main(['evaluate', '--hr-dir', str(imgs), '--model', str(run_dir)]) == 0
    report = capsys.readouterr().out
    assert 'model' in report and 'input' in report and task in report
    assert main(['restore', str(imgs), '--model', str(run_dir), '--task', 'superres', '-o', str(tmp_path/'x')]) == 2
    assert f'trained for the {parse_degradation(task).name} task' in capsys.readouterr().err

@pytest.mark.slow
def test_cli_fid_and_evaluate_columns(contract_clf, tmp_path):
    clf = contract_clf
    for name, seed in (('a', 0), ('b', 1)):
        (tmp_path/name).mkdir()
        for i, t in enumerate((images(4, seed) * 255).byte()):
            Image.fromarray(t.permute(1, 2, 0).numpy()).save(tmp_path/name/f'{i}.png')
    (tmp_path/'clf').mkdir()
    save_model(clf, tmp_path/'clf'/'model.pth')
    r = run('fid', tmp_path/'a', tmp_path/'b', '--classifier', tmp_path/'clf', '--json', tmp_path/'f.json')
    assert r.returncode == 0, r.stderr
    res = json.loads((tmp_path/'f.json').read_text())
    assert f"FID {res['fid']:.4f}" in r.stdout and res['n_a'] == 4
    assert 'fewer samples than feature dimensions' in r.stdout
    r = run('evaluate', '--hr-dir', tmp_path/'a', '--model', 'none', '--classifier', tmp_path/'clf', '--baselines',
            'nearest', 'bicubic', '--json', tmp_path/'e.json')  # none: the baselines alone, as before the shipped model
    assert r.returncode == 0, r.stderr
    dist = json.loads((tmp_path/'e.json').read_text())['distances']
    assert set(dist) == {'nearest', 'bicubic'} and 'KID x1000' in r.stdout
    assert f"{dist['bicubic']['fid']:>9.3f}" in r.stdout
    save_model(restorer().eval(), tmp_path/'sr.pth')
    r = run('fid', tmp_path/'a', tmp_path/'b', '--classifier', tmp_path/'sr.pth')
    assert r.returncode == 2 and r.stderr.count('\n') == 1 and 'is a restoration model, not a classifier' in r.stderr
