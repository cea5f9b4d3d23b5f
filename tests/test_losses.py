"""Restoration losses: the perceptual loss's gradients, its feature layer, and the classifier's input contract."""
import numpy as np
import pytest
import torch

from superres.errors import ContractError, UsageError
from superres.losses import FeatureLoss, default_feature_layers
from superres.models import classifier


def images(n=6, seed=0, size=64):
    return torch.from_numpy(np.random.default_rng(seed).random((n, 3, size, size), dtype=np.float32))

def test_feature_loss_gradients_and_contract():
    torch.manual_seed(0)
    clf = classifier('cpu_small', n_out=5).eval()
    loss = FeatureLoss(clf, layer_ids=(2, 3), layer_wgts=(0.1, 0.1))
    targ = torch.rand(2, 3, 32, 32)
    pred = targ.clone().requires_grad_()
    assert loss(pred, targ).item() == pytest.approx(0, abs=1e-7)
    pred = (targ + 0.1 * torch.randn_like(targ)).requires_grad_()
    l = loss(pred, targ)
    l.backward()
    assert l > torch.nn.functional.mse_loss(pred, targ) and pred.grad.abs().sum() > 0
    assert all(p.grad is None for p in loss.net.parameters())
    with torch.no_grad():  # the classifier sees [0,1] images and normalises them itself
        assert torch.equal(loss.features(targ)[0], clf[:3](targ))
    with pytest.raises(UsageError, match='outside'): FeatureLoss(clf, layer_ids=(len(clf) - 1,))

@pytest.mark.parametrize('device', ['cpu', 'meta'])  # meta: a classifier on another device than the CPU, as on a GPU
def test_default_feature_layer_is_the_deepest_with_8x8_features(device):
    clf = classifier('step2').to(device)
    (layer,) = default_feature_layers(clf)
    x = torch.zeros(1, 3, 64, 64, device=device)
    assert clf[:layer + 1](x).shape[-1] == 8 and clf[:layer + 2](x).shape[-1] < 8

def test_perceptual_loss_feeds_the_classifier_through_the_contract(contract_clf):
    loss = FeatureLoss(contract_clf, layer_ids=(2,), layer_wgts=(0.1,))
    x = images(2)
    assert loss(x, x).item() == pytest.approx(0, abs=1e-6)
    with pytest.raises(ContractError, match=r'got values in \[-0\.'): loss(x - 0.5, x - 0.5)
