#!/usr/bin/python3
"""Writes the checkpoints tests/unit/pickle_reader_test.cpp reads, with Python's own torch.save.

Usage: /usr/bin/python3 torch_checkpoints.py OUT_DIR          writes every fixture into OUT_DIR
       /usr/bin/python3 torch_checkpoints.py --describe FILE  prints what torch.load(FILE) returns, as JSON

For each readable checkpoint NAME.pt it also writes NAME.json: what torch.load returns, in a canonical form the
C++ test produces from volt's IValues too (floats as repr(), strings as UTF-8 hex, dicts as ordered pairs).
"""
import collections
import datetime
import io
import json
import os
import sys
import zipfile

import torch

DTYPE_NAMES = {torch.float32: "Float", torch.float64: "Double", torch.float16: "Half", torch.bfloat16: "BFloat16",
               torch.int64: "Long", torch.int32: "Int", torch.int16: "Short", torch.int8: "Char",
               torch.uint8: "Byte", torch.bool: "Bool", torch.complex64: "ComplexFloat",
               torch.complex128: "ComplexDouble"}


def element(x):
    if isinstance(x, bool):
        return x
    if isinstance(x, int):
        return str(x)
    if isinstance(x, float):
        return repr(x)
    if isinstance(x, complex):
        return [repr(x.real), repr(x.imag)]
    raise TypeError(type(x))


def describe(v):
    """The canonical form of a loaded value; volt's IValue for it must describe the same."""
    if v is None or isinstance(v, bool):
        return v
    if isinstance(v, int):
        return {"int": str(v)}
    if isinstance(v, float):
        return {"float": repr(v)}
    if isinstance(v, str):
        return {"str": v.encode("utf-8").hex()}
    if isinstance(v, bytes):
        return {"str": v.hex()}  # volt reads bytes as a string of the same bytes
    if isinstance(v, torch.device):
        return {"str": str(v).encode().hex()}
    if isinstance(v, datetime.timedelta):
        return {"float": repr(v.total_seconds())}
    if isinstance(v, tuple):
        return {"tuple": [describe(x) for x in v]}
    if isinstance(v, list):
        return {"list": [describe(x) for x in v]}
    if isinstance(v, dict):
        return {"dict": [[describe(k), describe(x)] for k, x in v.items()]}
    if isinstance(v, torch.Tensor):
        return {"tensor": {"dtype": DTYPE_NAMES[v.dtype], "shape": list(v.shape), "stride": list(v.stride()),
                           "offset": v.storage_offset(), "requires_grad": v.requires_grad,
                           "values": [element(x) for x in v.detach().flatten().tolist()]}}
    raise TypeError(f"cannot describe {type(v)}")


class Custom:
    def __init__(self):
        self.depth = 3


class FakeTensor:
    """Pickles as a _rebuild_tensor_v2 call with arguments torch.save would never write (bounds tests)."""

    def __init__(self, storage, size, stride, requires_grad=False):
        self.args = (storage, 0, size, stride, requires_grad, collections.OrderedDict())

    def __reduce__(self):
        return torch._utils._rebuild_tensor_v2, self.args


def write_zip(path, records, compression=zipfile.ZIP_STORED, directories=()):
    with zipfile.ZipFile(path, "w", compression) as z:
        for name, data in records.items():
            info = zipfile.ZipInfo(name)
            info.compress_type = compression
            info.external_attr = 0x10 if name in directories else 0  # the DOS directory attribute
            z.writestr(info, data)


def read_zip(path):
    with zipfile.ZipFile(path) as z:
        return {name: z.read(name) for name in z.namelist()}


