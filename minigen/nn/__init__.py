"""Neural-network building blocks: Module and Parameter, containers (Sequential, ModuleList,
ModuleDict), layers, pooling, losses as modules, initialisers, a small text encoder (text.py), and
``functional`` (activations, normalisations, losses) as in ``import minigen.nn.functional as F``."""
from . import functional, init
from .module import Module, Parameter, Sequential, ModuleList
from .linear import Linear
from .conv import Conv2d, ConvTranspose2d
from .norm import BatchNorm1d, BatchNorm2d, GroupNorm, LayerNorm
from .activation import ReLU, LeakyReLU, ELU, SiLU, GELU, Tanh, Sigmoid, Softplus
from .misc import Dropout, Embedding, Flatten, Unflatten, Upsample, Identity
from .attention import SelfAttention, SelfAttention2d
from .text import TextEncoder, TransformerBlock
from .containers import ModuleDict
from .loss import MSELoss, BCELoss, BCEWithLogitsLoss, CrossEntropyLoss, GaussianNLLLoss
from .pooling import MaxPool2d, AvgPool2d

__all__ = ["functional", "init", "Module", "Parameter", "Sequential", "ModuleList", "Linear", "Conv2d",
           "ConvTranspose2d", "BatchNorm1d", "BatchNorm2d", "GroupNorm", "LayerNorm", "ReLU", "LeakyReLU",
           "ELU", "SiLU", "GELU", "Tanh", "Sigmoid", "Softplus", "Dropout", "Embedding", "Flatten", "Unflatten",
           "Upsample", "Identity", "SelfAttention", "SelfAttention2d", "TextEncoder", "TransformerBlock", "ModuleDict", "MSELoss", "BCELoss", "BCEWithLogitsLoss",
           "CrossEntropyLoss", "GaussianNLLLoss", "MaxPool2d", "AvgPool2d"]
