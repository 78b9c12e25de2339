// volt::read_checkpoint_* against files written by Python's torch.save and libtorch's torch::pickle_save, and
// against every kind of broken file (which must raise CheckpointError, never crash).
#include <gtest/gtest.h>

#include <caffe2/serialize/inline_container.h>
#include <torch/csrc/jit/serialization/pickle.h>

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <random>

#include "volt/error.hpp"
#include "volt/serialization/pickle_reader.hpp"
#include "volt/serialization/python_repr.hpp"
#include "volt/state.hpp"

// One namespace per file: unity builds compile several test files as one translation unit.
namespace {
namespace volt_test_pickle_reader_test {

namespace {

namespace fs = std::filesystem;
using nlohmann::json;

const char* const kPython = "/usr/bin/python3";
const std::string kScript = std::string(VOLT_SOURCE_DIR) + "/tests/support/torch_checkpoints.py";

// ---- helpers --------------------------------------------------------------------------------------------------

std::string hex(const std::string& bytes) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  for (unsigned char c : bytes) out += {kHex[c >> 4], kHex[c & 0xF]};
  return out;
}

/// The canonical form tests/support/torch_checkpoints.py gives Python values (see its describe()).
json describe(const c10::IValue& v);

json describe_tensor(const at::Tensor& t) {
  json values = json::array();
  const at::Tensor flat = t.detach().reshape({-1});
  if (t.is_complex()) {
    const at::Tensor parts = at::view_as_real(flat).to(at::kDouble).contiguous();
    for (int64_t i = 0; i < flat.numel(); ++i)
      values.push_back({volt::python_float_repr(parts[i][0].item<double>()),
                        volt::python_float_repr(parts[i][1].item<double>())});
  } else if (t.is_floating_point()) {
    const at::Tensor d = flat.to(at::kDouble).contiguous();
    for (int64_t i = 0; i < d.numel(); ++i) values.push_back(volt::python_float_repr(d.data_ptr<double>()[i]));
  } else if (t.scalar_type() == at::kBool) {
    const at::Tensor b = flat.contiguous();
    for (int64_t i = 0; i < b.numel(); ++i) values.push_back(b.data_ptr<bool>()[i]);
  } else {
    const at::Tensor l = flat.to(at::kLong).contiguous();
    for (int64_t i = 0; i < l.numel(); ++i) values.push_back(std::to_string(l.data_ptr<int64_t>()[i]));
  }
  return {{"tensor",
           {{"dtype", c10::toString(t.scalar_type())}, {"shape", t.sizes().vec()}, {"stride", t.strides().vec()},
            {"offset", t.storage_offset()}, {"requires_grad", t.requires_grad()}, {"values", values}}}};
}

json describe(const c10::IValue& v) {
  if (v.isNone()) return nullptr;
  if (v.isBool()) return v.toBool();
  if (v.isInt()) return {{"int", std::to_string(v.toInt())}};
  if (v.isDouble()) return {{"float", volt::python_float_repr(v.toDouble())}};
  if (v.isString()) return {{"str", hex(v.toStringRef())}};
  if (v.isDevice()) return {{"str", hex(v.toDevice().str())}};
  if (v.isTensor()) return describe_tensor(v.toTensor());
  json items = json::array();
  if (v.isTuple()) {
    for (const auto& item : v.toTupleRef().elements()) items.push_back(describe(item));
    return {{"tuple", items}};
  }
  if (v.isList()) {
    for (const auto& item : v.toListRef()) items.push_back(describe(item));
    return {{"list", items}};
  }
  if (v.isGenericDict()) {
    for (const auto& kv : v.toGenericDict()) items.push_back({describe(kv.key()), describe(kv.value())});
    return {{"dict", items}};
  }
  throw std::runtime_error(std::string("describe: unexpected ") + v.tagKind());
}

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

void write_file(const std::string& path, const std::string& bytes) {
  std::ofstream(path, std::ios::binary).write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
}

/// A zip archive in torch's layout (archive/<name>, plus archive/version) holding `records`.
std::string make_zip(const std::vector<std::pair<std::string, std::string>>& records) {
  std::string out;
  caffe2::serialize::PyTorchStreamWriter writer([&](const void* data, size_t n) {
    out.append(static_cast<const char*>(data), n);
    return n;
  });
  for (const auto& [name, bytes] : records) writer.writeRecord(name, bytes.data(), bytes.size());
  writer.writeEndOfFile();
  return out;
}

/// The records of a torch zip archive (data.pkl and data/<key>), with the archive's directory stripped.
std::vector<std::pair<std::string, std::string>> zip_records(const std::string& bytes) {
  std::istringstream in(bytes);
  caffe2::serialize::PyTorchStreamReader reader(&in);
  std::vector<std::pair<std::string, std::string>> out;
  auto add = [&](const std::string& name) {
    auto [data, size] = reader.getRecord(name);
    out.emplace_back(name, std::string(static_cast<const char*>(data.get()), size));
  };
  add("data.pkl");
  for (int key = 0; reader.hasRecord("data/" + std::to_string(key)); ++key) add("data/" + std::to_string(key));
  return out;
}

std::string pickle_save(const c10::IValue& v) {
  const auto bytes = torch::jit::pickle_save(v);
  return std::string(bytes.begin(), bytes.end());
}

/// Reads `bytes`, accepting a value or a CheckpointError; anything else (another exception, a crash) fails.
void expect_value_or_checkpoint_error(const std::string& bytes, const std::string& what) {
  try {
    volt::read_checkpoint_bytes(bytes, what);
  } catch (const volt::CheckpointError& e) {
    EXPECT_NE(std::string(e.what()).find(what), std::string::npos) << e.what();
  } catch (const std::exception& e) {
    ADD_FAILURE() << what << ": escaped as a non-CheckpointError: " << e.what();
  }
}

std::string checkpoint_error(const std::function<void()>& read) {
  try {
    read();
  } catch (const volt::CheckpointError& e) {
    return e.what();
  }
  return "(no CheckpointError)";
}

#define EXPECT_CHECKPOINT_ERROR(expr, substring)                                                    \
  do {                                                                                              \
    const std::string message_ = checkpoint_error([&] { (void)(expr); });                           \
    EXPECT_NE(message_.find(substring), std::string::npos) << "expected \"" << (substring)          \
                                                           << "\" in: " << message_;                \
  } while (false)

/// A tiny pickle assembler for hand-made programs (protocol 2 header included).
class Pickle {
 public:
  Pickle() : s_("\x80\x02") {}
  Pickle& op(char c) { return raw(std::string(1, c)); }
  Pickle& raw(const std::string& bytes) {
    s_ += bytes;
    return *this;
  }
  Pickle& u32(uint32_t v) {
    for (int i = 0; i < 4; ++i) s_ += static_cast<char>((v >> (8 * i)) & 0xFF);
    return *this;
  }
  Pickle& str(const std::string& v) { return op('X').u32(static_cast<uint32_t>(v.size())).raw(v); }
  Pickle& int1(uint8_t v) { return op('K').raw(std::string(1, static_cast<char>(v))); }
  Pickle& global(const std::string& module, const std::string& name) {
    return op('c').raw(module + "\n" + name + "\n");
  }
  Pickle& memo(char op_code, uint8_t index) { return op(op_code).raw(std::string(1, static_cast<char>(index))); }
  Pickle& stop() { return op('.'); }
  const std::string& bytes() const { return s_; }

