"""The peers' side of bench_peers.py: one model (ae, vae, conv) trained by pythae or by Keras 3 on the
torch backend, in that library's own virtual environment (benchmarks/.venvs/<lib>), so nothing here
imports aekit: the digits come as .npy files (the arrays aekit loads, written by bench_peers.py) and the
test losses are the functions of bench_speed.py and bench_vae.py (torch and numpy only). Prints one
JSON line, common.child_output's.

    benchmarks/.venvs/pythae/bin/python benchmarks/peers_children.py --lib pythae --model ae --epochs 2 --data DIR

bench_peers.py runs it (exec'd in place of its own child) with KERAS_BACKEND=torch and TQDM_DISABLE=1.
"""
from __future__ import annotations

import argparse
import logging
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_speed import build_net as mlp_ae_net  # noqa: E402  (torch only: the AE of bench_speed, Glorot init)
from bench_speed import test_bce  # noqa: E402
from bench_vae import neg_elbo  # noqa: E402
from common import child_output, glorot_  # noqa: E402

BATCH, LR, ADAM_EPS = 128, 1e-3, 1e-8


def vm_hwm_mb() -> float:
    """This process image's own peak RSS (VmHWM, MB): unlike getrusage's max RSS (common.child_output's
    peak_rss_mb) it starts anew at exec, so a parent's peak never shows in it."""
    with open("/proc/self/status") as f:
        return next(int(line.split()[1]) for line in f if line.startswith("VmHWM:")) / 1024


def load(data: str):
    import numpy as np

    return np.load(Path(data) / "x_train.npy"), np.load(Path(data) / "x_test.npy")


def score(model: str, encode, decode_logits, x_test) -> tuple[str, float]:
    """The test loss of every variant (bench_speed.test_bce, bench_vae.neg_elbo); ``encode`` returns the
    code (ae, conv) or the encoder's 2·16 outputs (mu, log-variance) of the VAE."""
    import torch

    if model == "vae":
        xt = torch.from_numpy(x_test).reshape(len(x_test), -1)
        return "test_neg_elbo", neg_elbo(lambda b: encode(b).chunk(2, dim=1), decode_logits, xt)
    shape = (-1, 1, 28, 28) if model == "conv" else (-1, 784)
    return "test_bce", test_bce(lambda b: decode_logits(encode(b.reshape(shape))), x_test, "cpu")


# ---- torch networks (pythae) --------------------------------------------------------------------

def torch_nets(model: str):
    """(encoder, decoder) as plain torch modules, the layers of aekit's (Glorot weights, zero biases);
    the decoder returns logits. Images come in as (B, 1, 28, 28)."""
    from torch import nn

    if model == "ae":
        net = mlp_ae_net()  # bench_speed's: Flatten, 784-512-256-32 and back
        return net[0], net[1]
    if model == "vae":  # bench_vae's layers
        enc = nn.Sequential(nn.Flatten(), nn.Linear(784, 512), nn.ReLU(), nn.Linear(512, 256), nn.ReLU(), nn.Linear(256, 32))
        dec = nn.Sequential(nn.Linear(16, 256), nn.ReLU(), nn.Linear(256, 512), nn.ReLU(), nn.Linear(512, 784))
        glorot_(enc, dec)
        return enc, dec
    # aekit's ConvEncoder / ConvDecoder with channels [32, 64], kernel 3, stride 2, ReLU, code 32
    enc = nn.Sequential(nn.Conv2d(1, 32, 3, stride=2, padding=1), nn.ReLU(), nn.Conv2d(32, 64, 3, stride=2, padding=1), nn.ReLU(),
                        nn.Flatten(), nn.Linear(64 * 7 * 7, 32))
    dec = nn.Sequential(nn.Linear(32, 64 * 7 * 7), nn.ReLU(), nn.Unflatten(1, (64, 7, 7)),
                        nn.ConvTranspose2d(64, 32, 3, stride=2, padding=1, output_padding=1), nn.ReLU(),
                        nn.ConvTranspose2d(32, 1, 3, stride=2, padding=1, output_padding=1))
    for m in [*enc.modules(), *dec.modules()]:
        if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d, nn.Linear)):
            nn.init.xavier_uniform_(m.weight)
            nn.init.zeros_(m.bias)
    return enc, dec


