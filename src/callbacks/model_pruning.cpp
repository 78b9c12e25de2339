// ModelPruning, following Lightning 2.2.5's callbacks/pruning.py, and the torch.nn.utils.prune pieces it uses,
// following torch 1.13's prune.py (masks, PruningContainer combination, global_unstructured, remove).
#include "volt/callbacks/model_pruning.hpp"

#include <torch/torch.h>

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdio>
#include <mutex>
#include <set>
#include <sstream>

#include "volt/error.hpp"
#include "volt/messages.hpp"
#include "volt/module.hpp"
#include "volt/serialization/python_repr.hpp"
#include "volt/trainer.hpp"

// ---- access to torch::nn::Module's registration dictionaries ---------------------------------------------------
// libtorch 1.13 has no public way to unregister a parameter or a buffer. `parameters_` is protected: a derived
// class may name it and the resulting pointer-to-member works on any Module. `buffers_` is private: an explicit
// template instantiation may name private members ([temp.spec]/6), which hands out the pointer-to-member.
namespace {
using TensorDict = torch::OrderedDict<std::string, torch::Tensor>;

struct ParametersAccess : torch::nn::Module {
  static TensorDict& of(torch::nn::Module& m) { return m.*(&ParametersAccess::parameters_); }
};

struct BuffersTag {
  using type = TensorDict torch::nn::Module::*;
  friend type buffers_member(BuffersTag);
};
template <BuffersTag::type Member>
struct BuffersRobber {
  friend BuffersTag::type buffers_member(BuffersTag) { return Member; }
};
template struct BuffersRobber<&torch::nn::Module::buffers_>;

TensorDict& parameters_of(torch::nn::Module& m) { return ParametersAccess::of(m); }
TensorDict& buffers_of(torch::nn::Module& m) { return m.*buffers_member(BuffersTag{}); }
const TensorDict& buffers_of(const torch::nn::Module& m) { return buffers_of(const_cast<torch::nn::Module&>(m)); }
const TensorDict& parameters_of(const torch::nn::Module& m) {
  return parameters_of(const_cast<torch::nn::Module&>(m));
}
}  // namespace

