#include "support/ivalue_json.hpp"

#include <ATen/core/Dict.h>
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>
#include <stdexcept>

namespace volt {
namespace test {

using c10::IValue;

ordered_json read_json(const std::string& path) {
  std::ifstream in(path);
  if (!in) {
    ADD_FAILURE() << "cannot open " << path;
    return ordered_json();
  }
  return ordered_json::parse(in);
}

double from_hex(const std::string& hex) {
  char* end = nullptr;
  double value = std::strtod(hex.c_str(), &end);
  EXPECT_TRUE(end && *end == '\0') << "not a float.hex() value: " << hex;
  return value;
}

std::string to_hex(double value) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%a", value);
  return buf;
}

IValue decode(const ordered_json& j) {
  if (j.is_null()) return IValue();
  if (j.is_boolean()) return IValue(j.get<bool>());
  if (j.is_number_integer()) return IValue(j.get<int64_t>());
  if (j.is_number_float()) return IValue(j.get<double>());
  if (j.is_string()) return IValue(j.get<std::string>());
  if (j.is_array()) {
    c10::impl::GenericList out(c10::AnyType::get());
    for (const auto& item : j) out.push_back(decode(item));
    return out;
  }
  if (j.contains("float")) return IValue(from_hex(j.at("float").get<std::string>()));
  if (j.contains("tuple")) {
    std::vector<IValue> items;
    for (const auto& item : j.at("tuple")) items.push_back(decode(item));
    return c10::ivalue::Tuple::create(std::move(items));
  }
  if (j.contains("dict")) {
    const auto& items = j.at("dict");
    bool int_keys = !items.empty() && items.at(0).at(0).is_number_integer();
    c10::TypePtr key_type = int_keys ? c10::TypePtr(c10::IntType::get()) : c10::TypePtr(c10::StringType::get());
    c10::impl::GenericDict out(key_type, c10::AnyType::get());
    for (const auto& kv : items) out.insert(decode(kv.at(0)), decode(kv.at(1)));
    return out;
  }
  if (j.contains("tensor")) {
    const auto& t = j.at("tensor");
    std::vector<double> values;
    for (const auto& v : t.at("values")) values.push_back(from_hex(v.get<std::string>()));
    std::vector<int64_t> shape = t.at("shape").get<std::vector<int64_t>>();
    const auto dtype = t.at("dtype").get<std::string>();
    auto scalar = dtype == "torch.float64" ? torch::kFloat64
                  : dtype == "torch.int64"  ? torch::kInt64
                  : dtype == "torch.int32"  ? torch::kInt32
                  : dtype == "torch.bool"   ? torch::kBool
                                            : torch::kFloat32;
    EXPECT_TRUE(dtype == "torch.float64" || dtype == "torch.int64" || dtype == "torch.int32" ||
                dtype == "torch.bool" || dtype == "torch.float32")
        << "cannot decode a tensor of " << dtype;
    return torch::tensor(values, torch::kFloat64).reshape(shape).to(scalar);
  }
  if (j.contains("method")) return IValue("<method " + j.at("method").get<std::string>() + ">");
  ADD_FAILURE() << "cannot decode " << j.dump();
  return IValue();
}

namespace {
std::string show(const IValue& v) {
  std::ostringstream out;
  if (v.isDouble())
    out << to_hex(v.toDouble()) << " (" << v.toDouble() << ")";
  else
    out << v.tagKind() << " " << v;
  return out.str();
}

bool same_bits(double a, double b) { return (std::isnan(a) && std::isnan(b)) || std::memcmp(&a, &b, sizeof a) == 0; }
}  // namespace

void expect_same(const IValue& e, const IValue& a, const std::string& path, double tensor_tol) {
  const std::string what = path + ": expected " + show(e) + ", got " + show(a);
  if (e.isNone()) {
    EXPECT_TRUE(a.isNone()) << what;
  } else if (e.isBool()) {
    EXPECT_TRUE(a.isBool() && a.toBool() == e.toBool()) << what;
  } else if (e.isInt()) {
    EXPECT_TRUE(a.isInt() && a.toInt() == e.toInt()) << what;
  } else if (e.isDouble()) {
    EXPECT_TRUE(a.isDouble() && same_bits(a.toDouble(), e.toDouble())) << what;
  } else if (e.isString()) {
    EXPECT_TRUE(a.isString() && a.toStringRef() == e.toStringRef()) << what;
  } else if (e.isTuple() || e.isList()) {
    const bool tuple = e.isTuple();
    if (tuple ? !a.isTuple() : !a.isList()) {
      ADD_FAILURE() << what;
      return;
    }
    auto ei = tuple ? e.toTupleRef().elements().vec() : e.toListRef().vec();
    auto ai = tuple ? a.toTupleRef().elements().vec() : a.toListRef().vec();
    if (ei.size() != ai.size()) {
      ADD_FAILURE() << path << ": expected " << ei.size() << " items, got " << ai.size() << " (" << what << ")";
      return;
    }
    for (size_t i = 0; i < ei.size(); ++i) expect_same(ei[i], ai[i], path + "[" + std::to_string(i) + "]", tensor_tol);
  } else if (e.isGenericDict()) {
    if (!a.isGenericDict()) {
      ADD_FAILURE() << what;
      return;
    }
    auto ed = e.toGenericDict(), ad = a.toGenericDict();
    std::vector<std::string> ek, ak;
    for (const auto& kv : ed) ek.push_back(show(kv.key()));
    for (const auto& kv : ad) ak.push_back(show(kv.key()));
    if (ek != ak) {
      std::ostringstream msg;
      msg << path << ": keys differ (type, value, order)\n  expected:";
      for (const auto& k : ek) msg << " [" << k << "]";
      msg << "\n  got:     ";
      for (const auto& k : ak) msg << " [" << k << "]";
      ADD_FAILURE() << msg.str();
      return;
    }
    auto ai = ad.begin();
    for (auto ei = ed.begin(); ei != ed.end(); ++ei, ++ai) {
      const auto& key = ei->key();
      expect_same(ei->value(), ai->value(),
                  path + "[" + (key.isString() ? "'" + key.toStringRef() + "'" : show(key)) + "]", tensor_tol);
    }
  } else if (e.isTensor()) {
    if (!a.isTensor()) {
      ADD_FAILURE() << what;
      return;
    }
    const auto& et = e.toTensor();
    const auto& at = a.toTensor();
    EXPECT_EQ(et.scalar_type(), at.scalar_type()) << path;
    EXPECT_EQ(et.sizes(), at.sizes()) << path;
    if (et.sizes() == at.sizes()) {
      EXPECT_TRUE(torch::allclose(at.to(torch::kFloat64), et.to(torch::kFloat64), 0.0, tensor_tol))
          << path << ": expected\n" << et << "\ngot\n" << at;
    }
  } else {
    ADD_FAILURE() << path << ": cannot compare " << show(e);
  }
}

nlohmann::json golden_json(const std::string& name) {
  const std::string path = std::string(VOLT_SOURCE_DIR) + "/tests/golden/" + name;
  std::ifstream in(path);
  if (!in) throw std::runtime_error("missing tests/golden/" + name);
  return nlohmann::json::parse(in);
}

}  // namespace test
}  // namespace volt
