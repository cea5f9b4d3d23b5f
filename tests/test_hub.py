"""Model files: weights and config without pickle, old files still load, and a model file never runs hidden code."""
import pickle

import pytest
import torch
from conftest import run_cli as run

from superres.data import classification_dls
from superres.errors import ModelError, UsageError
from superres.hub import load_any, load_classifier, load_model, load_restorer, save_model
from superres.learner import classifier_learner
from superres.models import classifier, restorer
from superres.recipes import train_classifier


def test_save_load_model_weights_only(tiny_root, tmp_path):
    learn = classifier_learner(classification_dls(tiny_root, classes=4, bs=8, num_workers=0), preset='cpu_small')
    f = save_model(learn.model, tmp_path/'m.pth')
    assert set(torch.load(f, weights_only=True)) == {'config', 'state_dict'}
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
    error, message = (UsageError, '`trust_pickle`') if pkl else (ModelError, 'not a superres model file')
    with pytest.raises(error, match=message): load_restorer(f)
    with pytest.raises(error): load_classifier(tmp_path)  # a run folder resolves to the same file
    assert not marker.exists()
    r = run('upscale', tmp_path/'missing.png', '-o', tmp_path/'out', '--model', f)
    assert r.returncode == 2 and not marker.exists()

def test_trusted_pickle_loads_only_when_asked(tiny_root, tmp_path):
    learn = train_classifier(tmp_path/'run', data=tiny_root, preset='cpu_small', classes=3, epochs=1, bs=8,
                             precision='fp32')
    (tmp_path/'run'/'model.pth').unlink()  # only the pickled export is left
    with pytest.raises(UsageError, match='pickled learner'): load_any(tmp_path/'run')
    model = load_any(tmp_path/'run', trust_pickle=True)
    x = torch.rand(2, 3, 64, 64)
    assert torch.allclose(model(x), learn.model.eval()(x), atol=1e-5)