namespace volt {
namespace {

using detail::concat;

const std::vector<std::string> kFunctionNames{"ln_structured", "l1_unstructured", "random_structured",
                                              "random_unstructured"};
const std::vector<std::string> kParameterNames{"weight", "bias"};

std::string python_list(const std::vector<std::string>& items) {
  std::string out = "[";
  for (size_t i = 0; i < items.size(); ++i) out += (i ? ", " : "") + python_str_repr(items[i]);
  return out + "]";
}

bool has_defined(const TensorDict& dict, const std::string& key) {
  const torch::Tensor* t = dict.find(key);
  return t != nullptr && t->defined();
}

// ---- where a layer keeps the tensor its forward reads -----------------------------------------------------------

std::mutex& resolvers_mutex() {
  static std::mutex m;
  return m;
}
std::vector<pruning::TensorSlotResolver>& resolvers() {
  static std::vector<pruning::TensorSlotResolver> r;
  return r;
}

template <class T>
torch::Tensor* weight_and_bias(torch::nn::Module& m, const std::string& name) {
  auto* layer = dynamic_cast<T*>(&m);
  if (layer == nullptr) return nullptr;
  if (name == "weight") return &layer->weight;
  if (name == "bias") return &layer->bias;
  return nullptr;
}
template <class T>
torch::Tensor* weight_only(torch::nn::Module& m, const std::string& name) {
  auto* layer = dynamic_cast<T*>(&m);
  return layer != nullptr && name == "weight" ? &layer->weight : nullptr;
}

torch::Tensor* find_slot(torch::nn::Module& m, const std::string& name) {
  {
    std::lock_guard<std::mutex> lock(resolvers_mutex());
    for (const auto& r : resolvers())
      if (torch::Tensor* t = r(m, name)) return t;
  }
  using namespace torch::nn;
  for (auto* f : {&weight_and_bias<LinearImpl>, &weight_and_bias<BilinearImpl>, &weight_and_bias<Conv1dImpl>,
                  &weight_and_bias<Conv2dImpl>, &weight_and_bias<Conv3dImpl>, &weight_and_bias<ConvTranspose1dImpl>,
                  &weight_and_bias<ConvTranspose2dImpl>, &weight_and_bias<ConvTranspose3dImpl>,
                  &weight_and_bias<BatchNorm1dImpl>, &weight_and_bias<BatchNorm2dImpl>,
                  &weight_and_bias<BatchNorm3dImpl>, &weight_and_bias<InstanceNorm1dImpl>,
                  &weight_and_bias<InstanceNorm2dImpl>, &weight_and_bias<InstanceNorm3dImpl>,
                  &weight_and_bias<LayerNormImpl>, &weight_and_bias<GroupNormImpl>, &weight_only<EmbeddingImpl>,
                  &weight_only<PReLUImpl>})
    if (torch::Tensor* t = f(m, name)) return t;
  return nullptr;
}

torch::Tensor& slot_of(torch::nn::Module& m, const std::string& name) {
  torch::Tensor* slot = find_slot(m, name);
  VOLT_CHECK(slot != nullptr, "ModelPruning: cannot prune `", name, "` of a `", m.name(),
             "`: volt does not know which member tensor its forward reads. Supported layers: Linear, Bilinear, "
             "Conv*, ConvTranspose*, BatchNorm*, InstanceNorm*, LayerNorm, GroupNorm, Embedding, PReLU; register "
             "others with volt::pruning::add_tensor_slot_resolver");
  return *slot;
}

// Python's repr of a module, for the verbose messages and errors (the common layers exactly).
std::string py_bool(bool b) { return b ? "True" : "False"; }
template <size_t D>
std::string py_tuple(const torch::ExpandingArray<D>& a) {
  std::string out = "(";
  for (size_t i = 0; i < D; ++i) out += std::to_string((*a)[i]) + (D == 1 ? "," : (i + 1 < D ? ", " : ""));
  return out + ")";
}
template <class Conv>
bool conv_repr(torch::nn::Module& m, const char* name, std::string& out) {
  auto* c = dynamic_cast<Conv*>(&m);
  if (c == nullptr) return false;
  const auto& o = c->options;
  std::ostringstream s;
  s << name << "(" << o.in_channels() << ", " << o.out_channels() << ", kernel_size=" << py_tuple(o.kernel_size())
    << ", stride=" << py_tuple(o.stride());
  if (const auto* pad = c10::get_if<std::decay_t<decltype(o.stride())>>(&o.padding())) {
    bool zero = true;
    for (auto v : **pad) zero = zero && v == 0;
    if (!zero) s << ", padding=" << py_tuple(*pad);
  }
  if (!o.bias()) s << ", bias=False";
  s << ")";
  out = s.str();
  return true;
}
template <class BN>
bool bn_repr(torch::nn::Module& m, const char* name, std::string& out) {
  auto* b = dynamic_cast<BN*>(&m);
  if (b == nullptr) return false;
  const auto& o = b->options;
  out = concat(name, "(", o.num_features(), ", eps=", python_float_repr(o.eps()), ", momentum=",
               o.momentum() ? python_float_repr(*o.momentum()) : std::string("None"), ", affine=", py_bool(o.affine()),
               ", track_running_stats=", py_bool(o.track_running_stats()), ")");
  return true;
}

std::string module_repr(torch::nn::Module& m) {
  if (auto* l = dynamic_cast<torch::nn::LinearImpl*>(&m))
    return concat("Linear(in_features=", l->options.in_features(), ", out_features=", l->options.out_features(),
                  ", bias=", py_bool(l->options.bias()), ")");
  std::string out;
  if (conv_repr<torch::nn::Conv1dImpl>(m, "Conv1d", out) || conv_repr<torch::nn::Conv2dImpl>(m, "Conv2d", out) ||
      conv_repr<torch::nn::Conv3dImpl>(m, "Conv3d", out) ||
      bn_repr<torch::nn::BatchNorm1dImpl>(m, "BatchNorm1d", out) ||
      bn_repr<torch::nn::BatchNorm2dImpl>(m, "BatchNorm2d", out) ||
      bn_repr<torch::nn::BatchNorm3dImpl>(m, "BatchNorm3d", out))
    return out;
  std::ostringstream s;
  m.pretty_print(s);
  out = s.str();
  if (out.rfind("torch::nn::", 0) == 0) out = out.substr(11);
  return out;
}

// A fresh initialisation of a layer (Python: deepcopy(layer).reset_parameters()): a new instance from the same
// options draws the same random numbers as reset_parameters. nullptr when the type is not known.
template <class T>
std::shared_ptr<torch::nn::Module> fresh(torch::nn::Module& m) {
  auto* layer = dynamic_cast<T*>(&m);
  return layer == nullptr ? nullptr : std::make_shared<T>(layer->options);
}
template <size_t D, class T>
std::shared_ptr<torch::nn::Module> fresh_conv(torch::nn::Module& m) {
  auto* layer = dynamic_cast<T*>(&m);
  if (layer == nullptr) return nullptr;
  const auto& o = layer->options;
  torch::nn::ConvOptions<D> c(o.in_channels(), o.out_channels(), o.kernel_size());
  c.stride(o.stride()).padding(o.padding()).dilation(o.dilation()).groups(o.groups()).bias(o.bias());
  c.padding_mode(o.padding_mode());
  return std::make_shared<T>(c);
}

std::shared_ptr<torch::nn::Module> fresh_copy(torch::nn::Module& m) {
  using namespace torch::nn;
  for (auto* f : {&fresh<LinearImpl>, &fresh<BilinearImpl>, &fresh_conv<1, Conv1dImpl>, &fresh_conv<2, Conv2dImpl>,
                  &fresh_conv<3, Conv3dImpl>, &fresh<BatchNorm1dImpl>, &fresh<BatchNorm2dImpl>, &fresh<BatchNorm3dImpl>,
                  &fresh<LayerNormImpl>, &fresh<GroupNormImpl>, &fresh<EmbeddingImpl>})
    if (auto copy = f(m)) return copy;
  return nullptr;
}

// ---- torch.nn.utils.prune's mask computations -------------------------------------------------------------------

std::string amount_error(const PruningAmount& a) {
  return concat("amount=", a.repr(), " should either be a float in the range [0, 1] or a non-negative integer");
}
void validate_amount_init(const PruningAmount& a) {
  bool bad = a.is_count ? a.count < 0 : (a.fraction > 1.0 || a.fraction < 0.0 || std::isnan(a.fraction));
  VOLT_CHECK(!bad, amount_error(a));
}
int64_t nparams_toprune(const PruningAmount& a, int64_t tensor_size) {
  // Python: round(amount * tensor_size), ties to even (the default rounding mode)
  return a.is_count ? a.count : static_cast<int64_t>(std::nearbyint(a.fraction * static_cast<double>(tensor_size)));
}
void validate_amount(const PruningAmount& a, int64_t tensor_size) {
  VOLT_CHECK(!(a.is_count && a.count > tensor_size), "amount=", a.count,
             " should be smaller than the number of parameters to prune=", tensor_size);
}
std::string torch_size(const torch::Tensor& t) {
  std::string out = "torch.Size([";
  for (int64_t i = 0; i < t.dim(); ++i) out += (i ? ", " : "") + std::to_string(t.size(i));
  return out + "])";
}
void validate_structured(const torch::Tensor& t, int64_t dim) {
  VOLT_CHECK(t.dim() > 1, "Structured pruning can only be applied to multidimensional tensors. Found tensor of shape ",
             torch_size(t), " with ", t.dim(), " dims");
  VOLT_CHECK(dim < t.dim(), "Invalid index ", dim, " for tensor of size ", torch_size(t));
}

torch::Tensor l1_unstructured_mask(const torch::Tensor& t, const torch::Tensor& default_mask, const PruningAmount& a) {
  const int64_t n = nparams_toprune(a, t.numel());
  validate_amount(a, t.numel());
  torch::Tensor mask = default_mask.clone(at::MemoryFormat::Contiguous);
  if (n != 0) {
    auto top = torch::topk(torch::abs(t).reshape(-1), n, /*dim=*/-1, /*largest=*/false);
    mask.view(-1).index_fill_(0, std::get<1>(top), 0);
  }
  return mask;
}

torch::Tensor random_unstructured_mask(const torch::Tensor& t, const torch::Tensor& default_mask,
                                       const PruningAmount& a) {
  const int64_t n = nparams_toprune(a, t.numel());
  validate_amount(a, t.numel());
  torch::Tensor mask = default_mask.clone(at::MemoryFormat::Contiguous);
  if (n != 0) {
    torch::Tensor prob = torch::rand_like(t);
    auto top = torch::topk(prob.view(-1), n);
    mask.view(-1).index_fill_(0, std::get<1>(top), 0);
  }
  return mask;
}

// Python's `t[slc]` with slc = [:, ..., index at dim, ..., :] (advanced indexing; `index` may be bool).
c10::List<c10::optional<at::Tensor>> channel_index(int64_t ndim, int64_t dim, const torch::Tensor& index) {
  c10::List<c10::optional<at::Tensor>> slc;
  const int64_t d = dim < 0 ? dim + ndim : dim;
  // a boolean channel selection becomes the indices it selects (ATen's masked_fill shortcut for a lone bool index
  // would broadcast it against the trailing dims instead)
  const at::Tensor positions = index.scalar_type() == at::kBool ? index.nonzero().squeeze(1) : index;
  for (int64_t i = 0; i < ndim; ++i) slc.push_back(i == d ? c10::optional<at::Tensor>(positions) : c10::nullopt);
  return slc;
}

torch::Tensor ln_structured_mask(const torch::Tensor& t, const torch::Tensor& default_mask, const PruningAmount& a,
                                 double n, int64_t dim) {
  validate_structured(t, dim);
  const int64_t tensor_size = t.size(dim);
  const int64_t toprune = nparams_toprune(a, tensor_size);
  const int64_t tokeep = tensor_size - toprune;
  validate_amount(a, tensor_size);
  std::vector<int64_t> dims;
  const int64_t d = dim < 0 ? dim + t.dim() : dim;
  for (int64_t i = 0; i < t.dim(); ++i)
    if (i != d) dims.push_back(i);
  torch::Tensor norm = torch::norm(t, n, dims);
  auto top = torch::topk(norm, tokeep, /*dim=*/-1, /*largest=*/true);
  if (toprune == 0) return default_mask;
  torch::Tensor mask = torch::zeros_like(t);
  mask.index_put_(channel_index(t.dim(), dim, std::get<1>(top)), torch::ones({}, mask.options()));
  mask *= default_mask.to(mask.dtype());
  return mask;
}

torch::Tensor random_structured_mask(const torch::Tensor& t, const torch::Tensor& default_mask,
                                     const PruningAmount& a, int64_t dim) {
  validate_structured(t, dim);
  const int64_t tensor_size = t.size(dim);
  const int64_t toprune = nparams_toprune(a, tensor_size);
  validate_amount(a, tensor_size);
  if (toprune == 0) return default_mask;
  torch::Tensor prob = torch::rand({tensor_size});
  torch::Tensor threshold = std::get<0>(torch::kthvalue(prob, toprune));
  torch::Tensor channel_mask = prob > threshold;
  torch::Tensor mask = torch::zeros_like(t);
  mask.index_put_(channel_index(t.dim(), dim, channel_mask), torch::ones({}, mask.options()));
  mask *= default_mask.to(mask.dtype());
  return mask;
}

// One pruning method instance: its type, dim (structured) and compute_mask(t, default_mask).
struct Method {
  std::string type;
  int64_t dim = 0;
  std::function<torch::Tensor(const torch::Tensor&, const torch::Tensor&)> compute;
};

// PruningContainer._combine_masks: the new method sees only what is still unpruned.
torch::Tensor combine_masks(const Method& method, const torch::Tensor& t, const torch::Tensor& mask) {
  torch::Tensor new_mask = mask.to(t.dtype());
  if (method.type == "unstructured") {
    torch::Tensor slc = mask == 1;
    // t[slc] / new_mask[slc] = ... with a boolean mask: row-major order, as masked_select/masked_scatter_
    torch::Tensor partial = method.compute(t.masked_select(slc), mask.masked_select(slc));
    new_mask.masked_scatter_(slc, partial.to(new_mask.dtype()));
  } else if (method.type == "structured") {
    const int64_t n_dims = t.dim();
    int64_t dim = method.dim < 0 ? n_dims + method.dim : method.dim;
    VOLT_CHECK(dim >= 0, "Index is out of bounds for tensor of size ", torch_size(t));
    std::vector<int64_t> others;
    for (int64_t d = 0; d < n_dims; ++d)
      if (d != dim) others.push_back(d);
    torch::Tensor keep_channel = mask.sum(others) != 0;
    auto slc = channel_index(n_dims, dim, keep_channel);
    torch::Tensor partial = method.compute(t.index(slc), mask.index(slc));
    new_mask.index_put_(slc, partial.to(new_mask.dtype()));
  } else {
    torch::Tensor partial = method.compute(t, mask);
    new_mask.copy_(partial.to(new_mask.dtype()));
  }
  return new_mask;
}

// BasePruningMethod.apply: the first pruning reparametrises, later ones combine masks.
void apply_method(torch::nn::Module& m, const std::string& name, const Method& method) {
  torch::Tensor& slot = slot_of(m, name);
  const bool pruned = pruning::is_pruned(m, name);
  TensorDict& params = parameters_of(m);
  torch::Tensor mask;
  {
    torch::NoGradGuard no_grad;
    if (!pruned) {
      VOLT_CHECK(has_defined(params, name), "ModelPruning: module `", module_repr(m), "` has no parameter `", name,
                 "`");
      torch::Tensor orig = params[name];
      mask = method.compute(orig.detach(), torch::ones_like(orig));
    } else {
      torch::Tensor default_mask = buffers_of(m)[name + "_mask"].detach().clone(at::MemoryFormat::Contiguous);
      mask = combine_masks(method, slot.detach(), default_mask);
    }
  }
  if (!pruned) {
    torch::Tensor orig = params[name];
    params.erase(name);
    params.insert(name + "_orig", orig);
    m.register_buffer(name + "_mask", mask);
  } else {
    buffers_of(m)[name + "_mask"] = mask;
  }
  slot = mask.to(params[name + "_orig"].dtype()) * params[name + "_orig"];
}

Method l1u(PruningAmount a) {
  return {"unstructured", 0, [a](const torch::Tensor& t, const torch::Tensor& dm) {
            return l1_unstructured_mask(t, dm, a);
          }};
}
Method ru(PruningAmount a) {
  return {"unstructured", 0, [a](const torch::Tensor& t, const torch::Tensor& dm) {
            return random_unstructured_mask(t, dm, a);
          }};
}

std::vector<torch::nn::Module*> unique_modules(torch::nn::Module& root) {
  std::vector<torch::nn::Module*> out{&root};
  std::set<torch::nn::Module*> seen{&root};
  for (const auto& m : root.modules(/*include_self=*/false))
    if (seen.insert(m.get()).second) out.push_back(m.get());
  return out;
}

bool is_container(torch::nn::Module& m) {
  return dynamic_cast<volt::Module*>(&m) != nullptr || dynamic_cast<torch::nn::SequentialImpl*>(&m) != nullptr ||
         dynamic_cast<torch::nn::ModuleListImpl*>(&m) != nullptr ||
         dynamic_cast<torch::nn::ModuleDictImpl*>(&m) != nullptr;
}

// Python's "{:.2%}"
std::string percent(double x) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.2f%%", x * 100.0);
  return buf;
}

}  // namespace

