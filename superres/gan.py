"""GAN fine-tuning as fastai's course does it (lesson 7): a critic, critic pretraining, then `GANLearner` with the
generator's own restoration loss kept beside the adversarial one and `AdaptiveGANSwitcher` deciding who trains."""
from fastai.callback.core import Callback
from fastai.vision.gan import AdaptiveGANSwitcher, AdaptiveLoss, GANLearner, gan_loss_from_func
from torch import nn

from .callbacks import precision_callbacks
from .configs import CRITIC_THRESH, GAN_WEIGHT
from .errors import ModelError, UsageError
from .hub import load_model
from .metrics import psnr, ssim
from .models import critic_config, critic_from_config

__all__ = ['critic_loss', 'load_critic', 'GANSwitcher', 'SkipIdleGrads', 'RestorationGAN', 'gan_learner']

def critic_loss():
    "The critic's loss: binary cross-entropy of every patch logit against real (1) or generated (0)."
    return AdaptiveLoss(nn.BCEWithLogitsLoss())

def load_critic(path=None, arch='gan_critic'):
    "A critic to train: a run's `critic.pth` (a fine-tune starts where the last left off), else a new one of `arch`."
    if path is None: return critic_from_config(critic_config(arch))
    critic = load_model(path)
    if critic.card.kind != 'critic':
        raise ModelError(f'{path} is a {critic.card.kind}, not a critic: pass the critic.pth of a --gan run')
    if critic.card.arch != arch:
        raise UsageError(f'{path} is a {critic.card.arch}, not a {arch}: pass a critic of {arch} or none')
    return critic.train()

class GANSwitcher(AdaptiveGANSwitcher):
    "fastai's adaptive switcher, held on the critic while the learner is frozen (the critic's pretraining)."
    def __init__(self, critic_thresh=CRITIC_THRESH):
        super().__init__(critic_thresh=critic_thresh)
        self.critic_only = False
    def before_train(self):
        if self.critic_only: self.gan_trainer.switch(gen_mode=False)  # validation left it on the generator
    def after_batch(self):
        if not self.critic_only: super().after_batch()

class SkipIdleGrads(Callback):
    "Drop the gradients of the network that is not training: fastai's Adam would still move it by momentum and decay."
    def before_step(self):
        for p in self.learn.model.parameters():
            if not p.requires_grad: p.grad = None

class RestorationGAN(GANLearner):
    "fastai's `GANLearner` whose `freeze()` trains the critic alone: the recipe's frozen epochs pretrain the critic."
    def freeze(self): self.gan_switcher.critic_only = True
    def unfreeze(self): self.gan_switcher.critic_only = False

def gan_learner(gen_learn,  # a restoration Learner: its model the generator; its loss, data, optimiser and path kept
                critic,  # the critic network (`load_critic`)
                weight=GAN_WEIGHT,  # adversarial loss per unit of the restoration loss
                critic_thresh=CRITIC_THRESH,  # the critic trains until its loss is below this, then the generator
                precision='auto',  # `auto`, `fp32`, `bf16` or `fp16`, as `resolve_precision` reads it
                **kwargs):  # `GANLearner`'s
    "A GAN learner from a restoration learner (its model the generator, its loss kept) and a `critic` network."
    loss_gen, loss_crit = gan_loss_from_func(gen_learn.loss_func, critic_loss(), weights_gen=(weight, 1.))
    cbs = [SkipIdleGrads()] + precision_callbacks(precision, device=gen_learn.dls.device)
    return RestorationGAN(gen_learn.dls, gen_learn.model, critic, loss_gen, loss_crit,
                          switcher=GANSwitcher(critic_thresh), show_img=False, opt_func=gen_learn.opt_func,
                          metrics=[psnr, ssim], cbs=cbs, path=gen_learn.path, **kwargs)
