"""Loads a checkpoint with Python's torch.load and prints what a test needs to check, as JSON.
Usage: /usr/bin/python3 read_checkpoint.py FILE. Tensors become {"tensor": dtype, "shape": [...], "sum": float}."""
import json
import sys

import torch


def plain(obj):
    if isinstance(obj, dict):
        return {"__dict__": [[k if isinstance(k, str) else repr(k), plain(v)] for k, v in obj.items()]}
    if isinstance(obj, (list, tuple)):
        return [plain(v) for v in obj]
    if isinstance(obj, torch.Tensor):
        return {"tensor": str(obj.dtype).replace("torch.", ""), "shape": list(obj.shape),
                "sum": plain(float(obj.double().sum()))}
    if isinstance(obj, float) and (obj != obj or obj in (float("inf"), float("-inf"))):
        return repr(obj)
    return obj


checkpoint = torch.load(sys.argv[1], map_location="cpu")
print(json.dumps({"type": type(checkpoint).__name__, "value": plain(checkpoint)}))
