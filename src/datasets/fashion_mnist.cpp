#include "volt/datasets/fashion_mnist.hpp"

#include <torch/torch.h>
#include <zlib.h>

#include <cstdlib>
#include <cstring>
#include <fstream>
#include <vector>

namespace volt {
namespace datasets {

namespace {

const char* kFix =
    "Install the data with `apt install dataset-fashion-mnist` (files in /usr/share/datasets/fashion-mnist), or "
    "pass the directory that holds the IDX files (FashionMNISTOptions::data_dir or VOLT_FASHION_MNIST_DIR).";

// The whole (decompressed) content of `path`. zlib reads plain files unchanged.
std::vector<uint8_t> read_gzip(const std::string& path) {
  {
    std::ifstream probe(path, std::ios::binary);
    if (!probe) throw DataError(detail::concat("cannot open data file '", path, "': no such file or not readable. ", kFix));
  }
  gzFile file = gzopen(path.c_str(), "rb");
  if (file == nullptr) throw DataError(detail::concat("cannot open data file '", path, "'. ", kFix));
  std::vector<uint8_t> out;
  std::vector<uint8_t> chunk(1 << 20);
  while (true) {
    int n = gzread(file, chunk.data(), static_cast<unsigned>(chunk.size()));
    if (n < 0) {
      int code = 0;
      std::string message = gzerror(file, &code);
      gzclose(file);
      throw DataError(detail::concat("data file '", path, "' is corrupt (zlib: ", message, "). ", kFix));
    }
    if (n == 0) break;
    out.insert(out.end(), chunk.begin(), chunk.begin() + n);
  }
  int code = Z_OK;
  std::string message = gzerror(file, &code);
  gzclose(file);
  // A truncated gzip stream reads to its end and then reports Z_BUF_ERROR ("unexpected end of file").
  if (code != Z_OK && code != Z_STREAM_END)
    throw DataError(detail::concat("data file '", path, "' is corrupt (zlib: ", message, "). ", kFix));
  return out;
}

uint32_t big_endian(const uint8_t* p) {
  return (uint32_t(p[0]) << 24) | (uint32_t(p[1]) << 16) | (uint32_t(p[2]) << 8) | uint32_t(p[3]);
}

bool exists(const std::string& path) { return static_cast<bool>(std::ifstream(path, std::ios::binary)); }

}  // namespace

torch::Tensor read_idx(const std::string& path, int expected_ndim) {
  std::vector<uint8_t> bytes = read_gzip(path);
  auto corrupt = [&](const std::string& what) {
    return DataError(detail::concat("data file '", path, "' is not a valid IDX file: ", what, ". ", kFix));
  };
  if (bytes.size() < 4) throw corrupt(detail::concat("only ", bytes.size(), " bytes, shorter than the header"));
  if (bytes[0] != 0 || bytes[1] != 0)
    throw corrupt(detail::concat("bad magic number 0x", std::hex, big_endian(bytes.data()),
                                 " (expected 0x000008NN)"));
  if (bytes[2] != 0x08)
    throw corrupt(detail::concat("element type 0x", std::hex, int(bytes[2]),
                                 " is not supported (only 0x08, unsigned byte)"));
  int ndim = bytes[3];
  if (expected_ndim >= 0 && ndim != expected_ndim)
    throw corrupt(detail::concat(ndim, " dimensions, expected ", expected_ndim));
  if (ndim == 0) throw corrupt("0 dimensions");
  size_t header = 4 + 4 * size_t(ndim);
  if (bytes.size() < header) throw corrupt("truncated header");
  std::vector<int64_t> dims;
  int64_t count = 1;
  for (int i = 0; i < ndim; ++i) {
    dims.push_back(big_endian(bytes.data() + 4 + 4 * i));
    count *= dims.back();
  }
  if (int64_t(bytes.size() - header) != count)
    throw corrupt(detail::concat("the header's dimensions need ", count, " bytes of data, the file has ",
                                 bytes.size() - header, " (truncated or wrong file)"));
  auto tensor = torch::empty(dims, torch::kUInt8);
  if (count > 0) std::memcpy(tensor.data_ptr<uint8_t>(), bytes.data() + header, size_t(count));
  return tensor;
}

void write_idx_gz(const std::string& path, const torch::Tensor& data) {
  auto t = data.to(torch::kUInt8).contiguous();
  std::vector<uint8_t> header = {0, 0, 0x08, uint8_t(t.dim())};
  for (auto d : t.sizes())
    for (int shift = 24; shift >= 0; shift -= 8) header.push_back(uint8_t((uint64_t(d) >> shift) & 0xff));
  gzFile file = gzopen(path.c_str(), "wb");
  if (file == nullptr) throw DataError(detail::concat("cannot write '", path, "'"));
  bool ok = gzwrite(file, header.data(), unsigned(header.size())) == int(header.size());
  if (t.numel() > 0) ok = ok && gzwrite(file, t.data_ptr<uint8_t>(), unsigned(t.numel())) == int(t.numel());
  ok = (gzclose(file) == Z_OK) && ok;
  if (!ok) throw DataError(detail::concat("failed writing '", path, "'"));
}

std::string default_fashion_mnist_dir() {
  const char* env = std::getenv("VOLT_FASHION_MNIST_DIR");
  return env != nullptr && *env != '\0' ? env : "/usr/share/datasets/fashion-mnist";
}

FashionMNISTDataModule::FashionMNISTDataModule(FashionMNISTOptions options) : options_(std::move(options)) {
  VOLT_CHECK(options_.batch_size > 0 && options_.eval_batch_size > 0,
             "FashionMNISTDataModule: batch sizes must be positive, got ", options_.batch_size, " and ",
             options_.eval_batch_size);
  VOLT_CHECK(options_.val_size >= 0, "FashionMNISTDataModule: val_size must be >= 0, got ", options_.val_size);
  save_hyperparameters({{"data_dir", options_.data_dir},
                        {"batch_size", options_.batch_size},
                        {"val_size", options_.val_size},
                        {"seed", int64_t(options_.seed)}});
}

std::string FashionMNISTDataModule::file(const std::string& split, const std::string& kind) const {
  std::string base = options_.data_dir + "/" + split + "-" + kind + (kind == "images" ? "-idx3-ubyte" : "-idx1-ubyte");
  if (!exists(base + ".gz") && exists(base)) return base;
  return base + ".gz";
}

void FashionMNISTDataModule::prepare_data() {
  for (const char* split : {"train", "t10k"})
    for (const char* kind : {"images", "labels"}) {
      auto path = file(split, kind);
      if (!exists(path))
        throw DataError(detail::concat("Fashion-MNIST file '", path, "' is missing. ", kFix));
    }
}

std::pair<torch::Tensor, torch::Tensor> FashionMNISTDataModule::load(const std::string& images_path,
                                                                     const std::string& labels_path) {
  auto images = read_idx(images_path, 3);
  auto labels = read_idx(labels_path, 1);
  if (images.size(0) != labels.size(0))
    throw DataError(detail::concat("'", images_path, "' has ", images.size(0), " images but '", labels_path,
                                   "' has ", labels.size(0), " labels. ", kFix));
  if (labels.numel() > 0 && labels.max().item<int64_t>() > 9)
    throw DataError(detail::concat("'", labels_path, "' has a label ", labels.max().item<int64_t>(),
                                   " (expected 0..9). ", kFix));
  return {images.to(torch::kFloat32).div_(255.0).unsqueeze(1), labels.to(torch::kInt64)};
}

torch::Tensor FashionMNISTDataModule::normalise(const torch::Tensor& x) const {
  return (x - options_.mean) / options_.std;
}

void FashionMNISTDataModule::split() {
  int64_t n = full_x_.size(0);
  VOLT_CHECK_T(DataError, options_.val_size <= n, "FashionMNISTDataModule: val_size ", options_.val_size,
               " exceeds the ", n, " training samples in '", file("train", "images"), "'");
  auto generator = at::detail::createCPUGenerator(options_.seed);
  auto order = torch::randperm(n, generator, torch::kLong);
  auto val_idx = order.slice(0, 0, options_.val_size);
  auto train_idx = order.slice(0, options_.val_size);
  train_x_ = full_x_.index_select(0, train_idx), train_y_ = full_y_.index_select(0, train_idx);
  val_x_ = full_x_.index_select(0, val_idx), val_y_ = full_y_.index_select(0, val_idx);
}

void FashionMNISTDataModule::setup(const std::string& stage) {
  if ((stage == "fit" || stage == "validate") && !full_x_.defined()) {
    auto [x, y] = load(file("train", "images"), file("train", "labels"));
    full_x_ = normalise(x), full_y_ = y;
    split();
  }
  if ((stage == "test" || stage == "predict") && !test_x_.defined()) {
    auto [x, y] = load(file("t10k", "images"), file("t10k", "labels"));
    test_x_ = normalise(x), test_y_ = y;
  }
}

std::shared_ptr<DataLoader> FashionMNISTDataModule::train_dataloader() {
  if (!train_x_.defined()) setup("fit");
  DataLoaderOptions o;
  o.batch_size = options_.batch_size;
  o.shuffle = true;
  o.seed = options_.seed;
  return std::make_shared<TensorDataLoader>(std::vector<torch::Tensor>{train_x_, train_y_}, o);
}

std::shared_ptr<DataLoader> FashionMNISTDataModule::val_dataloader() {
  if (!val_x_.defined()) setup("fit");
  DataLoaderOptions o;
  o.batch_size = options_.eval_batch_size;
  return std::make_shared<TensorDataLoader>(std::vector<torch::Tensor>{val_x_, val_y_}, o);
}

std::shared_ptr<DataLoader> FashionMNISTDataModule::test_dataloader() {
  if (!test_x_.defined()) setup("test");
  DataLoaderOptions o;
  o.batch_size = options_.eval_batch_size;
  return std::make_shared<TensorDataLoader>(std::vector<torch::Tensor>{test_x_, test_y_}, o);
}

std::shared_ptr<DataLoader> FashionMNISTDataModule::predict_dataloader() {
  if (!test_x_.defined()) setup("predict");
  DataLoaderOptions o;
  o.batch_size = options_.eval_batch_size;
  return std::make_shared<TensorDataLoader>(std::vector<torch::Tensor>{test_x_}, o);
}

StateDict FashionMNISTDataModule::state_dict() {
  return {{"seed", int64_t(options_.seed)}, {"val_size", options_.val_size}};
}

void FashionMNISTDataModule::load_state_dict(const StateDict& state) {
  if (state.contains("seed")) options_.seed = uint64_t(state.at("seed").toInt());
  if (state.contains("val_size")) options_.val_size = state.at("val_size").toInt();
  if (full_x_.defined()) split();  // the restored seed decides the split
}

}  // namespace datasets
}  // namespace volt