 private:
  std::string s_;
};

c10::IValue read_program(const Pickle& p, const std::vector<std::pair<std::string, std::string>>& storages = {}) {
  auto records = storages;
  records.insert(records.begin(), {"data.pkl", p.bytes()});
  return volt::read_checkpoint_bytes(make_zip(records), "hand-made.pt");
}

// ---- checkpoints written by Python ----------------------------------------------------------------------------

/// Runs tests/support/torch_checkpoints.py; tests skip if Python's torch is missing. ctest runs every test in its
/// own process, in parallel with `make test`, so the first process writes the files (under a lock) into a directory
/// named after the script's content, and the others reuse them.
class PythonCheckpoints : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    const auto root = fs::current_path() / "pickle_reader_tmp";
    dir_ = (root / std::to_string(std::hash<std::string>{}(read_file(kScript)))).string();
    fs::create_directories(dir_);
    const int lock = open((dir_ + ".lock").c_str(), O_CREAT | O_RDWR, 0644);
    flock(lock, LOCK_EX);
    if (!fs::exists(dir_ + "/complete")) write_checkpoints();
    flock(lock, LOCK_UN);
    close(lock);
  }
  static void write_checkpoints() {
    const std::string probe = std::string(kPython) + " -c 'import torch' > /dev/null 2>&1";
    if (std::system(probe.c_str()) != 0) {
      skip_ = std::string(kPython) + " cannot import torch (install python3-torch)";
      return;
    }
    const std::string log = dir_ + "/python.log";
    const std::string cmd = std::string(kPython) + " " + kScript + " " + dir_ + " > " + log + " 2>&1";
    if (std::system(cmd.c_str()) == 0) write_file(dir_ + "/complete", "");
    else failure_ = "torch_checkpoints.py failed:\n" + read_file(log);
  }
  void SetUp() override {
    if (!skip_.empty()) GTEST_SKIP() << skip_;
    ASSERT_TRUE(failure_.empty()) << failure_;
  }
  static std::string path(const std::string& name) { return dir_ + "/" + name; }
  static json expected(const std::string& name) { return json::parse(read_file(path(name + ".json"))); }
  static volt::StateDict load(const std::string& name) {
    return volt::as_state(volt::read_checkpoint_file(path(name + ".pt")), name);
  }

