"""The models of the zoo corpus (GitHub issue #27): what users export, at sizes that quantize in seconds.

Each entry of ``MODELS`` is a ``Spec``: a builder (a torch module, or an ONNX ModelProto for the
hand-built graphs), its inputs, the data it reads (see make_zoo.py), the export styles it is written
in, and whether it has LayerNorms/attention (then run_zoo.py also tries ``--recipe repq-vit``).

Weights: random (seeded by the model's name) where W8A8 holds on random weights (run_zoo.py's
independent min/max W8A8 simulation gives cosine >= 0.99). Random depthwise/squeeze-excitation
networks do not quantize (that simulation: MobileNetV2 0.81, EfficientNet-B0 0.67 cosine), so those
train for ``train_steps`` AdamW steps on Fashion-MNIST images drawn like their samples (make_zoo.py's
``train``), which brings most to 0.99 or above (MobileNetV2 0.994; run_zoo.py's "sim cos" column
shows the ones that stay below). The BatchNorm statistics of every torch model are re-estimated on
such images before export (``recalibrate_bn``): random statistics (mean 0, variance 1 at every
layer) belong to no network anyone exports, and a few dozen training steps leave the running
averages far from the weights'.
"""
import os
import sys
import zlib
from dataclasses import dataclass, field
from typing import Callable, Dict, List, Tuple

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "models"))

@dataclass
class Input:
    name: str
    shape: Tuple[int, ...]   # one sample, batch dim included where the model has one
    dtype: str = "float32"
    data: str = "imagenet"   # imagenet | uint8_nhwc | fmnist | latent | features | tokens | mask (make_zoo.py)
    dynamic: Dict[int, str] = field(default_factory=dict)  # axis -> name, for the "dynamic" style


@dataclass
class Spec:
    name: str
    family: str              # classifier | segmentation | decoder | text | multi-input | hostile
    build: Callable
    inputs: List[Input]
    outputs: List[str]
    styles: Tuple[str, ...]  # export styles (make_zoo.py); "onnx" for the hand-built graphs
    attention: bool = False  # LayerNorm or attention: also quantized with --recipe repq-vit
    train_steps: int = 0     # 0: random weights
    base_opset: int = 13     # opset of the styles that do not name one
    output_dynamic: Dict[str, Dict[int, str]] = field(default_factory=dict)


def seed_of(name):
    return zlib.crc32(name.encode()) & 0x7FFFFFFF


def image(size, spatial=False):
    dyn = {0: "batch"}
    if spatial:
        dyn.update({2: "height", 3: "width"})
    return [Input("input", (1, 3, size, size), dynamic=dyn)]


def recalibrate_bn(model, inputs, batch=16):
    """Cumulative BatchNorm statistics over `inputs` (tensors with the samples along dim 0)."""
    import torch
    import torch.nn as nn
    bns = [m for m in model.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]
    model.eval()  # dropout and stochastic depth stay off: eval-time statistics
    if not bns:
        return model
    for m in bns:
        m.reset_running_stats()
        m.momentum = None
        m.train()
    with torch.no_grad():
        for k in range(0, len(inputs[0]), batch):
            model(*[x[k:k + batch] for x in inputs])
    return model.eval()


# ---------------------------------------------------------------------------------------------
# torchvision
# ---------------------------------------------------------------------------------------------

def torchvision_model(fn_name, **kwargs):
    def build(spec):
        import torch
        import torchvision.models as tvm
        torch.manual_seed(seed_of(spec.name))
        return getattr(tvm, fn_name)(weights=None, num_classes=10, **kwargs)
    return build


def vit_small(spec, conv_stem=False):
    import torch
    from torchvision.models.vision_transformer import ConvStemConfig, VisionTransformer
    torch.manual_seed(seed_of(spec.name))
    # ViT-C: a stride-2 conv stem (Conv-BN-ReLU x 4, 16x total) in place of the patchify conv
    stem = [ConvStemConfig(out_channels=c, kernel_size=3, stride=2) for c in (16, 32, 64, 128)] if conv_stem else None
    model = VisionTransformer(image_size=64, patch_size=16, num_layers=4, num_heads=4, hidden_dim=128, mlp_dim=256,
                              num_classes=10, conv_stem_configs=stem)
    torch.nn.init.normal_(model.heads.head.weight, std=0.05)  # torchvision zero-initializes the head
    return model


def swin_small(spec):
    # Swin V2 is left out: torch 1.13 cannot export its aten::zero
    import torch
    from torchvision.models import swin_transformer as st
    torch.manual_seed(seed_of(spec.name))
    return st.SwinTransformer(patch_size=[4, 4], embed_dim=48, depths=[2, 2], num_heads=[2, 4], window_size=[4, 4],
                              stochastic_depth_prob=0.0, num_classes=10)


def maxvit_small(spec):
    import torch
    from torchvision.models.maxvit import MaxVit
    torch.manual_seed(seed_of(spec.name))
    return MaxVit(input_size=(64, 64), stem_channels=32, partition_size=4, block_channels=[32, 64], block_layers=[1, 1],
                  head_dim=16, stochastic_depth_prob=0.0, num_classes=10)