std::string PruningAmount::repr() const { return is_count ? std::to_string(count) : python_float_repr(fraction); }

// ---- volt::pruning ---------------------------------------------------------------------------------------------

namespace pruning {

void add_tensor_slot_resolver(TensorSlotResolver resolver) {
  std::lock_guard<std::mutex> lock(resolvers_mutex());
  resolvers().insert(resolvers().begin(), std::move(resolver));
}

bool is_pruned(const torch::nn::Module& module, const std::string& name) {
  return has_defined(buffers_of(module), name + "_mask") && has_defined(parameters_of(module), name + "_orig");
}

torch::Tensor effective(torch::nn::Module& module, const std::string& name) {
  if (is_pruned(module, name)) return slot_of(module, name);
  const torch::Tensor* p = parameters_of(module).find(name);
  return p != nullptr ? *p : torch::Tensor();
}

void l1_unstructured(torch::nn::Module& module, const std::string& name, PruningAmount amount) {
  validate_amount_init(amount);
  apply_method(module, name, l1u(amount));
}

void random_unstructured(torch::nn::Module& module, const std::string& name, PruningAmount amount) {
  validate_amount_init(amount);
  apply_method(module, name, ru(amount));
}

void ln_structured(torch::nn::Module& module, const std::string& name, PruningAmount amount, double n, int64_t dim) {
  validate_amount_init(amount);
  apply_method(module, name, {"structured", dim, [=](const torch::Tensor& t, const torch::Tensor& dm) {
                                return ln_structured_mask(t, dm, amount, n, dim);
                              }});
}

void random_structured(torch::nn::Module& module, const std::string& name, PruningAmount amount, int64_t dim) {
  validate_amount_init(amount);
  apply_method(module, name, {"structured", dim, [=](const torch::Tensor& t, const torch::Tensor& dm) {
                                return random_structured_mask(t, dm, amount, dim);
                              }});
}

void custom_from_mask(torch::nn::Module& module, const std::string& name, const torch::Tensor& mask) {
  apply_method(module, name, {"global", 0, [mask](const torch::Tensor&, const torch::Tensor& dm) {
                                VOLT_CHECK(dm.sizes() == mask.sizes(), "custom_from_mask: the mask's shape ",
                                           torch_size(mask), " differs from the tensor's ", torch_size(dm));
                                return dm * mask.to(dm.dtype());
                              }});
}

PruningMethod l1_unstructured_method() {
  return {&l1_unstructured_mask, "unstructured", "<class 'torch.nn.utils.prune.L1Unstructured'>"};
}
PruningMethod random_unstructured_method() {
  return {&random_unstructured_mask, "unstructured", "<class 'torch.nn.utils.prune.RandomUnstructured'>"};
}

void global_unstructured(const std::vector<std::pair<torch::nn::Module*, std::string>>& parameters,
                         const PruningMethod& method, PruningAmount amount) {
  validate_amount_init(amount);
  VOLT_CHECK(method.pruning_type == "unstructured",
             "Only \"unstructured\" PRUNING_TYPE supported for the `pruning_method`. Found method ", method.repr,
             " of type ", method.pruning_type);
  torch::Tensor final_mask;
  {
    torch::NoGradGuard no_grad;
    std::vector<torch::Tensor> scores, masks;
    for (const auto& [m, name] : parameters) {
      torch::Tensor t = effective(*m, name);
      VOLT_CHECK(t.defined(), "global_unstructured: module `", module_repr(*m), "` has no parameter `", name, "`");
      scores.push_back(t.detach().reshape(-1));
      masks.push_back(is_pruned(*m, name) ? buffers_of(*m)[name + "_mask"].detach().reshape(-1)
                                          : torch::ones_like(t).reshape(-1));
    }
    torch::Tensor importance = torch::cat(scores);
    torch::Tensor default_mask = torch::cat(masks);
    Method inner{"unstructured", 0, [&](const torch::Tensor& t, const torch::Tensor& dm) {
                   return method.compute_mask(t, dm, amount);
                 }};
    final_mask = combine_masks(inner, importance, default_mask);
  }
  int64_t pointer = 0;
  for (const auto& [m, name] : parameters) {
    torch::Tensor t = effective(*m, name);
    const int64_t numel = t.numel();
    custom_from_mask(*m, name, final_mask.slice(0, pointer, pointer + numel).view_as(t));
    pointer += numel;
  }
}

void remove(torch::nn::Module& module, const std::string& name) {
  VOLT_CHECK(is_pruned(module, name), "Parameter '", name, "' of module ", module_repr(module),
             " has to be pruned before pruning can be removed");
  torch::Tensor& slot = slot_of(module, name);
  TensorDict& params = parameters_of(module);
  torch::Tensor orig = params[name + "_orig"];
  {
    torch::NoGradGuard no_grad;
    torch::Tensor weight = buffers_of(module)[name + "_mask"].to(orig.dtype()) * orig;
    orig.set_data(weight);
  }
  params.erase(name + "_orig");
  buffers_of(module).erase(name + "_mask");
  params.insert(name, orig);
  slot = orig;
}

void refresh(torch::nn::Module& module) {
  for (torch::nn::Module* m : unique_modules(module)) {
    for (const auto& b : buffers_of(*m)) {
      const std::string& key = b.key();
      if (key.size() <= 5 || key.compare(key.size() - 5, 5, "_mask") != 0) continue;
      const std::string name = key.substr(0, key.size() - 5);
      const torch::Tensor* orig = parameters_of(*m).find(name + "_orig");
      if (orig == nullptr || !orig->defined()) continue;
      if (torch::Tensor* slot = find_slot(*m, name)) *slot = b.value().to(orig->dtype()) * *orig;
    }
  }
}

}  // namespace pruning