  static inline std::string dir_, skip_, failure_;
};

TEST_F(PythonCheckpoints, EveryReadableFileMatchesTorchLoad) {
  for (const char* name : {"nested", "linear", "sgd", "tensors", "protocol4", "protocol5", "state_dict_in_dict"}) {
    SCOPED_TRACE(name);
    const json actual = describe(volt::read_checkpoint_file(path(std::string(name) + ".pt")));
    EXPECT_EQ(actual, expected(name)) << "volt:  " << actual.dump() << "\ntorch: " << expected(name).dump();
  }
}

TEST_F(PythonCheckpoints, NestedValuesAndSharedLists) {
  const auto ckpt = load("nested");
  EXPECT_EQ(volt::as_state(volt::as_state(ckpt.at("a"), "a").at("b"), "b").at("c").toInt(), 1);  // SETITEM dicts
  EXPECT_EQ(ckpt.at("max").toInt(), INT64_MAX);
  EXPECT_EQ(ckpt.at("min").toInt(), INT64_MIN);
  EXPECT_EQ(ckpt.at("s").toStringRef(), "h\xc3\xa9llo \xe2\x9c\x93 \xf0\x9f\x98\x80");
  EXPECT_EQ(ckpt.at("bytes").toStringRef(), std::string("ab\xff\0", 4));
  EXPECT_DOUBLE_EQ(ckpt.at("td").toDouble(), 86402.000003);
  EXPECT_EQ(ckpt.at("cuda").toStringRef(), "cuda:0");
  EXPECT_EQ(volt::python_repr(ckpt.at("size")), "(2, 3)");
  EXPECT_EQ(volt::python_repr(ckpt.at("order")), "{'z': 1, 'a': 2, 'm': 3}");
  EXPECT_EQ(volt::python_repr(ckpt.at("int_keys")), "{3: 'x', -1: 'y'}");
  EXPECT_TRUE(ckpt.at("shared1").is(ckpt.at("shared2"))) << "one Python list saved twice stays one list";
}

TEST_F(PythonCheckpoints, ModuleStateDictDropsMetadata) {
  const auto sd = load("linear");
  ASSERT_EQ(sd.size(), 2u);  // no `_metadata`
  EXPECT_EQ(sd.begin()->key().toStringRef(), "weight");
  EXPECT_TRUE(sd.at("weight").toTensor().equal(at::arange(6, at::kFloat).reshape({2, 3}) / 4));
  EXPECT_TRUE(sd.at("bias").toTensor().equal(at::tensor({0.5f, -1.5f})));
}