def run_pythae(model: str, epochs: int, seed: int, data: str) -> tuple[list[float], str, float]:
    import numpy as np
    import torch
    import torch.nn.functional as F
    from pythae.models import AE, VAE, AEConfig, VAEConfig
    from pythae.models.base.base_utils import ModelOutput
    from pythae.models.nn import BaseDecoder, BaseEncoder
    from pythae.pipelines import TrainingPipeline
    from pythae.trainers import BaseTrainerConfig
    from pythae.trainers.training_callbacks import TrainingCallback

    logging.disable(logging.INFO)  # pythae logs to the console at INFO; aekit runs quiet

    class Encoder(BaseEncoder):
        def __init__(self, net, gaussian: bool):
            BaseEncoder.__init__(self)
            self.net, self.gaussian = net, gaussian

        def forward(self, x):
            h = self.net(x)
            if self.gaussian:
                mu, log_var = h.chunk(2, dim=1)
                return ModelOutput(embedding=mu, log_covariance=log_var)
            return ModelOutput(embedding=h)

    class Decoder(BaseDecoder):
        """pythae's convention: reconstructions in [0, 1] (a sigmoid on the logits)."""

        def __init__(self, net):
            BaseDecoder.__init__(self)
            self.net = net

        def forward(self, z):
            return ModelOutput(reconstruction=torch.sigmoid(self.net(z)))

    class BernoulliAE(AE):
        """pythae's AE with the BCE of its VAE (reconstruction_loss="bce") in place of its MSE."""

        def loss_function(self, recon_x, x):
            return F.binary_cross_entropy(recon_x.reshape(x.shape[0], -1), x.reshape(x.shape[0], -1),
                                          reduction="none").sum(dim=-1).mean(dim=0)

    class Clock(TrainingCallback):
        """The training loop's clock: from on_train_begin to on_log, the last call of each epoch."""

        def __init__(self):
            self.t0, self.ends = None, []

        def on_train_begin(self, training_config, **kwargs):
            self.t0 = time.perf_counter()

        def on_log(self, training_config, logs, **kwargs):
            self.ends.append(time.perf_counter())

    x_train, x_test = load(data)
    torch.manual_seed(seed)
    enc, dec = torch_nets(model)
    latent = 16 if model == "vae" else 32
    if model == "vae":
        net = VAE(VAEConfig(input_dim=(1, 28, 28), latent_dim=latent, reconstruction_loss="bce"),
                  encoder=Encoder(enc, True), decoder=Decoder(dec))
    else:
        net = BernoulliAE(AEConfig(input_dim=(1, 28, 28), latent_dim=latent), encoder=Encoder(enc, False), decoder=Decoder(dec))
    out = tempfile.mkdtemp(prefix="aekit-peers-pythae-")
    try:
        config = BaseTrainerConfig(output_dir=out, num_epochs=epochs, learning_rate=LR, per_device_train_batch_size=BATCH,
                                   optimizer_cls="Adam", steps_saving=None, steps_predict=None, seed=seed, no_cuda=True)
        clock = Clock()
        TrainingPipeline(training_config=config, model=net)(train_data=x_train, callbacks=[clock])
    finally:
        shutil.rmtree(out, ignore_errors=True)
    net.eval()
    key, loss = score(model, enc, dec, x_test)
    return np.diff([clock.t0, *clock.ends]).tolist(), key, loss


# ---- Keras 3 on the torch backend ----------------------------------------------------------------