// ---- ModelPruning --------------------------------------------------------------------------------------------------

ModelPruning::ModelPruning(ModelPruningOptions options) : options_(std::move(options)) {
  auto& o = options_;
  parameter_names_ = o.parameter_names && !o.parameter_names->empty() ? *o.parameter_names : kParameterNames;
  for (const auto& name : parameter_names_)
    VOLT_CHECK(name == "weight" || name == "bias", "The provided `parameter_names` name: ", name,
               " isn't in ('weight', 'bias')");
  std::string pruning_type;
  std::string method_repr;
  if (!o.pruning_method) {
    std::string fn = o.pruning_fn;
    std::transform(fn.begin(), fn.end(), fn.begin(), [](unsigned char c) { return std::tolower(c); });
    VOLT_CHECK(std::find(kFunctionNames.begin(), kFunctionNames.end(), fn) != kFunctionNames.end(),
               "The provided `pruning_fn` ", fn, " isn't available in PyTorch's built-in functions: ",
               python_list(kFunctionNames), " ");
    const bool structured = fn.size() > 11 && fn.compare(fn.size() - 11, 11, "_structured") == 0;
    if (structured) {
      VOLT_CHECK(o.pruning_dim.has_value(),
                 "When requesting `structured` pruning, the `pruning_dim` should be provided.");
      if (fn == "ln_structured")
        VOLT_CHECK(o.pruning_norm.has_value(),
                   "When requesting `ln_structured` pruning, the `pruning_norm` should be provided.");
    }
    o.pruning_fn = fn;
    static const std::map<std::string, std::string> class_names{{"ln_structured", "LnStructured"},
                                                                {"l1_unstructured", "L1Unstructured"},
                                                                {"random_structured", "RandomStructured"},
                                                                {"random_unstructured", "RandomUnstructured"}};
    method_name_ = o.use_global_unstructured ? class_names.at(fn) : fn;
    pruning_type = structured ? "structured" : "unstructured";
    method_repr = "<class 'torch.nn.utils.prune." + class_names.at(fn) + "'>";
  } else {
    VOLT_CHECK(o.pruning_fn.empty(), "ModelPruning: set either `pruning_fn` (a name) or `pruning_method`, not both");
    VOLT_CHECK(static_cast<bool>(o.pruning_method->compute_mask), "`pruning_fn` is expected to be a str in ",
               python_list(kFunctionNames), " or a PyTorch `BasePruningMethod`. Found: ", o.pruning_method->repr,
               ". HINT: if passing a `BasePruningMethod`, pass the the class, not an instance");
    VOLT_CHECK(o.use_global_unstructured,
               "PyTorch `BasePruningMethod` is currently only supported with `use_global_unstructured=True`.");
    method_name_ = "None";
    pruning_type = o.pruning_method->pruning_type;
    method_repr = o.pruning_method->repr;
  }
  VOLT_CHECK(!o.use_global_unstructured || pruning_type == "unstructured",
             "Only the \"unstructured\" PRUNING_TYPE is supported with `use_global_unstructured=True`. Found method ",
             method_repr, " of type ", pruning_type, ". ");
  if (!o.amount_fn) validate_amount_init(o.amount);  // volt: early (torch raises this at the first pruning)
  VOLT_CHECK(o.verbose >= 0 && o.verbose <= 2, "`verbose` must be any of (0, 1, 2)");
}