def readable(out):
    """Checkpoints volt must read, with the canonical description of each."""
    torch.manual_seed(0)
    nested = {"a": {"b": {"c": 1}}, "x": [1, {"y": 2}], "t": (1,), "empty_dict": {}, "empty_list": [], "unit": (),
              "f": 1.5, "tiny": 1e-300, "inf": float("inf"), "s": "h\u00e9llo \u2713 \U0001F600", "quote": "it's",
              "n": None, "yes": True, "no": False, "big": 2**62, "min": -2**63, "max": 2**63 - 1,
              "bytes": b"ab\xff\x00", "empty_bytes": b"", "td": datetime.timedelta(days=1, seconds=2, microseconds=3),
              "neg_td": datetime.timedelta(seconds=-1.5), "cuda": torch.device("cuda", 0), "cpu": torch.device("cpu"),
              "size": torch.Size([2, 3]), "int_keys": {3: "x", -1: "y"}, "mixed_keys": {1: "a", "b": 2}, "order": {"z": 1, "a": 2, "m": 3},
              "tup": (1, "a", None, (2.5,)), "list_of_dicts": [{"k": 1}, {"k": 2}]}
    shared_list = [1, 2]
    nested["shared1"] = shared_list
    nested["shared2"] = shared_list

    linear = torch.nn.Linear(3, 2)
    with torch.no_grad():
        linear.weight.copy_(torch.arange(6.0).reshape(2, 3) / 4)
        linear.bias.copy_(torch.tensor([0.5, -1.5]))

    model = torch.nn.Linear(2, 1)
    with torch.no_grad():
        model.weight.copy_(torch.tensor([[1.0, -2.0]]))
        model.bias.fill_(0.25)
    opt = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    model(torch.tensor([[1.0, 2.0], [3.0, -1.0]])).pow(2).sum().backward()
    opt.step()

    base = torch.arange(12.0).reshape(3, 4)
    same = torch.tensor([7, 8, 9])
    tensors = {"base": base, "t": base.t(), "col": base[:, 1], "rows": base[1:], "step": base[::2, ::3],
               "scalar": torch.tensor(3.5), "empty": torch.zeros(0, 3), "expanded": torch.ones(1).expand(4),
               "same_a": same, "same_b": same, "param": torch.nn.Parameter(torch.ones(2)),
               "requires_grad": torch.ones(2, requires_grad=True), "frozen_param": torch.nn.Parameter(
                   torch.zeros(1), requires_grad=False)}
    for dtype in DTYPE_NAMES:
        tensors[f"dtype_{DTYPE_NAMES[dtype]}"] = (torch.arange(-2, 4) * 1.25 if dtype.is_floating_point or
                                                  dtype.is_complex else torch.arange(-2, 4)).to(dtype)
    tensors["dtype_Byte"] = torch.tensor([0, 1, 255], dtype=torch.uint8)
    tensors["dtype_Complex_values"] = torch.tensor([1 + 2j, -0.5j], dtype=torch.complex64)

    return [("nested", nested, 2), ("linear", linear.state_dict(), 2), ("sgd", opt.state_dict(), 2),
            ("tensors", tensors, 2), ("protocol4", {"p": 4, "t": torch.ones(2), "b": b"xy"}, 4),
            ("protocol5", {"p": 5, "t": torch.ones(2), "l": [1.5, None]}, 5),
            ("state_dict_in_dict", {"state_dict": linear.state_dict(), "epoch": 3}, 2)]


def unreadable(out):
    """Checkpoints volt must refuse; the C++ test names the message each must produce."""
    torch.save({"hyper_parameters": {"lr": 0.1, "model_cfg": Custom()}}, f"{out}/custom.pt")
    torch.save({"opt": [{"ids": {1, 2}}]}, f"{out}/set.pt")
    torch.save({"big": 2**64}, f"{out}/bigint.pt")
    torch.save({"float_key": {0.5: 1}}, f"{out}/float_key.pt")
    torch.save({"w": torch.ones(2)}, f"{out}/legacy.pt", _use_new_zipfile_serialization=False)
    try:
        import numpy
        torch.save({"arr": numpy.zeros(2)}, f"{out}/numpy.pt")
    except ImportError:
        pass
    storage = torch.arange(4.0).storage()
    torch.save({"w": FakeTensor(storage, (100,), (1,))}, f"{out}/view_too_big.pt")
    torch.save({"w": FakeTensor(storage, (2**62, 4), (2**62, 1))}, f"{out}/view_overflow.pt")
    torch.save({"w": FakeTensor(storage, (2,), (-1,))}, f"{out}/negative_stride.pt")
    torch.save({"w": FakeTensor(torch.arange(4).storage(), (4,), (1,), True)}, f"{out}/int_requires_grad.pt")

    torch.save({"w": torch.arange(4.0)}, f"{out}/with_storage.pt")
    records = read_zip(f"{out}/with_storage.pt")
    prefix = next(iter(records)).split("/")[0]
    write_zip(f"{out}/missing_storage.pt", {k: v for k, v in records.items() if k != f"{prefix}/data/0"})
    write_zip(f"{out}/small_storage.pt", {k: (v[:8] if k == f"{prefix}/data/0" else v) for k, v in records.items()})
    write_zip(f"{out}/no_data_pkl.pt", {f"{prefix}/version": b"3\n", f"{prefix}/other.pkl": records[f"{prefix}/data.pkl"]})
    write_zip(f"{out}/no_version.pt", {k: v for k, v in records.items() if k != f"{prefix}/version"})
    write_zip(f"{out}/flat.pt", {k.split("/", 1)[1]: v for k, v in records.items()})
    write_zip(f"{out}/compressed.pt", records, zipfile.ZIP_DEFLATED)
    write_zip(f"{out}/bad_version.pt", {**records, f"{prefix}/version": b"not a number"})
    write_zip(f"{out}/big_endian.pt", {**records, f"{prefix}/byteorder": b"big"})
    write_zip(f"{out}/empty_zip.pt", {})
    write_zip(f"{out}/directory_flag.pt", records, directories=[f"{prefix}/data.pkl"])
    with open(f"{out}/not_zip.pt", "w") as f:
        f.write("hello, I am not a checkpoint\n")
    open(f"{out}/empty.pt", "wb").close()


def main():
    if sys.argv[1] == "--describe":
        print(json.dumps(describe(torch.load(sys.argv[2]))))
        return
    out = sys.argv[1]
    for name, obj, protocol in readable(out):
        torch.save(obj, f"{out}/{name}.pt", pickle_protocol=protocol)
        with open(f"{out}/{name}.json", "w") as f:
            json.dump(describe(torch.load(f"{out}/{name}.pt")), f)
    unreadable(out)


if __name__ == "__main__":
    main()
