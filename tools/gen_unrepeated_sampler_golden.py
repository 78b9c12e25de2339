#!/usr/bin/env python3
"""Golden data for volt::DistributedSampler with unrepeated=true: the indices Lightning's
UnrepeatedDistributedSampler (what Trainer.predict shards with) gives each rank.

Run with the Lightning oracle: $(/work/shared/tools/lightning-oracle/setup.sh) tools/gen_unrepeated_sampler_golden.py \
    > tests/golden/unrepeated_sampler.json
"""
import json

from lightning.pytorch.overrides.distributed import UnrepeatedDistributedSampler

cases = []
for n, replicas, shuffle, seed, epoch in [
    (10, 3, False, 0, 0),  # 4, 3, 3
    (10, 4, False, 0, 0),
    (10, 3, True, 7, 2),
    (3, 2, False, 0, 0),
    (64, 2, True, 7, 1),
]:
    ranks = []
    for rank in range(replicas):
        s = UnrepeatedDistributedSampler(range(n), num_replicas=replicas, rank=rank, shuffle=shuffle, seed=seed)
        s.set_epoch(epoch)
        ranks.append(list(iter(s)))
    cases.append(dict(n=n, num_replicas=replicas, shuffle=shuffle, seed=seed, epoch=epoch, indices=ranks))
print(json.dumps(cases, indent=1))