std::vector<PruningParameter> ModelPruning::sanitize_parameters_to_prune(
    torch::nn::Module& module, const std::vector<PruningParameter>& parameters_to_prune,
    const std::vector<std::string>& parameter_names) {
  const std::vector<std::string>& names = parameter_names.empty() ? kParameterNames : parameter_names;
  std::vector<std::shared_ptr<torch::nn::Module>> current;
  {
    std::set<torch::nn::Module*> seen;
    auto consider = [&](const std::shared_ptr<torch::nn::Module>& m) {
      if (seen.insert(m.get()).second && !is_container(*m)) current.push_back(m);
    };
    for (const auto& m : module.modules(/*include_self=*/false)) consider(m);
  }
  std::vector<PruningParameter> out;
  if (parameters_to_prune.empty()) {
    for (const auto& p : names)
      for (const auto& m : current)
        if (has_defined(parameters_of(*m), p) || pruning::is_pruned(*m, p)) out.emplace_back(m, p);
    return out;
  }
  std::vector<std::string> missing_modules, missing_parameters;
  for (const auto& [m, name] : parameters_to_prune) {
    VOLT_CHECK(m != nullptr, "The provided `parameters_to_prune` should either be list of tuple with 2 elements: "
               "(nn.Module, parameter_name_to_prune) or None");
    bool found = std::any_of(current.begin(), current.end(), [&](const auto& c) { return c.get() == m.get(); });
    if (!found) {
      missing_modules.push_back(module_repr(*m));
      continue;
    }
    if (!has_defined(parameters_of(*m), name) && !pruning::is_pruned(*m, name) && !buffers_of(*m).contains(name))
      missing_parameters.push_back(name);
  }
  if (!missing_modules.empty() || !missing_parameters.empty()) {
    std::string mods = "[";
    for (size_t i = 0; i < missing_modules.size(); ++i) mods += (i ? ", " : "") + missing_modules[i];
    mods += "]";
    throw MisconfigurationError(concat("Some provided `parameters_to_prune` don't exist in the model. Found missing "
                                       "modules: ", mods, " and missing parameters: ", python_list(missing_parameters)));
  }
  return parameters_to_prune;
}

