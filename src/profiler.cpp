// Profilers (Lightning's profilers/profiler.py, simple.py; advanced.py in spirit, see profiler.hpp).
#include "volt/profiler.hpp"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <stdexcept>

#include "volt/error.hpp"
#include "volt/messages.hpp"

namespace volt {
namespace {

// Python's format(x, ".5"): like "%.5g", but fixed-point results keep one digit after the point ("3.0").
std::string py_float5(double v) {
  if (std::isnan(v)) return "nan";
  if (std::isinf(v)) return v > 0 ? "inf" : "-inf";
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.5g", v);
  std::string s(buf);
  if (s.find_first_of(".e") == std::string::npos) s += ".0";
  return s;
}

// f"{s:<{width}}"
std::string ljust(const std::string& s, size_t width) {
  return s.size() >= width ? s : s + std::string(width - s.size(), ' ');
}

// len(s.expandtabs()) with Python's tab size of 8 (columns restart after a newline, which counts as one character).
size_t expanded_length(const std::string& s) {
  size_t length = 0, column = 0;
  for (char c : s) {
    if (c == '\t') {
      size_t spaces = 8 - column % 8;
      length += spaces, column += spaces;
    } else {
      ++length;
      column = c == '\n' ? 0 : column + 1;
    }
  }
  return length;
}

double seconds_between(std::chrono::steady_clock::time_point a, std::chrono::steady_clock::time_point b) {
  return std::chrono::duration<double>(b - a).count();
}

std::string upper(std::string s) {
  for (auto& c : s) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return s;
}

}  // namespace

// ---- Profiler -----------------------------------------------------------------------------------------------------

Profiler::Profiler(std::string dirpath, std::string filename)
    : dirpath_(std::move(dirpath)), filename_(std::move(filename)) {}

Profiler::~Profiler() = default;

void Profiler::setup(const std::string& stage, std::optional<int> local_rank, const std::string& log_dir) {
  stage_ = stage;
  local_rank_ = local_rank;
  if (dirpath_.empty()) dirpath_ = log_dir;
}

void Profiler::teardown() {}

std::string Profiler::prepare_filename(const std::string& action, const std::string& extension,
                                       const std::string& split) const {
  std::vector<std::string> parts;
  if (!stage_.empty()) parts.push_back(stage_);
  if (!filename_.empty()) parts.push_back(filename_);
  if (local_rank_) parts.push_back(std::to_string(*local_rank_));
  if (!action.empty()) parts.push_back(action);
  std::string out;
  for (size_t i = 0; i < parts.size(); ++i) out += (i ? split : "") + parts[i];
  return out + extension;
}

std::string Profiler::output_path() const {
  if (filename_.empty() || dirpath_.empty()) return "";
  return (std::filesystem::path(dirpath_) / prepare_filename()).string();
}

void Profiler::describe() {
  std::string text = summary();
  std::string path = output_path();
  if (!path.empty()) {
    std::filesystem::create_directories(dirpath_);
    std::ofstream file(path, std::ios::app);
    if (!file) throw Error("Profiler: cannot open " + path + " for writing");
    file << text;
  } else if (!text.empty() && local_rank() == 0) {
    rank_zero_info(text);
  }
  teardown();
}

std::string Profiler::stats_to_str(const std::vector<std::pair<std::string, std::string>>& stats) const {
  std::string out = (stage_.empty() ? "" : upper(stage_) + " ") + "Profiler Report";
  for (const auto& [action, value] : stats) {
    out += "\nProfile stats for: " + action;
    if (local_rank_) out += " rank: " + std::to_string(*local_rank_);
    out += "\n" + value;
  }
  return out;
}

// ---- SimpleProfiler ------------------------------------------------------------------------------------------------

SimpleProfiler::SimpleProfiler(std::string dirpath, std::string filename, bool extended)
    : Profiler(std::move(dirpath), std::move(filename)), extended_(extended), start_time_(Clock::now()) {}

void SimpleProfiler::start(const std::string& action) {
  auto [it, inserted] = current_.try_emplace(action, Clock::time_point{});
  if (!inserted) throw std::invalid_argument("Attempted to start " + action + " which has already started.");
  it->second = Clock::now();
}

void SimpleProfiler::stop(const std::string& action) {
  auto end = Clock::now();
  auto it = current_.find(action);
  if (it == current_.end())
    throw std::invalid_argument("Attempting to stop recording an action (" + action + ") which was never started.");
  double duration = seconds_between(it->second, end);
  current_.erase(it);
  auto [slot, inserted] = index_.try_emplace(action, records_.size());
  if (inserted) records_.emplace_back(action, Record{});
  Record& r = records_[slot->second].second;
  ++r.count;
  r.total_seconds += duration;
}

std::map<std::string, int64_t> SimpleProfiler::counts() const {
  std::map<std::string, int64_t> out;
  for (const auto& [action, r] : records_) out[action] = r.count;
  return out;
}

std::string SimpleProfiler::summary() const {
  const std::string sep = "\n";
  std::string out = (stage().empty() ? "" : upper(stage()) + " ") + "Profiler Report" + sep;
  if (records_.empty()) return out + sep;  // (Lightning's non-extended table fails on max() of nothing)
  size_t max_key = 0;
  for (const auto& rec : records_) max_key = std::max(max_key, rec.first.size());
  if (extended_) {
    auto row = [&](const std::string& action, const std::string& mean, const std::string& calls,
                   const std::string& total, const std::string& per) {
      return sep + "|  " + ljust(action, max_key) + "\t|  " + ljust(mean, 15) + "\t|" + "  " + ljust(calls, 15) +
             "\t|  " + ljust(total, 15) + "\t|  " + ljust(per, 15) + "\t|";
    };
    std::string header = row("Action", "Mean duration (s)", "Num calls", "Total time (s)", "Percentage %");
    std::string lines = sep + std::string(expanded_length(header), '-');
    out += lines + header + lines;
    double total_duration = seconds_between(start_time_, Clock::now());
    struct Row {
      const std::string* action;
      double mean;
      int64_t calls;
      double total, percentage;
    };
    std::vector<Row> report;
    int64_t total_calls = 0;
    for (const auto& [action, r] : records_) {
      report.push_back({&action, r.total_seconds / r.count, r.count, r.total_seconds,
                        100.0 * r.total_seconds / total_duration});
      total_calls += r.count;
    }
    std::stable_sort(report.begin(), report.end(), [](const Row& a, const Row& b) { return a.percentage > b.percentage; });
    out += row("Total", "-", std::to_string(total_calls), py_float5(total_duration), "100 %");
    out += lines;
    for (const auto& r : report)
      out += row(*r.action, py_float5(r.mean), std::to_string(r.calls), py_float5(r.total), py_float5(r.percentage));
    out += lines;
  } else {
    auto row = [&](const std::string& action, const std::string& mean, const std::string& total) {
      return sep + "|  " + ljust(action, max_key) + "\t|  " + ljust(mean, 15) + "\t|  " + ljust(total, 15) + "\t|";
    };
    std::string header = row("Action", "Mean duration (s)", "Total time (s)");
    std::string lines = sep + std::string(expanded_length(header), '-');
    out += lines + header + lines;
    std::vector<std::pair<const std::string*, std::pair<double, double>>> report;
    for (const auto& [action, r] : records_) report.push_back({&action, {r.total_seconds / r.count, r.total_seconds}});
    std::stable_sort(report.begin(), report.end(),
                     [](const auto& a, const auto& b) { return a.second.first > b.second.first; });
    for (const auto& [action, v] : report) out += row(*action, py_float5(v.first), py_float5(v.second));
    out += lines;
  }
  return out + sep;
}

// ---- AdvancedProfiler ----------------------------------------------------------------------------------------------

AdvancedProfiler::AdvancedProfiler(std::string dirpath, std::string filename)
    : Profiler(std::move(dirpath), std::move(filename)) {}

void AdvancedProfiler::start(const std::string& action) { current_[action].push_back(Clock::now()); }

void AdvancedProfiler::stop(const std::string& action) {
  auto end = Clock::now();
  auto it = current_.find(action);
  if (it == current_.end() || it->second.empty())
    throw std::invalid_argument("Attempting to stop recording an action (" + action + ") which was never started.");
  double duration = seconds_between(it->second.back(), end);
  it->second.pop_back();
  auto [slot, inserted] = index_.try_emplace(action, durations_.size());
  if (inserted) durations_.emplace_back(action, std::vector<float>{});
  durations_[slot->second].second.push_back(static_cast<float>(duration));
}

AdvancedProfiler::Stats AdvancedProfiler::stats(const std::string& action) const {
  Stats s;
  auto it = index_.find(action);
  if (it == index_.end()) return s;
  std::vector<float> d = durations_[it->second].second;
  if (d.empty()) return s;
  std::sort(d.begin(), d.end());
  s.count = static_cast<int64_t>(d.size());
  for (float x : d) s.total += x;
  s.mean = s.total / s.count;
  s.min = d.front();
  s.max = d.back();
  // nearest rank: the smallest value with at least q of the calls at or below it
  auto q = [&](double p) { return static_cast<double>(d[static_cast<size_t>(std::max(1.0, std::ceil(p * s.count))) - 1]); };
  s.p50 = q(0.50);
  s.p90 = q(0.90);
  s.p99 = q(0.99);
  return s;
}

std::vector<std::string> AdvancedProfiler::actions() const {
  std::vector<std::string> out;
  for (const auto& entry : durations_) out.push_back(entry.first);
  return out;
}

std::string AdvancedProfiler::summary() const {
  std::vector<std::pair<std::string, Stats>> all;
  for (const auto& entry : durations_) all.emplace_back(entry.first, stats(entry.first));
  std::stable_sort(all.begin(), all.end(), [](const auto& a, const auto& b) { return a.second.total > b.second.total; });
  std::vector<std::pair<std::string, std::string>> text;
  for (const auto& [action, s] : all) {
    char buf[512];
    std::snprintf(buf, sizeof buf,
                  "  calls: %lld  total (s): %s  mean: %s  min: %s  p50: %s  p90: %s  p99: %s  max: %s",
                  static_cast<long long>(s.count), py_float5(s.total).c_str(), py_float5(s.mean).c_str(),
                  py_float5(s.min).c_str(), py_float5(s.p50).c_str(), py_float5(s.p90).c_str(),
                  py_float5(s.p99).c_str(), py_float5(s.max).c_str());
    text.emplace_back(action, buf);
  }
  return stats_to_str(text) + "\n";
}

// ---- construction from TrainerOptions -----------------------------------------------------------------------------

std::shared_ptr<Profiler> make_profiler(const ProfilerArg& arg) {
  if (arg.instance) return arg.instance;
  std::string name = arg.name;
  for (auto& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  if (name.empty()) return std::make_shared<PassThroughProfiler>();
  if (name == "simple") return std::make_shared<SimpleProfiler>();
  if (name == "advanced") return std::make_shared<AdvancedProfiler>();
  throw MisconfigurationError("When passing string value for the `profiler` parameter of `Trainer`, it can only be "
                              "one of ['simple', 'advanced'] (got '" + arg.name + "')");
}

}  // namespace volt
