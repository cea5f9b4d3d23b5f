"""Data-parallel training over processes and machines: HuggingFace accelerate launches, fastai's integration trains."""
import atexit
from contextlib import contextmanager, nullcontext

import torch
import torch.distributed as dist

from .errors import UsageError
from .ranks import is_main_process, leave_together, world_size

__all__ = ['is_distributed', 'main_process_first', 'from_main_process', 'data_parallel']

def is_distributed():
    "Whether this process is one of several launched together (`accelerate launch`, torchrun)."
    return world_size() > 1

def main_process_first():
    "A context where rank 0 goes first (building caches, extracting zips) and the others then reuse its work."
    return _state().main_process_first() if is_distributed() else nullcontext()

def _state():
    "accelerate's process state; without CUDA it must be told to use the CPU, or it sees no distributed setup at all."
    try:
        from accelerate import PartialState
    except ImportError: raise UsageError('distributed training needs accelerate: '
                                         'pip install "superres[distributed]"') from None
    state = PartialState(cpu=not torch.cuda.is_available())
    if not getattr(_state, 'teardown', False):  # at exit rank 0 writes the run folder last: all wait, then leave
        _state.teardown = atexit.register(leave_together)
    return state

def from_main_process(value):
    "Rank 0's `value` (a float) on every rank, so clock-driven decisions such as a time budget agree across ranks."
    if not (is_distributed() and dist.is_initialized()): return value
    t = torch.tensor([float(value)], dtype=torch.float64)
    dist.broadcast(t, 0)
    return t.item()

def _trainer(**kwargs):
    "fastai's `DistributedTrainer`, with its loaders' index broadcast working over gloo (CPU) as well as nccl."
    from fastai.distributed import DistributedDL, DistributedTrainer

    class AnyBackendDL(DistributedDL):
        def _broadcast(self, t, rank):
            t = torch.tensor(t, dtype=torch.long, device='cuda' if dist.get_backend() == 'nccl' else 'cpu')
            dist.broadcast(t, rank)
            return t.cpu().tolist()

    class Trainer(DistributedTrainer):
        def _wrap_dl(self, dl):
            return dl if isinstance(dl, DistributedDL) else AnyBackendDL(dl, device=self.learn.dls.device)
        def after_fit(self):
            for b in self.learn.model.buffers(): dist.broadcast(b, 0)  # rank 0's BatchNorm stats, the model it saves
            super().after_fit()

    return Trainer(**kwargs)

@contextmanager
def data_parallel(learn, sync_bn=True):
    "Train `learn` data-parallel in a multi-process launch, else no-op; on CPUs BatchNorm ends as rank 0's (no SyncBN)."
    if not is_distributed():
        yield learn
        return
    on_gpu = _state().distributed_type.name == 'MULTI_GPU'
    trainer = _trainer(sync_bn=sync_bn and on_gpu, cpu=not on_gpu)  # torch's SyncBatchNorm is GPU-only
    learn.add_cb(trainer)
    if not is_main_process():
        from fastai.callback.progress import ProgressCallback
        learn.remove_cb(ProgressCallback)
    try: yield learn
    finally: learn.remove_cb(trainer)
