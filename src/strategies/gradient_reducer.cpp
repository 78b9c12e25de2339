// GradientReducer: bucketed all-reduce started from gradient-accumulation hooks (see the header).
#include "gradient_reducer.hpp"

#include <torch/csrc/autograd/function.h>
#include <torch/csrc/autograd/function_hook.h>
#include <torch/csrc/autograd/variable.h>

#include <map>

#include "volt/distributed.hpp"
#include "volt/error.hpp"

namespace volt::detail {

struct GradientReducer::State {
  struct Bucket {
    std::vector<size_t> members;  // indices into params
    int64_t numel = 0;            // of the gradients
    torch::Tensor flat;           // the gradients, flattened, then one "used" flag per member (allocated once per
                                  // layout): after the mean, a flag above 0 means some rank used the parameter
    size_t ready = 0;
    std::function<void()> wait;   // set once started
  };

  double cap_bytes;
  std::vector<torch::Tensor> params;
  std::vector<std::shared_ptr<torch::autograd::Node>> accumulators;  // kept alive: the hooks live on them
  std::vector<size_t> bucket_of, offset_of;
  std::vector<char> seen;  // this backward's ready marks, per parameter
  std::vector<Bucket> buckets;
  size_t next_to_start = 0;
  size_t started_in_backward = 0;
  bool armed = false;

  void build(const std::vector<torch::Tensor>& trainable);
  void mark_ready(size_t index);
  void start(Bucket& bucket);
  void start_in_order();
};

namespace {

// Runs after a parameter's AccumulateGrad node wrote its .grad: that gradient is final for this backward.
class ReadyHook : public torch::autograd::FunctionPostHook {
 public:
  ReadyHook(std::weak_ptr<GradientReducer::State> state, size_t index) : state_(std::move(state)), index_(index) {}
  torch::autograd::variable_list operator()(const torch::autograd::variable_list& outputs,
                                            const torch::autograd::variable_list&) override {
    if (auto state = state_.lock()) state->mark_ready(index_);
    return outputs;
  }

 private:
  std::weak_ptr<GradientReducer::State> state_;
  size_t index_;
};

bool same_parameters(const std::vector<torch::Tensor>& a, const std::vector<torch::Tensor>& b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i)
    if (!a[i].is_same(b[i])) return false;
  return true;
}

}  // namespace

void GradientReducer::State::build(const std::vector<torch::Tensor>& trainable) {
  params = trainable;
  accumulators.clear();
  buckets.clear();
  bucket_of.assign(params.size(), 0);
  offset_of.assign(params.size(), 0);
  seen.assign(params.size(), 0);
  // reverse order: the last layers' gradients come first in backward
  std::map<c10::ScalarType, size_t> open;  // dtype → its bucket being filled
  std::map<c10::ScalarType, double> filled;
  for (size_t i = params.size(); i-- > 0;) {
    const auto& p = params[i];
    VOLT_CHECK(!p.is_sparse(), "DDPStrategy: sparse parameters are not supported");
    const auto dtype = p.scalar_type();
    const double bytes = static_cast<double>(p.numel() * p.element_size());
    auto it = open.find(dtype);
    if (it == open.end() || (filled[dtype] > 0 && filled[dtype] + bytes > cap_bytes)) {
      buckets.emplace_back();
      open[dtype] = buckets.size() - 1;
      filled[dtype] = 0;
    }
    auto& bucket = buckets[open[dtype]];
    bucket_of[i] = open[dtype];
    offset_of[i] = static_cast<size_t>(bucket.numel);
    bucket.members.push_back(i);
    bucket.numel += p.numel();
    filled[dtype] += bytes;
  }
  for (auto& bucket : buckets) {
    const auto& first = params[bucket.members.front()];
    bucket.flat = torch::empty({bucket.numel + static_cast<int64_t>(bucket.members.size())},
                               first.options().requires_grad(false));
  }
}

void GradientReducer::State::mark_ready(size_t index) {
  if (!armed || index >= seen.size() || seen[index]) return;
  seen[index] = 1;
  if (++buckets[bucket_of[index]].ready == buckets[bucket_of[index]].members.size()) {
    start_in_order();
  }
}