void ModelPruning::setup(Trainer& /*trainer*/, Module& module, const std::string& /*stage*/) {
  parameters_ = filter_parameters_to_prune(
      sanitize_parameters_to_prune(module, options_.parameters_to_prune, parameter_names_));
  for (const auto& [m, name] : parameters_) slot_of(*m, name);  // volt: unknown layer types fail here, early
  if (options_.use_lottery_ticket_hypothesis || options_.use_lottery_ticket_hypothesis_fn) {
    original_layers_.emplace();
    for (size_t i = 0; i < parameters_.size(); ++i) {
      const auto& [m, name] = parameters_[i];
      auto it = std::find_if(original_layers_->begin(), original_layers_->end(),
                             [&](const LayerSnapshot& s) { return s.module.get() == m.get(); });
      if (it == original_layers_->end()) {
        LayerSnapshot snap;
        snap.module = m;
        for (const std::string& n : kParameterNames) {
          torch::Tensor t = pruning::effective(*m, n);
          if (t.defined()) snap.tensors[n] = t.detach().clone();
        }
        original_layers_->push_back(std::move(snap));
        it = std::prev(original_layers_->end());
      }
      it->names.emplace_back(i, name);
    }
  }
}

void ModelPruning::apply_lottery_ticket_hypothesis() {
  if (!original_layers_) return;
  for (const LayerSnapshot& snap : *original_layers_) {
    std::map<std::string, torch::Tensor> source = snap.tensors;
    if (options_.resample_parameters) {
      if (auto copy = fresh_copy(*snap.module)) {
        source.clear();
        for (const auto& p : copy->named_parameters(/*recurse=*/false)) source[p.key()] = p.value().detach();
      }
    }
    for (const auto& [i, name] : snap.names) {
      torch::nn::Module& live = *parameters_[i].first;
      torch::Tensor dst = pruning::effective(live, name);
      auto src = source.find(name);
      if (!dst.defined() || src == source.end() || !src->second.defined()) continue;
      // Lightning: dst.data = src.data — dst is `getattr(module, name)`, the effective tensor
      dst.set_data(src->second.to(dst.device()).clone());
    }
  }
}

