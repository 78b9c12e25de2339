#!/usr/bin/python3
"""Python half of LRScheduler.PythonResumesFromVoltState (tests/unit/lr_scheduler_test.cpp).

    scheduler_resume.py SOURCE_DIR DIR

For every case in tests/golden/optim_vectors.json, DIR/<index>.pt holds the optimizer and scheduler state that
volt wrote with torch::pickle_save at the case's mid_step. This builds PyTorch's own optimizer and scheduler as
tools/gen_optim_vectors.py does, loads volt's state into them (optimizer first, as Lightning does), continues to
the last step and checks every lr against the recorded sequence, bit for bit. Exits 1 on the first difference.
"""
import json
import sys
import warnings

import torch


def main():
    source_dir, directory = sys.argv[1], sys.argv[2]
    sys.path.insert(0, f"{source_dir}/tools")
    import gen_optim_vectors as gen

    warnings.simplefilter("ignore")
    with open(f"{source_dir}/tests/golden/optim_vectors.json") as f:
        golden = json.load(f)
    specs = {spec[0]: spec for spec in gen.CASES}
    for index, case in enumerate(golden["cases"]):
        name, kind, kwargs, opt_kind, opt_kwargs, metrics = specs[case["name"]]
        optimizer = gen.make_optimizer(opt_kind, opt_kwargs)
        scheduler = gen.make_scheduler(kind, kwargs, optimizer)
        saved = torch.load(f"{directory}/{index}.pt")
        try:
            optimizer.load_state_dict(saved["optimizer"])
            scheduler.load_state_dict(saved["scheduler"])
        except Exception as e:  # noqa: BLE001 - report which case PyTorch refused
            print(f"{name}: PyTorch cannot load volt's state: {type(e).__name__}: {e}", file=sys.stderr)
            return 1
        for step in range(case["mid_step"], case["steps"] + 1):
            if step > case["mid_step"]:
                optimizer.step()
                scheduler.step(metrics[step - 1]) if metrics is not None else scheduler.step()
            got = [g["lr"].hex() for g in optimizer.param_groups]
            if got != case["lrs"][step]:
                print(f"{name}: after resuming from volt's state, step {step} gives lrs {got}, "
                      f"PyTorch's own run {case['lrs'][step]}", file=sys.stderr)
                return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
