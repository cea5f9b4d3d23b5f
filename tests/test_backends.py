"""Backends: OpenVINO gives PyTorch's output (every shipped model, a UNet at sizes off its stride, Set5's PSNR), `auto`
picks it only on a CPU where it is installed, a model it cannot take runs in PyTorch with one note, and a conversion is
kept by its SHA-256."""
import json

import numpy as np
import pytest
import torch
from conftest import noise, randomised, sr_bench
from matplotlib import cbook
from PIL import Image

from superres import backends
from superres.backends import OpenVinoModel, resolve_backend, with_backend
from superres.card import ModelCard
from superres.cli import main
from superres.errors import UsageError
from superres.evaluate import evaluate_sr
from superres.export import onnx_proto
from superres.hub import load_restorer, save_model
from superres.inference import upscale_image
from superres.models import restorer
from superres.precision import cpu_supports_bf16, inference_precision

openvino = pytest.mark.skipif(not backends.openvino_installed(), reason='needs the superres[openvino] extra')
# bf16 where this CPU runs it natively; elsewhere OpenVINO runs fp32 for it while PyTorch emulates bf16
PRECISIONS = ['fp32'] + (['bf16'] if cpu_supports_bf16() else [])

def test_auto_picks_openvino_only_on_a_cpu_where_it_is_installed(monkeypatch):
    model = restorer().eval()
    monkeypatch.setattr(backends, 'openvino_installed', lambda: False)
    assert resolve_backend('auto', 'cpu') == 'torch' and with_backend(model) == (model, [])
    with pytest.raises(UsageError, match=r'pip install "superres\[openvino\]"'): resolve_backend('openvino')
    monkeypatch.setattr(backends, 'openvino_installed', lambda: True)
    assert resolve_backend('auto', 'cpu') == 'openvino' and resolve_backend('torch', 'cpu') == 'torch'
    assert resolve_backend('auto', 'cuda') == 'torch'  # always PyTorch on a GPU
    on_gpu = restorer().to('meta')  # a model on another device than the CPU, as `auto` sees one on a GPU
    assert with_backend(on_gpu) == (on_gpu, [])
    with pytest.raises(UsageError, match='backend must be one of auto, torch, openvino'): resolve_backend('onnx')

@openvino
def test_auto_runs_a_cpu_model_by_openvino():
    model, notes = with_backend(restorer('sr_resnet', n_blocks=1).eval())
    assert isinstance(model, OpenVinoModel) and notes == []

@openvino
def test_every_model_shares_the_one_openvino_core(monkeypatch):
    "A new ov.Core() per model crashed the test process after ~150 tests (exit 139): one Core, however many models."
    import openvino as ov
    made = []
    class CountedCore(ov.Core):
        def __init__(self): super().__init__(); made.append(self)
    monkeypatch.setattr(ov, 'Core', CountedCore)
    backends._core.cache_clear()
    try:
        models = [with_backend(restorer('sr_resnet', n_blocks=n).eval())[0] for n in (1, 2, 1)]
        for m in models: m(torch.rand(1, 3, 8, 8)); m.compiled_for('fp32')
        assert all(isinstance(m, OpenVinoModel) for m in models) and len(made) == 1
    finally: backends._core.cache_clear()  # the next test's Core is a plain one again

MODELS = {'shipped x2': lambda: load_restorer(device='cpu', scale=2),
          'shipped x4': lambda: load_restorer(device='cpu', scale=4),
          'shipped real': lambda: load_restorer('real', device='cpu'),
          'random tiny_unet': lambda: randomised(restorer('tiny_unet'))}

def photo():
    "A real photo's crop of odd size."
    with Image.open(cbook.get_sample_data('grace_hopper.jpg', asfileobj=False)) as im:
        return im.convert('RGB').crop((150, 100, 247, 173))

@openvino
@pytest.mark.parametrize('name', MODELS)
def test_openvino_gives_pytorchs_output(name):
    model = MODELS[name]()
    compiled, notes = with_backend(model, 'openvino', 'fp32')
    assert isinstance(compiled, OpenVinoModel) and notes == [] and list(compiled.compiled) == ['fp32']
    for shape in ((1, 3, 37, 50), (2, 3, 45, 61)):  # not multiples of the UNet's stride (8)
        x = torch.rand(shape)
        with torch.inference_mode(): want, got = model(x), compiled(x)
        assert got.shape == want.shape and (got - want).abs().max() < 1e-4, shape  # measured: under 1e-6
    for precision in PRECISIONS:
        with inference_precision(precision):
            want, got = (np.asarray(upscale_image(m, photo())[0], dtype=int) for m in (model, compiled))
            in_precision = compiled(x)
        assert np.abs(want - got).max() <= {'fp32': 1, 'bf16': 2}[precision], precision  # measured: 1 and 2
        assert torch.equal(in_precision, compiled(x)) == (precision == 'fp32')  # compiled for bf16 where asked
    assert sorted(compiled.compiled) == sorted(PRECISIONS)  # each compiled on first use

