"""Building blocks: residual blocks, the activation, and the Normalizer that carries a model's input contract."""
import pytest
import torch
from conftest import CONTRACT_MEAN
from torch import nn

from superres.errors import ContractError
from superres.fid import ClassifierFeatures
from superres.hub import load_model, save_model
from superres.layers import GeneralRelu, Normalizer, ResBlock, input_contract, res_blocks
from superres.models import restorer


def test_res_blocks_downsample_in_last_block():
    blocks = res_blocks(3, 8, 16, stride=2)
    x = torch.rand(1, 8, 16, 16)
    shapes = []
    for b in blocks: x = b(x); shapes.append(tuple(x.shape[-2:]))
    assert shapes == [(16, 16), (16, 16), (8, 8)]

def test_preact_block_has_no_final_activation():
    assert isinstance(ResBlock(8, 8, preact=True).act, nn.Identity)
    assert isinstance(ResBlock(8, 8).act, GeneralRelu)
    first = ResBlock(8, 16, preact=True).convs[0]
    assert isinstance(first[0], nn.BatchNorm2d) and isinstance(first[-1], nn.Conv2d)

def test_general_relu():
    x = torch.tensor([-1., 0., 2.])
    assert torch.allclose(GeneralRelu(0.1, 0.4, maxv=1.)(x), torch.tensor([-0.5, -0.4, 1.0]))

def test_normalizer_contract():
    n = Normalizer((0.1, 0.2, 0.3), (0.5, 0.5, 0.5))
    x = torch.rand(2, 3, 4, 4)
    assert torch.allclose(n.decode(n(x)), x, atol=1e-6)
    assert set(dict(n.named_buffers())) == {'mean', 'std'}

def test_contract_survives_save_load_and_reaches_unets(contract_clf, tmp_path):
    clf = contract_clf
    save_model(clf, tmp_path/'c.pth')
    loaded = input_contract(load_model(tmp_path/'c.pth'))
    assert torch.allclose(loaded.mean.flatten(), torch.tensor(CONTRACT_MEAN)) and loaded.input_range == (0., 1.)
    unet = restorer(classifier_model=clf)
    save_model(unet, tmp_path/'u.pth')
    assert torch.equal(input_contract(load_model(tmp_path/'u.pth')).std, clf[0].std)
    with pytest.raises(ContractError, match='not a superres classifier'): ClassifierFeatures(unet)
    with pytest.raises(ContractError, match='no input contract'): input_contract(torch.nn.Conv2d(3, 3, 1))
