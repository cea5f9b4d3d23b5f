import pytest
import fastai.callback.hook  # noqa: F401 (patches Learner.summary)
import torch
from torch import nn

from superres.models import (PRESETS, GeneralRelu, Normalizer, ResBlock, classifier, classifier_config,
                             classifier_from_config, res_blocks)

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

def test_config_roundtrip_and_errors():
    m = classifier('cpu_small', n_out=7, mean=(0.1, 0.2, 0.3))
    m2 = classifier_from_config(m.config)
    m2.load_state_dict(m.state_dict())
    x = torch.rand(2, 3, 64, 64)
    assert torch.equal(m.eval()(x), m2.eval()(x))
    assert m[0].mean.flatten().tolist() == pytest.approx([0.1, 0.2, 0.3])
    with pytest.raises(ValueError, match='unknown preset'): classifier_config('nope')
    with pytest.raises(ValueError, match='nbks'): classifier_config('cpu', nbks=(1, 1))

def test_summary_works():
    from fastai.learner import Learner
    from fastai.data.core import DataLoaders
    from fastai.vision.core import TensorImage
    from fastai.torch_core import TensorCategory
    ds = [(TensorImage(torch.rand(3, 64, 64)), TensorCategory(0))] * 4
    learn = Learner(DataLoaders.from_dsets(ds, ds, bs=2), classifier('step1', n_out=2), loss_func=nn.CrossEntropyLoss())
    s = learn.summary()
    assert 'Total params' in s and 'Conv2d' in s
