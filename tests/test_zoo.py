"""The model zoo: which shipped model serves a scale, self-ensembling, the RFDN arch, fine-tuning from a model, and
training on several sources (Tiny ImageNet beside folders of photos)."""
import numpy as np
import pytest
import torch
from conftest import noise, run_cli, smooth_photo
from fastai.callback.core import Callback
from PIL import Image

import superres.hub as hub
from superres.cli import main
from superres.configs import FineTuneConfig, RestorerData, RestorerLoss
from superres.data import PatchArrays, decoded_paired_dls
from superres.degradations import task_degradation
from superres.errors import ModelError
from superres.hub import load_classifier, load_restorer, save_model, shipped_scale_for
from superres.inference import SelfEnsemble, upscale_image
from superres.learner import restoration_learner
from superres.models import classifier, restorer
from superres.recipes import _fit, train_restorer

CPU = torch.device('cpu')

def randomised(model, seed=0):
    "A model whose weights are random everywhere (an untrained LR net is plain bicubic, which hides mistakes)."
    torch.manual_seed(seed)
    with torch.no_grad():
        for p in model.parameters(): p.normal_(0, 0.05)
    return model.eval()

@pytest.fixture
def zoo(tmp_path, monkeypatch):
    "A weights folder shipping x2 and x4 models (random weights) and a classifier, in place of the package's."
    for s in (2, 4): save_model(restorer('sr_resnet', nf=8, n_blocks=1, scale=s).eval(), tmp_path/f'sr_x{s}.pth')
    save_model(classifier('cpu_small', n_out=3, vocab=list('abc'), names=list('abc')).eval(),
               tmp_path/'classifier.pth')
    monkeypatch.setattr(hub, 'WEIGHTS', tmp_path)
    monkeypatch.setattr(hub, 'SHIPPED_CLASSIFIER', tmp_path/'classifier.pth')
    return tmp_path

def test_each_scale_gets_the_next_larger_shipped_model(zoo):
    assert [shipped_scale_for(s) for s in (1.5, 2, 3, 4, 8)] == [2, 2, 4, 4, 4]
    assert load_restorer(scale=3).card.scale == 4 and load_restorer('default').card.scale == 2
    img = noise(30, 20)
    out, notes = upscale_image(load_restorer(scale=3), img, 3)
    assert out.size == (90, 60) and notes == ['model is x4: ran 1 pass(es) then resized to x3']
    out, notes = upscale_image(load_restorer(scale=8), img, 8)
    assert out.size == (240, 160) and '2 pass' in notes[0]

def test_shipped_classifier_is_the_default_and_its_absence_is_one_clear_error(zoo, monkeypatch, tmp_path):
    assert load_classifier().card.vocab == tuple('abc')
    monkeypatch.setattr(hub, 'SHIPPED_CLASSIFIER', tmp_path/'none.pth')
    with pytest.raises(ModelError, match='no shipped classifier'): load_classifier()

def test_cli_upscale_picks_the_model_of_the_scale_and_says_so(zoo, tmp_path, capsys):
    noise(24, 16).save(tmp_path/'a.png')
    for scale, size, note in [('3', (72, 48), 'model is x4: ran 1 pass(es) then resized to x3'), ('4', (96, 64), None),
                              ('1.5', (36, 24), 'model is x2: ran 1 pass(es) then resized to x1.5')]:
        assert main(['upscale', str(tmp_path/'a.png'), '-o', str(tmp_path/scale), '--scale', scale]) == 0
        with Image.open(tmp_path/scale/'a.png') as im: assert im.size == size
        line = next(l for l in capsys.readouterr().out.splitlines() if ' -> ' in l)
        assert (note in line) if note else '(' not in line, line

def test_self_ensemble_averages_the_eight_symmetries():
    model = randomised(restorer('sr_resnet', nf=8, n_blocks=1))
    x = torch.rand(1, 3, 12, 10)
    ens = SelfEnsemble(model)
    with torch.no_grad():
        out = ens(x)
        by_hand = sum(torch.rot90(model(torch.rot90(x.flip(-1) if f else x, k, (-2, -1))), -k, (-2, -1)).flip(-1)
                      if f else torch.rot90(model(torch.rot90(x, k, (-2, -1))), -k, (-2, -1))
                      for k in range(4) for f in (False, True)) / 8
        assert out.shape == (1, 3, 24, 20) and torch.allclose(out, by_hand, atol=1e-5)
        assert (out - model(x)).abs().max() > 1e-3  # a random net is not symmetric: the ensemble changes its output
        # the ensemble is symmetric itself: flipping the input flips the output
        assert torch.allclose(ens(x.flip(-1)), out.flip(-1), atol=1e-5)
        assert torch.allclose(ens(torch.rot90(x, 1, (-2, -1))), torch.rot90(out, 1, (-2, -1)), atol=1e-5)
    assert ens.card is model.card

