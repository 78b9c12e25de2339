// An example plugin: like a Python package that lists a function under Lightning's `callbacks_factory` entry
// points, this shared library adds callbacks to every Trainer of a process that finds it in VOLT_PLUGIN_PATH. It
// also registers FitReport by name, so configs can list it: `callbacks: [{class_path: FitReport, init_args:
// {label: nightly}}]`.
//   VOLT_PLUGIN_PATH=build/plugins build/examples/first_program
#include <volt/plugins.hpp>
#include <volt/trainer.hpp>

#include <iostream>

namespace {

// Reports where each fit ends, as a site-wide monitoring callback would.
class FitReport : public volt::Callback {
 public:
  explicit FitReport(std::string label = "") : tag_(label.empty() ? "[monitor plugin]" : "[monitor plugin " + label + "]") {}
  std::string class_name() const override { return "FitReport"; }
  void on_fit_start(volt::Trainer&, volt::Module&) override { std::cout << tag_ << " fit started\n"; }
  void on_fit_end(volt::Trainer& trainer, volt::Module&) override {
    std::cout << tag_ << " fit ended at epoch " << trainer.current_epoch() << ", step " << trainer.global_step()
              << "\n";
  }

 private:
  std::string tag_;
};

}  // namespace

VOLT_PLUGIN(registrar) {
  registrar.add_callbacks_factory("monitor_callbacks", [] {
    return std::vector<volt::CallbackPtr>{std::make_shared<FitReport>()};
  });
  registrar.add_callback("FitReport", [](volt::InitArgs& args) {
    return std::make_shared<FitReport>(args.get<std::string>("label", ""));
  });
}
