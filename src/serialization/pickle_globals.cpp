// The Python callables that appear in torch checkpoints, and what volt builds for each. Anything else becomes an
// Opaque object, reported with its key path when the graph is converted to IValues.
#include <ATen/ATen.h>

#include <unordered_map>

#include "pickle_vm.hpp"
#include "volt/error.hpp"

namespace volt::detail::pickle {
namespace {

/// A call whose arguments volt cannot make sense of; becomes an Invalid object naming the callable.
struct BadArgs {
  std::string why;
};

/// Checked access to a call's arguments.
class Args {
 public:
  Args(const Graph& g, const std::vector<Ref>& refs) : g_(g), refs_(refs) {}

  size_t size() const { return refs_.size(); }
  const Object& operator[](size_t i) const { return g_[refs_.at(i)]; }

  void expect_count(size_t min, size_t max) const {
    if (size() < min || size() > max)
      throw BadArgs{concat("takes ", min == max ? "" : "from ", min, max == min ? "" : concat(" to ", max),
                           " arguments, got ", size())};
  }
  int64_t integer(size_t i, const char* what) const {
    const Object& o = (*this)[i];
    if (o.kind != Kind::Int && o.kind != Kind::Bool) throw wrong(i, what, "an int");
    return o.integer;
  }
  bool boolean(size_t i, const char* what) const {
    const Object& o = (*this)[i];
    if (o.kind != Kind::Bool) throw wrong(i, what, "a bool");
    return o.integer != 0;
  }
  const std::string& str(size_t i, const char* what) const {
    const Object& o = (*this)[i];
    if (o.kind != Kind::Str) throw wrong(i, what, "a str");
    return o.text;
  }
  std::vector<int64_t> ints(size_t i, const char* what) const {
    const Object& o = (*this)[i];
    if (o.kind != Kind::Tuple) throw wrong(i, what, "a tuple of ints");
    std::vector<int64_t> out;
    for (Ref r : o.items) {
      if (g_[r].kind != Kind::Int) throw wrong(i, what, "a tuple of ints");
      out.push_back(g_[r].integer);
    }
    return out;
  }
  BadArgs wrong(size_t i, const char* what, const char* expected) const {
    return BadArgs{concat("argument ", i + 1, " (", what, ") should be ", expected, ", found ",
                          a_kind((*this)[i].kind))};
  }

