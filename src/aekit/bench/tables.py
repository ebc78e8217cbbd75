"""The benchmark tables ``aekit benchmark`` runs: each one a script of the repository's benchmarks/
folder with its full and quick arguments, the results files it writes, the options it takes, and
the published figures it is held against (with their source).

A table's generic options map onto its script's own flags (``seeds``: the flag and how the list is
written; ``device``: whether it takes --device); an option a table does not take is an error naming
it. ``quick`` arguments finish in well under a minute on 2 CPU cores (they check that the harness and
the script work, not the figures).
"""
from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Table:
    name: str
    title: str
    script: str                          # under benchmarks/
    full: tuple[str, ...]                # arguments of the full protocol
    quick: tuple[str, ...]               # arguments of the smoke variant (with --limit where the script has it)
    outputs: tuple[str, ...]             # results files the full protocol writes (benchmarks/results/)
    quick_outputs: tuple[str, ...] = ()  # those of the quick variant (default: outputs)
    seeds: tuple[str, str] | None = None  # (script flag, "comma" | "space")
    device: bool = False                 # the script takes --device cpu|cuda
    resume: bool = False                 # the script takes --resume (its runs continue from their checkpoints)
    published: dict[str, dict] = field(default_factory=dict)   # figure → {value, unit, status, source} (../shared/REFERENCES.md)


SMOKE = ("--limit", "256")
# held against by both denoising sweeps
DENOISING_BEST = {"value": 25, "unit": "%", "status": "verified",
                  "source": "Vincent et al. 2010 (REFERENCES.md): the best masking level was 25% on most data sets "
                            "(10% on basic/rect, 40% on bg-rand)"}
# held against by Table 6, and by its AAE at the paper's widths and its M1+M2 on a longer M1
M1M2_ERROR_100 = {"value": 3.33, "unit": "%", "status": "unverified", "source": "Kingma et al. 2014, Table 1 (M1+M2, 100 labels: 3.33 ± 0.14)"}
AAE_ERROR_100 = {"value": 1.90, "unit": "%", "status": "unverified", "source": "Makhzani et al. 2015, semi-supervised MNIST, 100 labels (1.90 ± 0.10)"}

# Table 5's figures (held against by vae-nll and, IWAE(50)'s, by vae-nll-150ep)
BURDA_NLL = {"vae_nll": {"value": 86.76, "unit": "nats", "status": "verified", "source": "Burda et al. 2016, Table 1, VAE, 1 stochastic layer"},
             "iwae5_nll": {"value": 85.54, "unit": "nats", "status": "verified", "source": "Burda et al. 2016, Table 1, IWAE k=5"},
             "iwae50_nll": {"value": 84.78, "unit": "nats", "status": "verified", "source": "Burda et al. 2016, Table 1, IWAE k=50"}}
# the same model's IWAE with and without DReG after Burda et al.'s 3,280 epochs, from one re-implementation
NBIP_NLL = {"iwae50_nll": {"value": 84.59, "unit": "nats", "status": "verified", "source": "nbip/IWAE README (TF2, Burda et al.'s full protocol), IWAE k=50"},
            "iwae50_dreg_nll": {"value": 84.32, "unit": "nats", "status": "verified", "source": "nbip/IWAE README, IWAE k=50 with the DReG gradient"}}

