#!/usr/bin/python3
"""Writes tests/golden/repr_vectors.json: inputs and Python's repr() of each, for volt::python_repr.

Run with any Python 3 (no torch needed): /usr/bin/python3 tools/gen_repr_vectors.py
Inputs are typed so C++ can rebuild the exact value without parsing Python literals:
  {"type": "none"} | {"type": "bool", "value": true} | {"type": "int", "value": "-12"}  (decimal text)
  {"type": "float", "hex": "0x1.8000000000000p+1"}   (float.hex(): exact, also inf/-inf/nan)
  {"type": "str", "utf8_hex": "..."}   (the UTF-8 bytes; invalid UTF-8 is decoded with surrogateescape)
  {"type": "list" | "tuple", "items": [...]} | {"type": "dict", "items": [[key, value], ...]}
"""
import json
import math
import os
import random
import struct
import sys
import unicodedata

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "golden", "repr_vectors.json")


class Raw(bytes):
    """A str given as raw bytes that may be invalid UTF-8 (Python sees them via surrogateescape)."""


def enc(v):
    if v is None:
        return {"type": "none"}
    if isinstance(v, bool):
        return {"type": "bool", "value": v}
    if isinstance(v, int):
        assert -2**63 <= v < 2**63, v
        return {"type": "int", "value": str(v)}
    if isinstance(v, float):
        return {"type": "float", "hex": v.hex()}
    if isinstance(v, Raw):
        return {"type": "str", "utf8_hex": bytes(v).hex()}
    if isinstance(v, str):
        return {"type": "str", "utf8_hex": v.encode("utf-8", "surrogateescape").hex()}
    if isinstance(v, list):
        return {"type": "list", "items": [enc(x) for x in v]}
    if isinstance(v, tuple):
        return {"type": "tuple", "items": [enc(x) for x in v]}
    if isinstance(v, dict):
        return {"type": "dict", "items": [[enc(k), enc(x)] for k, x in v.items()]}
    raise TypeError(type(v))


def py_value(v):
    """The Python value C++ sees: Raw bytes become the surrogateescape-decoded str."""
    if isinstance(v, Raw):
        return bytes(v).decode("utf-8", "surrogateescape")
    if isinstance(v, list):
        return [py_value(x) for x in v]
    if isinstance(v, tuple):
        return tuple(py_value(x) for x in v)
    if isinstance(v, dict):
        return {py_value(k): py_value(x) for k, x in v.items()}
    return v


def floats(rng):
    out = [0.0, -0.0, 1.0, -1.0, 0.1, 0.2, 0.3, 1 / 3, 2 / 3, 0.5, 1.5, 100.0, 1e-05, 1e-4, 0.001, 9.999e-05,
           0.00012345, 1e15, 1e16, 1e17, 1e22, 1e23, 123456789012345.0, 1234567890123456.0, 12345678901234567.0,
           9999999999999998.0, 9999999999999999.0, 2.0**53, 2.0**53 + 2, 2.0**63, 2.0**64, 1e300, 1e308,
           1.7976931348623157e308, 5e-324, 1e-323, 2.2250738585072014e-308, 2.225073858507201e-308, 1e-310,
           math.pi, math.e, -math.pi, 3e-5, 0.1 + 0.2, 1.1, 2.675, 1e100, 123.456, -0.0001, -1e-05,
           float("inf"), float("-inf"), float("nan"), 0.0001, 0.00001, 1.5e-7, 4.35, 100.0001, 1e-7, 5.0e-5]
    out += [10.0**e for e in range(-30, 31)] + [-(10.0**e) for e in range(-6, 20, 3)]
    out += [1.0 - 2.0**-k for k in range(1, 54, 4)] + [1.0 + 2.0**-k for k in range(1, 53, 4)]
    out += [rng.uniform(-1, 1) for _ in range(200)]
    out += [round(rng.uniform(-1000, 1000), rng.randint(0, 8)) for _ in range(200)]
    out += [rng.uniform(0, 1) * 10.0**rng.randint(-20, 20) for _ in range(200)]
    for _ in range(600):  # random bit patterns: every exponent range, subnormals included
        x = struct.unpack("<d", struct.pack("<Q", rng.getrandbits(64)))[0]
        if not math.isnan(x):
            out.append(x)
    return out


def ints(rng):
    out = [0, 1, -1, 7, -42, 255, 256, 65535, 65536, 2**31 - 1, 2**31, -2**31, -2**31 - 1, 2**32, 2**53,
           2**53 + 1, 2**62, 2**63 - 1, -2**63, -2**63 + 1, 10**18, -10**18]
    out += [rng.randint(-2**63, 2**63 - 1) for _ in range(100)]
    return out


def nonprintable_ranges():
    ranges, start = [], None
    for cp in range(0x110000):
        if not chr(cp).isprintable():
            start = cp if start is None else start
        elif start is not None:
            ranges.append((start, cp - 1))
            start = None
    if start is not None:
        ranges.append((start, 0x10FFFF))
    return ranges


def is_surrogate(cp):
    return 0xD800 <= cp <= 0xDFFF  # not encodable as UTF-8; C++ meets them only as invalid bytes (see Raw)


