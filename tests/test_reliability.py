"""End to end, as a user meets failures: bad inputs never crash a folder run, a killed training resumes, a corrupt data
image is named or skipped (the one-line usage errors: test_cli.py; model files that must not run code: test_hub.py)."""
import io
import json
import os
import shutil
import signal
import subprocess
import sys
import time

import pytest
import torch
from conftest import noise
from conftest import run_cli as run
from PIL import Image

from superres.hub import load_classifier
from superres.tinyimagenet import TinyImageNet


def jpeg_bytes(img):
    buf = io.BytesIO(); img.save(buf, 'JPEG', quality=90)
    return buf.getvalue()

def _train_cmd(data, out, *extra):
    return [sys.executable, '-m', 'superres', 'classify', 'train', '--data', str(data), '--preset', 'cpu_small',
            '--classes', '40', '--epochs', '4', '--bs', '8', '--precision', 'fp32', '--seed', '0', '--out', str(out),
            *extra]

def test_folder_run_reports_each_bad_file_and_writes_the_good_ones(sr_model, tmp_path):
    src = tmp_path/'in'; src.mkdir()
    noise(20, 12).save(src/'good.png')
    noise(9, 7).save(src/'unicode café 画像 with spaces.jpg')
    noise(1, 1).save(src/'one.png')
    noise(3, 2).save(src/'three_by_two.png')
    frames = [Image.new('RGB', (8, 6), c) for c in ('red', 'green', 'blue')]
    frames[0].save(src/'anim.gif', save_all=True, append_images=frames[1:])
    (src/'zero.jpg').write_bytes(b'')
    (src/'text.jpg').write_text('this is not an image\n')
    full = jpeg_bytes(noise(40, 30))
    (src/'truncated.jpg').write_bytes(full[:len(full) // 2])
    buf = io.BytesIO(); noise(40, 30).save(buf, 'PNG')
    (src/'truncated.png').write_bytes(buf.getvalue()[:200])
    r = run('upscale', src, '-o', tmp_path/'out', '--model', sr_model)
    assert r.returncode == 1, r.stderr
    assert 'Traceback' not in r.stderr
    for bad, why in (('zero.jpg', 'not an image'), ('text.jpg', 'not an image'), ('truncated.jpg', 'truncated'),
                     ('truncated.png', 'unreadable')):
        line = next(l for l in r.stderr.splitlines() if bad in l)
        assert 'FAILED' in line and why in line, line
    assert '9 images: 5 written, 0 skipped (already written), 4 failed (listed above)' in r.stdout
    sizes = {'good.png': (40, 24), 'unicode café 画像 with spaces.jpg': (18, 14), 'one.png': (2, 2),
             'three_by_two.png': (6, 4), 'anim.gif': (16, 12)}
    for name, size in sizes.items():
        with Image.open(tmp_path/'out'/name) as im: assert im.size == size, name
    assert 'first frame only' in next(l for l in r.stdout.splitlines() if 'anim.gif' in l)
    assert not (tmp_path/'out'/'zero.jpg').exists()

def test_missing_input_is_reported_not_raised(sr_model, tmp_path):
    noise(8, 8).save(tmp_path/'a.png')
    r = run('upscale', tmp_path/'a.png', tmp_path/'nope.png', '-o', tmp_path/'out', '--model', sr_model)
    assert r.returncode == 1 and 'nope.png: FAILED: no such file' in r.stderr and (tmp_path/'out'/'a.png').exists()

@pytest.mark.slow
def test_training_killed_mid_epoch_resumes_to_the_same_total_steps(tiny_root, tmp_path):
    out = tmp_path/'run'
    proc = subprocess.Popen(_train_cmd(tiny_root, out), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    ckpt, deadline = out/'checkpoint.pth', time.time() + 600
    while not ckpt.exists() and proc.poll() is None and time.time() < deadline: time.sleep(0.05)
    time.sleep(0.2)  # into the second epoch
    os.kill(proc.pid, signal.SIGKILL); proc.wait()
    assert proc.returncode == -signal.SIGKILL
    done = torch.load(ckpt, weights_only=True)
    assert 1 <= done['epoch'] < 4, 'the run must be killed mid-way for this test to mean anything'
    first_rows = (out/'history.csv').read_text().splitlines()[:1 + done['epoch']]
    load_classifier(out)  # the weights on disk are whole despite the kill
    r = subprocess.run(_train_cmd(tiny_root, out, '--resume'), capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    rows = (out/'history.csv').read_text().splitlines()
    assert len(rows) == 5 and rows[:1 + done['epoch']] == first_rows
    fresh = tmp_path/'fresh'
    assert subprocess.run(_train_cmd(tiny_root, fresh), capture_output=True).returncode == 0
    steps = lambda d: json.loads((d/'metrics.json').read_text())['steps']
    assert steps(out) == steps(fresh) > 0
    resumed, again = load_classifier(out).state_dict(), load_classifier(fresh).state_dict()
    # it continued from the checkpoint, not from scratch
    assert any(not torch.equal(resumed[k], again[k]) for k in resumed)
    r = subprocess.run(_train_cmd(tiny_root, tmp_path/'none', '--resume'), capture_output=True, text=True)
    assert r.returncode == 2 and 'nothing to resume' in r.stderr

@pytest.mark.slow
@pytest.mark.parametrize('pipeline,split', [('datablock', 'train'), ('decoded', 'train'), ('datablock', 'val')])
def test_corrupt_image_in_the_data_is_named_or_skipped(fresh_tiny, tmp_path, pipeline, split):
    tin = TinyImageNet(fresh_tiny, classes=3)
    bad = (tin.train_files() if split == 'train' else tin.val_files())[1]
    bad.write_bytes(bad.read_bytes()[:40])  # a truncated JPEG; a val image is first read in a DataLoader worker
    args = ['classify', 'train', '--data', fresh_tiny, '--classes', '3', '--epochs', '1', '--bs', '2',
            '--pipeline', pipeline, '--precision', 'fp32']
    r = run(*args, '--out', tmp_path/'a')
    assert r.returncode == 2 and len(r.stderr.strip().splitlines()) == 1 and bad.name in r.stderr, r.stderr
    assert '--skip-bad-images' in r.stderr
    r = run(*args, '--out', tmp_path/'b', '--skip-bad-images')
    assert r.returncode == 0, r.stderr
    assert 'skipping 1 unreadable image' in r.stderr and bad.name in r.stderr
    kept = TinyImageNet(fresh_tiny, classes=3, skip_bad=True)
    assert len(kept.train_files()) + len(kept.val_files()) == len(tin.items()) - 1 and bad not in kept.items()

def without_root_privileges():
    "A command prefix under which file permissions apply even to root (tests may run as root, whom chmod cannot stop)."
    if os.geteuid() != 0: return []
    if not shutil.which('setpriv'):
        pytest.skip('running as root without setpriv (util-linux): cannot make a file unreadable')
    return ['setpriv', '--bounding-set', '-dac_override,-dac_read_search']

def test_unreadable_file_is_reported_and_the_rest_written(sr_model, tmp_path):
    src = tmp_path/'in'; src.mkdir()
    noise(20, 12).save(src/'good.png')
    noise(20, 12).save(src/'locked.png')
    (src/'locked.png').chmod(0)
    cmd = [*without_root_privileges(), sys.executable, '-m', 'superres', 'upscale', str(src), '-o', str(tmp_path/'out'),
           '--model', str(sr_model)]
    r = subprocess.run(cmd, capture_output=True, text=True)
    assert r.returncode == 1 and 'Traceback' not in r.stderr, r.stderr
    line = next(l for l in r.stderr.splitlines() if 'locked.png' in l)
    assert 'FAILED' in line and 'permission denied' in line, line
    assert '2 images: 1 written, 0 skipped (already written), 1 failed' in r.stdout
    assert Image.open(tmp_path/'out'/'good.png').size == (40, 24)
