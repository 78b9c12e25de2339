// volt::python_repr against Python's own repr(), from vectors written by tools/gen_repr_vectors.py.
#include <gtest/gtest.h>

#include <cstdlib>
#include <fstream>
#include <limits>
#include <nlohmann/json.hpp>

#include "volt/error.hpp"
#include "volt/serialization/python_repr.hpp"
#include "volt/state.hpp"

// One namespace per file: unity builds compile several test files as one translation unit.
namespace {
namespace volt_test_python_repr_test {

namespace {

using nlohmann::json;

json load_golden() {
  const std::string path = std::string(VOLT_SOURCE_DIR) + "/tests/golden/repr_vectors.json";
  std::ifstream in(path);
  if (!in) throw std::runtime_error("cannot open " + path + " (regenerate with tools/gen_repr_vectors.py)");
  return json::parse(in);
}

std::string from_hex(const std::string& hex) {
  std::string out;
  for (size_t i = 0; i + 1 < hex.size(); i += 2) out += static_cast<char>(std::stoi(hex.substr(i, 2), nullptr, 16));
  return out;
}

/// Rebuilds the IValue a typed JSON input describes (see the generator's docstring for the format).
c10::IValue to_ivalue(const json& j) {
  const std::string type = j.at("type");
  if (type == "none") return c10::IValue();
  if (type == "bool") return c10::IValue(j.at("value").get<bool>());
  if (type == "int") return c10::IValue(static_cast<int64_t>(std::stoll(j.at("value").get<std::string>())));
  if (type == "float") return c10::IValue(std::strtod(j.at("hex").get<std::string>().c_str(), nullptr));
  if (type == "str") return c10::IValue(from_hex(j.at("utf8_hex")));
  if (type == "list") {
    c10::impl::GenericList list(c10::AnyType::get());
    for (const auto& item : j.at("items")) list.push_back(to_ivalue(item));
    return list;
  }
  if (type == "tuple") {
    std::vector<c10::IValue> items;
    for (const auto& item : j.at("items")) items.push_back(to_ivalue(item));
    return c10::ivalue::Tuple::create(std::move(items));
  }
  if (type == "dict") {
    const auto& items = j.at("items");
    const bool int_keys = !items.empty() && items[0][0].at("type") == "int";
    const c10::TypePtr key_type = int_keys ? c10::TypePtr(c10::IntType::get()) : c10::StringType::get();
    c10::impl::GenericDict dict(key_type, c10::AnyType::get());
    for (const auto& kv : items) dict.insert(to_ivalue(kv[0]), to_ivalue(kv[1]));
    return dict;
  }
  throw std::runtime_error("unknown vector type " + type);
}

TEST(PythonRepr, MatchesEveryGoldenVector) {
  const json golden = load_golden();
  const auto& vectors = golden.at("vectors");
  ASSERT_GT(vectors.size(), 1000u);
  int failures = 0;
  for (const auto& v : vectors) {
    const std::string expected = v.at("repr");
    const std::string actual = volt::python_repr(to_ivalue(v.at("input")));
    if (actual != expected && ++failures <= 20)
      ADD_FAILURE() << "input " << v.at("input").dump() << "\n  python: " << expected << "\n  volt:   " << actual;
  }
  EXPECT_EQ(failures, 0) << "of " << vectors.size() << " vectors";
}

TEST(PythonRepr, MatchesGoldenStateKeys) {
  const json golden = load_golden();
  for (const auto& k : golden.at("state_keys")) {
    std::vector<std::pair<std::string, c10::IValue>> kwargs;
    for (const auto& kv : k.at("kwargs")) kwargs.emplace_back(kv[0].get<std::string>(), to_ivalue(kv[1]));
    EXPECT_EQ(volt::generate_state_key(k.at("class"), kwargs), k.at("key").get<std::string>());
  }
}

TEST(PythonRepr, LightningStateKeysLiterally) {
  EXPECT_EQ(volt::generate_state_key("Counter", {{"what", "batches"}}), "Counter{'what': 'batches'}");
  EXPECT_EQ(volt::generate_state_key("ModelCheckpoint", {{"monitor", c10::IValue()},
                                                         {"mode", "min"},
                                                         {"every_n_train_steps", 0},
                                                         {"every_n_epochs", 1},
                                                         {"train_time_interval", c10::IValue()}}),
            "ModelCheckpoint{'monitor': None, 'mode': 'min', 'every_n_train_steps': 0, 'every_n_epochs': 1, "
            "'train_time_interval': None}");
  EXPECT_EQ(volt::generate_state_key("EarlyStopping", {{"monitor", "val_loss"}, {"mode", "min"}}),
            "EarlyStopping{'monitor': 'val_loss', 'mode': 'min'}");
}

TEST(PythonRepr, FloatsInPythonLayout) {
  const std::pair<double, const char*> cases[] = {
      {1.0, "1.0"}, {0.1, "0.1"}, {1e-05, "1e-05"}, {1e+16, "1e+16"}, {123456789012345.0, "123456789012345.0"},
      {std::numeric_limits<double>::infinity(), "inf"}, {-std::numeric_limits<double>::infinity(), "-inf"},
      {std::numeric_limits<double>::quiet_NaN(), "nan"}, {-0.0, "-0.0"}, {0.0001, "0.0001"},
      {9999999999999998.0, "9999999999999998.0"}, {5e-324, "5e-324"}, {1.5e300, "1.5e+300"}};
  for (const auto& [x, expected] : cases) EXPECT_EQ(volt::python_float_repr(x), expected);
}

TEST(PythonRepr, StringsAndStateDicts) {
  EXPECT_EQ(volt::python_str_repr("it's"), "\"it's\"");
  EXPECT_EQ(volt::python_str_repr("'\""), "'\\'\"'");
  EXPECT_EQ(volt::python_str_repr("a\\b\n\x01\x7f"), "'a\\\\b\\n\\x01\\x7f'");
  EXPECT_EQ(volt::python_str_repr("\xc2\xa0\xc2\xad\xc3\xa9"), "'\\xa0\\xad\xc3\xa9'");  // nbsp, soft hyphen, é
  EXPECT_EQ(volt::python_str_repr("\xe2\x80\xa8\xf0\x9f\x98\x80"), "'\\u2028\xf0\x9f\x98\x80'");  // U+2028, emoji
  EXPECT_EQ(volt::python_str_repr("\xff"), "'\\udcff'");  // invalid UTF-8, shown as surrogateescape shows it
  volt::StateDict state{{"b", 1}, {"a", 2.5}};
  EXPECT_EQ(volt::python_repr(state), "{'b': 1, 'a': 2.5}");
  EXPECT_EQ(volt::python_repr(c10::ivalue::Tuple::create({c10::IValue(1)})), "(1,)");
  EXPECT_EQ(volt::python_repr(c10::ivalue::Tuple::create({})), "()");
  EXPECT_EQ(volt::python_repr(c10::List<int64_t>({1, 2})), "[1, 2]");
  EXPECT_EQ(volt::python_repr(c10::List<double>({1.0, 0.5})), "[1.0, 0.5]");
}

TEST(PythonRepr, SelfContainingListPrintsEllipsis) {
  c10::impl::GenericList list(c10::AnyType::get());
  list.push_back(1);
  list.push_back(list);  // shares storage with itself, like `l.append(l)`
  EXPECT_EQ(volt::python_repr(list), "[1, [...]]");
  list.set(1, c10::IValue());  // break the reference cycle so the list is freed
}

TEST(PythonRepr, RejectsWhatPythonReprCannotMatch) {
  EXPECT_THROW(volt::python_repr(at::ones({2})), volt::Error);
  c10::IValue deep = c10::IValue(1);
  for (int i = 0; i < 1001; ++i) {
    c10::impl::GenericList list(c10::AnyType::get());
    list.push_back(deep);
    deep = list;
  }
  EXPECT_THROW(volt::python_repr(deep), volt::Error);
}

}  // namespace

}  // namespace volt_test_python_repr_test
}  // namespace