 private:
  const Graph& g_;
  const std::vector<Ref>& refs_;
};

Object opaque(std::string type, bool built_by_callable) {
  Object o = Object::of(Kind::Opaque, std::move(type));
  o.integer = built_by_callable;  // the name is a function that built the object rather than its class
  return o;
}

std::string format_ints(const std::vector<int64_t>& v) {
  std::string out = "[";
  for (size_t i = 0; i < v.size(); ++i) out += (i ? ", " : "") + std::to_string(v[i]);
  return out + "]";
}

// ---- tensors ------------------------------------------------------------------------------------------------

constexpr size_t kMaxDims = 64;

/// Checks that a view (offset, sizes, strides) stays inside a storage of `numel` elements, with overflow-safe
/// arithmetic: torch's set_ would otherwise grow the storage to fit, allocating whatever the file claims.
void check_view_fits(int64_t offset, const std::vector<int64_t>& sizes, const std::vector<int64_t>& strides,
                     int64_t numel) {
  if (sizes.size() != strides.size()) throw BadArgs{"size and stride have different lengths"};
  if (sizes.size() > kMaxDims) throw BadArgs{concat("the tensor has ", sizes.size(), " dimensions")};
  if (offset < 0) throw BadArgs{concat("negative storage offset ", offset)};
  int64_t last = offset;  // index of the view's last element
  bool empty = false;
  for (size_t d = 0; d < sizes.size(); ++d) {
    if (sizes[d] < 0 || strides[d] < 0)
      throw BadArgs{concat("negative size or stride: size ", format_ints(sizes), ", stride ", format_ints(strides))};
    if (sizes[d] == 0) empty = true;
    int64_t span;
    if (__builtin_mul_overflow(sizes[d] == 0 ? 0 : sizes[d] - 1, strides[d], &span) ||
        __builtin_add_overflow(last, span, &last))
      throw BadArgs{concat("size ", format_ints(sizes), " with stride ", format_ints(strides), " overflows")};
  }
  const int64_t needed = empty ? offset : last + 1;
  if (needed > numel)
    throw BadArgs{concat("a tensor of size ", format_ints(sizes), ", stride ", format_ints(strides), " at offset ",
                         offset, " needs ", needed, " elements but its storage holds ", numel,
                         " (truncated or corrupt file?)")};
}

/// The math bits libtorch may append to _rebuild_tensor_v2 (conj, neg); volt reads only tensors without them.
void check_no_math_bits(const Graph& g, const Object& metadata) {
  if (metadata.kind == Kind::None) return;
  if (metadata.kind != Kind::Dict) throw BadArgs{"argument 7 (metadata) should be a dict"};
  for (size_t i = 1; i < metadata.items.size(); i += 2)
    if (g[metadata.items[i]].integer != 0)
      throw BadArgs{concat("the tensor has math bit '", g[metadata.items[i - 1]].text, "' set (conj/neg views)")};
}

/// torch._utils._rebuild_tensor(storage, storage_offset, size, stride) and
/// _rebuild_tensor_v2(storage, storage_offset, size, stride, requires_grad, backward_hooks[, metadata]).
Object rebuild_tensor(const Graph& g, const Args& a, bool v2) {
  v2 ? a.expect_count(6, 7) : a.expect_count(4, 4);
  const Object& storage = a[0];
  if (storage.kind != Kind::Storage) throw a.wrong(0, "storage", "a storage");
  const int64_t offset = a.integer(1, "storage_offset");
  const auto sizes = a.ints(2, "size");
  const auto strides = a.ints(3, "stride");
  const bool requires_grad = v2 && a.boolean(4, "requires_grad");
  if (a.size() == 7) check_no_math_bits(g, a[6]);  // backward_hooks (a[5]) are dropped, as torch.load warns
  check_view_fits(offset, sizes, strides, storage.tensor.numel());

  Object out = Object::of(Kind::Tensor);
  out.tensor = at::empty({0}, storage.tensor.options()).set_(storage.tensor.storage(), offset, sizes, strides);
  if (requires_grad) out.tensor.set_requires_grad(true);
  return out;
}

/// torch._utils._rebuild_parameter(data, requires_grad, backward_hooks): a Parameter is a tensor that
/// requires grad; it shares data with `data`, as in Python.
Object rebuild_parameter(const Args& a) {
  a.expect_count(3, 3);
  if (a[0].kind != Kind::Tensor) throw a.wrong(0, "data", "a tensor");
  Object out = Object::of(Kind::Tensor);
  out.tensor = a[0].tensor.detach();
  out.tensor.set_requires_grad(a.boolean(1, "requires_grad"));
  return out;
}

// ---- other values -------------------------------------------------------------------------------------------

/// datetime.timedelta(days, seconds, microseconds) -> total seconds, computed like timedelta.total_seconds()
/// (exact microseconds, one rounding to double for spans below 2**53 microseconds, about 285 years).
Object timedelta(const Args& a) {
  a.expect_count(3, 3);
  const __int128 us = (static_cast<__int128>(a.integer(0, "days")) * 86400 + a.integer(1, "seconds")) * 1000000 +
                      a.integer(2, "microseconds");
  Object out = Object::of(Kind::Timedelta);
  out.number = static_cast<double>(us) / 1e6;
  return out;
}

/// torch.device("cuda", 0) or torch.device("cpu") -> "cuda:0" / "cpu".
Object device(const Args& a) {
  a.expect_count(1, 2);
  std::string text = a.str(0, "type");
  if (a.size() == 2 && a[1].kind != Kind::None) text += ":" + std::to_string(a.integer(1, "index"));
  return Object::of(Kind::Device, text);
}

/// torch.Size((2, 3)) -> the tuple (2, 3).
Object size(const Args& a) {
  a.expect_count(1, 1);
  a.ints(0, "sizes");
  Object out = a[0];
  out.kind = Kind::Tuple;
  return out;
}

/// Protocol 2 writes non-empty bytes as _codecs.encode(text, "latin1"): each code point below 256 is one byte.
Object codecs_encode(const Args& a) {
  a.expect_count(2, 2);
  const std::string& text = a.str(0, "text");
  const std::string& encoding = a.str(1, "encoding");
  if (encoding != "latin1" && encoding != "latin-1") throw BadArgs{concat("encoding '", encoding, "' is not latin1")};
  std::string bytes;
  for (size_t i = 0; i < text.size(); ++i) {
    const auto b = static_cast<uint8_t>(text[i]);
    if (b < 0x80) {
      bytes += static_cast<char>(b);
    } else if ((b == 0xC2 || b == 0xC3) && i + 1 < text.size() && (static_cast<uint8_t>(text[i + 1]) & 0xC0) == 0x80) {
      bytes += static_cast<char>(((b & 0x1F) << 6) | (static_cast<uint8_t>(text[++i]) & 0x3F));
    } else {
      throw BadArgs{"the text is not latin1 encodable"};
    }
  }
  return Object::of(Kind::Bytes, bytes);
}

/// collections.OrderedDict() or, from Python 2 pickles, OrderedDict([[key, value], ...]).
Object ordered_dict(const Graph& g, const Args& a) {
  a.expect_count(0, 1);
  Object out = Object::of(Kind::Dict);
  if (a.size() == 0) return out;
  if (a[0].kind != Kind::List) throw a.wrong(0, "items", "a list of pairs");
  for (Ref pair : a[0].items) {
    const Object& p = g[pair];
    if ((p.kind != Kind::List && p.kind != Kind::Tuple) || p.items.size() != 2)
      throw a.wrong(0, "items", "a list of pairs");
    out.items.insert(out.items.end(), p.items.begin(), p.items.end());
  }
  return out;
}

/// copyreg._reconstructor(cls, base, state): how protocols < 2 rebuild plain class instances.
Object reconstructor(const Args& a) {
  if (a.size() >= 1 && a[0].kind == Kind::Global) return opaque(a[0].text, false);
  return opaque("copyreg._reconstructor", true);
}

using Handler = std::function<Object(const Graph&, const Args&)>;

const std::unordered_map<std::string, Handler>& handlers() {
  static const std::unordered_map<std::string, Handler> table = {
      {"torch._utils._rebuild_tensor_v2", [](const Graph& g, const Args& a) { return rebuild_tensor(g, a, true); }},
      {"torch._utils._rebuild_tensor", [](const Graph& g, const Args& a) { return rebuild_tensor(g, a, false); }},
      {"torch._utils._rebuild_parameter", [](const Graph&, const Args& a) { return rebuild_parameter(a); }},
      {"collections.OrderedDict", ordered_dict},
      {"datetime.timedelta", [](const Graph&, const Args& a) { return timedelta(a); }},
      {"torch.device", [](const Graph&, const Args& a) { return device(a); }},
      {"torch.Size", [](const Graph&, const Args& a) { return size(a); }},
      {"_codecs.encode", [](const Graph&, const Args& a) { return codecs_encode(a); }},
      {"builtins.bytes", [](const Graph&, const Args& a) {
         a.expect_count(0, 0);  // protocol 2 writes b"" as bytes()
         return Object::of(Kind::Bytes);
       }},
      {"copyreg._reconstructor", [](const Graph&, const Args& a) { return reconstructor(a); }},
  };
  return table;
}

/// Callables that return their first argument: libtorch's pickler wraps containers in them.
bool is_identity(const std::string& name) {
  return name == "torch.jit._pickle.restore_type_tag" || name == "torch.jit._pickle.build_intlist" ||
         name == "torch.jit._pickle.build_doublelist" || name == "torch.jit._pickle.build_boollist" ||
         name == "torch.jit._pickle.build_tensorlist" || name == "torch.jit._pickle.build_genericlist";
}

}  // namespace

Ref call_global(Graph& g, const std::string& name, const std::vector<Ref>& args) {
  for (Ref r : args)
    if (g[r].kind == Kind::Invalid) return r;  // the first problem is the one worth reporting
  if (is_identity(name) && !args.empty()) return args[0];
  auto it = handlers().find(name);
  if (it == handlers().end()) {
    // An unknown callable; if its first argument is a class (numpy's _reconstruct(ndarray, ...)), name that.
    if (!args.empty() && g[args[0]].kind == Kind::Global) return g.add(opaque(g[args[0]].text, false));
    return g.add(opaque(name, true));
  }
  try {
    return g.add(it->second(g, Args(g, args)));
  } catch (const BadArgs& bad) {
    return g.add(Object::of(Kind::Invalid, concat("`", name, "`: ", bad.why)));
  } catch (const c10::Error& e) {  // e.g. requires_grad on an integer tensor
    return g.add(Object::of(Kind::Invalid, concat("`", name, "`: ", e.what_without_backtrace())));
  }
}

Ref new_object(Graph& g, const std::string& cls) {
  if (cls == "collections.OrderedDict" || cls == "builtins.dict") return g.add(Object::of(Kind::Dict));
  if (cls == "builtins.list") return g.add(Object::of(Kind::List));
  return g.add(opaque(cls, false));
}

void build_object(Graph& g, Ref target, Ref state) {
  const Kind kind = g[target].kind;
  if (kind == Kind::Opaque || kind == Kind::Invalid) return;  // already unrepresentable
  if (kind == Kind::Dict && g[state].kind == Kind::Dict) {
    // nn.Module.state_dict() returns an OrderedDict whose `_metadata` attribute (per-module versions) BUILD
    // restores; volt's dicts carry no attributes, so it is dropped. Other attributes would be lost silently.
    const auto& attrs = g[state].items;
    for (size_t i = 0; i < attrs.size(); i += 2) {
      const Object& key = g[attrs[i]];
      if (key.kind == Kind::Str && key.text == "_metadata") continue;
      g[target] = Object::of(Kind::Invalid, concat("an OrderedDict with the Python attribute `",
                                                   key.kind == Kind::Str ? key.text : kind_name(key.kind),
                                                   "`, which volt cannot keep"));
      return;
    }
    return;
  }
  g[target] = Object::of(Kind::Invalid, concat(a_kind(kind), " with Python attributes (BUILD)"));
}

}  // namespace volt::detail::pickle