TEST_F(PythonCheckpoints, OptimizerStateHasIntKeys) {
  const auto sd = load("sgd");
  const auto state = sd.at("state").toGenericDict();
  ASSERT_EQ(state.size(), 2u);
  EXPECT_EQ(state.begin()->key().toInt(), 0);
  const auto buf = state.at(0).toGenericDict().at("momentum_buffer").toTensor();
  // loss = sum((w.x + b)^2) over x1=(1,2), x2=(3,-1): outputs -2.75 and 5.25, so dw = 2*(-2.75)*x1 + 2*5.25*x2.
  EXPECT_TRUE(buf.equal(at::tensor({26.0f, -21.5f}).reshape({1, 2})));
  const auto group = sd.at("param_groups").toListRef()[0].toGenericDict();
  EXPECT_DOUBLE_EQ(group.at("momentum").toDouble(), 0.9);
  EXPECT_EQ(volt::python_repr(group.at("params")), "[0, 1]");
}

TEST_F(PythonCheckpoints, TensorViewsShareStorage) {
  const auto t = load("tensors");
  const at::Tensor base = t.at("base").toTensor();
  for (const char* view : {"t", "col", "rows", "step"}) {
    const at::Tensor v = t.at(view).toTensor();
    EXPECT_TRUE(v.storage().is_alias_of(base.storage())) << view;
  }
  EXPECT_TRUE(t.at("col").toTensor().equal(at::tensor({1.0f, 5.0f, 9.0f})));
  EXPECT_EQ(t.at("expanded").toTensor().strides().vec(), std::vector<int64_t>{0});
  EXPECT_TRUE(t.at("same_a").toTensor().is_same(t.at("same_b").toTensor())) << "one tensor saved twice";
  EXPECT_TRUE(t.at("param").toTensor().requires_grad());
  EXPECT_FALSE(t.at("frozen_param").toTensor().requires_grad());
  EXPECT_TRUE(t.at("requires_grad").toTensor().requires_grad());
  base.add_(1);  // a loaded tensor is a normal, writable tensor
  EXPECT_EQ(t.at("col").toTensor()[0].item<float>(), 2.0f);
}

struct Refusal {
  const char* file;
  std::vector<const char*> message;  // substrings the CheckpointError must contain
};

TEST_F(PythonCheckpoints, RefusesWhatVoltCannotRepresentNamingPathAndType) {
  const Refusal cases[] = {
      {"custom.pt", {"custom.pt", "'hyper_parameters.model_cfg'", "`__main__.Custom`", "volt reads only dicts"}},
      {"set.pt", {"'opt[0].ids'", "builtins.set"}},
      {"numpy.pt", {"'arr'", "numpy.ndarray"}},
      {"bigint.pt", {"'big'", "does not fit in 64 bits"}},
      {"float_key.pt", {"'float_key'", "dict key", "float"}},
      {"view_too_big.pt", {"'w'", "needs 100 elements but its storage holds 4"}},
      {"view_overflow.pt", {"'w'", "overflows"}},
      {"negative_stride.pt", {"'w'", "negative size or stride"}},
      {"int_requires_grad.pt", {"'w'", "_rebuild_tensor_v2"}},
  };
  for (const auto& c : cases) {
    if (std::string(c.file) == "numpy.pt" && !fs::exists(path(c.file))) continue;  // numpy is optional
    const std::string message = checkpoint_error([&] { volt::read_checkpoint_file(path(c.file)); });
    for (const char* part : c.message) EXPECT_NE(message.find(part), std::string::npos) << part << " in: " << message;
  }
}