TABLES: dict[str, Table] = {t.name: t for t in [
    Table("linear-pca", "Linear AE vs PCA (principal angles, MSE), AE vs PCA-32, DAE PSNR, initialisation",
          "acceptance.py", (), ("--only", "pca", *SMOKE), ("acceptance.json",), ("acceptance-pca.json",),
          published={"linear_ae_max_principal_angle_deg": {"value": 0.0, "unit": "degrees", "status": "theorem",
                                                           "source": "Baldi & Hornik 1989: a linear AE's optimum spans PCA's subspace"}}),
    Table("training-speed", "Training speed and mixed precision, AE 784-512-256-32 (aekit vs a hand-written loop)",
          "bench_speed.py", ("--epochs", "10", "--repeats", "3"), ("--epochs", "1", "--repeats", "1", "--variants", "aekit,hand-adam", *SMOKE),
          ("speed.json",), device=True),
    Table("mlp-vs-conv", "MLP vs conv AE (codes 8, 32) on MNIST and Fashion-MNIST; MLP vs conv VAE NLL",
          "bench_networks.py", ("--epochs", "3", "--k", "1000", "--nll-n", "500"),
          ("--epochs", "1", "--k", "10", "--nll-n", "20", "--codes", "8", "--only", "ae", *SMOKE), ("networks.json",), ("networks_smoke.json",)),
    Table("reconstruction", "Reconstruction test MSE on MNIST and Fashion-MNIST, codes 2/8/32: PCA vs AE, denoising, sparse, "
          "contractive AE, VAE, AAE (MLP and conv)",
          "bench_reconstruction.py", ("--epochs", "10"),
          ("--epochs", "1", "--data", "mnist", "--codes", "8", "--models", "pca,ae,vae", "--nets", "mlp,conv", *SMOKE),
          ("reconstruction_10ep.json",), ("reconstruction_1ep.json",), seeds=("--seed", "one"), resume=True),
    Table("denoising", "Denoising sweep on MNIST (masking 0-90%, Gaussian σ 0.1-0.5, salt-and-pepper 10-50%), 3 seeds: "
          "linear-probe error of the codes, restored PSNR",
          "bench_denoising.py", ("--epochs", "10", "--seeds", "0,1,2"),
          ("--epochs", "1", "--corruptions", "masking:0,masking:0.25", "--seeds", "0", *SMOKE),
          ("denoising_sweep_10ep.json",), ("denoising_sweep_1ep.json",), seeds=("--seeds", "comma"), resume=True,
          published={"best_masking_pct": DENOISING_BEST}),
    Table("denoising-vincent", "The denoising sweep at the paper's sizes: Vincent et al.'s layer (784-1000 sigmoid, tied "
          "weights), 3 seeds: linear-probe error of the codes, restored PSNR",
          "bench_denoising.py", ("--net", "vincent", "--epochs", "10", "--seeds", "0,1,2"),
          ("--net", "vincent", "--code", "64", "--epochs", "1", "--corruptions", "masking:0.25", "--seeds", "0", *SMOKE),
          ("denoising_sweep_vincent1000_10ep.json",), ("denoising_sweep_vincent64_1ep.json",), seeds=("--seeds", "comma"),
          resume=True, published={"best_masking_pct": DENOISING_BEST}),
    Table("vae-nll", "VAE and IWAE (k = 5, 50) test NLL, Burda et al.'s models (784-200-200-50 tanh, k = 5000), "
          "dynamically and statically binarized MNIST",
          "probabilistic.py", ("nll", "--variants", "iwae50,iwae5,vae", "--data", "mnist,binarized-mnist", "--epochs", "250",
                               "--adam-eps", "1e-4", "--k", "5000"),
          ("nll", "--variants", "vae,iwae5", "--data", "mnist,binarized-mnist", "--epochs", "1", "--k", "5", *SMOKE),
          ("nll_250ep.json",), ("nll_1ep.json",), resume=True, device=True, published=BURDA_NLL),
    Table("vae-nll-150ep", "Table 5's IWAE (k = 50) alone on dynamically binarized MNIST, 150 epochs: the 88-nat aim in "
          "a 2-core CPU's budget (about 1.6 h of training there)",
          "probabilistic.py", ("nll", "--variants", "iwae50", "--data", "mnist", "--epochs", "150", "--adam-eps", "1e-4",
                               "--k", "5000"),
          ("nll", "--variants", "iwae50", "--data", "mnist", "--epochs", "2", "--k", "5", *SMOKE),
          ("nll_150ep.json",), ("nll_2ep.json",), resume=True, device=True,
          published={"iwae50_nll": BURDA_NLL["iwae50_nll"]}),
    Table("vae-nll-dreg", "Table 5's IWAE (k = 50) with the standard and the DReG encoder gradient (Tucker et al. 2019), "
          "dynamically binarized MNIST, 20 epochs each on a 2-core CPU",
          "probabilistic.py", ("nll", "--variants", "iwae50,iwae50-dreg", "--data", "mnist", "--epochs", "20", "--adam-eps", "1e-4",
                               "--k", "5000"),
          ("nll", "--variants", "iwae5,iwae5-dreg", "--data", "mnist", "--epochs", "3", "--k", "5", *SMOKE),
          ("nll_20ep.json",), ("nll_3ep.json",), resume=True, device=True,
          published={"iwae50_nll": NBIP_NLL["iwae50_nll"], "iwae50_dreg_nll": NBIP_NLL["iwae50_dreg_nll"]}),
    Table("vae-latent-sizes", "VAE reconstructions at |z| = 2, 5, 20 (the lecture's figure), with each model's test terms",
          "probabilistic.py", ("latent-sizes", "--epochs", "10"), ("latent-sizes", "--epochs", "1", *SMOKE),
          ("vae_latent_sizes_10ep.json",), ("vae_latent_sizes_1ep.json",), resume=True, device=True),
    Table("semi-supervised", "Semi-supervised MNIST with 100/600/1000/3000 labels, 5 seeds: M2, M1+M2 (Pyro's SS-VAE recipe "
          "under Kingma et al.'s J^α), semi-supervised AAE",
          "probabilistic.py", ("semi", "--recipe", "pyro", "--models", "cvae,m1m2,aae-semi", "--labels", "100,600,1000,3000",
                               "--seeds", "0,1,2,3,4", "--epochs", "50"),
          ("semi", "--recipe", "pyro", "--models", "cvae", "--labels", "100", "--seeds", "0", "--epochs", "1", *SMOKE),
          ("semi_supervised_pyro_50ep.json",), ("semi_supervised_pyro_1ep.json",), seeds=("--seeds", "comma"),
          resume=True, device=True,
          published={"m2_error_100": {"value": 11.97, "unit": "%", "status": "unverified", "source": "Kingma et al. 2014, Table 1 (M2, 100 labels: 11.97 ± 1.71)"},
                     "m1m2_error_100": M1M2_ERROR_100,
                     "aae_error_100": AAE_ERROR_100}),
    Table("semi-aae-makhzani", "Table 6's AAE at Makhzani et al.'s widths (1000-unit layers), 100 labels, 5 seeds, 80 epochs, "
          "the epoch chosen on validation error",
          "probabilistic.py", ("semi", "--recipe", "makhzani", "--models", "aae-semi", "--labels", "100", "--seeds", "0,1,2,3,4",
                               "--epochs", "80", "--select", "val-error"),
          ("semi", "--recipe", "makhzani", "--models", "aae-semi", "--labels", "100", "--seeds", "0", "--epochs", "1",
           "--select", "val-error", *SMOKE),
          ("semi_supervised_makhzani_80ep_val.json",), ("semi_supervised_makhzani_1ep_val.json",), seeds=("--seeds", "comma"),
          resume=True, device=True,
          published={"aae_error_100": AAE_ERROR_100}),
    Table("semi-m1m2-long-m1", "Table 6's M1+M2 on a ten times longer M1 (300 epochs; Pyro's recipe, the labelled batch "
          "weighted like the unlabelled one), 100 labels, 5 seeds, 50 epochs, the epoch chosen on validation error",
          "probabilistic.py", ("semi", "--recipe", "pyro-batch", "--models", "m1m2", "--labels", "100", "--seeds", "0,1,2,3,4",
                               "--epochs", "50", "--m1-epochs", "300", "--select", "val-error"),
          ("semi", "--recipe", "pyro-batch", "--models", "m1m2", "--labels", "100", "--seeds", "0", "--epochs", "1",
           "--m1-epochs", "2", "--select", "val-error", *SMOKE),
          ("semi_supervised_pyro-batch_50ep_m1-300ep_val.json",), ("semi_supervised_pyro-batch_1ep_m1-2ep_val.json",),
          seeds=("--seeds", "comma"), resume=True, device=True,
          published={"m1m2_error_100": M1M2_ERROR_100}),
    Table("semi-labelled-weight", "Table 6's M1+M2 with the labelled minibatch weighted 0.1, 0.3, 3 and 10 times the unlabelled "
          "batch (Pyro's recipe otherwise; pyro-batch's weight is 1, Kingma et al.'s J^α about 0.002 at 100 labels), 100 labels, "
          "2 seeds, 50 epochs, the epoch chosen on validation error",
          "probabilistic.py", ("semi", "--recipe", "pyro-batch", "--models", "m1m2", "--labels", "100", "--seeds", "0,1",
                               "--epochs", "50", "--labelled-weight", "0.1,0.3,3,10", "--select", "val-error"),
          ("semi", "--recipe", "pyro-batch", "--models", "m1m2", "--labels", "100", "--seeds", "0", "--epochs", "1",
           "--m1-epochs", "2", "--labelled-weight", "0.5", "--select", "val-error", *SMOKE),
          tuple(f"semi_supervised_pyro-batch_50ep_lw-{w}_val.json" for w in ("0.1", "0.3", "3", "10")),
          ("semi_supervised_pyro-batch_1ep_m1-2ep_lw-0.5_val.json",),
          seeds=("--seeds", "comma"), resume=True, device=True,
          published={"m1m2_error_100": M1M2_ERROR_100}),
    Table("semi-pyro-reference", "Table 6's reference: Pyro's SS-VAE (M2) written with pyro-ppl by its example's protocol, "
          "run on the same MNIST (its own venv)",
          "bench_pyro_ssvae.py", ("--labels", "100", "--seeds", "0,1,2", "--epochs", "50", "--jobs", "3"),
          ("--labels", "20", "--seeds", "0", "--epochs", "1", "--jobs", "1", "--skip-missing", *SMOKE),
          ("semi_supervised_pyro_reference_50ep.json",), ("semi_supervised_pyro_reference_1ep.json",), seeds=("--seeds", "comma"),
          published={"m2_accuracy_100": {"value": 93.19, "unit": "%", "status": "verified",
                                         "source": "Pyro's SS-VAE tutorial, Table 1 (enumeration and auxiliary loss), 100 labels: "
                                                   "93.19 (0.60) test accuracy over 5 label draws"},
                     "m2_accuracy_3000": {"value": 95.82, "unit": "%", "status": "verified",
                                          "source": "Pyro's SS-VAE tutorial, Table 1, 3000 labels: 95.82 (0.12)"}}),
    Table("one-class", "One-class MNIST ROC-AUC per digit (MLP and conv AE)",
          "bench_oneclass.py", (), ("--digits", "1", "--nets", "mlp", "--mlp-epochs", "1", *SMOKE),
          ("oneclass_mnist.json",), ("oneclass_mnist_part.json",), seeds=("--seed", "one"),
          published={"dcae_mean_auc": {"value": 89.65, "unit": "%", "status": "unverified", "source": "Ruff et al. 2018, Table 1 (DCAE), mean of the ten digits"},
                     "deep_svdd_mean_auc": {"value": 93.82, "unit": "%", "status": "verified", "source": "Deep SVDD official code re-run (lukasruff/Deep-SVDD-PyTorch), mean of the ten digits"}}),
    Table("ecg-anomaly", "ECG5000 sequence AE ROC-AUC (EncDec-AD)", "bench_ecg.py", (), ("--quick",),
          ("ecg5000_anomaly.json",), ("ecg5000_anomaly_quick.json",), seeds=("--seeds", "space")),
    Table("retrieval-mnist", "Retrieval precision@10 in code space; semantic hashing", "bench_retrieval.py", (),
          ("--epochs", "1", "--queries", "100", "--models", "ae-linear", *SMOKE), ("retrieval.json",), ("retrieval_smoke.json",)),
    Table("pretraining-rifai", "Contractive-AE table (Rifai et al. 2011): pretraining then fine-tuning", "bench_pretraining.py",
          ("--table", "rifai", "--seeds", "0,1,2"),
          ("--table", "rifai", "--pretrain-epochs", "1", "--finetune-epochs", "1", "--seeds", "0", *SMOKE),
          ("pretraining_rifai.json",), seeds=("--seeds", "comma"), resume=True,
          published={"cae_error": {"value": 1.14, "unit": "%", "status": "verified", "source": "Rifai et al. 2011, Table 1 (CAE, MNIST)"},
                     "dae_gaussian_error": {"value": 1.18, "unit": "%", "status": "verified", "source": "Rifai et al. 2011, Table 1 (DAE-g)"},
                     "ae_error": {"value": 1.78, "unit": "%", "status": "verified", "source": "Rifai et al. 2011, Table 1 (AE)"}}),
    Table("pretraining-vincent", "Stacked denoising AE vs stacked AE (Vincent et al. 2010)", "bench_pretraining.py",
          ("--table", "vincent", "--seeds", "0,1,2"),
          ("--table", "vincent", "--pretrain-epochs", "1", "--finetune-epochs", "1", "--seeds", "0", *SMOKE),
          ("pretraining_vincent.json",), seeds=("--seeds", "comma"), resume=True,
          published={"sdae3_error": {"value": 1.28, "unit": "%", "status": "verified", "source": "Vincent et al. 2010, Table 3 (SDAE-3, masking 25%, MNIST)"},
                     "sae3_error": {"value": 1.40, "unit": "%", "status": "verified", "source": "Vincent et al. 2010, Table 3 (SAE-3)"}}),
    Table("peers-speed", "Speed and memory against the peers: aekit vs hand-written PyTorch loops, pythae and Keras 3 "
          "(torch backend); AE, VAE and conv AE on MNIST",
          "bench_peers.py", ("--epochs", "3", "--repeats", "3"),
          ("--epochs", "1", "--repeats", "1", "--models", "ae", "--skip-missing", *SMOKE), ("peers_speed.json",)),
    Table("explore-load", "The explorer's decode endpoint under load (8 clients × 200 requests)", "bench_explore.py", (),
          ("--clients", "2", "--requests", "10", *SMOKE), ("explore_load.json",)),
]}
