"""ONNX export: dynamic sizes, the same numbers as PyTorch, and the CLI running the exported file."""
import json

import numpy as np
import pytest
import torch
from conftest import randomised
from PIL import Image

from superres.cli import main
from superres.hub import load_any, save_model
from superres.inference import upscale_image
from superres.models import classifier, fold, restorer

pytest.importorskip('onnxruntime')
pytest.importorskip('onnxscript')
from superres.export import export_onnx, load_onnx  # noqa: E402


@pytest.mark.parametrize('make', [lambda: restorer('tiny_unet'), lambda: restorer('sr_resnet', n_blocks=2),
                                  lambda: fold(randomised(restorer('rep_resnet', n_blocks=2))),
                                  lambda: classifier('cpu_small', n_out=7)],
                         ids=['tiny_unet', 'sr_resnet', 'rep_resnet_folded', 'classifier'])
def test_onnx_matches_pytorch_at_any_size(make, tmp_path):
    model = randomised(make())
    onnx_model = load_onnx(export_onnx(model, tmp_path/'m.onnx'))
    assert onnx_model.card.config == json.loads(json.dumps(model.card.config))
    assert (onnx_model.card.kind, onnx_model.card.scale) == (model.card.kind, model.card.scale)
    for shape in ((1, 3, 64, 64), (2, 3, 37, 50), (1, 3, 90, 131)):
        x = torch.rand(shape)
        with torch.no_grad(): want = model(x)
        got = onnx_model(x)
        assert got.shape == want.shape and (got - want).abs().max() < 1e-4, shape

def test_cli_exports_and_upscales_with_the_onnx_file(tmp_path, capsys):
    model = randomised(restorer('sr_resnet', n_blocks=2))
    save_model(model, tmp_path/'model.pth')
    assert main(['export', str(tmp_path), '--onnx', str(tmp_path/'m.onnx')]) == 0
    img = Image.fromarray(np.random.default_rng(0).integers(0, 255, (40, 52, 3), dtype=np.uint8))
    img.save(tmp_path/'in.png')
    assert main(['upscale', str(tmp_path/'in.png'), '--model', str(tmp_path/'m.onnx'), '-o', str(tmp_path/'out'),
                 '--precision', 'fp32']) == 0  # as the PyTorch model below (OpenVINO where installed)
    out = np.asarray(Image.open(tmp_path/'out'/'in.png'), dtype=int)
    want = np.asarray(upscale_image(load_any(tmp_path/'model.pth'), img)[0], dtype=int)
    assert out.shape == (80, 104, 3) and np.abs(out - want).max() <= 1
    assert main(['export', str(tmp_path/'m.onnx'), '--onnx', str(tmp_path/'again.onnx')]) == 2
    assert 'already an ONNX model' in capsys.readouterr().err
