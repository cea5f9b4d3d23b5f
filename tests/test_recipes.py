"""Training recipes: a run folder with its logs and exports, loadable in a fresh process; the LR-space sr_resnet
recipe."""
import json
import subprocess
import sys

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from PIL import Image

from superres.callbacks import PRECISION_CBS
from superres.configs import ClassifierData, FineTuneConfig, RestorerData, RestorerLoss, RestorerNet, ScheduleConfig
from superres.data import sr_dls
from superres.errors import UsageError
from superres.hub import load_restorer
from superres.inference import upscale_image
from superres.models import classifier, restorer
from superres.recipes import train_classifier, train_restorer


def test_train_export_and_fresh_process_load(tiny_root, tmp_path):
    out = tmp_path/'run'
    learn = train_classifier(out, ClassifierData(tiny_root, classes=3, bs=4), ScheduleConfig(epochs=2, seed=0, wd=0.05),
                             preset='cpu_small', tta=True)
    assert all(h['wd'] == 0.05 for h in learn.opt.hypers)
    for name in ('model.pth', 'export.pkl', 'history.csv', 'history.png', 'metrics.json'): assert (out/name).is_file()
    rows = (out/'history.csv').read_text().splitlines()
    assert rows[0].startswith('epoch,train_loss,valid_loss,accuracy') and len(rows) == 3
    metrics = json.loads((out/'metrics.json').read_text())
    assert metrics['epochs'] == 2 and 0 <= metrics['tta_accuracy'] <= 1
    assert not list(out.glob('.*'))  # no temporary files left behind
    files = learn.dls.tin.val_files()
    dl = learn.dls.test_dl(files)
    learn.remove_cbs([cb for cb in learn.cbs if isinstance(cb, PRECISION_CBS)])  # exports predict in fp32
    here = learn.get_preds(dl=dl)[0]
    cuda = learn.dls.device.type == 'cuda'  # then both predict on the GPU, with the same kernels up to cudnn's choice
    code = (f'import torch; from fastai.learner import load_learner; '
            f'l = load_learner({str(out/"export.pkl")!r}, cpu={not cuda}); '
            f'p = l.get_preds(dl=l.dls.test_dl({[str(f) for f in files]!r}))[0]; '
            f'torch.save(p, {str(tmp_path/"p.pt")!r})')
    r = subprocess.run([sys.executable, '-c', code], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr[-3000:]
    there = torch.load(tmp_path/'p.pt')
    if cuda: torch.testing.assert_close(here, there, rtol=1e-2, atol=2e-3)  # cuDNN may pick other (TF32) kernels there
    else:
        assert torch.equal(here.argmax(1), there.argmax(1))
        torch.testing.assert_close(here, there, rtol=1e-5, atol=1e-6)

def test_sr_resnet_works_in_low_resolution_and_starts_as_bicubic(tiny_root, tmp_path):
    model = restorer('sr_resnet', scale=3).eval()
    x = torch.rand(2, 3, 10, 14)
    assert torch.allclose(model(x), F.interpolate(x, scale_factor=3, mode='bicubic'), atol=1e-5)
    assert model.card.takes_lr and not restorer().card.takes_lr
    dls = sr_dls(tiny_root, scale=2, size=48, classes=3, bs=4, erase=0, num_workers=0)
    learn = train_restorer(tmp_path/'run', data=RestorerData(tiny_root, classes=3, bs=4, size=48, erase=0),
                           net=RestorerNet('sr_resnet'), loss=RestorerLoss('l1'),
                           schedule=FineTuneConfig(epochs=1, precision='fp32', seed=0))
    xb, yb = learn.dls.one_batch()
    assert xb.shape[-2:] == (24, 24) and yb.shape[-2:] == (48, 48)
    loaded = load_restorer(tmp_path/'run')
    assert loaded.card.arch == 'sr_resnet' and torch.equal(loaded.net.up[0].weight, learn.model.net.up[0].weight)
    img = Image.fromarray(np.random.default_rng(0).integers(0, 255, (70, 90, 3), dtype=np.uint8))
    out, _ = upscale_image(loaded, img, tile=64, overlap=16)
    whole, _ = upscale_image(loaded, img, tile=1024)
    assert out.size == (180, 140) and np.abs(np.asarray(out, dtype=int) - np.asarray(whole, dtype=int)).max() <= 3
    with pytest.raises(UsageError, match='no classifier encoder'):
        restorer('sr_resnet', classifier_model=classifier('cpu_small'))
    assert dls.train.one_batch()[0].shape[-1] == 48  # the pre-upsampled pipeline is unchanged for the UNets