def strings(rng):
    out = ["", "a", "hello world", "'", '"', "'\"", "it's", 'say "hi"', "both ' and \"", "\\", "\\'", "a\\b",
           "\n", "\r\n", "\t", "tab\there", "\x00", "\x07\x08\x0b\x0c\x1b", "\x7f", "\x80\x9f", "\xa0", "\xad",
           "\xa1\xff", "é", "naïve café", "Ω≈ç√∫", "日本語", "中文测试", "😀", "👍🏽", "👨‍👩‍👧", "🇫🇷",
           "\u200b", "\u200e", "\u2028", "\u2029", "\ufeff", "\ufffd", "\uffff", "\ue000", "\U000f0000",
           "\U0010ffff", "\u0378", "\u3000", "\u00a0x", "a\u0301", "\U0001d400", "\U000e0001", "\udcff",
           "val_loss", "epoch={epoch}-step={step}", "monitor", "min", "x" * 300, "'" * 3 + '"', "\\n"]
    out += ["".join(chr(c) for c in range(0, 0x100))]
    # Around every boundary of the non-printable table, so the C++ table is checked end to end.
    cps = set()
    for lo, hi in nonprintable_ranges():
        cps.update(c for c in (lo - 1, lo, hi, hi + 1) if 0 <= c <= 0x10FFFF and not is_surrogate(c))
    cps = sorted(cps)
    out += ["".join(chr(c) for c in cps[i:i + 40]) for i in range(0, len(cps), 40)]
    # A thin sample of the whole code space.
    sample = [c for c in range(0, 0x110000, 251) if not is_surrogate(c)]
    out += ["".join(chr(c) for c in sample[i:i + 60]) for i in range(0, len(sample), 60)]
    randoms = ([rng.randint(0x20, 0x2FFFF) for _ in range(20)] for _ in range(50))
    out += ["".join(chr(c) for c in cps if not is_surrogate(c)) for cps in randoms]
    return out


def invalid_utf8():
    """Bytes a C++ std::string may hold but a Python str cannot: volt shows them like surrogateescape does."""
    return [Raw(b) for b in (b"\xff", b"\x80", b"a\xc0\x80b", b"\xe0\x80\x80", b"\xed\xa0\x80", b"\xf4\x90\x80\x80",
                             b"\xe2\x82", b"\xe2\x82A", b"\xf0\x9f\x98", b"\xc3", b"\xfe\xfe", b"ok\xc3\xa9\xc3",
                             b"\xf8\x88\x80\x80\x80", b"\xc1\xbf", b"'\xff\"", b"\xf5\x80\x80\x80")]


def nest(v, depth):
    for _ in range(depth):
        v = [v]
    return v


def containers(rng):
    return [[], [1, 2], [1], [None, True, False], [[]], [[1, [2, [3, []]]]], (), (1,), (1, 2), ((),), ((1,),),
            ("a", 1.5, None), {}, {"a": 1}, {"a": 1, "b": [1, 2], "c": {"d": None}}, {1: "x", 2: "y"},
            {0: {"momentum_buffer": None}}, {"k": (1,), "t": ()}, [{"a": (1, [2.5, "s"])}, {}],
            {"it's": "say \"x\"", "é": "😀"}, {-5: -0.0, 7: float("inf")},
            {"z": 1, "a": 2, "m": 3}, [1e-05, 1e16, 0.1, -0.0, float("nan")],
            {"nested": {"deeper": {"deepest": [1, (2, {"x": [3]})]}}}, [(1, 2), (3,), ()],
            nest(["deep"], 12)]


def state_keys():
    """Lightning: f"{type(self).__qualname__}{repr(kwargs)}" (callbacks/callback.py _generate_state_key)."""
    cases = [("Counter", {"what": "batches"}),
             ("ModelCheckpoint", {"monitor": None, "mode": "min", "every_n_train_steps": 0, "every_n_epochs": 1,
                                  "train_time_interval": None}),
             ("EarlyStopping", {"monitor": "val_loss", "mode": "min"}),
             ("StatefulCallbackContent1", {"unique": "one"}),
             ("Outer.Inner", {}),
             ("ModelCheckpoint", {"monitor": "val/acc", "mode": "max", "every_n_train_steps": 100,
                                  "every_n_epochs": 0, "train_time_interval": None}),
             ("Cb", {"x": 0.1, "y": True, "z": [1, 2], "w": "it's"})]
    return [{"class": c, "kwargs": [[k, enc(v)] for k, v in kw.items()], "key": f"{c}{kw!r}"} for c, kw in cases]


def main():
    rng = random.Random(20240613)
    values = [None, True, False] + ints(rng) + floats(rng) + strings(rng) + invalid_utf8() + containers(rng)
    vectors = [{"input": enc(v), "repr": repr(py_value(v))} for v in values]
    doc = {"generator": "tools/gen_repr_vectors.py", "python": sys.version.split()[0],
           "unicode": unicodedata.unidata_version, "vectors": vectors, "state_keys": state_keys()}
    with open(OUT, "w", encoding="utf-8") as f:
        f.write("{\n")
        for key in ("generator", "python", "unicode"):
            f.write(f"  {json.dumps(key)}: {json.dumps(doc[key])},\n")
        for key in ("vectors", "state_keys"):
            rows = ",\n".join("    " + json.dumps(r, ensure_ascii=False) for r in doc[key])
            f.write(f"  {json.dumps(key)}: [\n{rows}\n  ]{',' if key == 'vectors' else ''}\n")
        f.write("}\n")
    print(f"wrote {len(vectors)} vectors and {len(doc['state_keys'])} state keys to {os.path.normpath(OUT)}")


if __name__ == "__main__":
    main()