TEST_F(PythonCheckpoints, RefusesBrokenArchives) {
  const Refusal cases[] = {
      {"legacy.pt", {"legacy.pt", "legacy format"}},
      {"missing_storage.pt", {"storage '0' is missing"}},
      {"small_storage.pt", {"storage '0' should hold 4 elements of Float but its record has only 8 bytes"}},
      {"no_data_pkl.pt", {"no with_storage/data.pkl record"}},
      {"no_version.pt", {"no with_storage/version record"}},
      {"flat.pt", {"not inside a top directory"}},
      {"compressed.pt", {"is compressed"}},
      {"bad_version.pt", {"the version record is not a number"}},
      {"big_endian.pt", {"big-endian"}},
      {"empty_zip.pt", {"empty"}},
      {"directory_flag.pt", {"record 'with_storage/data.pkl' is marked as a directory"}},
      {"not_zip.pt", {"not a zip archive"}},
      {"empty.pt", {"the file is empty"}},
      {"does_not_exist.pt", {"does_not_exist.pt", "no such file"}},
  };
  for (const auto& c : cases) {
    const std::string message = checkpoint_error([&] { volt::read_checkpoint_file(path(c.file)); });
    for (const char* part : c.message) EXPECT_NE(message.find(part), std::string::npos) << part << " in: " << message;
  }
  EXPECT_CHECKPOINT_ERROR(volt::read_checkpoint_file(dir_), "not a regular file");
}

TEST_F(PythonCheckpoints, EveryTruncationAndByteFlipIsCaught) {
  const std::string bytes = read_file(path("sgd.pt"));
  for (size_t n = 0; n < bytes.size(); ++n)
    EXPECT_CHECKPOINT_ERROR(volt::read_checkpoint_bytes(bytes.substr(0, n), "cut.pt"), "cut.pt");
  for (size_t i = 0; i < bytes.size(); ++i) {
    std::string flipped = bytes;
    flipped[i] = static_cast<char>(flipped[i] ^ 0xFF);
    expect_value_or_checkpoint_error(flipped, "flip@" + std::to_string(i));
  }
}

TEST_F(PythonCheckpoints, PythonReadsPickleSave) {
  // What Python's torch.load makes of a torch::pickle_save dict: same values, same key order.
  const volt::StateDict original{{"b", 1}, {"a", 2.5}, {"s", "\xc3\xa9t\xc3\xa9"}, {"n", c10::IValue()},
                                 {"flag", true}, {"t", at::arange(6, at::kFloat).reshape({2, 3}).t()},
                                 {"l", c10::List<int64_t>({1, 2})}, {"nested", volt::StateDict{{"z", 0.1}}},
                                 {"tuple", c10::ivalue::Tuple::create({c10::IValue(1), c10::IValue("x")})}};
  const std::string file = path("from_cpp_" + std::to_string(getpid()) + ".pt");
  write_file(file, pickle_save(original));
  const std::string cmd = std::string(kPython) + " " + kScript + " --describe " + file;
  FILE* pipe = popen(cmd.c_str(), "r");
  ASSERT_NE(pipe, nullptr);
  std::string out;
  char buf[4096];
  for (size_t n; (n = fread(buf, 1, sizeof buf, pipe)) > 0;) out.append(buf, n);
  ASSERT_EQ(pclose(pipe), 0) << out;
  fs::remove(file);
  EXPECT_EQ(json::parse(out), describe(original));
}

// ---- torch::pickle_save round trips (no Python needed) --------------------------------------------------------

