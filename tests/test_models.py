"""Networks: classifier presets and configs, restoration nets that start as the identity, encoders copied from a
classifier."""
import fastai.callback.hook  # noqa: F401 (patches Learner.summary)
import pytest
import torch
import torch.nn.functional as F
from torch import nn

from superres.errors import UsageError
from superres.hub import load_model, load_restorer, save_model
from superres.layers import RepConv
from superres.learner import unet_splitter
from superres.models import (
    ARCHS,
    PRESETS,
    ResBlock,
    SRResNet,
    classifier,
    classifier_config,
    classifier_from_config,
    restorer,
)


@pytest.mark.parametrize('preset', list(PRESETS))
def test_every_preset_shapes(preset):
    m = classifier(preset, n_out=200).eval()
    assert m(torch.rand(2, 3, 64, 64)).shape == (2, 200)
    assert m(torch.rand(1, 3, 48, 40)).shape == (1, 200)  # any size: pooled head

def test_preset_sizes_follow_reference():
    nbks = lambda m: [len(s) for s in m[2:-1]]
    assert nbks(classifier('step2')) == [3, 2, 2, 1, 1]
    assert nbks(classifier('step3')) == [4, 3, 3, 2, 1]
    assert isinstance(classifier('step2')[1], ResBlock) and not isinstance(classifier('step1')[1], ResBlock)
    assert isinstance(classifier('step3')[-1][1], nn.BatchNorm2d)  # pre-activation: act + BN before pooling

def test_config_roundtrip_and_errors():
    m = classifier('cpu_small', n_out=7, mean=(0.1, 0.2, 0.3))
    m2 = classifier_from_config(m.card.config)
    m2.load_state_dict(m.state_dict())
    x = torch.rand(2, 3, 64, 64)
    assert torch.equal(m.eval()(x), m2.eval()(x))
    assert m[0].mean.flatten().tolist() == pytest.approx([0.1, 0.2, 0.3])
    with pytest.raises(UsageError, match='unknown classifier preset'): classifier_config('nope')
    with pytest.raises(UsageError, match='nbks'): classifier_config('cpu', nbks=(1, 1))

def test_new_configs_name_their_kind():
    clf, sr = classifier('cpu_small', n_out=3), restorer()
    assert clf.card.config['kind'] == 'classifier' and sr.card.config['kind'] == 'restorer'
    assert restorer('sr_resnet').card.kind == restorer(classifier_model=clf).card.kind == 'restorer'
    assert clf.card.kind == 'classifier' and sr.card.kind == 'restorer'

def test_summary_works():
    from fastai.data.core import DataLoaders
    from fastai.learner import Learner
    from fastai.torch_core import TensorCategory
    from fastai.vision.core import TensorImage
    ds = [(TensorImage(torch.rand(3, 64, 64)), TensorCategory(0))] * 4
    learn = Learner(DataLoaders.from_dsets(ds, ds, bs=2), classifier('step1', n_out=2), loss_func=nn.CrossEntropyLoss())
    s = learn.summary()
    assert 'Total params' in s and 'Conv2d' in s

@pytest.mark.parametrize('arch', ['tiny_unet', 'tiny_unet_cross'])
def test_untrained_tiny_unet_is_identity_at_any_size(arch):
    m = restorer(arch).eval()
    for shape in ((2, 3, 64, 64), (1, 3, 37, 50), (1, 3, 9, 9)):
        x = torch.rand(shape)
        assert torch.allclose(m(x), x, atol=1e-6)

def test_encoder_from_classifier_and_freeze_splits():
    clf = classifier('cpu_small', n_out=10)
    body = list(nn.Sequential(clf.stem, *clf.stages).parameters())  # what a restorer's encoder copies
    for arch in ('tiny_unet', 'dynamic_unet'):
        m = restorer(arch, classifier_model=clf)
        enc = list(m.encoder.parameters())
        # the whole stem and all stages, in order
        assert len(enc) == len(body) and all(torch.equal(a, b) for a, b in zip(enc, body)), arch
        assert m.encoder[0][0].weight is not clf[1][0].weight  # copied: the classifier stays intact
        x = torch.rand(2, 3, 40, 56)
        assert m.eval()(x).shape == x.shape
        enc, rest = unet_splitter(m)
        assert len(enc) + len(rest) == len(list(m.parameters())) and enc and rest
    lr_net = restorer('sr_resnet', nf=8, n_blocks=1)
    assert isinstance(lr_net.net, SRResNet) and lr_net.encoder is None and not ARCHS['sr_resnet'].takes_classifier_body
    groups = unet_splitter(lr_net)  # nothing it could take from a classifier: one group, which `freeze()` leaves alone
    assert len(groups) == 1 and len(groups[0]) == len(list(lr_net.parameters()))

@pytest.mark.parametrize('scale', [2, 4])
def test_rep_resnet_folds_into_the_plain_net_it_computes(scale, tmp_path):
    "Trained as wide branches, run as sr_resnet's plain convs: same outputs (1e-4), sr_resnet's parameter count."
    torch.manual_seed(scale)
    model = restorer('rep_resnet', scale=scale, n_blocks=2, nf=16).eval()
    with torch.no_grad():
        for p in model.parameters(): p.copy_(torch.randn_like(p) * 0.05)  # the untrained net is bicubic: too easy
    x = torch.rand(2, 3, 19, 26)
    with torch.no_grad(): want = model(x)
    assert want.shape == (2, 3, 19 * scale, 26 * scale)
    assert (want - F.interpolate(x, scale_factor=scale)).abs().max() > 0.1
    save_model(model, tmp_path/'model.pth')
    plain, wide = load_restorer(tmp_path/'model.pth', device='cpu'), load_restorer(tmp_path/'model.pth', folded=False)
    assert not any(isinstance(m, RepConv) for m in plain.modules()) and plain.card.folded
    assert sum(isinstance(m, RepConv) for m in wide.modules()) == 2 * 2 + 2  # head, two per block, the body's last
    plain_params = sum(p.numel() for p in plain.parameters())
    assert plain_params == sum(p.numel() for p in restorer('sr_resnet', scale=scale, n_blocks=2, nf=16).parameters())
    with torch.no_grad(): assert (plain(x) - want).abs().max() < 1e-4 and (wide(x) - want).abs().max() < 1e-6
    save_model(plain, tmp_path/'plain.pth')  # a folded file (what ships) rebuilds as the plain net
    again = load_model(tmp_path/'plain.pth')
    with torch.no_grad(): assert (again(x) - want).abs().max() < 1e-4
    assert sum(p.numel() for p in again.parameters()) == plain_params