@pytest.mark.parametrize('hw', [(1, 1), (5, 7), (40, 33)])
def test_rfdn_takes_any_size_and_starts_as_bicubic(hw):
    model = restorer('rfdn', 'reference', scale=3).eval()
    assert model.card.takes_lr and 400_000 < sum(p.numel() for p in model.parameters()) < 450_000
    x = torch.rand(1, 3, *hw)
    with torch.no_grad(): out = model(x)
    bicubic = torch.nn.functional.interpolate(x, scale_factor=3, mode='bicubic', align_corners=False)
    assert out.shape == (1, 3, hw[0] * 3, hw[1] * 3) and torch.allclose(out, bicubic, atol=1e-5)
    with torch.no_grad(): assert randomised(model)(x).shape == out.shape  # and still with weights that do something

class LRs(Callback):
    "Every step's learning rate of every parameter group, across fits."
    def __init__(self): self.lrs = []
    def after_batch(self):
        if self.training: self.lrs.append([h['lr'] for h in self.opt.hypers])

def _learner(tiny_root, init_model):
    torch.manual_seed(0)
    deg = task_degradation('superres', 4, None, None, lr_input=True)
    dls = decoded_paired_dls(tiny_root, deg, size=32, classes=2, bs=4, erase=0, device=CPU, progress=False)
    return restoration_learner(dls, loss='l1', init_model=init_model, precision='fp32')

def test_fine_tuning_from_another_scale_keeps_the_body_and_follows_fastai_fine_tune(tiny_root, tmp_path):
    x2 = randomised(restorer('sr_resnet', nf=8, n_blocks=1, scale=2))
    learn = _learner(tiny_root, x2)
    assert learn.model.card.scale == 4 and learn.new_params == ['net.up.0.weight', 'net.up.0.bias']
    assert torch.equal(learn.model.net.body[0].convs[0][0].weight, x2.net.body[0].convs[0][0].weight)
    ours, theirs = LRs(), LRs()
    learn.add_cb(ours)
    _fit(learn, tmp_path/'run', None, FineTuneConfig(epochs=2, lr=1e-3), frozen=1, fine_tune=True)
    reference = _learner(tiny_root, x2)
    reference.add_cb(theirs)
    reference.fine_tune(2, 1e-3, freeze_epochs=1)
    assert len(ours.lrs) == len(theirs.lrs) > 4 and np.allclose(ours.lrs, theirs.lrs)
    assert not torch.equal(learn.model.net.body[0].convs[0][0].weight, x2.net.body[0].convs[0][0].weight)

def test_train_from_the_shipped_model_at_another_scale(zoo, tiny_root, tmp_path):
    init = load_restorer('default', device='cpu', scale=3, folded=False)  # the x4 model, the nearest
    learn = train_restorer(tmp_path/'run', scale=3, data=RestorerData(tiny_root, classes=2, bs=4, size=48, erase=0),
                           loss=RestorerLoss('l1'), schedule=FineTuneConfig(epochs=1, precision='fp32'), init=init)
    m = load_restorer(tmp_path/'run')
    assert m.card.scale == 3 and m.card.arch == 'sr_resnet' and m.card.config['nf'] == 8  # the x4 model's body
    assert learn.new_params == ['net.up.0.weight', 'net.up.0.bias']

def test_several_sources_mix_tiny_imagenet_with_photo_crops(tiny_root, tmp_path):
    photos = tmp_path/'photos'
    photos.mkdir()
    for i in range(3): smooth_photo(200, 130, seed=i).save(photos/f'p{i}.png')
    smooth_photo(40, 40).save(photos/'small.png')  # smaller than a crop: left out
    deg = task_degradation('superres', 2, None, None, lr_input=True)
    with pytest.warns(UserWarning, match='1 photos are smaller than 48'):
        dls = decoded_paired_dls([tiny_root, photos], deg, size=48, classes=3, bs=8, erase=0, device=CPU,
                                 progress=False)
    train, valid = dls.train.dataset, dls.valid.dataset
    assert isinstance(train, PatchArrays)
    assert len(train) == 3 * 6 + 3 * (200 * 130 // 48**2)  # Tiny ImageNet's 6 a class, photos by area
    assert len(valid) == 3 * 2  # Tiny ImageNet's val split only
    lr, hr = dls.one_batch()
    assert lr.shape == (8, 3, 24, 24) and hr.shape == (8, 3, 48, 48)
    big = [a for a in train.x if a.shape[-1] == 200]
    assert len(big) == 3 * (200 * 130 // 48**2)
    assert run_cli('train', '--data', tiny_root, photos, '--help').returncode == 0

def test_half_precision_model_files_are_half_the_size_and_load_as_float32(tmp_path):
    model = randomised(restorer('sr_resnet', n_blocks=2))
    full, half = save_model(model, tmp_path/'full.pth'), save_model(model, tmp_path/'half.pth', dtype=torch.float16)
    assert 0.45 < half.stat().st_size / full.stat().st_size < 0.55
    loaded = load_restorer(half, device='cpu')
    for (k, a), b in zip(model.state_dict().items(), loaded.state_dict().values()):
        assert b.dtype == a.dtype and torch.allclose(a, b, rtol=1e-3, atol=1e-4), k
