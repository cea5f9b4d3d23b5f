"""Model files: weights and config without pickle, old files still load, a model file never runs hidden code, and a
damaged one (truncated, bit-flipped, wrong architecture or scale; weights or ONNX) is refused in one line."""
import pickle

import pytest
import torch
from conftest import noise
from conftest import run_cli as run

from superres.configs import ClassifierData, ScheduleConfig
from superres.data import classification_dls
from superres.errors import ModelError, UsageError
from superres.hub import load_any, load_classifier, load_model, load_restorer, save_model
from superres.learner import classifier_learner
from superres.models import classifier, restorer
from superres.recipes import train_classifier


def test_save_load_model_weights_only(tiny_root, tmp_path):
    learn = classifier_learner(classification_dls(tiny_root, classes=4, bs=8, num_workers=0), preset='cpu_small')
    f = save_model(learn.model, tmp_path/'m.pth')
    assert set(torch.load(f, weights_only=True)) == {'config', 'state_dict', 'sha256'}
    x = torch.rand(2, 3, 64, 64)
    assert torch.equal(learn.model.eval()(x), load_model(f)(x))

@pytest.mark.parametrize('make', [lambda: classifier('cpu_small', n_out=3), lambda: restorer(),
                                  lambda: restorer('sr_resnet', n_blocks=1)],
                         ids=['classifier', 'tiny_unet', 'sr_resnet'])
def test_files_saved_before_configs_named_their_kind_still_load(make, tmp_path):
    model = make().eval()
    kind = model.config.pop('kind')  # the old format: the same file without `kind`
    save_model(model, tmp_path/'old.pth')
    assert 'kind' not in torch.load(tmp_path/'old.pth', weights_only=True)['config']
    loaded = load_model(tmp_path/'old.pth')
    assert type(loaded) is type(model) and loaded.config.get('kind', kind) == kind
    x = torch.rand(1, 3, 32, 32)
    with torch.no_grad(): assert torch.equal(loaded(x), model(x))
    load = load_classifier if kind == 'classifier' else lambda f: load_restorer(f, device='cpu')
    assert type(load(tmp_path/'old.pth')) is type(model)  # and it is still told apart from the other kind

class Payload:
    "Unpickling this runs a command: what an untrusted model file can do."
    def __init__(self, marker): self.marker = marker
    def __reduce__(self): return (eval, (f"__import__('pathlib').Path({str(self.marker)!r}).write_text('pwned')",))

@pytest.mark.parametrize('name', ['export.pkl', 'model.pth'])
def test_malicious_model_file_is_refused_and_never_runs(tmp_path, name):
    marker = tmp_path/'marker'
    f = tmp_path/name
    if name.endswith('.pkl'): f.write_bytes(pickle.dumps(Payload(marker)))
    else: torch.save({'config': Payload(marker), 'state_dict': {}}, f)
    pkl = name.endswith('.pkl')
    error, message = (UsageError, '`trust_pickle`') if pkl else (ModelError, 'not a usable superres model file')
    with pytest.raises(error, match=message): load_restorer(f)
    with pytest.raises(error): load_classifier(tmp_path)  # a run folder resolves to the same file
    assert not marker.exists()
    r = run('upscale', tmp_path/'missing.png', '-o', tmp_path/'out', '--model', f)
    assert r.returncode == 2 and not marker.exists()

def test_loading_a_model_draws_no_random_numbers(tmp_path):
    "A net is built with initial weights its file replaces, from a forked RNG: a seeded run's draws stay its own."
    f = save_model(restorer('sr_resnet', nf=8, n_blocks=1).eval(), tmp_path/'model.pth')
    torch.manual_seed(0)
    want = torch.rand(3)
    torch.manual_seed(0)
    load_model(f), load_classifier()
    assert torch.equal(torch.rand(3), want)

def test_trusted_pickle_loads_only_when_asked(tiny_root, tmp_path):
    learn = train_classifier(tmp_path/'run', ClassifierData(tiny_root, classes=3, bs=8),
                             ScheduleConfig(epochs=1, precision='fp32'), preset='cpu_small')
    (tmp_path/'run'/'model.pth').unlink()  # only the pickled export is left
    with pytest.raises(UsageError, match='pickled learner'): load_any(tmp_path/'run')
    model = load_any(tmp_path/'run', trust_pickle=True)
    x = torch.rand(2, 3, 64, 64)
    assert torch.allclose(model(x), learn.model.eval()(x), atol=1e-5)

@pytest.fixture(scope='module')
def model_files(tmp_path_factory):
    "A small LR-space x2 model as weights and as ONNX, and damaged copies of both."
    from superres.export import export_onnx
    from superres.models import restorer
    d = tmp_path_factory.mktemp('damaged')
    torch.manual_seed(0)
    model = restorer('sr_resnet', nf=8, n_blocks=1).eval()
    good = {'pth': save_model(model, d/'model.pth'), 'onnx': export_onnx(model, d/'model.onnx')}
    files = {}
    weights = max(model.state_dict().values(), key=torch.Tensor.numel).numpy().tobytes()  # stored as they are
    for kind, f in good.items():
        data = f.read_bytes()
        files[f'truncated.{kind}'] = data[:len(data) // 2]
        at = data.find(weights)  # a bit of one weight
        flipped = bytearray(data); flipped[at + len(weights) // 2 if at >= 0 else len(data) * 2 // 3] ^= 0x10
        files[f'bitflip.{kind}'] = bytes(flipped)
    saved = torch.load(good['pth'], weights_only=True)
    for name, change in (('wrong_arch', {'arch': 'no_such_arch'}), ('wrong_scale', {'scale': 4})):
        torch.save({**saved, 'config': {**saved['config'], **change}}, d/f'{name}.pth')
    for name, data in files.items(): (d/name).write_bytes(data)
    return d

@pytest.mark.parametrize('name, why', [('truncated.pth', 'not weights saved by superres'),
                                       ('bitflip.pth', 'do not match their checksum'),
                                       ('wrong_arch.pth', "unknown arch 'no_such_arch'"),
                                       ('wrong_scale.pth', 'do not fit the architecture'),
                                       ('truncated.onnx', 'unreadable'),
                                       ('bitflip.onnx', 'does not match its checksum')])
def test_damaged_model_files_are_refused_in_one_line(model_files, tmp_path, capsys, name, why):
    from superres.cli import main
    noise(12, 8).save(tmp_path/'in.png')
    assert main(['upscale', tmp_path/'in.png', '-o', tmp_path/'out', '--model', model_files/name]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith('superres: error: ') and why in err[0], err
    assert 'not a usable superres' in err[0] and not (tmp_path/'out').exists()

def test_shipped_real_models_are_looked_up_by_scale(tmp_path, monkeypatch):
    from superres import hub
    monkeypatch.setattr(hub, 'WEIGHTS', tmp_path)
    with pytest.raises(ModelError, match='no shipped real models'): hub.shipped_named('real')
    for s in (2, 4): (tmp_path/f'real_x{s}.pth').touch()
    assert hub.shipped_scales('real') == [2, 4] and hub.shipped_scales() == []
    assert [hub.shipped_named('real', s).name for s in (None, 2, 3, 4, 8)] == [
        'real_x4.pth', 'real_x2.pth', 'real_x4.pth', 'real_x4.pth', 'real_x4.pth']  # x4 unless asked; larger, resized
    (tmp_path/'real').mkdir()
    monkeypatch.chdir(tmp_path)
    assert hub.shipped_named('real') is None  # a folder of that name is the user's run, not ours
