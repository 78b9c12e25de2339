#include "volt/serialization/pickle_reader.hpp"

#include <ATen/ATen.h>
#include <c10/core/CPUAllocator.h>
#include <caffe2/serialize/inline_container.h>

#include <algorithm>
#include <charconv>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <memory>
#include <new>
#include <optional>
#include <unordered_map>

#include "pickle_vm.hpp"
#include "volt/error.hpp"
#include "zip_directory.hpp"

namespace volt {
namespace {

using caffe2::serialize::ReadAdapterInterface;
using detail::concat;
using detail::pickle::a_kind;
using detail::pickle::Graph;
using detail::pickle::Kind;
using detail::pickle::Object;
using detail::pickle::PickleError;
using detail::pickle::Ref;

constexpr int kMaxDepth = 1000;  // Python's pickler stops near its recursion limit of 1000 too

// ---- where the bytes come from ------------------------------------------------------------------------------

/// Reads from memory; reads past the end return fewer bytes instead of overrunning (unlike MemoryReadAdapter).
class BytesReader final : public ReadAdapterInterface {
 public:
  explicit BytesReader(const std::string& bytes) : bytes_(bytes) {}
  size_t size() const override { return bytes_.size(); }
  size_t read(uint64_t pos, void* buf, size_t n, const char* /*what*/) const override {
    if (pos >= bytes_.size()) return 0;
    n = std::min<uint64_t>(n, bytes_.size() - pos);
    std::memcpy(buf, bytes_.data() + pos, n);
    return n;
  }

 private:
  const std::string& bytes_;
};

/// Reads a file on demand, so a large checkpoint is not held in memory twice.
class FileReader final : public ReadAdapterInterface {
 public:
  explicit FileReader(const std::string& path) : in_(path, std::ios::binary) {
    in_.seekg(0, std::ios::end);
    const auto end = in_.tellg();
    size_ = in_ && end >= 0 ? static_cast<uint64_t>(end) : 0;
  }
  bool ok() const { return static_cast<bool>(in_); }
  size_t size() const override { return size_; }
  size_t read(uint64_t pos, void* buf, size_t n, const char* /*what*/) const override {
    if (pos >= size_) return 0;
    n = std::min<uint64_t>(n, size_ - pos);
    in_.clear();
    in_.seekg(static_cast<std::streamoff>(pos));
    in_.read(static_cast<char*>(buf), static_cast<std::streamsize>(n));
    return static_cast<size_t>(in_.gcount());
  }

 private:
  mutable std::ifstream in_;
  uint64_t size_ = 0;
};

// ---- storages -----------------------------------------------------------------------------------------------

/// The dtype of a storage class in a persistent id: torch.FloatStorage and friends (torch.cuda.* in CUDA
/// checkpoints of old torch versions), or torch.UntypedStorage (bytes).
std::optional<at::ScalarType> storage_dtype(std::string name) {
  for (const char* prefix : {"torch.cuda.", "torch."})
    if (name.rfind(prefix, 0) == 0) {
      name = name.substr(std::strlen(prefix));
      break;
    }
  static const std::unordered_map<std::string, at::ScalarType> table = {
      {"FloatStorage", at::kFloat},   {"DoubleStorage", at::kDouble},   {"HalfStorage", at::kHalf},
      {"BFloat16Storage", at::kBFloat16}, {"LongStorage", at::kLong}, {"IntStorage", at::kInt},
      {"ShortStorage", at::kShort},   {"CharStorage", at::kChar},       {"ByteStorage", at::kByte},
      {"BoolStorage", at::kBool},     {"ComplexFloatStorage", at::kComplexFloat},
      {"ComplexDoubleStorage", at::kComplexDouble}, {"UntypedStorage", at::kByte}};
  auto it = table.find(name);
  if (it == table.end()) return std::nullopt;
  return it->second;
}

// ---- from the object graph to IValues ---------------------------------------------------------------------

constexpr const char* kWhatVoltReads =
    "volt reads only dicts, lists, tuples, scalars (int, float, bool, None), strings, bytes, tensors and "
    "datetime.timedelta";

/// Converts the unpickled graph to IValues, tracking the key path (`optimizer_states[0].state.3`) so that
/// anything volt cannot represent is reported where it is. Objects reached twice (the memo shares them) are
/// converted once, so shared lists stay shared and a graph of repeated references cannot blow up.
class Converter {
 public:
  explicit Converter(const Graph& g) : g_(g), state_(g.size(), kNew), done_(g.size()) {}

  c10::IValue value(Ref r);

  /// Thrown with the problem and the path where it was found.
  struct Unsupported {
    std::string path, problem;
  };

 private:
  enum State : uint8_t { kNew, kConverting, kDone };

