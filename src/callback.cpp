// Callback's out-of-line defaults: the vtable has one home, and every hook is a no-op.
#include "volt/callback.hpp"

#include <cxxabi.h>

#include <cstdlib>
#include <memory>

#include "volt/detail/overrides.hpp"
#include "volt/serialization/python_repr.hpp"

namespace volt {

Callback::~Callback() = default;

namespace detail {

std::string python_style_class_name(const std::type_info& type) {
  int status = 0;
  std::unique_ptr<char, void (*)(void*)> demangled(abi::__cxa_demangle(type.name(), nullptr, nullptr, &status),
                                                   std::free);
  std::string name = status == 0 && demangled ? demangled.get() : type.name();
  // Drop template arguments, then namespaces; what is left of "Outer::Inner" becomes Python's "Outer.Inner".
  if (auto lt = name.find('<'); lt != std::string::npos) name.resize(lt);
  if (auto anon = name.rfind("(anonymous namespace)::"); anon != std::string::npos)
    name = name.substr(anon + 23);
  if (name.rfind("volt::", 0) == 0) name = name.substr(6);
  // Keep the last component; namespaces and enclosing classes cannot be told apart in a mangled name.
  if (auto colon = name.rfind("::"); colon != std::string::npos) name = name.substr(colon + 2);
  return name;
}

bool is_instance_of(const Callback& obj, const std::type_info& type) {
  if (typeid(obj) == type) return true;
  // The Itanium ABI's upcast test, the one `catch (T&)` uses: is `type` a public base of obj's dynamic type?
  void* ptr = const_cast<void*>(dynamic_cast<const void*>(&obj));
  return typeid(obj).__do_upcast(static_cast<const abi::__class_type_info*>(&type), &ptr);
}

}  // namespace detail

std::string Callback::class_name() const { return detail::python_style_class_name(typeid(*this)); }
std::string Callback::state_key() const { return class_name(); }

std::string Callback::generate_state_key(const std::vector<std::pair<std::string, IValue>>& kwargs) const {
  return volt::generate_state_key(class_name(), kwargs);
}

StateDict Callback::state_dict() { return StateDict(); }
void Callback::load_state_dict(const StateDict&) {}
bool Callback::is_stateful() const { return detail::is_overridden(*this, &Callback::state_dict); }

void Callback::setup(Trainer&, Module&, const std::string&) {}
void Callback::teardown(Trainer&, Module&, const std::string&) {}
void Callback::on_fit_start(Trainer&, Module&) {}
void Callback::on_fit_end(Trainer&, Module&) {}
void Callback::on_sanity_check_start(Trainer&, Module&) {}
void Callback::on_sanity_check_end(Trainer&, Module&) {}
void Callback::on_train_start(Trainer&, Module&) {}
void Callback::on_train_end(Trainer&, Module&) {}
void Callback::on_train_epoch_start(Trainer&, Module&) {}
void Callback::on_train_epoch_end(Trainer&, Module&) {}
void Callback::on_train_batch_start(Trainer&, Module&, const Batch&, int64_t) {}
void Callback::on_train_batch_end(Trainer&, Module&, const StepOutput&, const Batch&, int64_t) {}
void Callback::on_validation_start(Trainer&, Module&) {}
void Callback::on_validation_end(Trainer&, Module&) {}
void Callback::on_validation_epoch_start(Trainer&, Module&) {}
void Callback::on_validation_epoch_end(Trainer&, Module&) {}
void Callback::on_validation_batch_start(Trainer&, Module&, const Batch&, int64_t, int64_t) {}
void Callback::on_validation_batch_end(Trainer&, Module&, const StepOutput&, const Batch&, int64_t, int64_t) {}
void Callback::on_test_start(Trainer&, Module&) {}
void Callback::on_test_end(Trainer&, Module&) {}
void Callback::on_test_epoch_start(Trainer&, Module&) {}
void Callback::on_test_epoch_end(Trainer&, Module&) {}
void Callback::on_test_batch_start(Trainer&, Module&, const Batch&, int64_t, int64_t) {}
void Callback::on_test_batch_end(Trainer&, Module&, const StepOutput&, const Batch&, int64_t, int64_t) {}
void Callback::on_predict_start(Trainer&, Module&) {}
void Callback::on_predict_end(Trainer&, Module&) {}
void Callback::on_predict_epoch_start(Trainer&, Module&) {}
void Callback::on_predict_epoch_end(Trainer&, Module&) {}
void Callback::on_predict_batch_start(Trainer&, Module&, const Batch&, int64_t, int64_t) {}
void Callback::on_predict_batch_end(Trainer&, Module&, const StepOutput&, const Batch&, int64_t, int64_t) {}
void Callback::on_exception(Trainer&, Module&, const std::exception&) {}
void Callback::on_save_checkpoint(Trainer&, Module&, StateDict&) {}
void Callback::on_load_checkpoint(Trainer&, Module&, StateDict&) {}
void Callback::on_before_backward(Trainer&, Module&, const torch::Tensor&) {}
void Callback::on_after_backward(Trainer&, Module&) {}
void Callback::on_before_optimizer_step(Trainer&, Module&, torch::optim::Optimizer&) {}
void Callback::on_before_zero_grad(Trainer&, Module&, torch::optim::Optimizer&) {}

}  // namespace volt
