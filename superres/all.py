"""Everything a user of superres needs in one import, as `fastai.vision.all`: `from superres.all import *`."""
import importlib
import warnings

warnings.filterwarnings('ignore', message='`torch.jit.script` is deprecated')  # noise from fastai's import, as the CLI

# every module of the library (the `superres` command's parser aside), in the README Layout's order
MODULES = [importlib.import_module(f'superres.{name}') for name in (
    'errors registry files ranks images tinyimagenet cache boxes fills panorama degradations precision card layers '
    'models export hub tiling backends inference folders api metrics fid evaluate configs augment data style losses '
    'distributed callbacks plots learner gan recipes app').split()]
__all__ = [name for m in MODULES for name in m.__all__]
globals().update({name: getattr(m, name) for m in MODULES for name in m.__all__})