  c10::IValue convert(Ref r);
  c10::IValue list(const Object& o);
  c10::IValue dict(const Object& o);
  [[noreturn]] void unsupported(const std::string& problem) const { throw Unsupported{path(), problem}; }
  std::string path() const;
  std::string describe(const Object& o) const;

  const Graph& g_;
  std::vector<uint8_t> state_;
  std::vector<c10::IValue> done_;
  std::vector<std::string> path_;  // "key" for dict entries, "[i]" for list and tuple items
};

std::string Converter::path() const {
  std::string out;
  for (const auto& seg : path_) out += (out.empty() || seg[0] == '[' ? "" : ".") + seg;
  return out.empty() ? "the top level" : "'" + out + "'";
}

std::string Converter::describe(const Object& o) const {
  switch (o.kind) {
    case Kind::Opaque:
      return o.integer ? concat("an object built by the Python callable `", o.text, "`")
                       : concat("a Python object of type `", o.text, "`");
    case Kind::Global: return concat("the Python class or function `", o.text, "` itself");
    case Kind::Storage: return "a bare torch storage (save tensors instead)";
    case Kind::BigInt: return "an int that does not fit in 64 bits";
    default: return a_kind(o.kind);
  }
}

c10::IValue Converter::value(Ref r) {
  if (state_[r] == kDone) return done_[r];
  if (state_[r] == kConverting) unsupported("a container that contains itself, which IValues cannot represent");
  if (static_cast<int>(path_.size()) > kMaxDepth) unsupported(concat("nesting deeper than ", kMaxDepth, " levels"));
  state_[r] = kConverting;
  done_[r] = convert(r);
  state_[r] = kDone;
  return done_[r];
}

c10::IValue Converter::convert(Ref r) {
  const Object& o = g_[r];
  switch (o.kind) {
    case Kind::None: return c10::IValue();
    case Kind::Bool: return c10::IValue(o.integer != 0);
    case Kind::Int: return c10::IValue(o.integer);
    case Kind::Float: case Kind::Timedelta: return c10::IValue(o.number);
    case Kind::Str: case Kind::Bytes: case Kind::Device: return c10::IValue(o.text);
    case Kind::Tensor: return c10::IValue(o.tensor);
    case Kind::List: case Kind::Tuple: return list(o);
    case Kind::Dict: return dict(o);
    case Kind::Invalid: unsupported(concat("cannot rebuild ", o.text));
    case Kind::BigInt: unsupported("found an int that does not fit in 64 bits (volt stores ints as int64)");
    case Kind::Opaque:
      unsupported(concat("found ", describe(o), "; ", kWhatVoltReads,
                         ". Save such objects as plain containers (e.g. vars(obj) or dataclasses.asdict(obj))"));
    default: unsupported(concat("found ", describe(o), "; ", kWhatVoltReads));
  }
}

c10::IValue Converter::list(const Object& o) {
  std::vector<c10::IValue> items;
  items.reserve(o.items.size());
  for (size_t i = 0; i < o.items.size(); ++i) {
    path_.push_back(concat("[", i, "]"));
    items.push_back(value(o.items[i]));
    path_.pop_back();
  }
  if (o.kind == Kind::Tuple) return c10::ivalue::Tuple::create(std::move(items));
  c10::impl::GenericList out(c10::AnyType::get());
  for (auto& item : items) out.push_back(std::move(item));
  return out;
}

c10::IValue Converter::dict(const Object& o) {
  // Key type: str or int as in the file (an empty dict gets str keys, so as_state() accepts it).
  bool has_str = false, has_int = false;
  for (size_t i = 0; i < o.items.size(); i += 2) {
    const Object& key = g_[o.items[i]];
    if (key.kind == Kind::Str) has_str = true;
    else if (key.kind == Kind::Int) has_int = true;
    else unsupported(concat("found a dict key that is ", describe(key), "; volt reads dict keys of type str or int"));
  }
  const c10::TypePtr key_type = has_int && has_str ? c10::TypePtr(c10::AnyType::get())
                                : has_int           ? c10::TypePtr(c10::IntType::get())
                                                    : c10::TypePtr(c10::StringType::get());
  c10::impl::GenericDict out(key_type, c10::AnyType::get());
  for (size_t i = 0; i < o.items.size(); i += 2) {
    const Object& key = g_[o.items[i]];
    c10::IValue k = key.kind == Kind::Str ? c10::IValue(key.text) : c10::IValue(key.integer);
    path_.push_back(key.kind == Kind::Str ? key.text : std::to_string(key.integer));
    out.insert_or_assign(std::move(k), value(o.items[i + 1]));  // a repeated key keeps its first position
    path_.pop_back();
  }
  return out;
}

// ---- the archive --------------------------------------------------------------------------------------------

/// Reads one checkpoint: checks the zip directory, runs data.pkl, loads the storages it refers to and converts
/// the result. Every problem is reported through fail(), which names the file.
class CheckpointReader {
 public:
  CheckpointReader(std::shared_ptr<ReadAdapterInterface> in, std::string name)
      : in_(std::move(in)), name_(std::move(name)) {}

