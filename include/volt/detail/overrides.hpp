// Lightning's is_overridden(): whether an object's class overrides a virtual method of a base. Some behaviour
// depends on it (validation runs only if validation_step is overridden; only callbacks overriding state_dict
// take part in the duplicate-state-key check). Uses GCC's bound-member-function extension to read the address
// the virtual call would reach.
#pragma once
#include <type_traits>

namespace volt::detail {

#if defined(__GNUC__) && !defined(__clang__)
template <class Base, class Object, class R, class... A>
bool is_overridden(const Object& object, R (Base::*method)(A...)) {
  static_assert(std::is_base_of<Base, Object>::value, "is_overridden: the object must derive from the base");
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wpmf-conversions"
  using Fn = R (*)(Base*, A...);
  Base& self = const_cast<Base&>(static_cast<const Base&>(object));
  static Base reference;  // an object whose dynamic type is exactly Base
  return reinterpret_cast<void*>(Fn(self.*method)) != reinterpret_cast<void*>(Fn(reference.*method));
#pragma GCC diagnostic pop
}
#else
template <class Base, class Object, class R, class... A>
bool is_overridden(const Object&, R (Base::*)(A...)) {
  return true;  // without the extension, assume the override exists (the conservative answer)
}
#endif

}  // namespace volt::detail
