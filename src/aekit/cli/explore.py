"""aekit explore (the latent-space explorer: a local web server and page)."""
from __future__ import annotations

import argparse
from pathlib import Path

from ..errors import AekitError
from .train import HelpFormatter
from .use import data_args


def add(sub: argparse._SubParsersAction, model: str | None = None) -> None:
    p = sub.add_parser("explore", help="explore a run's latent space in the browser: sliders, map, interpolation, drawing "
                                       "(a local web server; works offline)", formatter_class=HelpFormatter)
    data_args(p)
    p.add_argument("--host", default="127.0.0.1",
                   help="address to listen on; anything but this machine's loopback exposes the model to the network "
                        "(no authentication) and is warned about [default: 127.0.0.1]")
    p.add_argument("--port", type=int, default=8765, help="port to listen on; 0: any free port [default: 8765]")
    p.add_argument("-n", type=int, default=2000, help="examples on the map (a seeded subsample of the split) [default: 2000]")
    p.add_argument("--seed", type=int, default=0, help="seed of the map's subsample and PCA [default: 0]")


def cmd_explore(a: argparse.Namespace) -> int:
    from ..explore import ExploreSession, bind, serve
    from ..runconfig import load_config
    from .use import load_split

    if not (Path(a.run) / "config.yaml").is_file():
        raise AekitError(f"{a.run} is not a run folder (no config.yaml)", "give a folder written by `aekit train`")
    if a.n < 2:
        raise AekitError(f"-n must be at least 2 (examples on the map), got {a.n}", "e.g. -n 2000")
    sock = bind(a.host, a.port)  # before the slow part: a taken port fails at once
    try:
        model, x, y, desc, _ = load_split(a)
        cfg = load_config(a.run)
        session = ExploreSession(model, x, y, classes=cfg.data.classes, vocab=cfg.data.vocab, name=Path(a.run).name,
                                 n_map=a.n, seed=a.seed)
    except BaseException:
        sock.close()
        raise
    print(f"{session.name}: {session.info()['model']}, {session.latent_dim}-D codes; map of {len(session.x):,} examples of {desc}")
    try:
        serve(session, a.host, a.port, sock=sock)
    except KeyboardInterrupt:
        pass
    return 0


COMMANDS = {"explore": cmd_explore}