void ModelPruning::apply_pruning(PruningAmount amount) {
  auto stats = [&] {
    std::vector<std::pair<int64_t, int64_t>> out;
    for (const auto& [m, name] : parameters_) {
      if (!pruning::is_pruned(*m, name)) {
        out.emplace_back(0, 1);
        continue;
      }
      torch::Tensor mask = buffers_of(*m)[name + "_mask"];
      out.emplace_back((mask == 0).sum().item<int64_t>(), mask.numel());
    }
    return out;
  };
  std::vector<std::pair<int64_t, int64_t>> prev;
  if (options_.verbose) prev = stats();
  if (options_.use_global_unstructured) {
    std::vector<std::pair<torch::nn::Module*, std::string>> list;
    for (const auto& [m, name] : parameters_) list.emplace_back(m.get(), name);
    PruningMethod method = options_.pruning_method       ? *options_.pruning_method
                           : options_.pruning_fn == "l1_unstructured" ? pruning::l1_unstructured_method()
                                                                      : pruning::random_unstructured_method();
    pruning::global_unstructured(list, method, amount);
  } else {
    const std::string& fn = options_.pruning_fn;
    for (const auto& [m, name] : parameters_) {
      if (fn == "l1_unstructured") pruning::l1_unstructured(*m, name, amount);
      else if (fn == "random_unstructured") pruning::random_unstructured(*m, name, amount);
      else if (fn == "ln_structured")
        pruning::ln_structured(*m, name, amount, *options_.pruning_norm, *options_.pruning_dim);
      else pruning::random_structured(*m, name, amount, *options_.pruning_dim);
    }
  }
  if (options_.verbose) log_sparsity_stats(prev, stats(), amount);
}

void ModelPruning::log_sparsity_stats(const std::vector<std::pair<int64_t, int64_t>>& prev,
                                      const std::vector<std::pair<int64_t, int64_t>>& curr,
                                      const PruningAmount& amount) const {
  int64_t total = 0, prev_zeros = 0, curr_zeros = 0;
  for (const auto& entry : parameters_)
    for (const auto& p : entry.first->parameters(/*recurse=*/true)) total += p.numel();
  for (const auto& s : prev) prev_zeros += s.first;
  for (const auto& s : curr) curr_zeros += s.first;
  const double n = static_cast<double>(total);
  rank_zero_info(concat("Applied `", method_name_, "`. Pruned: ", prev_zeros, "/", total, " (",
                        percent(static_cast<double>(prev_zeros) / n), ") -> ", curr_zeros, "/", total, " (",
                        percent(static_cast<double>(curr_zeros) / n), ")"));
  if (options_.verbose != 2) return;
  for (size_t i = 0; i < parameters_.size(); ++i) {
    const auto& [m, name] = parameters_[i];
    rank_zero_info(concat("Applied `", method_name_, "` to `", module_repr(*m), ".", name,
                          "` with amount=", amount.repr(), ". Pruned: ", prev[i].first, " (",
                          percent(static_cast<double>(prev[i].first) / static_cast<double>(prev[i].second)), ") -> ",
                          curr[i].first, " (",
                          percent(static_cast<double>(curr[i].first) / static_cast<double>(curr[i].second)), ")"));
  }
}

void ModelPruning::run_pruning(int64_t epoch) {
  const bool prune = options_.apply_pruning_fn ? options_.apply_pruning_fn(epoch) : options_.apply_pruning;
  const PruningAmount amount = options_.amount_fn ? options_.amount_fn(epoch) : options_.amount;
  if (!prune || !amount.truthy()) return;
  apply_pruning(amount);
  const bool lth = options_.use_lottery_ticket_hypothesis_fn ? options_.use_lottery_ticket_hypothesis_fn(epoch)
                                                             : options_.use_lottery_ticket_hypothesis;
  if (lth) apply_lottery_ticket_hypothesis();
}

