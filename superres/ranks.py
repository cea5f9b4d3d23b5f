"""Several processes sharing one job (`accelerate launch`, torchrun): which one this is, its share, results gathered."""
import os
from contextlib import contextmanager

import torch
import torch.distributed as dist

__all__ = ['world_size', 'rank', 'is_main_process', 'local_device', 'process_group', 'leave_together', 'share',
           'gather', 'barrier']

def world_size():
    "How many processes were launched together (1 when run alone), as the launcher's environment says."
    return int(os.environ.get('WORLD_SIZE', 1))

def rank(): return int(os.environ.get('RANK', 0))

def is_main_process(): return rank() == 0

def local_device():
    "This process's device: its own GPU by local rank where there are GPUs, else the CPU."
    if not torch.cuda.is_available(): return torch.device('cpu')
    return torch.device('cuda', int(os.environ.get('LOCAL_RANK', 0)) % torch.cuda.device_count())

@contextmanager
def process_group():
    "A gloo group over the launched processes for the block (only objects cross it), else nothing; all leave together."
    created = world_size() > 1 and not dist.is_initialized()
    if created: dist.init_process_group('gloo')
    try: yield
    finally:
        if created: leave_together()

def leave_together():
    "Wait for every process, then end the group: a process leaving alone aborts the others."
    if dist.is_initialized():
        dist.barrier()
        dist.destroy_process_group()

def _joined(): return world_size() > 1 and dist.is_initialized()

def share(items):
    "This process's share of `items`: every world_size-th one from its rank, so shares are even and disjoint."
    return list(items)[rank()::world_size()] if _joined() else list(items)

def gather(obj):
    "Every process's `obj`, in rank order, on every process."
    if not _joined(): return [obj]
    out = [None] * world_size()
    dist.all_gather_object(out, obj)
    return out

def barrier():
    "Wait here until every process arrives."
    if _joined(): dist.barrier()
