"""Every restoration task under the same CPU budget on Tiny ImageNet, scored on val against the degraded input and the
task's classic method; writes a show_results grid per task to docs/images/tasks/.

    python bench/tasks_budget.py --data ../shared/data/tiny-imagenet-200.zip --classifier runs/bench-classify-decoded \
        --budget 150 --out runs/bench-tasks
"""
import argparse
import json
import re
import shutil
import time
from pathlib import Path

from superres.configs import FineTuneConfig, RestorerData, RestorerLoss, RestorerNet
from superres.evaluate import evaluate_task
from superres.hub import load_classifier, load_restorer
from superres.recipes import train_restorer
from superres.tinyimagenet import find_tiny_imagenet

TASKS = ['jpeg', 'denoise', 'colorize', 'inpaint', 'outpaint', 'watermark', 'real']
DATA = dict(size=48, erase=0, bs=32, classes=200, val_per_class=2)  # the recipe: tiny_unet, L1, lr 3e-3, seed 0

if __name__ == '__main__':
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument('--data'); p.add_argument('--classifier', help='classifier run for FID/KID of the outputs')
    p.add_argument('--budget', type=float, default=150); p.add_argument('--per-class', type=int, default=25)
    p.add_argument('--val-images', type=int, default=500); p.add_argument('--only', default=','.join(TASKS))
    p.add_argument('--out', default='runs/bench-tasks'); p.add_argument('--grids', default='docs/images/tasks')
    a = p.parse_args()
    root = find_tiny_imagenet(a.data)
    clf = load_classifier(a.classifier) if a.classifier else None
    Path(a.grids).mkdir(parents=True, exist_ok=True)
    for task in a.only.split(','):
        name = re.sub(r'[^\w.-]+', '_', task)  # a spec with parameters, as a file name
        out = Path(a.out)/name
        start = time.perf_counter()
        train_restorer(out, task, data=RestorerData(root, per_class=a.per_class, **DATA), net=RestorerNet('tiny_unet'),
                       loss=RestorerLoss('l1'), schedule=FineTuneConfig(budget=a.budget, lr=3e-3, seed=0))
        wall = time.perf_counter() - start
        rep = evaluate_task(root/'val'/'images', task, load_restorer(out), limit=a.val_images, seed=0, classifier=clf)
        shutil.copyfile(out/'results.png', Path(a.grids)/f'{name}.png')
        res = dict(task=rep['task'], wall_s=round(wall), epochs=json.loads((out/'metrics.json').read_text())['epochs'],
                   mean=rep['mean'], fid={n: d['fid'] for n, d in rep.get('distances', {}).items()},
                   kid={n: d['kid'] for n, d in rep.get('distances', {}).items()})
        print(json.dumps(res), flush=True)
