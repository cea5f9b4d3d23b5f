"""On the real Tiny ImageNet (CI points SUPERRES_DATA at it): a short training run learns."""
import json

from conftest import real_data
from superres.learner import train_classifier

def test_short_training_beats_chance(tmp_path):
    data = real_data()
    learn = train_classifier(tmp_path/'run', data=data, preset='cpu_small', classes=10, per_class=150, epochs=3,
                             bs=64, lr=3e-3, pipeline='decoded', seed=0)
    acc = json.loads((tmp_path/'run'/'metrics.json').read_text())['accuracy']
    assert len(learn.dls.valid.dataset) == 500
    assert acc > 0.25, f'accuracy {acc:.3f} is barely above chance (0.10)'
