"""Val accuracy after a fixed CPU wall-clock budget on the first 20 Tiny ImageNet classes:
the reference recipe in plain PyTorch (per-item PIL, step-2 model, fp32) vs superres's CPU recipe.

    python bench/classify_budget.py --data ../shared/data/tiny-imagenet-200.zip --budget 600 [--only superres]
"""
import argparse
import json
import time
from pathlib import Path

import torch
import torchvision.transforms as T
from torch import nn
from torch.utils.data import DataLoader, Dataset

from superres.images import load_rgb
from superres.models import classifier
from superres.tinyimagenet import TinyImageNet, find_tiny_imagenet

REF_MEAN, REF_STD = (0.47565, 0.40303, 0.31555), (0.28858, 0.24402, 0.26615)

class RefDataset(Dataset):
    "The reference's per-item pipeline: PIL decode, pad 4 + crop, flip, to tensor, normalise, random erasing."
    def __init__(self, files, labels, train):
        self.files, self.labels = files, labels
        aug = [T.RandomCrop(64, padding=4), T.RandomHorizontalFlip()] if train else []
        self.tfm = T.Compose(aug + [T.ToTensor(), T.Normalize(REF_MEAN, REF_STD)]
                             + ([T.RandomErasing(0.25)] if train else []))
    def __len__(self): return len(self.files)
    def __getitem__(self, i): return self.tfm(load_rgb(self.files[i])), self.labels[i]

def evaluate(model, dl):
    model.eval(); correct = n = 0
    with torch.inference_mode():
        for x, y in dl: correct += (model(x).argmax(1) == y).sum().item(); n += len(y)
    return correct / n

def run_reference(root, classes, budget, bs=512, lr=3e-2):
    "Plain PyTorch: step-2 model in fp32, AdamW(eps 1e-5), one-cycle sized to the steps that fit the budget."
    torch.manual_seed(0)
    tin = TinyImageNet(root, classes=classes)
    vocab = {w: i for i, w in enumerate(tin.wnids)}
    tr, va = tin.train_files(), tin.val_files()
    dl = DataLoader(RefDataset(tr, [vocab[tin.label(f)] for f in tr], True), bs, shuffle=True, drop_last=True,
                    num_workers=2, persistent_workers=True)
    vdl = DataLoader(RefDataset(va, [vocab[tin.label(f)] for f in va], False), bs, num_workers=2)
    model = nn.Sequential(*list(classifier('step2', n_out=classes))[1:])  # the reference normalises in the data
    opt = torch.optim.AdamW(model.parameters(), lr, eps=1e-5)
    loss_fn = nn.CrossEntropyLoss()
    start = time.perf_counter(); steps = seen = 0; sched = None; step_times = []
    while True:
        for x, y in dl:
            t0 = time.perf_counter()
            model.train(); loss = loss_fn(model(x), y); loss.backward(); opt.step(); opt.zero_grad()
            if sched: sched.step()
            steps += 1; seen += len(y); step_times.append(time.perf_counter() - t0)
            if steps == 2:  # size the one-cycle schedule from the measured step time (eval time allowed for)
                per = step_times[-1]
                total = max(3, int((budget - (time.perf_counter() - start) - 0.15 * budget) / per) + steps)
                sched = torch.optim.lr_scheduler.OneCycleLR(opt, lr, total_steps=total - 2 + 1)
            if sched and steps >= total: break
        else: continue
        break
    acc = evaluate(model, vdl)
    return dict(name='reference (plain PyTorch, step2, fp32, per-item PIL)', val_acc=acc, steps=steps,
                epochs=seen/len(tr), train_imgs_per_s=seen/sum(step_times), wall_s=time.perf_counter() - start)

CPU_RECIPE = ['--preset', 'cpu', '--bs', '128', '--lr', '6e-3', '--label-smoothing', '0.2', '--no-trivial-augment',
              '--erase', '0', '--progressive', '--tta', '--seed', '0']

def run_superres(data, classes, budget, out, extra=()):
    "superres's CPU recipe, run through its own CLI in this process: the printed command is exactly what ran."
    from superres.cli import main
    args = ['classify', 'train', '--data', str(data), '--classes', str(classes), '--budget', str(budget), *CPU_RECIPE,
            *extra, '--out', str(out)]
    start = time.perf_counter()
    main(args)
    wall = time.perf_counter() - start
    m = json.loads((Path(out)/'metrics.json').read_text())
    return dict(name='superres CPU recipe (fastai, cpu preset, bf16 + channels-last, decoded pipeline)',
                val_acc=m['accuracy'], tta_val_acc=m.get('tta_accuracy'), top5=m['top5_accuracy'], epochs=m['epochs'],
                train_imgs_per_s=m['train_imgs_per_s'], wall_s=wall,
                command='superres ' + ' '.join(args))

if __name__ == '__main__':
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument('--data'); p.add_argument('--budget', type=float, default=600)
    p.add_argument('--classes', type=int, default=20)
    p.add_argument('--only', choices=['reference', 'superres']); p.add_argument('--out', default='runs/bench-classify')
    p.add_argument('--extra', default='',
                   help='more `classify train` options for the superres side, e.g. "--progressive"')
    a = p.parse_args()
    root = find_tiny_imagenet(a.data)
    torch.set_num_threads(torch.get_num_threads())
    rows = []
    if a.only != 'reference':
        rows.append(run_superres(a.data or root, a.classes, a.budget, a.out, a.extra.split()))
        print(json.dumps(rows[-1]), flush=True)
    if a.only != 'superres':
        rows.append(run_reference(root, a.classes, a.budget))
        print(json.dumps(rows[-1]), flush=True)
    if len(rows) == 2:
        print(f"accuracy ratio superres/reference: {rows[0]['val_acc']/max(rows[1]['val_acc'],1e-9):.2f}; "
              f"throughput ratio: {rows[0]['train_imgs_per_s']/rows[1]['train_imgs_per_s']:.2f}")
