"""Loading pickles and .npy files from the internet: numpy arrays and builtin containers only.

`pickle.load` runs whatever code a file names; a restricted `find_class` admits just what numpy's own
pickles refer to (arrays, scalars, dtypes; numpy 1 and 2; protocols 2-5) and builtin containers. Anything
else is a DatasetError naming the file, raised before any of it runs.
"""

from __future__ import annotations

import builtins
import codecs
import collections
import importlib
import io
import pickle
from pathlib import Path
from typing import Any

import numpy as np

from viva_robot.data.dataset import DatasetError

_NUMPY_CORE = "numpy._core" if int(np.__version__.split(".")[0]) >= 2 else "numpy.core"
_BUILTINS = {
    "dict", "list", "tuple", "set", "frozenset", "int", "float", "complex", "bool", "str", "bytes", "bytearray"
}  # fmt: skip
# What numpy's own pickles refer to (numpy 1 and 2, protocols 2-5): arrays, scalars, dtypes, out-of-band buffers.
_NUMPY_CORE_NAMES = {("multiarray", "_reconstruct"), ("multiarray", "scalar"), ("numeric", "_frombuffer")}


def _allowed_global(module: str, name: str) -> Any | None:
    """The object a pickle may refer to as module.name, or None if it may not."""
    if module in ("builtins", "__builtin__") and name in _BUILTINS:
        return getattr(builtins, name)
    if (module, name) == ("collections", "OrderedDict"):
        return collections.OrderedDict
    if (module, name) == ("_codecs", "encode"):  # protocol 2 pickles bytes (numpy scalar data) as encode(str, 'latin1')
        return codecs.encode
    if module == "numpy" and name in ("ndarray", "dtype"):
        return getattr(np, name)
    package, _, sub = module.rpartition(".")
    if package in ("numpy.core", "numpy._core") and (sub, name) in _NUMPY_CORE_NAMES:
        return getattr(importlib.import_module(f"{_NUMPY_CORE}.{sub}"), name)  # numpy 1 and 2 pickles both load
    return None


class _RestrictedUnpickler(pickle.Unpickler):
    def __init__(self, file: io.BufferedIOBase, source: str):
        super().__init__(file, encoding="latin1")  # latin1: what numpy needs for arrays pickled by Python 2
        self.source = source

    def find_class(self, module: str, name: str) -> Any:
        obj = _allowed_global(module, name)
        if obj is None:
            raise DatasetError(
                f"{self.source}: pickle refers to {module}.{name}; only numpy arrays and builtin containers are "
                f"allowed (pickles from the internet are untrusted)"
            )
        return obj


def _unpickle(file: io.BufferedIOBase, source: str) -> Any:
    try:
        return _RestrictedUnpickler(file, source).load()
    except DatasetError:
        raise
    except Exception as e:  # truncated or corrupt input surfaces as many exception types
        raise DatasetError(f"{source}: truncated or corrupt pickle ({e.__class__.__name__}: {e})") from None


def safe_pickle_loads(data: bytes, source: str) -> Any:
    """Unpickle bytes that may only contain numpy arrays/scalars/dtypes and builtin containers."""
    return _unpickle(io.BytesIO(data), source)


def safe_pickle_load(path: Path) -> Any:
    with open(path, "rb") as f:
        return _unpickle(f, str(path))


def _npy_header(f: io.BufferedIOBase, path: Path) -> tuple[tuple[int, ...], bool, np.dtype]:
    readers = {(1, 0): np.lib.format.read_array_header_1_0, (2, 0): np.lib.format.read_array_header_2_0}
    try:
        version = np.lib.format.read_magic(f)
        if version in readers:
            return readers[version](f)  # parsed with ast.literal_eval: safe on untrusted input
    except ValueError as e:
        raise DatasetError(f"{path}: not a valid .npy file ({e})") from None
    raise DatasetError(f"{path}: .npy format version {version} is not supported (expected 1.0 or 2.0)")


def load_npy_untrusted(path: Path) -> np.ndarray:
    """np.load for untrusted files: object arrays are unpickled with the restricted unpickler."""
    with open(path, "rb") as f:
        shape, _, dtype = _npy_header(f, path)
        if not dtype.hasobject:
            f.seek(0)
            try:
                return np.lib.format.read_array(f, allow_pickle=False)
            except ValueError as e:
                raise DatasetError(f"{path}: truncated or corrupt .npy data ({e})") from None
        array = _unpickle(f, str(path))
    if not isinstance(array, np.ndarray) or array.shape != shape:
        got = f"array {array.shape}" if isinstance(array, np.ndarray) else type(array).__name__
        raise DatasetError(f"{path}: header says an array of shape {shape} but the payload is {got}")
    return array
