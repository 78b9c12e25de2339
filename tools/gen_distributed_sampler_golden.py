#!/usr/bin/env python3
"""Golden data for volt::DistributedSampler: the indices torch.utils.data.DistributedSampler gives each rank.

Run with Debian's /usr/bin/python3 (python3-torch 1.13): python3 tools/gen_distributed_sampler_golden.py > tests/golden/distributed_sampler.json
"""
import json

from torch.utils.data.distributed import DistributedSampler

cases = []
for n, replicas, shuffle, seed, epoch, drop_last in [
    (10, 3, True, 7, 2, False),   # padding: 10 → 12
    (10, 3, False, 0, 0, False),
    (10, 3, True, 0, 1, True),    # drop_last: 10 → 9
    (5, 2, True, 42, 0, False),
    (2, 4, False, 0, 0, False),   # more replicas than samples: padding repeats the order
    (64, 2, True, 7, 1, False),
]:
    ranks = []
    for rank in range(replicas):
        s = DistributedSampler(range(n), num_replicas=replicas, rank=rank, shuffle=shuffle, seed=seed,
                               drop_last=drop_last)
        s.set_epoch(epoch)
        ranks.append(list(iter(s)))
    cases.append(dict(n=n, num_replicas=replicas, shuffle=shuffle, seed=seed, epoch=epoch, drop_last=drop_last,
                      indices=ranks))
print(json.dumps(cases, indent=1))