void GradientReducer::State::start(Bucket& bucket) {
  torch::NoGradGuard no_grad;
  std::vector<double> used(bucket.members.size());
  for (size_t k = 0; k < bucket.members.size(); ++k) {
    const size_t i = bucket.members[k];
    auto slice = bucket.flat.slice(0, static_cast<int64_t>(offset_of[i]),
                                   static_cast<int64_t>(offset_of[i]) + params[i].numel());
    const auto& grad = params[i].grad();
    if (grad.defined()) {
      VOLT_CHECK(!grad.is_sparse(), "DDPStrategy: sparse gradients are not supported");
      slice.copy_(grad.reshape({-1}));
      used[k] = 1;
    } else {
      slice.zero_();  // unused on this rank: another rank's gradient is averaged with zeros
    }
  }
  bucket.flat.narrow(0, bucket.numel, static_cast<int64_t>(used.size()))
      .copy_(torch::tensor(used, torch::kDouble));
  bucket.wait = distributed::all_reduce_start(bucket.flat, distributed::ReduceOp::kMean);
}

void GradientReducer::State::start_in_order() {
  while (next_to_start < buckets.size() && buckets[next_to_start].ready == buckets[next_to_start].members.size()) {
    start(buckets[next_to_start]);
    ++next_to_start;
    ++started_in_backward;
  }
}

GradientReducer::GradientReducer(double bucket_cap_bytes) : state_(std::make_shared<State>()) {
  state_->cap_bytes = bucket_cap_bytes;
}

GradientReducer::~GradientReducer() = default;  // the hooks hold the state weakly: they turn into no-ops

void GradientReducer::prepare(const std::vector<torch::Tensor>& parameters, bool sync) {
  auto& s = *state_;
  std::vector<torch::Tensor> trainable;
  for (const auto& p : parameters)
    if (p.requires_grad()) trainable.push_back(p);
  if (!same_parameters(trainable, s.params)) {
    // every rank changes its trainable set at the same point (fine-tuning, pruning), so the layouts agree
    s.build(trainable);
    std::weak_ptr<State> weak = state_;
    for (size_t i = 0; i < s.params.size(); ++i) {
      auto accumulator = torch::autograd::impl::grad_accumulator(s.params[i]);
      VOLT_CHECK(accumulator, "DDPStrategy: parameter ", i, " has no gradient accumulator (is it a leaf tensor?)");
      accumulator->add_post_hook(std::make_unique<ReadyHook>(weak, i));
      s.accumulators.push_back(std::move(accumulator));
    }
  }
  std::fill(s.seen.begin(), s.seen.end(), 0);
  for (auto& bucket : s.buckets) {
    bucket.ready = 0;
    bucket.wait = nullptr;
  }
  s.next_to_start = 0;
  s.started_in_backward = 0;
  s.armed = sync;
}

void GradientReducer::finish() {
  auto& s = *state_;
  if (!s.armed) return;
  s.armed = false;
  if (s.params.empty()) return;
  for (size_t b = s.next_to_start; b < s.buckets.size(); ++b) s.start(s.buckets[b]);
  s.next_to_start = s.buckets.size();
  torch::NoGradGuard no_grad;
  for (auto& bucket : s.buckets) {
    bucket.wait();
    // the flags travel in the bucket: no second collective per step (each costs a round trip)
    auto used = bucket.flat.narrow(0, bucket.numel, static_cast<int64_t>(bucket.members.size()))
                    .gt(0)
                    .to(torch::kCPU)
                    .contiguous();
    const bool* any_rank_used = used.data_ptr<bool>();
    for (size_t k = 0; k < bucket.members.size(); ++k) {
      if (!any_rank_used[k]) continue;  // no rank used it: leave .grad undefined
      auto& p = s.params[bucket.members[k]];
      const auto offset = static_cast<int64_t>(s.offset_of[bucket.members[k]]);
      auto average = bucket.flat.slice(0, offset, offset + p.numel()).view(p.sizes());
      if (p.grad().defined()) p.mutable_grad().copy_(average);
      else p.mutable_grad() = average.clone();
    }
  }
}

size_t GradientReducer::bucket_count() const { return state_->buckets.size(); }
size_t GradientReducer::started_during_backward() const { return state_->started_in_backward; }

}  // namespace volt::detail
