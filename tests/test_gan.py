"""The GAN recipe (`train --gan`): it trains the generator, keeps the critic out of the shipped weights, resumes after
SIGKILL; `--strength` blends the GAN model with its PSNR parent."""
import json
import os
import signal
import subprocess
import sys
import time
from dataclasses import replace

import numpy as np
import pytest
import torch
from conftest import cli_here
from PIL import Image

from superres.configs import FineTuneConfig, GanConfig, RestorerData
from superres.errors import UsageError
from superres.gan import load_critic
from superres.hub import blend_with_parent, load_model, load_restorer, save_model
from superres.models import restorer
from superres.recipes import train_restorer


def photo(seed, w=128, h=128):
    "A photo-like image: smooth waves, edges and a little noise, so a critic has texture to judge."
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:h, 0:w]
    a = np.stack([128 + 90 * np.sin(xx / rng.uniform(2, 9) + c) * np.cos(yy / rng.uniform(3, 11))
                  for c in range(3)], -1)
    a[(xx // 16 + yy // 16) % 2 == 0] *= 0.6
    return Image.fromarray(np.clip(a + rng.normal(0, 6, a.shape), 0, 255).astype(np.uint8))

@pytest.fixture(scope='module')
def photos(tmp_path_factory):
    d = tmp_path_factory.mktemp('photos')
    for i in range(10): photo(i).save(d/f'p{i}.png')
    return d

@pytest.fixture(scope='module')
def parent(tmp_path_factory):
    "A PSNR model to fine-tune: a small x2 sr_resnet whose tail is not zero (so blends differ from bicubic)."
    torch.manual_seed(0)
    model = restorer('sr_resnet', 'cpu', scale=2, n_blocks=2, nf=16)
    torch.nn.init.normal_(model.net.up[0].weight, std=1e-3)
    return save_model(model, tmp_path_factory.mktemp('parent')/'model.pth')

def _gan_args(photos, parent, out, epochs=1, **gan):
    "`train_restorer`'s arguments for a GAN fine-tune of `parent` on the photos; `gan`: GanConfig fields."
    return dict(out=out, task='superres', scale=2, data=RestorerData(photos, size=64, bs=4, erase=0., num_workers=0),
                schedule=FineTuneConfig(epochs=epochs, freeze_epochs=1, precision='fp32', seed=0),
                init=load_restorer(parent, device='cpu', scale=2, folded=False), gan=GanConfig(**gan))

@pytest.fixture(scope='module')
def gan_run(photos, parent, tmp_path_factory):
    out = tmp_path_factory.mktemp('gan')/'run'
    train_restorer(**_gan_args(photos, parent, out, thresh=1.0))  # every critic step hands over: both train
    return out

def test_gan_recipe_trains_the_generator_and_saves_the_critic_apart(gan_run, parent):
    saved = torch.load(gan_run/'model.pth', weights_only=True)
    assert not any('critic' in k for k in saved['state_dict']), 'the critic must never ship inside the generator'
    before = load_model(parent).state_dict()
    after = load_model(gan_run/'model.pth').state_dict()
    assert sum(not torch.equal(after[k], before[k]) for k in after) >= len(after) // 2  # the generator trained
    assert all(torch.equal(saved['parent_state_dict'][k], before[k]) for k in before)  # the parent kept as it was
    critic = load_critic(gan_run/'critic.pth')
    assert critic.card.kind == 'critic' and critic(torch.rand(2, 3, 64, 64)).shape[0] == 2
    rows = (gan_run/'history.csv').read_text().splitlines()
    assert len(rows) == 3 and {'gen_loss', 'crit_loss', 'psnr'} <= set(rows[0].split(','))
    metrics = json.loads((gan_run/'metrics.json').read_text())
    assert metrics['gan_weight'] == 5e-3 and metrics['steps'] > 0

def test_the_course_threshold_keeps_the_generator_until_the_critic_is_good(photos, parent, tmp_path):
    "AdaptiveGANSwitcher at 0.65: an untrained critic (loss ~0.69) trains on, the generator waits its turn."
    train_restorer(**_gan_args(photos, parent, tmp_path/'run'))
    before, after = load_model(parent).state_dict(), load_model(tmp_path/'run'/'model.pth').state_dict()
    assert all(torch.equal(after[k], before[k]) for k in before)
    assert not torch.equal(load_critic(tmp_path/'run'/'critic.pth').state_dict()['1.0.0.bias'],
                           load_critic().state_dict()['1.0.0.bias'])

def test_strength_blends_the_gan_model_with_its_psnr_parent(gan_run, parent):
    x = torch.rand(1, 3, 20, 24)
    with torch.no_grad():
        ys = {s: load_restorer(gan_run, device='cpu', strength=s)(x) for s in (0., 0.5, 1.)}
        plain, psnr_model = load_restorer(gan_run, device='cpu')(x), load_restorer(parent, device='cpu')(x)
    assert torch.allclose(ys[0.], psnr_model, atol=1e-6) and torch.allclose(ys[1.], plain, atol=1e-6)
    assert (ys[0.5] - ys[0.]).abs().max() > 1e-5 and (ys[0.5] - ys[1.]).abs().max() > 1e-5
    with pytest.raises(UsageError, match='holds none'): blend_with_parent(load_model(parent), 0.5)

def test_strength_from_the_command_line(gan_run, parent, tmp_path, capsys):
    photo(9, 40, 30).save(tmp_path/'a.png')
    outs = {}
    for name, args in dict(s0=['--model', gan_run, '--strength', 0], parent=['--model', parent],
                           s1=['--model', gan_run, '--strength', 1], gan=['--model', gan_run]).items():
        rc, _, err = cli_here(capsys, 'upscale', tmp_path/'a.png', '-o', tmp_path/name, '--precision', 'fp32', *args)
        assert rc == 0, err
        outs[name] = np.asarray(Image.open(tmp_path/name/'a.png'))
    assert np.array_equal(outs['s0'], outs['parent']) and np.array_equal(outs['s1'], outs['gan'])
    upscale = ('upscale', tmp_path/'a.png', '-o', tmp_path/'x', '--model')
    rc, _, err = cli_here(capsys, *upscale, parent, '--strength', 0.5)
    assert rc == 2 and len(err.strip().splitlines()) == 1 and '--strength' in err
    rc, _, err = cli_here(capsys, *upscale, gan_run, '--strength', 1.5)
    assert rc == 2 and 'between 0 and 1' in err

def test_gan_needs_a_trained_generator_and_crops_the_critic_can_judge(photos, parent, tmp_path):
    args = _gan_args(photos, parent, tmp_path)
    with pytest.raises(UsageError, match='`init`'): train_restorer(**dict(args, init=None))
    small = dict(args, data=replace(args['data'], size=32))
    with pytest.raises(UsageError, match='at least 64'): train_restorer(**small)

def _cli(photos, parent, out, *extra):
    return [sys.executable, '-m', 'superres', 'train', '--data', str(photos), '--init', str(parent), '--gan',
            '--scale', '2', '--size', '64', '--bs', '4', '--epochs', '3', '--freeze-epochs', '1', '--no-erase',
            '--precision', 'fp32', '--seed', '0', '--out', str(out), *extra]

@pytest.mark.slow
def test_gan_run_killed_mid_way_resumes_to_the_same_total_steps(photos, parent, tmp_path):
    out = tmp_path/'run'
    proc = subprocess.Popen(_cli(photos, parent, out), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    ckpt, deadline = out/'checkpoint.pth', time.time() + 600
    while not ckpt.exists() and proc.poll() is None and time.time() < deadline: time.sleep(0.05)
    time.sleep(0.2)
    os.kill(proc.pid, signal.SIGKILL); proc.wait()
    assert proc.returncode == -signal.SIGKILL
    done = torch.load(ckpt, weights_only=True)
    assert (done['phase'], done['epoch']) < (1, 3), 'the run must be killed mid-way for this test to mean anything'
    assert any(k.startswith('critic.') for k in done['model'])  # the checkpoint holds both networks
    load_model(out/'model.pth'), load_critic(out/'critic.pth')  # whole on disk despite the kill
    r = subprocess.run(_cli(photos, parent, out, '--resume'), capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    assert len((out/'history.csv').read_text().splitlines()) == 5  # header, 1 critic epoch, 3 GAN epochs
    fresh = tmp_path/'fresh'
    assert subprocess.run(_cli(photos, parent, fresh), capture_output=True).returncode == 0
    steps = lambda d: json.loads((d/'metrics.json').read_text())['steps']
    assert steps(out) == steps(fresh) > 0

def test_run_stopped_between_its_frozen_and_unfrozen_phases_resumes(photos, parent, tmp_path, monkeypatch):
    "The checkpoint then holds the frozen phase, finished: resume starts the next phase from its weights."
    import superres.recipes as recipes
    fit_phase = recipes.fit_phase
    def stop_at_phase_1(learn, n_epoch, lr, cbs, phase=0, ckpt=None, **kw):
        if phase == 1: raise KeyboardInterrupt
        return fit_phase(learn, n_epoch, lr, cbs, phase, ckpt, **kw)
    monkeypatch.setattr(recipes, 'fit_phase', stop_at_phase_1)
    args = _gan_args(photos, parent, tmp_path/'run')
    with pytest.raises(KeyboardInterrupt): train_restorer(**args)
    done = torch.load(tmp_path/'run'/'checkpoint.pth', weights_only=True)
    assert (done['phase'], done['epoch']) == (0, 1)
    monkeypatch.setattr(recipes, 'fit_phase', fit_phase)
    train_restorer(**dict(args, schedule=replace(args['schedule'], resume=True)))
    assert len((tmp_path/'run'/'history.csv').read_text().splitlines()) == 3
    assert torch.load(tmp_path/'run'/'checkpoint.pth', weights_only=True)['phase'] == 1

def test_unet_critic_with_sharpened_targets_and_an_averaged_generator(photos, parent, tmp_path):
    "Real-ESRGAN's choices as options: a U-Net critic (a logit per pixel), unsharp-masked targets, EMA of the weights."
    args = _gan_args(photos, parent, tmp_path/'run', critic_arch='unet_critic', thresh=1.0)
    train_restorer(**dict(args, data=replace(args['data'], sharpen_target=0.5),
                          schedule=replace(args['schedule'], ema=0.9)))
    critic = load_critic(tmp_path/'run'/'critic.pth', 'unet_critic')
    assert critic.card.arch == 'unet_critic' and critic(torch.rand(2, 3, 64, 64)).shape == (2, 64 * 64)
    before, after = load_model(parent).state_dict(), load_model(tmp_path/'run'/'model.pth').state_dict()
    assert sum(not torch.equal(after[k], before[k]) for k in after) >= len(after) // 2
    assert 'average' in torch.load(tmp_path/'run'/'checkpoint.pth', weights_only=True)
    with pytest.raises(UsageError, match='not a gan_critic'): load_critic(tmp_path/'run'/'critic.pth')
