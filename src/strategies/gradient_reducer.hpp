// GradientReducer: DDP's gradient averaging, overlapped with the backward pass. Parameters are grouped into buckets
// (reverse registration order, as backward produces their gradients; one dtype and at most bucket_cap bytes each).
// A hook after each parameter's gradient accumulation marks it ready; once every parameter of a bucket is ready,
// the bucket is flattened and its all-reduce starts while backward goes on. Buckets start strictly in index order,
// so every rank issues the same collectives in the same order even when they become ready in different orders.
// After backward, buckets still waiting (a parameter this rank did not use) start with zeros in its place; each
// bucket also carries one flag per parameter (1 if this rank used it), so its mean tells which parameters any rank
// used, and the averages are copied back into `.grad`. A parameter no rank used keeps its gradient undefined, as a
// single process would.
#pragma once
#include <torch/torch.h>

#include <functional>
#include <memory>
#include <vector>

namespace volt::detail {

class GradientReducer {
 public:
  explicit GradientReducer(double bucket_cap_bytes);
  ~GradientReducer();
  GradientReducer(const GradientReducer&) = delete;
  GradientReducer& operator=(const GradientReducer&) = delete;

  /// Before a backward: (re)builds the buckets if the trainable parameters changed, and arms the hooks when this
  /// backward's gradients are to be synchronised.
  void prepare(const std::vector<torch::Tensor>& parameters, bool sync);
  /// After the backward: starts what is left, waits for every bucket, writes the averages into `.grad`.
  void finish();

  /// How many buckets the current layout has (tests).
  size_t bucket_count() const;
  /// How many buckets started during the last synchronised backward, before finish() (tests and benchmarks).
  size_t started_during_backward() const;

  struct State;  // shared with the autograd hooks, which hold it weakly

 private:
  std::shared_ptr<State> state_;  // shared with the autograd hooks, which hold it weakly
};

}  // namespace volt::detail
