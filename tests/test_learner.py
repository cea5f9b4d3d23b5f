import json, subprocess, sys, time
from pathlib import Path

import pytest
import torch

from superres.data import classification_dls, decoded_dls
from fastai.callback.core import Callback
from superres.learner import (PRECISION_CBS, BF16Autocast, CudnnAutotune, ProgressiveResize, TimeBudget, WeightAverage, classifier_learner, cpu_supports_bf16,
                              load_model, precision_callbacks, save_model, train_classifier)

@pytest.fixture(scope='module')
def dls(tiny_root):
    return classification_dls(tiny_root, classes=4, bs=8, num_workers=0)

def test_learner_overfits_one_batch(dls):
    torch.manual_seed(0)
    learn = classifier_learner(dls, preset='cpu_small', precision='fp32', label_smoothing=0.)
    xb, yb = dls.valid.one_batch()
    learn.model.to(xb.device).train()
    learn.create_opt()
    learn.opt.set_hyper('lr', 3e-3)
    first = None
    for _ in range(60):
        loss = learn.loss_func(learn.model(xb), yb)
        first = first if first is not None else loss.item()
        loss.backward(); learn.opt.step(); learn.opt.zero_grad()
    learn.model.eval()
    assert loss.item() < first / 5
    assert (learn.model(xb).argmax(1) == yb).float().mean() == 1.

def test_learner_defaults(dls):
    learn = classifier_learner(dls, preset='cpu_small')
    assert learn.model.config['vocab'] == list(dls.vocab) and learn.model.config['names'][0] == 'thing0'
    assert learn.model[0].mean.flatten().tolist() == pytest.approx(dls.stats[0])
    assert learn.opt_func.keywords['eps'] == 1e-5
    assert [m.name for m in learn.metrics] == ['accuracy', 'top5_accuracy']

def test_fastai_tta_on_the_decoded_pipeline(tiny_root):
    dls = decoded_dls(tiny_root, classes=3, bs=4, trivial_augment=False, erase=0)
    learn = classifier_learner(dls, preset='cpu_small', precision='fp32')
    plain, targs = learn.get_preds()
    tta, tta_targs = learn.tta()
    assert torch.equal(targs, tta_targs) and tta.shape == plain.shape
    assert not torch.allclose(tta, plain)  # the augmented passes ran: split 0 switched the random transforms on
    assert dls.valid.dataset.split_idx == 1 and torch.equal(learn.get_preds()[0], plain)  # and back off

def test_weight_average_is_validated_and_kept(tiny_root):
    dls = decoded_dls(tiny_root, classes=3, bs=4, trivial_augment=False, erase=0)
    learn = classifier_learner(dls, preset='cpu_small', precision='fp32')
    avg = WeightAverage(0.5)
    learn.fit(1, 1e-2, cbs=[avg])
    final = learn.model.state_dict()
    assert all(torch.equal(final[k], v) for k, v in avg.avg.module.state_dict().items())
    assert not all(torch.equal(final[k], avg.trained[k]) for k in final)  # the average, not the last step's weights
    assert learn.recorder.values[-1][1] == pytest.approx(learn.validate()[0])  # the logged epoch was scored on it too
    with pytest.raises(ValueError, match='initial weights'): WeightAverage(1.)

def test_precision_callbacks():
    with pytest.raises(ValueError, match='CUDA'): precision_callbacks('fp16', device=torch.device('cpu'))
    assert not any(isinstance(c, BF16Autocast) for c in precision_callbacks('fp32', device=torch.device('cpu')))
    auto = precision_callbacks('auto', device=torch.device('cpu'))
    assert any(isinstance(c, BF16Autocast) for c in auto) == cpu_supports_bf16()
    assert not any(isinstance(c, CudnnAutotune) for c in auto)
    tune = [c for c in precision_callbacks('auto', device=torch.device('cuda')) if isinstance(c, CudnnAutotune)]
    assert len(tune) == 1 and not torch.backends.cudnn.benchmark
    tune[0].before_fit(); assert torch.backends.cudnn.benchmark  # the GPU numbers in BENCHMARKS.md were measured so
    tune[0].after_fit(); assert not torch.backends.cudnn.benchmark