class DataDependent(torch.nn.Module):
    "A network the exporter cannot trace: the branch it takes depends on its input's values."
    card = ModelCard.from_config({'kind': 'restorer', 'arch': 'data_dependent', 'task': 'denoise'})
    def forward(self, x): return x * 2 if x.mean() > 0.5 else x

@openvino
def test_a_model_openvino_cannot_take_runs_in_pytorch_with_one_note():
    model = DataDependent()
    run, notes = with_backend(model, 'openvino')
    assert run is model and len(notes) == 1, notes
    assert notes[0].startswith('OpenVINO could not convert this model, so PyTorch runs it (TorchExportError: ')
    with pytest.raises(UsageError, match='fp16 needs a CUDA GPU'): with_backend(model, 'openvino', 'fp16')  # the user's

def cannot_export(model): raise RuntimeError('no exporter today')

@openvino
def test_converted_once_and_kept_by_sha256_else_in_memory(tmp_path, monkeypatch):
    monkeypatch.setenv('SUPERRES_CACHE', str(tmp_path/'cache'))
    model = randomised(restorer('sr_resnet', n_blocks=2))
    first, _ = with_backend(model, 'openvino')
    [kept] = (tmp_path/'cache'/'openvino').iterdir()  # one folder, named by the SHA-256, and no partial one
    assert len(kept.name) == 64 and sorted(p.name for p in kept.iterdir()) == ['model.bin', 'model.xml']
    monkeypatch.setattr(backends, 'onnx_proto', cannot_export)  # from here on, nothing can be exported
    again, notes = with_backend(model, 'openvino')
    x = torch.rand(1, 3, 20, 30)
    assert isinstance(again, OpenVinoModel) and notes == [] and torch.equal(again(x), first(x))
    other = randomised(restorer('sr_resnet', n_blocks=2), seed=1)
    assert with_backend(other, 'openvino')[0] is other  # other weights, another key: it had to be exported
    monkeypatch.setattr(backends, 'onnx_proto', onnx_proto)
    (tmp_path/'file').write_text('')
    monkeypatch.setenv('SUPERRES_CACHE', str(tmp_path/'file'/'cache'))  # a cache that cannot be written
    in_memory, notes = with_backend(other, 'openvino')
    assert isinstance(in_memory, OpenVinoModel) and notes == [] and not (tmp_path/'file').is_dir()
    assert not torch.equal(in_memory.state_dict()['digest'], first.state_dict()['digest'])  # a run's fingerprint

@openvino
def test_cli_backends_give_the_same_pixels_and_a_failure_is_one_note(tmp_path, monkeypatch, capsys):
    save_model(randomised(restorer('sr_resnet', n_blocks=2)), tmp_path/'model.pth')
    (tmp_path/'in').mkdir()
    for i in range(2): noise(41, 29, i).save(tmp_path/'in'/f'{i}.png')
    def upscale(backend, *more):
        return main(['upscale', tmp_path/'in', '--model', tmp_path, '--backend', backend, '-o', tmp_path/backend,
                     *more])
    scores = {}
    for backend in ('torch', 'openvino'):
        assert upscale(backend, '--precision', 'fp32') == 0
        assert main(['evaluate', '--hr-dir', tmp_path/'in', '--model', tmp_path, '--backend', backend, '--json',
                     tmp_path/f'{backend}.json']) == 0
        scores[backend] = json.loads((tmp_path/f'{backend}.json').read_text())['mean']['model_psnr']
    pixels = [np.asarray(Image.open(tmp_path/b/'0.png'), dtype=int) for b in ('torch', 'openvino')]
    assert np.abs(pixels[0] - pixels[1]).max() <= 1 and abs(scores['torch'] - scores['openvino']) < 0.01
    monkeypatch.setattr(backends, 'onnx_proto', cannot_export)
    monkeypatch.setenv('SUPERRES_CACHE', str(tmp_path/'new-cache'))  # not converted yet: it must export
    capsys.readouterr()
    assert upscale('openvino', '--overwrite') == 0
    out, err = capsys.readouterr()
    assert err.count('note: OpenVINO could not convert') == 1 and 'RuntimeError: no exporter today' in err
    assert '2 images: 2 written' in out

@openvino
@pytest.mark.real_data
@pytest.mark.parametrize('precision', PRECISIONS)
def test_openvino_keeps_set5_psnr(precision):
    model = load_restorer(device='cpu')
    psnr = [evaluate_sr(sr_bench('Set5'), 2, m, baselines=(), precision=precision, progress=False)['mean']['model_psnr']
            for m in (model, with_backend(model, 'openvino')[0])]
    assert abs(psnr[0] - psnr[1]) < 0.01, psnr  # measured: see BENCHMARKS.md, "OpenVINO"
