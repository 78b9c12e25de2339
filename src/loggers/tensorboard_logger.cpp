// TensorBoardLogger: Lightning 2.2.5's lightning/pytorch/loggers/tensorboard.py and fabric/loggers/tensorboard.py,
// with torch.utils.tensorboard's event file writing (record_writer.py, event_file_writer.py) done by hand.
#include "volt/loggers/tensorboard_logger.hpp"

#include <unistd.h>

#include <array>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <mutex>

#include "volt/distributed.hpp"
#include "volt/error.hpp"
#include "volt/loggers/csv_logger.hpp"
#include "volt/serialization/python_repr.hpp"

namespace fs = std::filesystem;

namespace volt {

namespace tensorboard {

namespace {

const std::array<uint32_t, 256>& crc_table() {
  static const std::array<uint32_t, 256> table = [] {
    std::array<uint32_t, 256> t{};
    for (uint32_t i = 0; i < 256; ++i) {
      uint32_t c = i;
      for (int k = 0; k < 8; ++k) c = (c & 1) ? (c >> 1) ^ 0x82F63B78u : c >> 1;  // reflected Castagnoli
      t[i] = c;
    }
    return t;
  }();
  return table;
}

// protobuf wire format: the few field kinds an Event needs
void varint(std::string& out, uint64_t v) {
  while (v >= 0x80) {
    out += static_cast<char>((v & 0x7f) | 0x80);
    v >>= 7;
  }
  out += static_cast<char>(v);
}
void key(std::string& out, int field, int wire) { varint(out, (static_cast<uint64_t>(field) << 3) | wire); }
void fixed64(std::string& out, int field, double v) {
  key(out, field, 1);
  uint64_t bits;
  std::memcpy(&bits, &v, 8);
  for (int i = 0; i < 8; ++i) out += static_cast<char>((bits >> (8 * i)) & 0xff);
}
void fixed32(std::string& out, int field, float v) {
  key(out, field, 5);
  uint32_t bits;
  std::memcpy(&bits, &v, 4);
  for (int i = 0; i < 4; ++i) out += static_cast<char>((bits >> (8 * i)) & 0xff);
}
void bytes(std::string& out, int field, const std::string& v) {
  key(out, field, 2);
  varint(out, v.size());
  out += v;
}
// a proto3 singular string: the empty default is not written (oneof members and messages use bytes())
void string_field(std::string& out, int field, const std::string& v) {
  if (!v.empty()) bytes(out, field, v);
}
void int64_field(std::string& out, int field, int64_t v) {
  if (v == 0) return;  // proto3: defaults are not written
  key(out, field, 0);
  varint(out, static_cast<uint64_t>(v));
}

// Event: wall_time = 1 (double), step = 2 (int64), file_version = 3 (string), summary = 5 (Summary)
std::string event_head(double wall_time, int64_t step) {
  std::string e;
  fixed64(e, 1, wall_time);
  int64_field(e, 2, step);
  return e;
}

void put_le(std::string& out, uint64_t v, int n) {
  for (int i = 0; i < n; ++i) out += static_cast<char>((v >> (8 * i)) & 0xff);
}

}  // namespace

uint32_t crc32c(const void* data, size_t size) {
  const auto& t = crc_table();
  const auto* p = static_cast<const unsigned char*>(data);
  uint32_t c = 0xFFFFFFFFu;
  for (size_t i = 0; i < size; ++i) c = t[(c ^ p[i]) & 0xff] ^ (c >> 8);
  return c ^ 0xFFFFFFFFu;
}

uint32_t masked_crc32c(const void* data, size_t size) {
  uint32_t c = crc32c(data, size);
  return ((c >> 15) | (c << 17)) + 0xa282ead8u;
}

std::string tfrecord(const std::string& data) {
  std::string header;
  put_le(header, data.size(), 8);
  std::string out = header;
  put_le(out, masked_crc32c(header.data(), header.size()), 4);
  out += data;
  put_le(out, masked_crc32c(data.data(), data.size()), 4);
  return out;
}

std::string file_version_event(double wall_time, const std::string& version) {
  std::string e = event_head(wall_time, 0);
  bytes(e, 3, version);
  // Event.source_metadata = 10 {writer = 1}: tensorboard's EventFileWriter (used by torch.utils.tensorboard)
  // names itself in the first record
  std::string source;
  bytes(source, 1, "tensorboard.summary.writer.event_file_writer");
  bytes(e, 10, source);
  return e;
}

std::string scalar_event(double wall_time, int64_t step, const std::string& tag, float value) {
  // Summary.Value: tag = 1 (string), simple_value = 2 (float); Summary: value = 1 (repeated)
  std::string v;
  bytes(v, 1, tag);
  fixed32(v, 2, value);
  std::string summary;
  bytes(summary, 1, v);
  std::string e = event_head(wall_time, step);
  bytes(e, 5, summary);
  return e;
}

std::string summary_event(double wall_time, const std::string& summary) {
  std::string e = event_head(wall_time, 0);
  bytes(e, 5, summary);
  return e;
}

namespace {

// Lightning's _flatten_dict: "parent/key" for nested dicts (str() of non-string keys); a key seen again keeps its
// first position and takes the new value, as `{**result, **nested}` does.
void flatten(const c10::impl::GenericDict& dict, const std::string& parent, StateDict& out) {
  for (const auto& kv : dict) {
    const IValue& k = kv.key();
    std::string name = k.isString() ? k.toStringRef() : python_repr(k);
    if (!parent.empty()) name = parent + "/" + name;
    if (kv.value().isGenericDict()) {
      flatten(kv.value().toGenericDict(), name, out);
    } else {
      out.set(name, kv.value());
    }
  }
}

// torch's hparams(): DataType DATA_TYPE_STRING = 1, DATA_TYPE_FLOAT64 = 3. Its DATA_TYPE_BOOL branch is never
// reached (isinstance(True, int) is checked first), so bools are numbers here too.
constexpr int kDataTypeString = 1;
constexpr int kDataTypeFloat64 = 3;
constexpr int kStatusSuccess = 1;  // Status.STATUS_SUCCESS

// Summary{value{tag, metadata = 9 {plugin_data = 1 {plugin_name = 1, content = 2}}}}; HParamsPluginData's version
// (field 1) is PLUGIN_DATA_VERSION = 0 and so not written.
std::string plugin_summary(const std::string& tag, const std::string& content) {
  std::string plugin_data;
  string_field(plugin_data, 1, "hparams");
  string_field(plugin_data, 2, content);
  std::string metadata;
  bytes(metadata, 1, plugin_data);
  std::string value;
  string_field(value, 1, tag);
  bytes(value, 9, metadata);
  std::string summary;
  bytes(summary, 1, value);
  return summary;
}

}  // namespace

std::vector<HParam> sanitize_hparams(const StateDict& params) {
  StateDict flat;
  flatten(params.generic(), "", flat);
  std::vector<HParam> out;
  for (const auto& kv : flat) {
    const std::string& name = kv.key().toStringRef();
    const IValue& v = kv.value();
    if (v.isBool()) {
      out.emplace_back(name, v.toBool() ? 1.0 : 0.0);
    } else if (v.isInt()) {
      out.emplace_back(name, static_cast<double>(v.toInt()));
    } else if (v.isDouble()) {
      out.emplace_back(name, v.toDouble());
    } else if (v.isString()) {
      out.emplace_back(name, v.toStringRef());
    } else if (v.isTensor()) {
      // Lightning keeps tensors (str() only for ndim > 1) and torch logs make_np(v)[0]; a 0-d tensor raises
      // IndexError there, and str() of a tensor is not reproduced here
      const at::Tensor& t = v.toTensor();
      if (t.dim() != 1 || t.numel() == 0)
        throw Error("TensorBoardLogger.log_hyperparams: hyperparameter '" + name +
                    "' is a tensor with " + std::to_string(t.dim()) +
                    " dimensions; only a non-empty 1-d tensor can be logged (its first element). Pass a number.");
      out.emplace_back(name, t[0].item<double>());
    } else {
      out.emplace_back(name, python_repr(v));  // str() is repr() for None, lists, tuples
    }
  }
  return out;
}

std::array<std::string, 3> hparams_summaries(const std::vector<HParam>& hparams,
                                             const std::vector<std::string>& metric_tags) {
  // Experiment: hparam_infos = 4 {name = 1, type = 4}, metric_infos = 5 {name = 1 {tag = 2}}
  // SessionStartInfo: hparams = 1 (map<string, google.protobuf.Value>: entry {key = 1, value = 2}), in the order
  // given (what Python's pure protobuf writes; the upb backend's hash order is no more meaningful to a reader)
  std::string experiment, start;
  for (const auto& [name, value] : hparams) {
    std::string info;
    string_field(info, 1, name);
    int64_field(info, 4, std::holds_alternative<double>(value) ? kDataTypeFloat64 : kDataTypeString);
    bytes(experiment, 4, info);
    // google.protobuf.Value: number_value = 2 (double), string_value = 3; oneof members, so 0.0 and "" are written
    std::string pv;
    if (const auto* d = std::get_if<double>(&value)) {
      fixed64(pv, 2, *d);
    } else {
      bytes(pv, 3, std::get<std::string>(value));
    }
    std::string entry;
    string_field(entry, 1, name);
    bytes(entry, 2, pv);
    bytes(start, 1, entry);
  }
  for (const auto& tag : metric_tags) {
    std::string metric_name;
    string_field(metric_name, 2, tag);
    std::string info;
    bytes(info, 1, metric_name);
    bytes(experiment, 5, info);
  }
  std::string end;  // SessionEndInfo: status = 1
  int64_field(end, 1, kStatusSuccess);
  // HParamsPluginData: experiment = 2, session_start_info = 3, session_end_info = 4 (a oneof)
  std::string c_exp, c_start, c_end;
  bytes(c_exp, 2, experiment);
  bytes(c_start, 3, start);
  bytes(c_end, 4, end);
  return {plugin_summary("_hparams_/experiment", c_exp), plugin_summary("_hparams_/session_start_info", c_start),
          plugin_summary("_hparams_/session_end_info", c_end)};
}

}  // namespace tensorboard

namespace {

double now_seconds() {
  using namespace std::chrono;
  return duration<double>(system_clock::now().time_since_epoch()).count();
}

// torch.utils.tensorboard's _global_uid: the n-th event file of this process
int next_uid() {
  static std::mutex mu;
  static int uid = 0;
  std::lock_guard<std::mutex> lock(mu);
  return uid++;
}

}  // namespace

TensorBoardLogger::TensorBoardLogger(std::string save_dir, TensorBoardLoggerOptions options)
    : save_dir_(std::move(save_dir)), options_(std::move(options)), version_(options_.version) {}

TensorBoardLogger::~TensorBoardLogger() {
  if (out_.is_open()) out_.close();
}

std::string TensorBoardLogger::root_dir() const {
  if (options_.name.empty()) return save_dir_;
  return (fs::path(save_dir_) / options_.name).string();
}

std::string TensorBoardLogger::version() const {
  if (!version_) version_ = next_logger_version(root_dir());
  if (auto* s = std::get_if<std::string>(&*version_)) return *s;
  return std::to_string(std::get<int64_t>(*version_));
}

std::string TensorBoardLogger::log_dir() const {
  std::string v = version();
  if (std::holds_alternative<int64_t>(*version_)) v = "version_" + v;
  fs::path dir = fs::path(root_dir()) / v;
  if (!options_.sub_dir.empty()) dir /= options_.sub_dir;
  return dir.string();
}

void TensorBoardLogger::ensure_writer() {
  if (out_.is_open()) return;
  fs::path dir = log_dir();
  fs::create_directories(dir);
  char host[256] = {0};
  if (::gethostname(host, sizeof(host) - 1) != 0) std::strcpy(host, "localhost");
  double t = now_seconds();
  char name[512];
  std::snprintf(name, sizeof(name), "events.out.tfevents.%010lld.%s.%d.%d", static_cast<long long>(t), host,
                static_cast<int>(::getpid()), next_uid());
  event_file_ = (dir / name).string();
  out_.open(event_file_, std::ios::binary | std::ios::trunc);
  closed_ = false;  // logging after finalize starts a new file, as torch's SummaryWriter does
  if (!out_) throw std::runtime_error("cannot write " + event_file_);
  out_ << tensorboard::tfrecord(tensorboard::file_version_event(t));
  out_.flush();
}

void TensorBoardLogger::write_event(const std::string& event) {
  ensure_writer();
  out_ << tensorboard::tfrecord(event);
  if (!out_) throw std::runtime_error("cannot write " + event_file_);
}

void TensorBoardLogger::log_metrics(const std::map<std::string, double>& metrics, int64_t step) {
  if (distributed::global_rank() != 0) return;  // Lightning's loggers write on rank 0 only
  ensure_writer();  // first, so the file_version record is never later than the first metric
  double t = now_seconds();
  for (const auto& kv : metrics) {
    std::string key = options_.prefix.empty() ? kv.first : options_.prefix + "-" + kv.first;
    write_event(tensorboard::scalar_event(t, step, key, static_cast<float>(kv.second)));
  }
}

void TensorBoardLogger::log_hyperparams(const StateDict& params) { log_hyperparams(params, std::nullopt); }

void TensorBoardLogger::log_hyperparams(const StateDict& params,
                                        std::optional<std::vector<std::pair<std::string, double>>> metrics) {
  if (distributed::global_rank() != 0) return;  // Lightning's loggers write on rank 0 only
  auto hp = tensorboard::sanitize_hparams(params);  // first: a value it rejects leaves everything untouched
  for (const auto& kv : params) hparams_.set(kv.key().toStringRef(), kv.value());
  if (!metrics && options_.default_hp_metric)
    metrics = std::vector<std::pair<std::string, double>>{{"hp_metric", -1.0}};
  if (!metrics || metrics->empty()) return;  // Lightning: `if metrics:`
  ensure_writer();
  std::vector<std::string> tags;
  double t = now_seconds();
  for (const auto& [key, value] : *metrics) {
    write_event(tensorboard::scalar_event(t, 0, options_.prefix.empty() ? key : options_.prefix + "-" + key,
                                          static_cast<float>(value)));
    tags.push_back(key);
  }
  t = now_seconds();
  for (const auto& summary : tensorboard::hparams_summaries(hp, tags))
    write_event(tensorboard::summary_event(t, summary));
}

void TensorBoardLogger::save() {
  if (distributed::global_rank() != 0) return;  // Lightning's loggers write on rank 0 only
  // Lightning's save() flushes `self.experiment`, which creates the SummaryWriter (log dir and event file) on
  // first use; once closed, flush does nothing
  if (!closed_) ensure_writer();
  if (out_.is_open()) out_.flush();
  fs::path dir = log_dir();
  fs::path file = dir / kHparamsFile;
  // Lightning writes hparams.yaml once, when the log directory exists and the file does not
  std::error_code ec;
  if (fs::is_directory(dir, ec) && !fs::exists(file, ec)) write_file_atomically(file.string(), hparams_to_yaml(hparams_));
}

void TensorBoardLogger::finalize(const std::string& status) {
  if (distributed::global_rank() != 0) return;
  if (out_.is_open()) {
    out_.flush();
    out_.close();
    closed_ = true;
  }
  if (status == "success") save();  // hparams.yaml only for a successful run, as Lightning
}

}  // namespace volt
