import json, os, subprocess, sys
from pathlib import Path

import pytest
from PIL import Image

from superres.cli import main

def run(*args, **kw):
    "The real console command in a subprocess, as a user runs it."
    return subprocess.run([sys.executable, '-m', 'superres', *map(str, args)], capture_output=True, text=True, **kw)

def test_help_explains_every_option():
    top = run('--help')
    assert top.returncode == 0 and 'classify' in top.stdout and 'data' in top.stdout
    train = run('classify', 'train', '--help').stdout
    for opt in ('--data', '--preset', '--classes', '--per-class', '--epochs', '--budget', '--bs', '--lr', '--out', '--pipeline'):
        assert opt in train
    assert '--model' in run('classify', 'predict', '--help').stdout
    assert 'show' in run('data', '--help').stdout

def test_data_check_stats_show(tiny_root, tmp_path, capsys):
    assert main(['data', 'check', '--data', str(tiny_root)]) == 0
    assert 'ok:' in capsys.readouterr().out
    assert main(['data', 'stats', '--data', str(tiny_root), '--classes', '3']) == 0
    stats = json.loads(capsys.readouterr().out)
    assert stats['classes'] == 3 and len(stats['mean']) == 3
    png = tmp_path/'b.png'
    assert main(['data', 'show', '--data', str(tiny_root), '--classes', '3', '-o', str(png), '--n', '4']) == 0
    assert Image.open(png).size[0] > 100

def test_bad_data_is_one_clear_line(fresh_tiny):
    (fresh_tiny/'words.txt').unlink()
    r = run('data', 'check', '--data', fresh_tiny)
    assert r.returncode == 2 and 'Traceback' not in r.stderr
    assert 'missing words.txt' in r.stderr

def test_invalid_options_rejected():
    r = run('classify', 'train', '--out', 'x', '--classes', '0')
    assert r.returncode == 2 and 'must be positive' in r.stderr
    r = run('classify', 'train', '--out', 'x', '--wd', '-0.1')
    assert r.returncode == 2 and 'must be zero or more' in r.stderr
    r = run('classify', 'train', '--out', 'x', '--progressive', '1.5')
    assert r.returncode == 2 and 'between 0 and 1' in r.stderr

def test_train_then_predict_end_to_end(tiny_root, tmp_path):
    out = tmp_path/'run'
    r = run('classify', 'train', '--data', tiny_root, '--preset', 'cpu_small', '--classes', '6', '--per-class', '4',
            '--epochs', '1', '--bs', '8', '--out', out)
    assert r.returncode == 0, r.stderr
    assert 'accuracy' in r.stdout and (out/'model.pth').is_file() and (out/'export.pkl').is_file()
    img = tiny_root/'val'/'images'/'val_0.JPEG'
    assert run('classify', 'predict', img, '--model', out/'export.pkl').returncode == 2  # a pickle needs --trust-pickle
    for model in (out, out/'model.pth', out/'export.pkl'):
        p = run('classify', 'predict', img, '--model', model, '--json', '--trust-pickle')
        assert p.returncode == 0, p.stderr
        rows = json.loads(p.stdout)[str(img)]
        assert len(rows) == 5 and rows[0]['name'].startswith('thing')
        assert sum(r['prob'] for r in rows) <= 1 + 1e-6 and rows[0]['prob'] >= rows[-1]['prob']
    table = run('classify', 'predict', img, '--model', out)
    assert table.returncode == 0 and '%' in table.stdout

def test_predict_missing_model_and_bad_image(tmp_path):
    r = run('classify', 'predict', 'x.jpg', '--model', tmp_path/'nope')
    assert r.returncode == 2 and 'does not exist' in r.stderr and 'Traceback' not in r.stderr
    (tmp_path/'bad.pth').write_text('not a model')
    r = run('classify', 'predict', 'x.jpg', '--model', tmp_path/'bad.pth')
    assert r.returncode == 2 and 'not a superres model' in r.stderr
