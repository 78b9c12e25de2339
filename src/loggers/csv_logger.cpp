// CSVLogger: Lightning 2.2.5's lightning/pytorch/loggers/csv_logs.py and lightning/fabric/loggers/csv_logs.py.
#include "volt/loggers/csv_logger.hpp"

#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>

#include "volt/detail/atomic_file.hpp"
#include "volt/distributed.hpp"
#include "volt/error.hpp"
#include "volt/messages.hpp"
#include "volt/serialization/python_repr.hpp"

namespace fs = std::filesystem;

namespace volt {

// ---- shared helpers -----------------------------------------------------------------------------------------------

void write_file_atomically(const std::string& path, const std::string& text) {
  detail::atomic_write_file(path, text);  // throws detail::AtomicWriteError (a volt::Error) naming path and cause
}

int64_t next_logger_version(const std::string& root_dir) {
  // Lightning: names starting with "version_" whose part after the first "_" is all digits.
  std::error_code ec;
  if (!fs::is_directory(root_dir, ec)) return 0;
  int64_t best = -1;
  for (const auto& entry : fs::directory_iterator(root_dir, ec)) {
    if (!entry.is_directory()) continue;
    std::string n = entry.path().filename().string();
    if (n.rfind("version_", 0) != 0) continue;
    std::string rest = n.substr(8);
    auto us = rest.find('_');
    if (us != std::string::npos) rest = rest.substr(0, us);  // Python's split("_")[1]
    if (rest.empty() || !std::all_of(rest.begin(), rest.end(), [](unsigned char c) { return std::isdigit(c); }))
      continue;
    best = std::max<int64_t>(best, std::stoll(rest));
  }
  return best + 1;
}

namespace {

// ---- YAML as PyYAML's yaml.dump (default_flow_style=False, sort_keys=True) writes the values hparams hold ------

bool yaml_plain_ok(const std::string& s) {
  if (s.empty()) return false;
  static const std::set<std::string> kReserved = {"null", "Null", "NULL", "~",    "true",  "True",  "TRUE",
                                                  "false", "False", "FALSE", "yes", "Yes",   "YES",   "no",
                                                  "No",   "NO",   "on",    "On",    "ON",   "off",   "Off",  "OFF",
                                                  ".inf", ".nan", "-.inf"};
  if (kReserved.count(s)) return false;
  // anything a YAML resolver would read as a number (ints, floats, 0x.., 1_000, 1e5) gets quoted
  bool numeric = true;
  for (char c : s)
    if (!(std::isdigit(static_cast<unsigned char>(c)) || c == '.' || c == '-' || c == '+' || c == '_' || c == 'e' ||
          c == 'E' || c == 'x' || c == 'o' || c == ':'))
      numeric = false;
  if (numeric && std::any_of(s.begin(), s.end(), [](unsigned char c) { return std::isdigit(c); })) return false;
  unsigned char first = static_cast<unsigned char>(s[0]);
  if (!(std::isalnum(first) || first == '_' || first == '/' || first == '.')) return false;
  if (s.back() == ' ' || s.front() == ' ') return false;
  for (char c : s) {
    unsigned char u = static_cast<unsigned char>(c);
    if (u < 0x20 || u >= 0x7f) return false;
    if (c == '#' || c == ':' || c == '\'' || c == '"' || c == '{' || c == '}' || c == '[' || c == ']' ||
        c == ',' || c == '&' || c == '*' || c == '!' || c == '|' || c == '>' || c == '%' || c == '@' || c == '`')
      return false;
  }
  return true;
}

std::string yaml_str(const std::string& s) {
  if (yaml_plain_ok(s)) return s;
  std::string out = "'";
  for (char c : s) {
    if (c == '\'') out += "''";
    else out += c;
  }
  return out + "'";
}

std::string yaml_float(double x) {
  if (std::isnan(x)) return ".nan";
  if (std::isinf(x)) return x > 0 ? ".inf" : "-.inf";
  std::string r = python_float_repr(x);
  // PyYAML's represent_float: a "." is added before the exponent when repr has none ("1e-05" -> "1.0e-05")
  if (r.find('.') == std::string::npos && r.find('e') != std::string::npos) r.insert(r.find('e'), ".0");
  return r;
}

bool yaml_is_collection(const IValue& v) {
  return (v.isGenericDict() && !v.toGenericDict().empty()) || (v.isList() && !v.toListRef().empty()) ||
         (v.isTuple() && !v.toTupleRef().elements().empty());
}

std::string yaml_scalar(const IValue& v) {
  if (v.isNone()) return "null";
  if (v.isBool()) return v.toBool() ? "true" : "false";
  if (v.isInt()) return std::to_string(v.toInt());
  if (v.isDouble()) return yaml_float(v.toDouble());
  if (v.isString()) return yaml_str(v.toStringRef());
  if (v.isGenericDict()) return "{}";
  if (v.isList() || v.isTuple()) return "[]";
  if (v.isTensor() && v.toTensor().numel() == 1) {
    auto t = v.toTensor();
    if (t.is_floating_point()) return yaml_float(t.item<double>());
    return std::to_string(t.item<int64_t>());
  }
  return yaml_str(python_repr(v));  // anything else as its repr, quoted when needed
}

void yaml_emit(std::ostringstream& out, const IValue& v, int indent);

void yaml_emit_map(std::ostringstream& out, const c10::impl::GenericDict& d, int indent) {
  std::vector<std::pair<std::string, IValue>> items;
  for (const auto& kv : d) {
    std::string key = kv.key().isString() ? kv.key().toStringRef() : python_repr(kv.key());
    items.emplace_back(key, kv.value());
  }
  std::sort(items.begin(), items.end(), [](const auto& a, const auto& b) { return a.first < b.first; });
  for (const auto& kv : items) {
    out << std::string(indent, ' ') << yaml_str(kv.first) << ":";
    if (yaml_is_collection(kv.second)) {
      out << "\n";
      // PyYAML writes a block sequence under a mapping key without extra indentation
      yaml_emit(out, kv.second, kv.second.isGenericDict() ? indent + 2 : indent);
    } else {
      out << " " << yaml_scalar(kv.second) << "\n";
    }
  }
}

void yaml_emit_seq(std::ostringstream& out, const std::vector<IValue>& items, int indent) {
  for (const auto& item : items) {
    out << std::string(indent, ' ') << "-";
    if (yaml_is_collection(item)) {
      // a nested collection starts on the dash's line: "- - 1" / "- a: 1"
      std::ostringstream inner;
      yaml_emit(inner, item, indent + 2);
      std::string s = inner.str();
      out << " " << s.substr(static_cast<size_t>(indent + 2));
    } else {
      out << " " << yaml_scalar(item) << "\n";
    }
  }
}

void yaml_emit(std::ostringstream& out, const IValue& v, int indent) {
  if (v.isGenericDict()) return yaml_emit_map(out, v.toGenericDict(), indent);
  if (v.isList()) {
    auto ref = v.toListRef();
    return yaml_emit_seq(out, std::vector<IValue>(ref.begin(), ref.end()), indent);
  }
  if (v.isTuple()) return yaml_emit_seq(out, v.toTupleRef().elements().vec(), indent);
  out << std::string(indent, ' ') << yaml_scalar(v) << "\n";
}

// ---- CSV as Python's csv.DictWriter writes it (excel dialect, "\r\n" line ends) ------------------------------------

std::string csv_field(const std::string& s) {
  if (s.find_first_of(",\"\r\n") == std::string::npos) return s;
  std::string out = "\"";
  for (char c : s) {
    if (c == '"') out += "\"\"";
    else out += c;
  }
  return out + "\"";
}

}  // namespace

std::string hparams_to_yaml(const StateDict& hparams) {
  if (hparams.empty()) return "{}\n";
  std::ostringstream out;
  yaml_emit_map(out, hparams.generic(), 0);
  return out.str();
}

// ---- CSVLogger ----------------------------------------------------------------------------------------------------

CSVLogger::CSVLogger(std::string save_dir, CSVLoggerOptions options)
    : save_dir_(std::move(save_dir)), options_(std::move(options)), version_(options_.version) {}

std::string CSVLogger::root_dir() const { return (fs::path(save_dir_) / options_.name).string(); }

int64_t CSVLogger::next_version() const { return next_logger_version(root_dir()); }

std::string CSVLogger::version() const {
  if (!version_) version_ = next_version();
  if (auto* s = std::get_if<std::string>(&*version_)) return *s;
  return std::to_string(std::get<int64_t>(*version_));
}

std::string CSVLogger::log_dir() const {
  std::string v = version();
  if (std::holds_alternative<int64_t>(*version_)) v = "version_" + v;
  if (options_.name.empty()) return (fs::path(save_dir_) / v).string();
  return (fs::path(root_dir()) / v).string();
}

void CSVLogger::ensure_experiment() {
  if (experiment_) return;
  experiment_ = true;
  fs::path dir = log_dir();
  std::error_code ec;
  if (fs::exists(dir, ec) && !fs::is_empty(dir, ec)) {
    rank_zero_warn("Experiment logs directory " + dir.string() +
                " exists and is not empty. Previous log files in this directory will be deleted when the new ones "
                "are saved!");
    fs::remove(dir / kMetricsFile, ec);
  }
  fs::create_directories(dir);
}

void CSVLogger::log_metrics(const std::map<std::string, double>& metrics, int64_t step) {
  if (distributed::global_rank() != 0) return;  // Lightning's loggers write on rank 0 only
  ensure_experiment();
  Row row;
  for (const auto& kv : metrics) {
    std::string key = options_.prefix.empty() ? kv.first : options_.prefix + "-" + kv.first;
    // Lightning writes the Trainer's "epoch" as the int it is; every logged value is a float
    double v = kv.second;
    if (kv.first == "epoch" && std::isfinite(v) && v == std::floor(v))
      row[key] = std::to_string(static_cast<int64_t>(v));
    else
      row[key] = python_float_repr(v);
  }
  row["step"] = std::to_string(step);
  pending_.push_back(std::move(row));
  if (options_.flush_logs_every_n_steps > 0 && (step + 1) % options_.flush_logs_every_n_steps == 0) save();
}

void CSVLogger::log_hyperparams(const StateDict& params) {
  if (distributed::global_rank() != 0) return;  // Lightning's loggers write on rank 0 only
  ensure_experiment();
  for (const auto& kv : params) hparams_.set(kv.key().toStringRef(), kv.value());
}

void CSVLogger::save() {
  if (distributed::global_rank() != 0) return;  // Lightning's loggers write on rank 0 only
  ensure_experiment();
  fs::path dir = log_dir();
  // Lightning rewrites hparams.yaml on every save (every logging step); an unchanged file is not rewritten here,
  // since each atomic write costs two fsyncs
  const fs::path hparams_file = dir / kHparamsFile;
  std::string yaml = hparams_to_yaml(hparams_);
  if (yaml != written_hparams_ || !fs::is_regular_file(hparams_file)) {
    write_file_atomically(hparams_file.string(), yaml);
    written_hparams_ = std::move(yaml);
  }
  if (pending_.empty()) return;
  bool new_keys = false;
  for (const auto& row : pending_)
    for (const auto& kv : row)
      if (std::find(keys_.begin(), keys_.end(), kv.first) == keys_.end()) {
        keys_.push_back(kv.first);
        new_keys = true;
      }
  std::sort(keys_.begin(), keys_.end());
  auto format = [&](const Row& row) {
    std::string line;
    for (size_t i = 0; i < keys_.size(); ++i) {
      if (i) line += ",";
      auto it = row.find(keys_[i]);
      if (it != row.end()) line += csv_field(it->second);
    }
    return line + "\r\n";
  };
  fs::path file = dir / kMetricsFile;
  bool exists = fs::is_regular_file(file);
  if (new_keys || !exists) {
    // Lightning rewrites the whole file with the new header; done here through a temporary file
    std::string text;
    for (size_t i = 0; i < keys_.size(); ++i) text += (i ? "," : "") + csv_field(keys_[i]);
    text += "\r\n";
    for (const auto& row : written_) text += format(row);
    for (const auto& row : pending_) text += format(row);
    write_file_atomically(file.string(), text);
  } else {
    // appending rows is not atomic: a crash can cut the last row short (the rows before it stay)
    std::ofstream out(file, std::ios::binary | std::ios::app);
    for (const auto& row : pending_) out << format(row);
    out.flush();
    if (!out) throw Error("Cannot append to '" + file.string() + "' (" + std::strerror(errno) + ")");
  }
  written_.insert(written_.end(), pending_.begin(), pending_.end());
  pending_.clear();
}

void CSVLogger::finalize(const std::string& status) {
  if (distributed::global_rank() != 0) return;
  // Lightning: nothing was logged -> no experiment to save
  if (!experiment_) return;
  (void)status;
  save();
}

}  // namespace volt