void ModelPruning::on_train_epoch_end(Trainer& /*trainer*/, Module& module) {
  if (options_.prune_on_train_epoch_end) run_pruning(module.current_epoch());
}

void ModelPruning::on_validation_epoch_end(Trainer& trainer, Module& module) {
  if (!trainer.sanity_checking() && !options_.prune_on_train_epoch_end) run_pruning(module.current_epoch());
}

void ModelPruning::make_pruning_permanent(torch::nn::Module& module) {
  for (torch::nn::Module* m : unique_modules(module)) {
    std::vector<std::string> names;  // in the order the tensors were first pruned (PyTorch's hook order)
    for (const auto& b : buffers_of(*m)) {
      const std::string& key = b.key();
      if (key.size() > 5 && key.compare(key.size() - 5, 5, "_mask") == 0 &&
          pruning::is_pruned(*m, key.substr(0, key.size() - 5)))
        names.push_back(key.substr(0, key.size() - 5));
    }
    for (const auto& name : names) pruning::remove(*m, name);
  }
}

void ModelPruning::on_train_end(Trainer& /*trainer*/, Module& module) {
  if (options_.make_pruning_permanent) make_pruning_permanent(module);
}

void ModelPruning::on_save_checkpoint(Trainer& /*trainer*/, Module& /*module*/, StateDict& checkpoint) {
  if (!options_.make_pruning_permanent || !checkpoint.contains("state_dict")) return;
  StateDict state = as_state(checkpoint.at("state_dict"), "checkpoint key 'state_dict'").copy();
  std::vector<std::string> pruned;  // Python: {k.replace("_mask", "") for k in state_dict if k.endswith("_mask")}
  for (const auto& item : state) {
    const std::string& key = item.key().toStringRef();
    if (key.size() < 5 || key.compare(key.size() - 5, 5, "_mask") != 0) continue;
    std::string name = key;
    for (size_t pos; (pos = name.find("_mask")) != std::string::npos;) name.erase(pos, 5);
    if (std::find(pruned.begin(), pruned.end(), name) == pruned.end()) pruned.push_back(name);
  }
  for (const auto& name : pruned) {
    torch::Tensor orig = state.at(name + "_orig").toTensor();
    torch::Tensor mask = state.at(name + "_mask").toTensor();
    state.erase(name + "_orig");
    state.erase(name + "_mask");
    state.set(name, mask.to(orig.dtype()) * orig);
  }
  StateDict out;
  for (const auto& item : state) {
    const IValue& v = item.value();
    out.set(item.key().toStringRef(), v.isTensor() ? IValue(v.toTensor().cpu()) : v);
  }
  checkpoint.set("state_dict", out);
}

void ModelPruning::prepare_state_dict_load(torch::nn::Module& root, const StateDict& state_dict) {
  std::map<std::string, torch::nn::Module*> modules{{"", &root}};
  for (const auto& item : root.named_modules("", /*include_self=*/false)) modules.emplace(item.key(), item.value().get());
  for (const auto& item : state_dict) {
    const std::string& key = item.key().toStringRef();
    if (key.size() <= 5 || key.compare(key.size() - 5, 5, "_mask") != 0) continue;
    const std::string full = key.substr(0, key.size() - 5);
    if (!state_dict.contains(full + "_orig") || !item.value().isTensor()) continue;
    const size_t dot = full.rfind('.');
    const std::string path = dot == std::string::npos ? "" : full.substr(0, dot);
    const std::string name = dot == std::string::npos ? full : full.substr(dot + 1);
    auto it = modules.find(path);
    if (it == modules.end() || pruning::is_pruned(*it->second, name)) continue;
    if (!has_defined(parameters_of(*it->second), name) || find_slot(*it->second, name) == nullptr) continue;
    torch::Tensor mask = item.value().toTensor();
    if (mask.sizes() != parameters_of(*it->second)[name].sizes()) continue;  // the strict load reports it
    pruning::custom_from_mask(*it->second, name, mask.to(parameters_of(*it->second)[name].device()));
  }
}

void ModelPruning::on_train_batch_start(Trainer& /*trainer*/, Module& module, const Batch& /*batch*/,
                                        int64_t /*batch_idx*/) {
  pruning::refresh(module);
}
void ModelPruning::on_validation_batch_start(Trainer& /*trainer*/, Module& module, const Batch& /*batch*/,
                                             int64_t /*batch_idx*/, int64_t /*dataloader_idx*/) {
  pruning::refresh(module);
}
void ModelPruning::on_test_batch_start(Trainer& /*trainer*/, Module& module, const Batch& /*batch*/,
                                       int64_t /*batch_idx*/, int64_t /*dataloader_idx*/) {
  pruning::refresh(module);
}
void ModelPruning::on_predict_batch_start(Trainer& /*trainer*/, Module& module, const Batch& /*batch*/,
                                          int64_t /*batch_idx*/, int64_t /*dataloader_idx*/) {
  pruning::refresh(module);
}

}  // namespace volt
