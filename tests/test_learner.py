"""Learner factories: the classifier learner learns and has its defaults; the restoration learner freezes its encoder
and exports light."""
import pytest
import torch
from fastai.learner import load_learner
from torch import nn

from superres.data import classification_dls, decoded_dls, sr_dls
from superres.hub import load_restorer, save_model
from superres.learner import classifier_learner, export_learner, restoration_learner
from superres.losses import FeatureLoss
from superres.models import classifier


@pytest.fixture(scope='module')
def dls(tiny_root):
    return classification_dls(tiny_root, classes=4, bs=8, num_workers=0)

def test_learner_overfits_one_batch(dls):
    torch.manual_seed(0)
    learn = classifier_learner(dls, preset='cpu_small', precision='fp32', label_smoothing=0.)
    xb, yb = dls.valid.one_batch()
    learn.model.to(xb.device).train()
    learn.create_opt()
    learn.opt.set_hyper('lr', 3e-3)
    first = None
    for _ in range(60):
        loss = learn.loss_func(learn.model(xb), yb)
        first = first if first is not None else loss.item()
        loss.backward(); learn.opt.step(); learn.opt.zero_grad()
    learn.model.eval()
    assert loss.item() < first / 5
    assert (learn.model(xb).argmax(1) == yb).float().mean() == 1.

def test_learner_defaults(dls):
    learn = classifier_learner(dls, preset='cpu_small')
    assert learn.model.card.vocab == tuple(dls.vocab) and learn.model.card.names[0] == 'thing0'
    assert learn.model[0].mean.flatten().tolist() == pytest.approx(dls.stats[0])
    assert learn.opt_func.keywords['eps'] == 1e-5
    assert [m.name for m in learn.metrics] == ['accuracy', 'top5_accuracy']

def test_fastai_tta_on_the_decoded_pipeline(tiny_root):
    dls = decoded_dls(tiny_root, classes=3, bs=4, trivial_augment=False, erase=0)
    learn = classifier_learner(dls, preset='cpu_small', precision='fp32')
    plain, targs = learn.get_preds()
    tta, tta_targs = learn.tta()
    assert torch.equal(targs, tta_targs) and tta.shape == plain.shape
    assert not torch.allclose(tta, plain)  # the augmented passes ran: split 0 switched the random transforms on
    assert dls.valid.dataset.split_idx == 1 and torch.equal(learn.get_preds()[0], plain)  # and back off

def test_bf16_fit_records_float_losses(dls):
    learn = classifier_learner(dls, preset='cpu_small', precision='bf16')
    with learn.no_bar(), learn.no_logging(): learn.fit(1, 1e-3)
    assert all(torch.isfinite(torch.tensor(v[:2])).all() for v in learn.recorder.values)

def test_learner_freeze_freezes_exactly_the_encoder(tiny_root):
    dls = sr_dls(tiny_root, classes=3, bs=4, num_workers=0)
    clf = classifier('cpu_small', n_out=3)
    learn = restoration_learner(dls, classifier_model=clf)
    learn.freeze()
    bn = lambda m: isinstance(m, nn.modules.batchnorm._BatchNorm)
    enc_convs = [p for m in learn.model.encoder.modules() if not bn(m) for p in m.parameters(recurse=False)]
    assert enc_convs and not any(p.requires_grad for p in enc_convs)
    enc = {id(p) for p in learn.model.encoder.parameters()}
    assert all(p.requires_grad for p in learn.model.parameters() if id(p) not in enc)
    learn.unfreeze()
    assert all(p.requires_grad for p in learn.model.parameters())

def test_perceptual_learner_exports_light_and_loads(tiny_root, tmp_path):
    dls = sr_dls(tiny_root, classes=3, bs=4, num_workers=0)
    clf = classifier('cpu_small', n_out=3)
    learn = restoration_learner(dls, loss='perceptual', classifier_model=clf, feature_layers=(3,), precision='fp32')
    with learn.no_bar(), learn.no_logging(): learn.fit(1, 1e-3)
    export_learner(learn, tmp_path/'e.pkl')
    assert isinstance(learn.loss_func, FeatureLoss)
    loaded = load_learner(tmp_path/'e.pkl')
    assert not isinstance(loaded.loss_func, FeatureLoss)
    x, model = torch.rand(1, 3, 64, 64), learn.model.cpu().eval()  # compared on the CPU, where load_learner puts models
    assert torch.allclose(loaded.model.eval()(x), model(x), atol=1e-5)
    save_model(model, tmp_path/'m.pth')
    assert torch.allclose(load_restorer(tmp_path/'m.pth', device='cpu')(x), model(x), atol=1e-5)