def run_keras(model: str, epochs: int, seed: int, data: str) -> tuple[list[float], str, float]:
    os.environ.setdefault("KERAS_BACKEND", "torch")
    import keras
    import numpy as np
    import torch
    from keras import layers, ops

    assert keras.backend.backend() == "torch", keras.backend.backend()
    keras.utils.set_random_seed(seed)
    keras.config.set_image_data_format("channels_first")  # torch's layout: no transposes around the convolutions
    x_train, x_test = load(data)

    def mlp(sizes, last):
        return [layers.Dense(n, activation="relu") for n in sizes] + [layers.Dense(last)]

    if model == "conv":
        enc = keras.Sequential([keras.Input((1, 28, 28)), layers.Conv2D(32, 3, strides=2, padding="same", activation="relu"),
                                layers.Conv2D(64, 3, strides=2, padding="same", activation="relu"), layers.Flatten(),
                                layers.Dense(32)])
        dec = keras.Sequential([keras.Input((32,)), layers.Dense(64 * 7 * 7, activation="relu"), layers.Reshape((64, 7, 7)),
                                layers.Conv2DTranspose(32, 3, strides=2, padding="same", activation="relu"),
                                layers.Conv2DTranspose(1, 3, strides=2, padding="same")])
        x = x_train
    else:
        latent = 16 if model == "vae" else 32
        enc = keras.Sequential([keras.Input((784,)), *mlp([512, 256], 2 * latent if model == "vae" else latent)])
        dec = keras.Sequential([keras.Input((latent,)), *mlp([256, 512], 784)])
        x = x_train.reshape(len(x_train), 784)

    class Sampling(layers.Layer):
        """z = mu + sigma * eps, and the KL term (batch mean) as the layer's loss."""

        def __init__(self):
            super().__init__()
            self.seeds = keras.random.SeedGenerator(seed)

        def call(self, h):
            mu, log_var = ops.split(h, 2, axis=-1)
            self.add_loss(ops.mean(0.5 * ops.sum(mu**2 + ops.exp(log_var) - 1 - log_var, axis=-1)))
            return mu + ops.exp(0.5 * log_var) * keras.random.normal(ops.shape(mu), seed=self.seeds)

    inputs = keras.Input(x.shape[1:])
    code = enc(inputs)
    net = keras.Model(inputs, dec(Sampling()(code) if model == "vae" else code))

    def bce(y, logits):  # summed per digit (Keras then takes the batch mean)
        b = ops.shape(y)[0]
        return ops.sum(ops.binary_crossentropy(ops.reshape(y, (b, -1)), ops.reshape(logits, (b, -1)), from_logits=True), axis=-1)

    class Clock(keras.callbacks.Callback):
        def __init__(self):
            super().__init__()
            self.t0, self.ends = None, []

        def on_train_begin(self, logs=None):
            self.t0 = time.perf_counter()

        def on_epoch_end(self, epoch, logs=None):
            self.ends.append(time.perf_counter())

    net.compile(optimizer=keras.optimizers.Adam(learning_rate=LR, epsilon=ADAM_EPS), loss=bce, jit_compile=False)
    clock = Clock()
    net.fit(x, x, batch_size=BATCH, epochs=epochs, shuffle=True, verbose=0, callbacks=[clock])
    with torch.no_grad():
        key, loss = score(model, lambda b: enc(b), lambda z: dec(z), x_test)
    return np.diff([clock.t0, *clock.ends]).tolist(), key, loss


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--lib", required=True, choices=["pythae", "keras"])
    ap.add_argument("--model", required=True, choices=["ae", "vae", "conv"])
    ap.add_argument("--epochs", type=int, default=1)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--data", required=True, help="folder with x_train.npy and x_test.npy (float32, (N, 1, 28, 28))")
    ap.add_argument("--variant", default=None, help="the name to print (default MODEL:LIB)")
    a = ap.parse_args()
    import torch

    run = run_pythae if a.lib == "pythae" else run_keras
    times, key, loss = run(a.model, a.epochs, a.seed, a.data)
    versions = {"torch": torch.__version__}
    from importlib.metadata import version

    versions[a.lib] = version(a.lib)
    child_output(a.variant or f"{a.model}:{a.lib}", times, **{key: loss}, precision="fp32",
                 torch_threads=torch.get_num_threads(), versions=versions, vm_hwm_mb=vm_hwm_mb())


if __name__ == "__main__":
    main()
