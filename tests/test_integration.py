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

def test_short_sr_training_learns(tmp_path):
    import pandas as pd
    from superres.inference import evaluate_sr, load_restorer
    from superres.learner import train_superres
    from superres.data import find_tiny_imagenet
    data = real_data()
    train_superres(tmp_path/'sr', data=data, loss='l1', classes=20, per_class=50, val_per_class=2, epochs=3, bs=32,
                   lr=3e-3, size=48, erase=False, seed=0)
    hist = pd.read_csv(tmp_path/'sr'/'history.csv')
    assert hist.valid_loss.iloc[-1] < hist.valid_loss.iloc[0] and hist.psnr.iloc[-1] > hist.psnr.iloc[0]
    rows = evaluate_sr(find_tiny_imagenet(data)/'val'/'images', 2, load_restorer(tmp_path/'sr'), limit=100)
    gain = sum(r['model_psnr'] - r['bicubic_psnr'] for r in rows) / len(rows)
    assert gain > -0.5, f'after a short run the model is {gain:.2f} dB from bicubic (it starts equal to it)'