def test_bf16_fit_records_float_losses(dls):
    learn = classifier_learner(dls, preset='cpu_small', precision='bf16')
    with learn.no_bar(), learn.no_logging(): learn.fit(1, 1e-3)
    assert all(torch.isfinite(torch.tensor(v[:2])).all() for v in learn.recorder.values)

class Spy(Callback):
    order = 57  # after TimeBudget and ProgressiveResize, like the model sees it
    def before_fit(self): self.pcts, self.sizes = [], []
    def before_batch(self):
        if self.training: self.pcts.append(self.pct_train); self.sizes.append(self.x.shape[-1])

def test_time_budget_fills_the_time_and_schedules_by_it(dls):
    learn = classifier_learner(dls, preset='cpu_small', precision='fp32')
    spy = Spy()
    t0 = time.perf_counter()
    with learn.no_bar(), learn.no_logging(): learn.fit_one_cycle(1000, 1e-3, cbs=[TimeBudget(4), spy])
    took = time.perf_counter() - t0
    assert 2.5 < took < 5 and 1 < len(learn.recorder.values) < 1000  # ends on a whole epoch within the budget
    assert spy.pcts == sorted(spy.pcts) and spy.pcts[-1] > 0.8
    lrs = learn.recorder.lrs
    assert max(lrs) > 10 * lrs[-1]  # one-cycle ran to its end, not cut off at the top

def test_progressive_resize_grows_to_full_size(dls):
    learn = classifier_learner(dls, preset='cpu_small', precision='fp32')
    spy = Spy()
    with learn.no_bar(), learn.no_logging(): learn.fit_one_cycle(4, 1e-3, cbs=[ProgressiveResize(start=32, full_at=0.5), spy])
    assert spy.sizes[0] == 32 and spy.sizes[-1] == 64 and spy.sizes == sorted(spy.sizes)

def test_save_load_model_weights_only(dls, tmp_path):
    learn = classifier_learner(dls, preset='cpu_small')
    f = save_model(learn.model, tmp_path/'m.pth')
    assert set(torch.load(f, weights_only=True)) == {'config', 'state_dict'}
    x = torch.rand(2, 3, 64, 64)
    assert torch.equal(learn.model.eval()(x), load_model(f)(x))

def test_train_export_and_fresh_process_load(tiny_root, tmp_path):
    out = tmp_path/'run'
    learn = train_classifier(out, data=tiny_root, preset='cpu_small', classes=3, epochs=2, bs=4, seed=0, wd=0.05, tta=True)
    assert all(h['wd'] == 0.05 for h in learn.opt.hypers)
    for name in ('model.pth', 'export.pkl', 'history.csv', 'history.png', 'metrics.json'): assert (out/name).is_file()
    rows = (out/'history.csv').read_text().splitlines()
    assert rows[0].startswith('epoch,train_loss,valid_loss,accuracy') and len(rows) == 3
    metrics = json.loads((out/'metrics.json').read_text())
    assert metrics['epochs'] == 2 and 0 <= metrics['tta_accuracy'] <= 1
    assert not list(out.glob('.*'))  # no temporary files left behind
    files = learn.dls.tin.val_files()
    dl = learn.dls.test_dl(files)
    learn.remove_cbs([cb for cb in learn.cbs if isinstance(cb, PRECISION_CBS)])  # exports predict in fp32
    here = learn.get_preds(dl=dl)[0]
    cuda = learn.dls.device.type == 'cuda'  # then both predict on the GPU, with the same kernels up to cudnn's choice
    code = (f'import torch; from fastai.learner import load_learner; l = load_learner({str(out/"export.pkl")!r}, cpu={not cuda}); '
            f'p = l.get_preds(dl=l.dls.test_dl({[str(f) for f in files]!r}))[0]; torch.save(p, {str(tmp_path/"p.pt")!r})')
    r = subprocess.run([sys.executable, '-c', code], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr[-3000:]
    there = torch.load(tmp_path/'p.pt')
    if cuda: torch.testing.assert_close(here, there, rtol=1e-2, atol=2e-3)  # cuDNN may pick other (TF32) kernels there
    else:
        assert torch.equal(here.argmax(1), there.argmax(1))
        torch.testing.assert_close(here, there, rtol=1e-5, atol=1e-6)