volt::StateDict rich_state() {
  const at::Tensor base = at::arange(12, at::kFloat).reshape({3, 4});
  c10::impl::GenericList mixed(c10::AnyType::get());
  mixed.push_back(1);
  mixed.push_back("x");
  mixed.push_back(c10::IValue());
  mixed.push_back(2.5);
  c10::impl::GenericDict int_keys(c10::IntType::get(), c10::AnyType::get());
  int_keys.insert(3, "three");
  int_keys.insert(-1, volt::StateDict{{"momentum_buffer", at::ones({2})}});
  return {{"int", 7}, {"min", INT64_MIN}, {"float", 0.1}, {"nan", std::nan("")}, {"str", "\xf0\x9f\x98\x80 'q'"},
          {"none", c10::IValue()}, {"yes", true}, {"no", false}, {"mixed", mixed},
          {"ints", c10::List<int64_t>({1, 2, 3})}, {"doubles", c10::List<double>({0.5, -1e-5})},
          {"bools", c10::List<bool>({true, false})},
          {"tensors", c10::List<at::Tensor>({at::zeros({1}), at::ones({2})})},
          {"tuple", c10::ivalue::Tuple::create({c10::IValue(1), c10::IValue("a")})},
          {"empty_tuple", c10::ivalue::Tuple::create({})}, {"nested", volt::StateDict{{"deeper", volt::StateDict{}}}},
          {"int_keys", int_keys}, {"base", base}, {"view", base.t()}, {"slice", base.slice(0, 1)},
          {"long", at::arange(-3, 3, at::kLong)}, {"bool", at::tensor({1, 0}).to(at::kBool)},
          {"half", at::tensor({1.5, -2.0}).to(at::kHalf)}, {"double", at::tensor({1e-300})},
          {"requires_grad", at::ones({2}).requires_grad_()}, {"scalar", at::scalar_tensor(4.0)}};
}

TEST(PickleReaderRoundTrip, ReadsWhatPickleSaveWrites) {
  const volt::StateDict original = rich_state();
  const c10::IValue read = volt::read_checkpoint_bytes(pickle_save(original), "round-trip");
  EXPECT_EQ(describe(read), describe(original));
  const auto state = volt::as_state(read, "round-trip");
  EXPECT_TRUE(state.at("view").toTensor().storage().is_alias_of(state.at("base").toTensor().storage()));
  EXPECT_EQ(state.at("view").toTensor().strides().vec(), (std::vector<int64_t>{1, 4}));
}

TEST(PickleReaderRoundTrip, WritesThroughFilesToo) {
  const std::string file = (fs::current_path() / "pickle_reader_roundtrip.pt").string();
  write_file(file, pickle_save(rich_state()));
  EXPECT_EQ(describe(volt::read_checkpoint_file(file)), describe(rich_state()));
  fs::remove(file);
}

TEST(PickleReaderRoundTrip, FuzzedProgramsFailCleanly) {
  // Every single-byte corruption of a real data.pkl, and random multi-byte ones, rewrapped in a valid zip:
  // the reader must return a value or raise CheckpointError, whatever the program does.
  auto records = zip_records(pickle_save(rich_state()));
  const std::string program = records[0].second;
  auto run = [&](const std::string& mutated, const std::string& what) {
    records[0].second = mutated;
    expect_value_or_checkpoint_error(make_zip(records), what);
  };
  for (size_t i = 0; i < program.size(); ++i)
    for (uint8_t mask : {0xFF, 0x01, 0x80}) {
      std::string m = program;
      m[i] = static_cast<char>(m[i] ^ mask);
      run(m, "byte " + std::to_string(i));
    }
  std::mt19937 rng(12345);
  for (int round = 0; round < 300; ++round) {
    std::string m = program.substr(0, rng() % (program.size() + 1));
    for (int k = 0; k < 4 && !m.empty(); ++k) m[rng() % m.size()] = static_cast<char>(rng());
    run(m, "random " + std::to_string(round));
  }
}

// ---- hand-made programs: opcodes torch.save rarely emits, and every kind of corruption ------------------------

TEST(PickleReaderPrograms, SupportsProtocolZeroAndFourOpcodes) {
  Pickle text;  // protocol 0: INT (also spelling True), LONG, FLOAT, LIST from a MARK, PUT, POP, GET
  text.op('(').raw("I42\n").raw("I01\n").raw("L-5L\n").raw("F0.25\n").op('l').raw("p7\n").op('0').raw("g7\n").stop();
  EXPECT_EQ(volt::python_repr(read_program(text)), "[42, True, -5, 0.25]");

  Pickle dict;  // FRAME, SHORT_BINUNICODE, MEMOIZE, DICT from a MARK, DUP, BINGET
  dict.raw("\x95").raw(std::string(8, '\0')).op('(').str("k").raw("\x8c\x02").raw("v1").raw("\x94").op('d');
  dict.op('2').op('0').stop();
  EXPECT_EQ(volt::python_repr(read_program(dict)), "{'k': 'v1'}");

  Pickle numbers;  // LONG4 (-2**63 in 9 bytes), BININT2, BINBYTES8, TUPLE3
  numbers.raw(std::string("\x8b\x09\0\0\0", 5)).raw(std::string(7, '\0')).raw("\x80\xff");
  numbers.raw("M\x34\x12").raw(std::string("\x8e\x02\0\0\0\0\0\0\0", 9)).raw("ab").raw("\x87").stop();
  EXPECT_EQ(volt::python_repr(read_program(numbers)), "(-9223372036854775808, 4660, 'ab')");

  Pickle memo;  // MEMOIZE numbers objects in order; BINGET 0 fetches the first one back
  memo.str("first").raw("\x94").str("second").raw("\x94").memo('h', 0).stop();
  EXPECT_EQ(volt::python_repr(read_program(memo)), "'first'");
}