  c10::IValue read();

 private:
  [[noreturn]] void fail(const std::string& problem) const {
    throw CheckpointError(concat("cannot read checkpoint '", name_, "': ", problem));
  }
  void check_format() const;
  void check_records(const std::vector<detail::ZipEntry>& entries);
  void check_version(const std::string& text) const;
  void open_zip();
  Ref load_storage(Graph& g, Ref pid);
  at::Tensor read_storage(const std::string& key, at::ScalarType dtype, int64_t numel);

  std::shared_ptr<ReadAdapterInterface> in_;
  std::string name_;
  std::unique_ptr<caffe2::serialize::PyTorchStreamReader> zip_;
  std::unordered_map<std::string, Ref> storages_;  // by key: tensors saved from one storage share it
};

c10::IValue CheckpointReader::read() {
  check_format();
  try {
    check_records(detail::read_zip_directory(*in_));
  } catch (const detail::ZipError& e) {
    fail(e.what());
  }
  open_zip();

  auto [data, size] = zip_->getRecord("data.pkl");
  Graph graph;
  Ref root;
  try {
    root = run_pickle(std::string_view(static_cast<const char*>(data.get()), size), graph,
                      [this](Graph& g, Ref pid) { return load_storage(g, pid); });
  } catch (const PickleError& e) {
    fail(concat("data.pkl, ", e.what()));
  }
  try {
    return Converter(graph).value(root);
  } catch (const Converter::Unsupported& u) {
    fail(concat("at ", u.path, ": ", u.problem));
  }
}

void CheckpointReader::check_format() const {
  char magic[4] = {};
  const size_t n = in_->size() == 0 ? 0 : in_->read(0, magic, sizeof magic);
  if (n == 0) fail("the file is empty");
  if (static_cast<uint8_t>(magic[0]) == 0x80)  // a bare pickle: torch.save's legacy format
    fail("it is in torch's legacy format (torch < 1.6, or _use_new_zipfile_serialization=False); "
         "load and re-save it with a current torch.save");
  // A zip starts with a local file header, or with the end record if it is empty.
  if (n < 4 || (std::memcmp(magic, "PK\x03\x04", 4) != 0 && std::memcmp(magic, "PK\x05\x06", 4) != 0))
    fail("not a zip archive; volt reads files written by torch.save (torch >= 1.6) or torch::pickle_save");
}

/// Checks what PyTorchStreamReader's constructor would otherwise reject: it takes the archive's top directory
/// from the first record and parses the `version` record. Checking first gives clear messages, and avoids a
/// leak in libtorch 1.13, whose constructor does not free its zip state when it throws after opening the zip.
void CheckpointReader::check_records(const std::vector<detail::ZipEntry>& entries) {
  if (entries.empty()) fail("the zip archive is empty");
  const auto slash = entries[0].name.find('/');
  if (slash == std::string::npos) fail("the zip records are not inside a top directory as torch.save writes them");
  const std::string prefix = entries[0].name.substr(0, slash + 1);
  auto find = [&](const std::string& record) {
    return std::find_if(entries.begin(), entries.end(), [&](const auto& e) { return e.name == prefix + record; });
  };
  if (find("data.pkl") == entries.end())
    fail(concat("the zip archive has no ", prefix, "data.pkl record: not a torch.save checkpoint"));
  const auto version = find("version");
  if (version == entries.end()) fail(concat("the zip archive has no ", prefix, "version record"));
  if (version->size > 32) fail("the version record is not a number");
  check_version(detail::read_zip_entry(*in_, *version));
}

/// The archive format version: torch.save writes "3\n"; libtorch 1.13 reads versions 1 to 10.
void CheckpointReader::check_version(const std::string& text) const {
  uint64_t version = 0;
  const char* end = text.data() + text.size();
  auto [p, ec] = std::from_chars(text.data(), end, version);
  if (ec != std::errc() || p == text.data() || (p != end && std::string_view(p, end - p) != "\n"))
    fail("the version record is not a number");
  if (version < caffe2::serialize::kMinSupportedFileFormatVersion ||
      version > caffe2::serialize::kMaxSupportedFileFormatVersion)
    fail(concat("archive format version ", version, " is not one libtorch 1.13 reads (",
                caffe2::serialize::kMinSupportedFileFormatVersion, " to ",
                caffe2::serialize::kMaxSupportedFileFormatVersion, ")"));
}

void CheckpointReader::open_zip() {
  try {
    zip_ = std::make_unique<caffe2::serialize::PyTorchStreamReader>(in_);
  } catch (const c10::Error& e) {
    fail(concat("the zip archive is unreadable: ", e.what_without_backtrace()));
  } catch (const std::exception& e) {  // libtorch parses some fields with the standard library
    fail(concat("the zip archive is unreadable: ", e.what()));
  }
  if (zip_->hasRecord("byteorder")) {  // written by torch >= 2.1; older files are little-endian
    auto [data, size] = zip_->getRecord("byteorder");
    if (std::string(static_cast<const char*>(data.get()), size) != "little")
      fail("the tensors were saved on a big-endian machine, which volt does not read");
  }
}

/// torch's persistent id for a storage: ('storage', storage_class, key, location, numel). The strings may be
/// bytes in checkpoints that went through Python 2.
Ref CheckpointReader::load_storage(Graph& g, Ref pid) {
  const Object& id = g[pid];
  auto field = [&](size_t i) -> const Object& { return g[id.items[i]]; };
  auto is_text = [&](size_t i) { return field(i).kind == Kind::Str || field(i).kind == Kind::Bytes; };
  if (id.kind != Kind::Tuple || id.items.size() != 5 || !is_text(0) || field(0).text != "storage" ||
      field(1).kind != Kind::Global || !is_text(2) || !is_text(3) || field(4).kind != Kind::Int ||
      field(4).integer < 0)
    throw PickleError("a persistent id is not a ('storage', class, key, location, numel) tuple");
  const std::string type = field(1).text, key = field(2).text;
  const int64_t numel = field(4).integer;
  const auto dtype = storage_dtype(type);
  if (!dtype)
    return g.add(Object::of(Kind::Invalid, concat("a tensor stored as `", type, "`, which volt does not read")));

  if (auto it = storages_.find(key); it != storages_.end()) {
    if (g[it->second].tensor.scalar_type() != *dtype)
      throw PickleError(concat("storage '", key, "' is used with two dtypes"));
    return it->second;
  }
  Object storage = Object::of(Kind::Storage);
  storage.tensor = read_storage(key, *dtype, numel);  // location is ignored: volt loads everything on the CPU
  return storages_[key] = g.add(std::move(storage));
}

/// The record data/<key> as a 1-D tensor of `numel` elements; the tensors built on it share its storage.
at::Tensor CheckpointReader::read_storage(const std::string& key, at::ScalarType dtype, int64_t numel) {
  const std::string record = "data/" + key;
  if (!zip_->hasRecord(record)) throw PickleError(concat("storage '", key, "' is missing from the archive"));
  auto [data, size] = zip_->getRecord(record);
  uint64_t nbytes;
  if (__builtin_mul_overflow(static_cast<uint64_t>(numel), c10::elementSize(dtype), &nbytes) || nbytes > size)
    throw PickleError(concat("storage '", key, "' should hold ", numel, " elements of ", c10::toString(dtype),
                             " but its record has only ", size, " bytes"));
  c10::Storage storage(c10::Storage::use_byte_size_t(), nbytes, std::move(data), c10::GetCPUAllocator(),
                       /*resizable=*/true);
  return at::empty({0}, at::TensorOptions().dtype(dtype)).set_(storage, 0, {numel}, {1});
}

/// Runs a read, turning whatever escapes (libtorch errors, allocation failures) into CheckpointError.
c10::IValue guarded_read(std::shared_ptr<ReadAdapterInterface> in, const std::string& name) {
  auto error = [&](const std::string& problem) {
    return CheckpointError(concat("cannot read checkpoint '", name, "': ", problem));
  };
  try {
    return CheckpointReader(std::move(in), name).read();
  } catch (const CheckpointError&) {
    throw;
  } catch (const c10::Error& e) {
    throw error(e.what_without_backtrace());
  } catch (const std::bad_alloc&) {
    throw error("out of memory");
  } catch (const std::exception& e) {
    throw error(e.what());
  }
}

}  // namespace

c10::IValue read_checkpoint_file(const std::string& path) {
  std::error_code ec;
  const auto status = std::filesystem::status(path, ec);
  if (!std::filesystem::exists(status))
    throw CheckpointError(concat("cannot read checkpoint '", path, "': ",
                                 ec && ec != std::errc::no_such_file_or_directory ? ec.message() : "no such file"));
  if (!std::filesystem::is_regular_file(status))
    throw CheckpointError(concat("cannot read checkpoint '", path, "': not a regular file"));
  auto reader = std::make_shared<FileReader>(path);
  if (!reader->ok()) throw CheckpointError(concat("cannot read checkpoint '", path, "': cannot open it for reading"));
  return guarded_read(std::move(reader), path);
}

c10::IValue read_checkpoint_bytes(const std::string& bytes, const std::string& name_for_errors) {
  return guarded_read(std::make_shared<BytesReader>(bytes), name_for_errors);
}

}  // namespace volt
