"""Data-parallel work through accelerate: two real CPU processes (gloo) train together and end with identical weights,
and share a folder to upscale, writing every file once and byte-identical to one process."""
import json
import subprocess
import sys

import pytest
import torch
from conftest import free_port

RANK_WEIGHTS = '''
import sys, torch
from fastai.torch_core import rank_distrib
from superres.configs import ClassifierData, ScheduleConfig
from superres.recipes import train_classifier
learn = train_classifier(sys.argv[1], ClassifierData(sys.argv[2], classes=3, bs=2), ScheduleConfig(epochs=2, seed=0),
                         preset='cpu_small')
torch.save(learn.model.state_dict(), f'{sys.argv[1]}/rank{rank_distrib()}.pt')
'''

def accelerate_launch(*args):
    """`accelerate launch` of two processes; `--multi_gpu` is accelerate's multi-process launcher, on a machine without
    GPUs they train on the CPU over gloo."""
    cmd = [sys.executable, '-m', 'accelerate.commands.launch', '--multi_gpu', '--num_processes', '2',
           '--num_machines', '1', '--mixed_precision', 'no', '--dynamo_backend', 'no',
           '--main_process_port', str(free_port()), *map(str, args)]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=600)

@pytest.mark.slow
def test_two_cpu_processes_train_to_identical_weights(tiny_root, tmp_path):
    script = tmp_path/'train.py'
    script.write_text(RANK_WEIGHTS)
    out = tmp_path/'run'
    r = accelerate_launch(script, out, tiny_root)
    assert r.returncode == 0, r.stderr[-3000:]
    w0, w1 = (torch.load(out/f'rank{i}.pt', weights_only=True) for i in (0, 1))
    assert w0.keys() == w1.keys()
    for k in w0: assert torch.equal(w0[k], w1[k]), k  # parameters and (synced) BatchNorm statistics
    saved = torch.load(out/'model.pth', weights_only=True)
    assert all(torch.equal(saved['state_dict'][k], w0[k]) for k in w0)  # rank 0 wrote the run folder
    metrics = json.loads((out/'metrics.json').read_text())
    # 18 training images, each step a batch of 2 per rank: 4 steps per epoch (drop_last), 2 epochs
    assert metrics['steps'] == 8 and metrics['epochs'] == 2
    losses = [float(r.split(',')[1]) for r in (out/'history.csv').read_text().splitlines()[1:]]
    assert len(losses) == 2 and all(0 < l < 10 for l in losses)

@pytest.mark.slow
def test_cli_under_accelerate_launch(tiny_root, tmp_path):
    out = tmp_path/'run'
    r = accelerate_launch('-m', 'superres', 'classify', 'train', '--data', tiny_root, '--preset', 'cpu_small',
                          '--classes', '3', '--epochs', '1', '--bs', '2', '--out', out)
    assert r.returncode == 0, r.stderr[-3000:]
    assert r.stdout.count('"accuracy"') == 1  # the metrics are printed once, by rank 0
    assert (out/'model.pth').is_file() and (out/'export.pkl').is_file()

@pytest.mark.slow
def test_two_processes_share_a_folder_and_write_what_one_would(sr_model, tmp_path):
    from conftest import noise, run_cli
    src = tmp_path/'in'; (src/'sub').mkdir(parents=True)
    for i in range(9): noise(40 + i, 30, seed=i).save(src/('sub' if i % 3 == 0 else '.')/f'img_{i}.png')
    (src/'broken.png').write_bytes(b'not a png')
    one = run_cli('upscale', src, '-o', tmp_path/'one', '--model', sr_model)
    two = accelerate_launch('-m', 'superres', 'upscale', src, '-o', tmp_path/'two', '--model', sr_model)
    assert one.returncode == two.returncode == 1, two.stderr[-3000:]  # broken.png failed, in both
    assert '10 images: 9 written, 0 skipped (already written), 1 failed' in two.stdout
    assert two.stdout.count('images:') == 1 and two.stderr.count('broken.png: FAILED') == 1  # one report, rank 0's
    outputs = sorted(p.relative_to(tmp_path/'one') for p in (tmp_path/'one').rglob('*') if p.is_file())
    assert len(outputs) == 9 and outputs == sorted(p.relative_to(tmp_path/'two') for p in (tmp_path/'two').rglob('*')
                                                   if p.is_file())
    for rel in outputs: assert (tmp_path/'one'/rel).read_bytes() == (tmp_path/'two'/rel).read_bytes(), rel
    lines = [l for l in two.stdout.splitlines() if ' -> ' in l]
    assert len(lines) == len(set(lines)) == 9  # every file written once
