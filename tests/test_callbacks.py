"""Training callbacks: precision, weight averaging, the clock-driven time budget, progressive resizing."""
import re
from dataclasses import replace
from types import SimpleNamespace

import pytest
import torch
from fastai.callback.core import Callback
from fastai.data.core import DataLoaders
from fastai.learner import Learner

from superres import callbacks
from superres.callbacks import (
    BF16Autocast,
    CudnnAutotune,
    EpochLabel,
    ProgressiveResize,
    TimeBudget,
    WeightAverage,
    precision_callbacks,
)
from superres.data import classification_dls, decoded_dls
from superres.errors import UsageError
from superres.learner import classifier_learner
from superres.precision import cpu_supports_bf16


@pytest.fixture(scope='module')
def dls(tiny_root):
    return classification_dls(tiny_root, classes=4, bs=8, num_workers=0)

def test_weight_average_is_validated_and_kept(tiny_root):
    dls = decoded_dls(tiny_root, classes=3, bs=4, trivial_augment=False, erase=0)
    learn = classifier_learner(dls, preset='cpu_small', precision='fp32')
    avg = WeightAverage(0.5)
    learn.fit(1, 1e-2, cbs=[avg])
    final = learn.model.state_dict()
    assert all(torch.equal(final[k], v) for k, v in avg.avg.module.state_dict().items())
    assert not all(torch.equal(final[k], avg.trained[k]) for k in final)  # the average, not the last step's weights
    assert learn.recorder.values[-1][1] == pytest.approx(learn.validate()[0])  # the logged epoch was scored on it too
    with pytest.raises(UsageError, match='initial weights'): WeightAverage(1.)

def test_precision_callbacks():
    with pytest.raises(UsageError, match='CUDA'): precision_callbacks('fp16', device=torch.device('cpu'))
    assert not any(isinstance(c, BF16Autocast) for c in precision_callbacks('fp32', device=torch.device('cpu')))
    auto = precision_callbacks('auto', device=torch.device('cpu'))
    assert any(isinstance(c, BF16Autocast) for c in auto) == cpu_supports_bf16()
    assert not any(isinstance(c, CudnnAutotune) for c in auto)
    tune = [c for c in precision_callbacks('auto', device=torch.device('cuda')) if isinstance(c, CudnnAutotune)]
    assert len(tune) == 1 and not torch.backends.cudnn.benchmark
    tune[0].before_fit(); assert torch.backends.cudnn.benchmark  # the GPU numbers in BENCHMARKS.md were measured so
    tune[0].after_fit(); assert not torch.backends.cudnn.benchmark

class Spy(Callback):
    order = 57  # after TimeBudget and ProgressiveResize, like the model sees it
    def before_fit(self): self.pcts, self.sizes = [], []
    def before_batch(self):
        if self.training: self.pcts.append(self.pct_train); self.sizes.append(self.x.shape[-1])

class FakeClock(Callback):
    "A clock for `superres.callbacks` that advances one second per training batch, before TimeBudget reads it."
    order = 54
    def __init__(self): self.now = 100.
    def perf_counter(self): return self.now
    def before_batch(self):
        if self.training: self.now += 1.

@pytest.mark.parametrize('budget,epochs', [(10, 3), (2, 1)])  # 3 batches (seconds) an epoch: 3 whole epochs fit in 10 s
def test_time_budget_ends_on_a_whole_epoch_and_schedules_by_its_clock(dls, monkeypatch, budget, epochs):
    clock, spy = FakeClock(), Spy()
    monkeypatch.setattr(callbacks, 'time', SimpleNamespace(perf_counter=clock.perf_counter))
    learn = classifier_learner(dls, preset='cpu_small', precision='fp32')
    assert len(dls.train) == 3
    with learn.no_bar(), learn.no_logging(): learn.fit_one_cycle(1000, 1e-3, cbs=[clock, TimeBudget(budget), spy])
    assert len(learn.recorder.values) == epochs and len(spy.pcts) == 3 * epochs  # whole epochs only, then it stops
    assert clock.now - 100 == 3 * epochs <= max(budget, 3)  # within the budget (or the one epoch it must run)
    # pct_train is the elapsed share of the time the whole epochs that fit will take, re-planned after each epoch
    want = [0.1, 0.2, 0.3, 4/9, 5/9, 6/9, 7/9, 8/9, 1.] if budget == 10 else [0.5, 1., 1.]
    assert spy.pcts == pytest.approx(want)
    lrs = learn.recorder.lrs
    assert lrs[-1] == pytest.approx(1e-3 / 1e5, rel=1e-3)  # one-cycle reached its very end, not cut off part-way
    assert max(lrs) > 100 * lrs[-1]

def test_progressive_resize_grows_to_full_size(dls):
    learn = classifier_learner(dls, preset='cpu_small', precision='fp32')
    spy = Spy()
    with learn.no_bar(), learn.no_logging():
        learn.fit_one_cycle(4, 1e-3, cbs=[ProgressiveResize(start=32, full_at=0.5), spy])
    assert spy.sizes[0] == 32 and spy.sizes[-1] == 64 and spy.sizes == sorted(spy.sizes)

def test_a_resumed_run_keeps_averaging_from_the_checkpoint(tiny_root, tmp_path, monkeypatch):
    "The weight average is saved with each checkpoint: a run resumed across sessions does not restart its average."
    from superres.configs import ClassifierData, ScheduleConfig
    from superres.recipes import train_classifier
    data = ClassifierData(tiny_root, classes=3, bs=4, trivial_augment=False, erase=0)
    args = dict(out=tmp_path/'run', data=data, schedule=ScheduleConfig(epochs=2, ema=0.9, precision='fp32', seed=0))
    save = callbacks.Checkpoint.after_epoch
    def stop_after_first(self):
        save(self)
        raise KeyboardInterrupt
    monkeypatch.setattr(callbacks.Checkpoint, 'after_epoch', stop_after_first)
    with pytest.raises(KeyboardInterrupt): train_classifier(**args)
    saved = torch.load(tmp_path/'run'/'checkpoint.pth', weights_only=True)
    assert saved['epoch'] == 1 and saved['average']['n_averaged'] > 0
    monkeypatch.setattr(callbacks.Checkpoint, 'after_epoch', save)
    started = {}
    before_fit = WeightAverage.before_fit
    def spy(self):
        before_fit(self)
        started.update({k: v.clone() for k, v in self.avg.state_dict().items()})
    monkeypatch.setattr(WeightAverage, 'before_fit', spy)
    train_classifier(**dict(args, schedule=replace(args['schedule'], resume=True)))
    assert all(torch.equal(started[k], v) for k, v in saved['average'].items())

def test_a_resumed_fit_labels_each_epoch_it_trains(capsys):
    "fastprogress times its label throttle on the skipped epochs: without EpochLabel it stays at `Epoch 6/10`."
    x = torch.randn(32, 2)
    dls = DataLoaders.from_dsets(list(zip(x, x.sum(1, keepdim=True))), list(zip(x, x.sum(1, keepdim=True))), bs=8)
    learn = Learner(dls, torch.nn.Linear(2, 1), loss_func=torch.nn.functional.mse_loss)
    learn.fit_one_cycle(10, start_epoch=7, cbs=EpochLabel())
    labels = set(re.findall(r'Epoch (\d+)/10', capsys.readouterr().out))
    assert labels == {'8', '9', '10'}