def segmentation(fn_name, **kwargs):
    def build(spec):
        import torch
        import torchvision.models.segmentation as seg

        class OutOnly(torch.nn.Module):
            """torchvision's segmentation models return a dict; exporters unwrap it like this."""

            def __init__(self, inner):
                super().__init__()
                self.inner = inner

            def forward(self, x):
                return self.inner(x)["out"]

        torch.manual_seed(seed_of(spec.name))
        model = getattr(seg, fn_name)(weights=None, weights_backbone=None, **kwargs)
        return OutOnly(model)
    return build


# ---------------------------------------------------------------------------------------------
# Hand-written torch models
# ---------------------------------------------------------------------------------------------

def conv_bn_act(cin, cout, k=3, s=1, act=None):
    import torch.nn as nn
    return nn.Sequential(nn.Conv2d(cin, cout, k, s, k // 2, bias=False), nn.BatchNorm2d(cout),
                         act or nn.ReLU())


def fcn_small(spec):
    """FCN-style: strided conv encoder, 1x1 classifier, bilinear resize back to the input size."""
    import torch
    import torch.nn as nn
    import torch.nn.functional as F

    class FCN(nn.Module):
        def __init__(self, classes=8):
            super().__init__()
            self.encoder = nn.Sequential(conv_bn_act(3, 16, s=2), conv_bn_act(16, 32, s=2), conv_bn_act(32, 64, s=2),
                                         conv_bn_act(64, 64))
            self.classifier = nn.Conv2d(64, classes, 1)

        def forward(self, x):
            y = self.classifier(self.encoder(x))
            return F.interpolate(y, size=x.shape[-2:], mode="bilinear", align_corners=False)

    torch.manual_seed(seed_of(spec.name))
    return FCN()


def unet_small(spec):
    """U-Net: ConvTranspose upsampling and skip concatenations."""
    import torch
    import torch.nn as nn

    class UNet(nn.Module):
        def __init__(self, classes=4):
            super().__init__()
            self.d1, self.d2, self.d3 = conv_bn_act(3, 16), conv_bn_act(16, 32, s=2), conv_bn_act(32, 64, s=2)
            self.u2 = nn.ConvTranspose2d(64, 32, 2, 2)
            self.c2 = conv_bn_act(64, 32)
            self.u1 = nn.ConvTranspose2d(32, 16, 2, 2)
            self.c1 = conv_bn_act(32, 16)
            self.head = nn.Conv2d(16, classes, 1)

        def forward(self, x):
            a = self.d1(x)
            b = self.d2(a)
            c = self.d3(b)
            b = self.c2(torch.cat([self.u2(c), b], 1))
            return self.head(self.c1(torch.cat([self.u1(b), a], 1)))

    torch.manual_seed(seed_of(spec.name))
    return UNet()


def conv_decoder(spec):
    """Latent -> image: ConvTranspose, a grouped ConvTranspose with bias, nearest and bilinear Upsample."""
    import torch
    import torch.nn as nn

    torch.manual_seed(seed_of(spec.name))
    return nn.Sequential(
        nn.ConvTranspose2d(16, 64, 4, 2, 1), nn.BatchNorm2d(64), nn.ReLU(),            # 8 -> 16
        nn.ConvTranspose2d(64, 64, 4, 2, 1, groups=4, bias=True), nn.LeakyReLU(0.1),  # 16 -> 32
        nn.Upsample(scale_factor=2, mode="nearest"), nn.Conv2d(64, 32, 3, 1, 1), nn.ReLU(),  # 64
        nn.ConvTranspose2d(32, 32, 3, 1, 1, groups=8, bias=True), nn.ReLU(),
        nn.Upsample(scale_factor=2, mode="bilinear", align_corners=False), nn.Conv2d(32, 3, 3, 1, 1), nn.Tanh())


def autoencoder(spec):
    """Image -> image: strided conv encoder, grouped ConvTranspose decoder with bias, Sigmoid output."""
    import torch
    import torch.nn as nn

    torch.manual_seed(seed_of(spec.name))
    return nn.Sequential(
        conv_bn_act(3, 32, s=2), conv_bn_act(32, 64, s=2), nn.Conv2d(64, 8, 1),
        nn.ConvTranspose2d(8, 64, 4, 2, 1), nn.ReLU(),
        nn.ConvTranspose2d(64, 32, 4, 2, 1, groups=2, bias=True), nn.ReLU(),
        nn.Conv2d(32, 3, 3, 1, 1), nn.Sigmoid())


VOCAB, SEQ = 1000, 16


def text_encoder(norm_first, activation, with_mask, pooled, tied=False):
    """nn.TransformerEncoder over token ids (nn.Embedding + learned positions); optional padding mask
    input; token states, a masked mean pool with a classifier, or tied-embedding vocabulary logits."""
    def build(spec):
        import torch
        import torch.nn as nn

        class Text(nn.Module):
            def __init__(self, dim=64, heads=4, layers=2, classes=5):
                super().__init__()
                self.embed = nn.Embedding(VOCAB, dim, padding_idx=0)
                self.pos = nn.Parameter(torch.randn(1, 64, dim) * 0.1)
                layer = nn.TransformerEncoderLayer(dim, heads, 2 * dim, dropout=0.0, activation=activation,
                                                   batch_first=True, norm_first=norm_first)
                self.encoder = nn.TransformerEncoder(layer, layers, norm=nn.LayerNorm(dim) if norm_first else None,
                                                     enable_nested_tensor=False)
                self.head = nn.Linear(dim, VOCAB if tied else classes, bias=not tied)
                if tied:
                    self.head.weight = self.embed.weight

            def forward(self, ids, mask=None):
                x = self.embed(ids) + self.pos[:, :ids.shape[1]]
                x = self.encoder(x, src_key_padding_mask=None if mask is None else mask == 0)
                if tied:
                    return self.head(x)
                if not pooled:
                    return x
                m = torch.ones_like(ids, dtype=x.dtype) if mask is None else mask.to(x.dtype)
                x = (x * m.unsqueeze(-1)).sum(1) / m.sum(1, keepdim=True).clamp(min=1.0)
                return self.head(x)

        torch.manual_seed(seed_of(spec.name))
        return Text()
    return build


def audio_conv1d(spec):
    """Keyword-spotting style: Conv1d over [N, 40 features, 98 frames], a depthwise Conv1d, pooled
    features through Linear + BatchNorm1d."""
    import torch
    import torch.nn as nn

    torch.manual_seed(seed_of(spec.name))
    return nn.Sequential(
        nn.Conv1d(40, 64, 5, 2, 2, bias=False), nn.BatchNorm1d(64), nn.ReLU(),
        nn.Conv1d(64, 64, 5, 1, 2, groups=64, bias=False), nn.BatchNorm1d(64), nn.ReLU(),
        nn.Conv1d(64, 96, 1), nn.ReLU(), nn.AdaptiveAvgPool1d(1), nn.Flatten(),
        nn.Linear(96, 48), nn.BatchNorm1d(48), nn.ReLU(), nn.Linear(48, 12))


def crnn_lstm(spec):
    """CRNN text-line recognizer: conv features, columns as a sequence, bidirectional LSTM, per-step
    character logits."""
    import torch
    import torch.nn as nn

    class CRNN(nn.Module):
        def __init__(self, classes=37):
            super().__init__()
            self.conv = nn.Sequential(conv_bn_act(3, 32), nn.MaxPool2d(2), conv_bn_act(32, 64), nn.MaxPool2d((2, 1)),
                                      conv_bn_act(64, 64))
            self.rnn = nn.LSTM(64, 48, bidirectional=True, batch_first=True)
            self.fc = nn.Linear(96, classes)

        def forward(self, x):
            f = self.conv(x).mean(2).permute(0, 2, 1)   # height pooled: [N, W/2, 64]
            return self.fc(self.rnn(f)[0])

    torch.manual_seed(seed_of(spec.name))
    return CRNN()


def einsum_transformer(spec):
    """Attention written with torch.einsum (exported as Einsum), as einops-style code does; patch
    embedding by Conv, GroupNorm in the stem."""
    import torch
    import torch.nn as nn

    class Block(nn.Module):
        def __init__(self, dim=64, heads=4):
            super().__init__()
            self.heads = heads
            self.norm1, self.norm2 = nn.LayerNorm(dim), nn.LayerNorm(dim)
            self.qkv, self.proj = nn.Linear(dim, 3 * dim), nn.Linear(dim, dim)
            self.mlp = nn.Sequential(nn.Linear(dim, 2 * dim), nn.GELU(), nn.Linear(2 * dim, dim))

        def forward(self, x):
            b, n, c = x.shape
            q, k, v = self.qkv(self.norm1(x)).reshape(b, n, 3, self.heads, c // self.heads).unbind(2)
            a = torch.einsum("bqhd,bkhd->bhqk", q, k).mul((c // self.heads) ** -0.5).softmax(-1)
            x = x + self.proj(torch.einsum("bhqk,bkhd->bqhd", a, v).reshape(b, n, c))
            return x + self.mlp(self.norm2(x))

    class Net(nn.Module):
        def __init__(self, dim=64):
            super().__init__()
            self.stem = nn.Sequential(nn.Conv2d(3, 32, 3, 2, 1), nn.GroupNorm(8, 32), nn.SiLU(),
                                      nn.Conv2d(32, dim, 4, 4))
            self.blocks = nn.Sequential(Block(), Block())
            self.head = nn.Linear(dim, 10)

        def forward(self, x):
            x = self.blocks(self.stem(x).flatten(2).transpose(1, 2))
            return self.head(x.mean(1))

    torch.manual_seed(seed_of(spec.name))
    return Net()


def unet_groupnorm(spec):
    """Diffusion-style U-Net block: GroupNorm + SiLU residual blocks, nearest Upsample, skip concat."""
    import torch
    import torch.nn as nn

    class Res(nn.Module):
        def __init__(self, cin, cout):
            super().__init__()
            self.f = nn.Sequential(nn.GroupNorm(8, cin), nn.SiLU(), nn.Conv2d(cin, cout, 3, 1, 1),
                                   nn.GroupNorm(8, cout), nn.SiLU(), nn.Conv2d(cout, cout, 3, 1, 1))
            self.skip = nn.Conv2d(cin, cout, 1) if cin != cout else nn.Identity()

        def forward(self, x):
            return self.skip(x) + self.f(x)

    class UNet(nn.Module):
        def __init__(self):
            super().__init__()
            self.inp = nn.Conv2d(3, 32, 3, 1, 1)
            self.down = nn.Sequential(Res(32, 32), nn.Conv2d(32, 32, 3, 2, 1))
            self.mid = Res(32, 64)
            self.up = nn.Sequential(nn.Upsample(scale_factor=2, mode="nearest"), nn.Conv2d(64, 32, 3, 1, 1))
            self.out = nn.Sequential(Res(64, 32), nn.GroupNorm(8, 32), nn.SiLU(), nn.Conv2d(32, 3, 3, 1, 1))

        def forward(self, x):
            h = self.inp(x)
            return self.out(torch.cat([self.up(self.mid(self.down(h))), h], 1))

    torch.manual_seed(seed_of(spec.name))
    return UNet()


def preproc_uint8(spec):
    """Preprocessing inside the graph, as mobile exports have it: a uint8 NHWC image cast to float,
    scaled, normalized and transposed to NCHW before a small CNN."""
    import torch
    import torch.nn as nn

    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.register_buffer("mean", torch.tensor([0.485, 0.456, 0.406]).reshape(1, 3, 1, 1) * 255)
            self.register_buffer("std", torch.tensor([0.229, 0.224, 0.225]).reshape(1, 3, 1, 1) * 255)
            self.body = nn.Sequential(conv_bn_act(3, 16, s=2), conv_bn_act(16, 32, s=2), conv_bn_act(32, 64, s=2),
                                      nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(64, 10))

        def forward(self, image):
            return self.body((image.permute(0, 3, 1, 2).float() - self.mean) / self.std)

    torch.manual_seed(seed_of(spec.name))
    return Net()


def two_heads(spec):
    """Two outputs: class logits and an L2-normalized embedding from one backbone."""
    import torch
    import torch.nn as nn

    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.body = nn.Sequential(conv_bn_act(3, 32, s=2), conv_bn_act(32, 64, s=2), conv_bn_act(64, 64, s=2),
                                      nn.AdaptiveAvgPool2d(1), nn.Flatten())
            self.logits, self.embed = nn.Linear(64, 10), nn.Linear(64, 32)

        def forward(self, x):
            f = self.body(x)
            return self.logits(f), nn.functional.normalize(self.embed(f), dim=1)

    torch.manual_seed(seed_of(spec.name))
    return Net()


def image_meta_fusion(spec):
    """Two float inputs: an image branch and a metadata vector, concatenated before the head."""
    import torch
    import torch.nn as nn

    class Fusion(nn.Module):
        def __init__(self):
            super().__init__()
            self.image = nn.Sequential(conv_bn_act(3, 16, s=2), conv_bn_act(16, 32, s=2), nn.AdaptiveAvgPool2d(1),
                                       nn.Flatten())
            self.meta = nn.Sequential(nn.Linear(12, 32), nn.ReLU())
            self.head = nn.Sequential(nn.Linear(64, 32), nn.ReLU(), nn.Linear(32, 6))

        def forward(self, image, meta):
            return self.head(torch.cat([self.image(image), self.meta(meta)], 1))

    torch.manual_seed(seed_of(spec.name))
    return Fusion()


# ---------------------------------------------------------------------------------------------
# Fashion-MNIST models at the dataset's 28x28
# ---------------------------------------------------------------------------------------------

def fmnist_cnn_module():
    import torch.nn as nn
    return nn.Sequential(conv_bn_act(1, 32), nn.MaxPool2d(2), conv_bn_act(32, 64), nn.MaxPool2d(2),
                         conv_bn_act(64, 64), nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(64, 10))


def fmnist_hybrid_module():
    """MobileViT-style: the 28x28 input zero-padded to 32x32, conv stem, one MobileViT block
    (unfold 2x2 patches -> pre-LN transformer -> fold -> fusion conv), pooled head."""
    import torch
    import torch.nn as nn
    import torch.nn.functional as F

    class Block(nn.Module):
        def __init__(self, dim, heads):
            super().__init__()
            self.heads = heads
            self.norm1, self.norm2 = nn.LayerNorm(dim), nn.LayerNorm(dim)
            self.qkv, self.proj = nn.Linear(dim, 3 * dim), nn.Linear(dim, dim)
            self.mlp = nn.Sequential(nn.Linear(dim, 2 * dim), nn.GELU(), nn.Linear(2 * dim, dim))

        def forward(self, x):
            b, n, c = x.shape
            qkv = self.qkv(self.norm1(x)).reshape(b, n, 3, self.heads, c // self.heads).permute(2, 0, 3, 1, 4)
            a = (torch.matmul(qkv[0], qkv[1].transpose(-2, -1)) * (c // self.heads) ** -0.5).softmax(-1)
            x = x + self.proj(torch.matmul(a, qkv[2]).transpose(1, 2).reshape(b, n, c))
            return x + self.mlp(self.norm2(x))

    class Hybrid(nn.Module):
        def __init__(self, ch=32, dim=64, patch=2):
            super().__init__()
            self.patch = patch
            self.stem = nn.Sequential(conv_bn_act(1, 16, s=2, act=nn.SiLU()), conv_bn_act(16, ch, s=2, act=nn.SiLU()))
            self.local = nn.Conv2d(ch, dim, 1, bias=False)
            self.blocks = nn.Sequential(Block(dim, 4), Block(dim, 4))
            self.norm = nn.LayerNorm(dim)
            self.fold_proj = conv_bn_act(dim, ch, 1, act=nn.SiLU())
            self.fusion = conv_bn_act(2 * ch, 64, act=nn.SiLU())
            self.fc = nn.Linear(64, 10)

        def forward(self, x):
            x = self.stem(F.pad(x, (2, 2, 2, 2)))          # 32 -> 8
            y = self.local(x)
            b, d, h, w = y.shape
            p = self.patch
            y = y.reshape(b, d, h // p, p, w // p, p).permute(0, 3, 5, 2, 4, 1).reshape(b * p * p, -1, d)
            y = self.norm(self.blocks(y))
            y = y.reshape(b, p, p, h // p, w // p, d).permute(0, 5, 3, 1, 4, 2).reshape(b, d, h, w)
            y = self.fusion(torch.cat([x, self.fold_proj(y)], 1))
            return self.fc(y.mean((2, 3)))

    return Hybrid()


# ---------------------------------------------------------------------------------------------
# Hand-built ONNX graphs in the styles other exporters (tf2onnx, Paddle2ONNX, hand edits) write
# ---------------------------------------------------------------------------------------------

def _graph(spec, nodes, inits, out_shape):
    """An opset 13, IR 7 model of `nodes` with the float initializers `inits`."""
    from onnx import TensorProto, helper, numpy_helper
    inputs = [helper.make_tensor_value_info(i.name, TensorProto.FLOAT, list(i.shape)) for i in spec.inputs]
    g = helper.make_graph(nodes, spec.name, inputs,
                          [helper.make_tensor_value_info(spec.outputs[0], TensorProto.FLOAT, list(out_shape))],
                          [numpy_helper.from_array(np.asarray(v, np.float32), k) for k, v in inits.items()])
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 13)], producer_name="vitq-zoo")
    m.ir_version = 7
    return m


def _rng(spec):
    return np.random.RandomState(seed_of(spec.name))


def _he(rng, *shape):
    fan_in = int(np.prod(shape[1:])) if len(shape) > 1 else shape[0]
    return rng.randn(*shape) * np.sqrt(2.0 / fan_in)


def hostile_gemm_alpha(spec):
    """Gemm(alpha=0.25, transB=1) then Gemm(beta=0.5) (tf2onnx folds scalar multiplies into alpha/beta)."""
    from onnx import helper
    r = _rng(spec)
    nodes = [helper.make_node("Gemm", ["x", "w1", "b1"], ["h"], alpha=0.25, transB=1),
             helper.make_node("Relu", ["h"], ["r"]),
             helper.make_node("Gemm", ["r", "w2", "b2"], ["y"], beta=0.5)]
    return _graph(spec, nodes, {"w1": _he(r, 48, 32) * 4, "b1": r.randn(48) * 0.5, "w2": _he(r, 48, 10),
                                "b2": r.randn(10)}, (4, 10))


def hostile_gemm_trans_a(spec):
    """Gemm(transA=1) reading a transposed activation."""
    from onnx import helper
    r = _rng(spec)
    nodes = [helper.make_node("Transpose", ["x"], ["xt"], perm=[1, 0]),
             helper.make_node("Gemm", ["xt", "w", "b"], ["h"], transA=1),
             helper.make_node("Relu", ["h"], ["y"])]
    return _graph(spec, nodes, {"w": _he(r, 32, 24), "b": r.randn(24) * 0.1}, (4, 24))


def hostile_matmul_3d_weight(spec):
    """MatMul with a 3-D constant weight (one [16, 24] matrix per head), then a bias Add."""
    from onnx import helper
    r = _rng(spec)
    nodes = [helper.make_node("MatMul", ["x", "w"], ["h"]),
             helper.make_node("Add", ["h", "b"], ["y"])]
    return _graph(spec, nodes, {"w": _he(r, 4, 16, 24), "b": r.randn(24) * 0.1}, (1, 4, 8, 24))


def hostile_shared_bias(spec):
    """Two Convs with different inputs (different scales) reading one bias initializer."""
    from onnx import helper
    r = _rng(spec)
    nodes = [helper.make_node("Conv", ["x", "w1", "b"], ["a"], pads=[1, 1, 1, 1]),
             helper.make_node("Relu", ["a"], ["ar"]),
             helper.make_node("Mul", ["ar", "k"], ["am"]),
             helper.make_node("Conv", ["am", "w2", "b"], ["c"], pads=[1, 1, 1, 1]),
             helper.make_node("Add", ["a", "c"], ["y"])]
    return _graph(spec, nodes, {"w1": _he(r, 8, 3, 3, 3), "w2": _he(r, 8, 8, 3, 3), "b": r.randn(8) * 0.5,
                                "k": np.float32(8.0)}, (1, 8, 16, 16))


def hostile_dead_channel_bias(spec):
    """A Conv whose channel 0 has weights of 1e-9 and a bias of 1.5 (a BatchNorm with gamma ~ 0 folded
    into it): bias / (input scale * weight scale) does not fit in int32."""
    from onnx import helper
    r = _rng(spec)
    w = _he(r, 8, 3, 3, 3)
    w[0] *= 1e-8
    b = r.randn(8) * 0.3
    b[0] = 1.5
    nodes = [helper.make_node("Conv", ["x", "w", "b"], ["c"], pads=[1, 1, 1, 1]),
             helper.make_node("Relu", ["c"], ["r"]),
             helper.make_node("Conv", ["r", "w2", "b2"], ["y"])]
    return _graph(spec, nodes, {"w": w, "b": b, "w2": _he(r, 4, 8, 1, 1), "b2": np.zeros(4)}, (1, 4, 16, 16))


def hostile_identity_initializer(spec):
    """Identity(initializer) feeding a MatMul's weight and an Add's bias (what torch writes for shared
    parameters without constant folding, and graph surgeons leave behind)."""
    from onnx import helper
    r = _rng(spec)
    nodes = [helper.make_node("Identity", ["w"], ["w_id"]),
             helper.make_node("Identity", ["b"], ["b_id"]),
             helper.make_node("MatMul", ["x", "w_id"], ["h"]),
             helper.make_node("Add", ["h", "b_id"], ["hb"]),
             helper.make_node("Relu", ["hb"], ["r"]),
             helper.make_node("MatMul", ["r", "w2"], ["y"])]
    return _graph(spec, nodes, {"w": _he(r, 32, 32), "b": r.randn(32) * 0.1, "w2": _he(r, 32, 8)}, (4, 8))


def hostile_constant_weights(spec):
    """Conv and MatMul weights held in Constant nodes instead of initializers (Paddle2ONNX style)."""
    from onnx import helper, numpy_helper
    r = _rng(spec)

    def const(name, v, dtype=np.float32):
        return helper.make_node("Constant", [], [name], value=numpy_helper.from_array(np.asarray(v, dtype), name))

    nodes = [const("w", _he(r, 16, 3, 3, 3)), const("b", r.randn(16) * 0.1), const("shape", [0, -1], np.int64),
             const("wm", _he(r, 16 * 8 * 8, 10)),
             helper.make_node("Conv", ["x", "w", "b"], ["c"], pads=[1, 1, 1, 1], strides=[2, 2]),
             helper.make_node("Relu", ["c"], ["r"]),
             helper.make_node("Reshape", ["r", "shape"], ["f"]),
             helper.make_node("MatMul", ["f", "wm"], ["y"])]
    return _graph(spec, nodes, {}, (1, 10))


def hostile_nhwc_same(spec):
    """tf2onnx style: an NHWC input transposed to NCHW around a Conv with auto_pad=SAME_UPPER and an
    even kernel, then transposed back."""
    from onnx import helper
    r = _rng(spec)
    nodes = [helper.make_node("Transpose", ["x"], ["xc"], perm=[0, 3, 1, 2]),
             helper.make_node("Conv", ["xc", "w", "b"], ["c"], auto_pad="SAME_UPPER", kernel_shape=[4, 4],
                              strides=[2, 2]),
             helper.make_node("Relu", ["c"], ["r"]),
             helper.make_node("Transpose", ["r"], ["y"], perm=[0, 2, 3, 1])]
    return _graph(spec, nodes, {"w": _he(r, 8, 3, 4, 4), "b": r.randn(8) * 0.1}, (1, 8, 8, 8))


def hostile_matmul_weight_first(spec):
    """MatMul with the constant as its first operand (W @ x: a 1x1 convolution over the
    sequence, as channel-mixing MLP code writes it)."""
    from onnx import helper
    r = _rng(spec)
    nodes = [helper.make_node("MatMul", ["w", "x"], ["h"]),
             helper.make_node("Add", ["h", "b"], ["hb"]),
             helper.make_node("Relu", ["hb"], ["y"])]
    return _graph(spec, nodes, {"w": _he(r, 24, 16), "b": r.randn(24, 1) * 0.1}, (1, 24, 10))


def hostile_gemm_bias_broadcast(spec):
    """Gemm with a [1, N] bias, then a Gemm with a scalar C, then one without C."""
    from onnx import helper
    r = _rng(spec)
    nodes = [helper.make_node("Gemm", ["x", "w1", "b1"], ["h1"]),
             helper.make_node("Relu", ["h1"], ["r1"]),
             helper.make_node("Gemm", ["r1", "w2", "b2"], ["h2"], transB=1),
             helper.make_node("Relu", ["h2"], ["r2"]),
             helper.make_node("Gemm", ["r2", "w3"], ["y"])]
    return _graph(spec, nodes, {"w1": _he(r, 32, 40), "b1": r.randn(1, 40) * 0.2, "w2": _he(r, 24, 40),
                                "b2": np.float32(0.3), "w3": _he(r, 24, 6)}, (4, 6))


def hostile(fn, inputs, out="y"):
    return dict(family="hostile", build=fn, inputs=inputs, outputs=[out], styles=("onnx",))


# ---------------------------------------------------------------------------------------------
# The corpus
# ---------------------------------------------------------------------------------------------

def _tokens(with_mask):
    dyn = {0: "batch", 1: "sequence"}
    ins = [Input("input_ids", (1, SEQ), "int64", "tokens", dyn)]
    if with_mask:
        ins.append(Input("attention_mask", (1, SEQ), "int64", "mask", dyn))
    return ins


MODELS = [
    Spec("resnet18", "classifier", torchvision_model("resnet18"), image(64), ["logits"],
         ("op13", "op11", "op17", "kiai", "nofold", "dynamic", "external"), train_steps=60),
    Spec("mobilenet_v2", "classifier", torchvision_model("mobilenet_v2"), image(64), ["logits"],
         ("op13", "op11", "fp16", "nofold"), train_steps=60),
    Spec("mobilenet_v3_small", "classifier", torchvision_model("mobilenet_v3_small"), image(64), ["logits"],
         ("op13", "op17", "dynamic", "kiai"), train_steps=100),
    Spec("mobilenet_v3_large", "classifier", torchvision_model("mobilenet_v3_large"), image(64), ["logits"],
         ("op13", "fp16"), train_steps=100),
    # stochastic depth off for the short training (the exported eval-mode graph never has it)
    Spec("efficientnet_b0", "classifier", torchvision_model("efficientnet_b0", stochastic_depth_prob=0.0), image(64),
         ["logits"], ("op13", "op17", "external"), train_steps=60),
    Spec("regnet_y_400mf", "classifier", torchvision_model("regnet_y_400mf"), image(64), ["logits"],
         ("op13", "dynamic"), train_steps=120),
    Spec("convnext_tiny", "classifier", torchvision_model("convnext_tiny"), image(64), ["logits"],
         ("op17", "external"), attention=True, base_opset=17),
    Spec("shufflenet_v2_x0_5", "classifier", torchvision_model("shufflenet_v2_x0_5"), image(64), ["logits"],
         ("op13", "op11"), train_steps=200),
    Spec("squeezenet1_1", "classifier", torchvision_model("squeezenet1_1"), image(64), ["logits"],
         ("op13", "kiai", "nofold")),
    Spec("mnasnet0_5", "classifier", torchvision_model("mnasnet0_5"), image(64), ["logits"], ("op13", "external"),
         train_steps=200),
    Spec("densenet121", "classifier", torchvision_model("densenet121"), image(64), ["logits"], ("op13",),
         train_steps=60),
    Spec("googlenet", "classifier", torchvision_model("googlenet", aux_logits=False, init_weights=True), image(64),
         ["logits"], ("op13",), train_steps=60),
    Spec("vit_small", "classifier", vit_small, image(64), ["logits"],
         ("op17", "op13", "kiai", "nofold", "dynamic", "fp16", "external"), attention=True, base_opset=17),
    Spec("swin_small", "classifier", swin_small, image(64), ["logits"], ("op17", "op13"), attention=True,
         base_opset=17),
    Spec("vit_convstem", "classifier", lambda s: vit_small(s, conv_stem=True), image(64), ["logits"], ("op17", "op13"),
         attention=True, base_opset=17),
    Spec("maxvit_small", "classifier", maxvit_small, image(64), ["logits"], ("op17",), attention=True, base_opset=17),
    Spec("fmnist_cnn", "classifier", lambda s: fmnist_cnn_module(),
         [Input("input", (1, 1, 28, 28), data="fmnist", dynamic={0: "batch"})], ["logits"],
         ("op13", "op11", "kiai", "external"), train_steps=200),
    Spec("fmnist_hybrid", "classifier", lambda s: fmnist_hybrid_module(),
         [Input("input", (1, 1, 28, 28), data="fmnist", dynamic={0: "batch"})], ["logits"],
         ("op13", "op17", "dynamic", "fp16"), attention=True, train_steps=200),
    Spec("lraspp_mobilenet_v3", "segmentation", segmentation("lraspp_mobilenet_v3_large", num_classes=11),
         image(96, spatial=True), ["out"], ("op13", "op11", "dynamic"), train_steps=60),
    Spec("deeplabv3_mobilenet_v3", "segmentation", segmentation("deeplabv3_mobilenet_v3_large", num_classes=11),
         image(96, spatial=True), ["out"], ("op13", "op17"), train_steps=60),
    Spec("fcn_small", "segmentation", fcn_small, image(64, spatial=True), ["out"],
         ("op13", "op11", "dynamic", "fp16")),
    Spec("unet_small", "segmentation", unet_small, image(64, spatial=True), ["out"], ("op13", "fp16", "nofold")),
    Spec("conv_decoder", "decoder", conv_decoder,
         [Input("latent", (1, 16, 8, 8), data="latent", dynamic={0: "batch"})], ["image"],
         ("op13", "op11", "op17", "kiai")),
    Spec("autoencoder", "decoder", autoencoder, image(64, spatial=True), ["image"], ("op13", "nofold", "external")),
    Spec("text_encoder_postnorm", "text", text_encoder(False, "relu", True, False), _tokens(True), ["hidden"],
         ("op13", "op17", "dynamic"), attention=True, base_opset=17,
         output_dynamic={"hidden": {0: "batch", 1: "sequence"}}),
    Spec("text_encoder_prenorm", "text", text_encoder(True, "gelu", False, True), _tokens(False), ["logits"],
         ("op17", "op13", "kiai"), attention=True, base_opset=17),
    Spec("text_classifier", "text", text_encoder(True, "gelu", True, True), _tokens(True), ["logits"],
         ("dynamic", "op13", "fp16"), attention=True, base_opset=17),
    Spec("text_tied_lm", "text", text_encoder(False, "gelu", True, False, tied=True), _tokens(True), ["logits"],
         ("op13", "nofold"), attention=True, output_dynamic={"logits": {0: "batch", 1: "sequence"}}),
    Spec("image_meta_fusion", "multi-input", image_meta_fusion,
         [Input("image", (1, 3, 64, 64), dynamic={0: "batch"}),
          Input("meta", (1, 12), data="features", dynamic={0: "batch"})], ["logits"], ("op13", "dynamic")),
    Spec("preproc_uint8", "classifier", preproc_uint8,
         [Input("image", (1, 64, 64, 3), "uint8", "uint8_nhwc", dynamic={0: "batch"})], ["logits"], ("op13", "op17")),
    Spec("two_heads", "classifier", two_heads, image(64), ["logits", "embedding"], ("op13", "dynamic"),
         output_dynamic={"embedding": {0: "batch"}}),
    Spec("audio_conv1d", "classifier", audio_conv1d,
         [Input("features", (1, 40, 98), data="latent", dynamic={0: "batch"})], ["logits"], ("op13", "op11")),
    Spec("crnn_lstm", "text", crnn_lstm, [Input("input", (1, 3, 32, 128), dynamic={0: "batch", 3: "width"})],
         ["logits"], ("op13", "dynamic"), output_dynamic={"logits": {0: "batch", 1: "steps"}}),
    Spec("einsum_transformer", "classifier", einsum_transformer, image(64), ["logits"], ("op17", "op13"),
         attention=True, base_opset=17),
    Spec("unet_groupnorm", "decoder", unet_groupnorm, image(64, spatial=True), ["image"], ("op13", "op17")),
    Spec("gemm_alpha", **hostile(hostile_gemm_alpha, [Input("x", (4, 32), data="features")])),
    Spec("gemm_trans_a", **hostile(hostile_gemm_trans_a, [Input("x", (4, 32), data="features")])),
    Spec("matmul_3d_weight", **hostile(hostile_matmul_3d_weight, [Input("x", (1, 4, 8, 16), data="features")])),
    Spec("shared_conv_bias", **hostile(hostile_shared_bias, [Input("x", (1, 3, 16, 16))])),
    Spec("dead_channel_bias", **hostile(hostile_dead_channel_bias, [Input("x", (1, 3, 16, 16))])),
    Spec("identity_initializer", **hostile(hostile_identity_initializer, [Input("x", (4, 32), data="features")])),
    Spec("constant_node_weights", **hostile(hostile_constant_weights, [Input("x", (1, 3, 16, 16))])),
    Spec("nhwc_same_upper", **hostile(hostile_nhwc_same, [Input("x", (1, 16, 16, 3), data="features")])),
    Spec("matmul_weight_first", **hostile(hostile_matmul_weight_first, [Input("x", (1, 16, 10), data="features")])),
    Spec("gemm_bias_broadcast", **hostile(hostile_gemm_bias_broadcast, [Input("x", (4, 32), data="features")])),
]

BY_NAME = {m.name: m for m in MODELS}

# The CI subset: small models, every style (op13 through kiai, nofold and external, which export at
# opset 13), every hand-built graph (make_zoo.py --subset ci).
CI_SUBSET = [("conv_decoder", "op11"), ("fcn_small", "dynamic"), ("vit_small", "op17"), ("vit_small", "fp16"),
             ("squeezenet1_1", "kiai"), ("text_tied_lm", "nofold"), ("autoencoder", "external"),
             ("maxvit_small", "op17")] + \
            [(m.name, "onnx") for m in MODELS if m.family == "hostile"]