TEST(PickleReaderPrograms, StackGlobalAndTimedelta) {
  Pickle p;
  p.raw("\x8c\x08").raw("datetime").raw("\x8c\x09").raw("timedelta").raw("\x93")  // STACK_GLOBAL
      .int1(0).int1(1).raw("J").u32(500000).raw("\x87").op('R').stop();
  EXPECT_DOUBLE_EQ(read_program(p).toDouble(), 1.5);
}

struct BadProgram {
  const char* what;
  Pickle program;
  const char* message;
};

TEST(PickleReaderPrograms, CorruptProgramsRaiseCheckpointError) {
  const std::string float_storage("\0\0\x80\x3f\0\0\0\x40", 8);  // 1.0f, 2.0f
  auto pid = [](Pickle p, const std::string& type, const std::string& key, uint8_t numel,
                const std::string& location = "cpu") {
    return p.op('(').str("storage").global("torch", type).str(key).str(location).int1(numel).op('t').op('Q');
  };
  auto tensor = [&](Pickle p, const std::string& type, const std::string& key, uint8_t numel,
                    const std::string& location = "cpu") {
    p.global("torch._utils", "_rebuild_tensor_v2").op('(');
    // (storage, offset 0, size (numel,), stride (1,), requires_grad False, hooks {})
    return pid(p, type, key, numel, location).int1(0).int1(numel).raw("\x85").int1(1).raw("\x85").raw("\x89").op('}').op('t')
        .op('R');
  };
  const BadProgram cases[] = {
      {"underflow", Pickle().op('s').stop(), "stack underflow"},
      {"underflow across MARK", Pickle().op('}').op('(').int1(1).op('s').stop(), "stack underflow"},
      {"bad memo index", Pickle().op('h').raw("\x05").stop(), "memo index 5 was never stored"},
      {"unknown opcode", Pickle().raw("\xff").stop(), "unknown opcode 0xff"},
      {"unsupported opcode", Pickle().raw("S'x'\n").stop(), "opcode STRING is not supported"},
      {"SETITEM on a list", Pickle().op(']').int1(1).int1(2).op('s').stop(), "cannot set items on a list"},
      {"APPEND to a dict", Pickle().op('}').int1(1).op('a').stop(), "cannot append to a dict"},
      {"unhashable key", Pickle().op('}').op(']').int1(1).op('s').stop(), "a list is not a valid dict key"},
      {"odd SETITEMS", Pickle().op('}').op('(').int1(1).op('u').stop(), "odd number of items"},
      {"REDUCE without tuple", Pickle().global("datetime", "timedelta").int1(1).op('R').stop(), "not a tuple"},
      {"REDUCE on an int", Pickle().int1(1).raw(")").op('R').stop(), "not callable"},
      {"no STOP", Pickle().op('}'), "without a STOP"},
      {"empty program", Pickle(), "without a STOP"},
      {"truncated string", Pickle().op('X').u32(16).raw("ab"), "needs 16 more bytes"},
      {"truncated int", Pickle().raw("J\x01"), "needs 4 more bytes"},
      {"MARK missing", Pickle().op('t').stop(), "no MARK"},
      {"protocol 6", Pickle().raw("\x80\x06").op('N').stop(), "protocol 6"},
      {"STOP on empty stack", Pickle().stop(), "stack underflow"},
      {"bad persistent id", Pickle().int1(1).op('Q').stop(), "persistent id"},
      {"missing storage", tensor(Pickle(), "FloatStorage", "7", 2).stop(), "storage '7' is missing"},
      {"storage too small", tensor(Pickle(), "FloatStorage", "0", 9).stop(), "should hold 9 elements"},
      {"two dtypes", pid(pid(Pickle(), "FloatStorage", "0", 2), "IntStorage", "0", 2).stop(), "two dtypes"},
      {"quantized storage", tensor(Pickle(), "QInt8Storage", "0", 2).stop(), "`torch.QInt8Storage`"},
      {"self-containing list", Pickle().op(']').memo('q', 0).memo('h', 0).op('a').stop(), "contains itself"},
      {"BUILD on a list", Pickle().op(']').op('}').op('b').stop(), "list with Python attributes"},
      {"OrderedDict attribute", Pickle().global("collections", "OrderedDict").raw(")").op('R').op('}').str("extra")
                                    .int1(1).op('s').op('b').stop(), "attribute `extra`"},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.what);
    EXPECT_CHECKPOINT_ERROR(read_program(c.program, {{"data/0", float_storage}}), c.message);
  }
  for (const char* location : {"cpu", "cuda:0"}) {  // volt loads every storage on the CPU
    const Pickle ok = tensor(Pickle(), "FloatStorage", "0", 2, location).stop();
    EXPECT_EQ(describe(read_program(ok, {{"data/0", float_storage}})), describe(at::tensor({1.0f, 2.0f})));
  }
}

TEST(PickleReaderPrograms, BoundsNestingAndSurvivesSharedBlowUp) {
  Pickle deep;
  for (int i = 0; i < 100000; ++i) deep.op(']');
  for (int i = 0; i < 99999; ++i) deep.op('a');
  EXPECT_CHECKPOINT_ERROR(read_program(deep.stop()), "nesting deeper than 1000 levels");

  // l0 = []; l(i+1) = [l(i), l(i)] 60 times: 2**60 paths, but converted once per object.
  Pickle wide;
  wide.op(']').memo('q', 0);
  for (uint8_t i = 1; i <= 60; ++i) wide.op('(').memo('h', i - 1).memo('h', i - 1).op('l').memo('q', i).op('0');
  wide.memo('h', 60).stop();
  const c10::IValue top = read_program(wide);
  ASSERT_TRUE(top.isList());
  EXPECT_TRUE(top.toListRef()[0].is(top.toListRef()[1]));
}

TEST(PickleReaderFiles, MissingFileAndNonZipBytes) {
  EXPECT_CHECKPOINT_ERROR(volt::read_checkpoint_file("/nonexistent/dir/x.ckpt"),
                          "'/nonexistent/dir/x.ckpt': no such file");
  EXPECT_CHECKPOINT_ERROR(volt::read_checkpoint_bytes("", "mem"), "'mem': the file is empty");
  EXPECT_CHECKPOINT_ERROR(volt::read_checkpoint_bytes("PK\x03\x04", "mem"), "too short to be a zip archive");
  EXPECT_CHECKPOINT_ERROR(volt::read_checkpoint_bytes("PK\x03\x04" + std::string(100, 'x'), "mem"),
                          "end-of-central-directory");
  EXPECT_CHECKPOINT_ERROR(volt::read_checkpoint_bytes("\x80\x02}q\x00.", "mem"), "legacy format");
  EXPECT_CHECKPOINT_ERROR(volt::read_checkpoint_bytes(make_zip({{"other.pkl", "x"}}), "mem"), "no archive/data.pkl");
  const std::string good = pickle_save(rich_state());
  for (size_t n = 0; n < good.size(); n += 7)
    EXPECT_CHECKPOINT_ERROR(volt::read_checkpoint_bytes(good.substr(0, n), "cut"), "cut");
}

}  // namespace

}  // namespace volt_test_pickle_reader_test
}  // namespace
