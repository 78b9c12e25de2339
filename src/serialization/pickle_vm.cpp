#include "pickle_vm.hpp"

#include <charconv>
#include <cstring>
#include <limits>
#include <unordered_map>

#include "volt/error.hpp"

namespace volt::detail::pickle {

const char* kind_name(Kind kind) {
  switch (kind) {
    case Kind::None: return "None";
    case Kind::Bool: return "bool";
    case Kind::Int: return "int";
    case Kind::BigInt: return "int";
    case Kind::Float: return "float";
    case Kind::Str: return "str";
    case Kind::Bytes: return "bytes";
    case Kind::List: return "list";
    case Kind::Tuple: return "tuple";
    case Kind::Dict: return "dict";
    case Kind::Global: return "class or function";
    case Kind::Storage: return "storage";
    case Kind::Tensor: return "tensor";
    case Kind::Device: return "torch.device";
    case Kind::Timedelta: return "datetime.timedelta";
    case Kind::Opaque: return "Python object";
    case Kind::Invalid: return "invalid value";
  }
  return "?";
}

std::string a_kind(Kind kind) {
  const std::string name = kind_name(kind);
  return (std::string("aeiou").find(name[0]) != std::string::npos ? "an " : "a ") + name;
}

Ref Graph::add(Object object) {
  if (objects_.size() >= std::numeric_limits<Ref>::max()) throw PickleError("too many objects");
  objects_.push_back(std::move(object));
  return static_cast<Ref>(objects_.size() - 1);
}

namespace {

// Opcodes of pickle protocols 0-5 (CPython Lib/pickle.py).
enum Op : uint8_t {
  MARK = '(', STOP = '.', POP = '0', POP_MARK = '1', DUP = '2', FLOAT = 'F', INT = 'I', BININT = 'J',
  BININT1 = 'K', LONG = 'L', BININT2 = 'M', NONE = 'N', PERSID = 'P', BINPERSID = 'Q', REDUCE = 'R',
  STRING = 'S', BINSTRING = 'T', SHORT_BINSTRING = 'U', UNICODE = 'V', BINUNICODE = 'X', APPEND = 'a',
  BUILD = 'b', GLOBAL = 'c', DICT = 'd', EMPTY_DICT = '}', APPENDS = 'e', GET = 'g', BINGET = 'h', INST = 'i',
  LONG_BINGET = 'j', LIST = 'l', EMPTY_LIST = ']', OBJ = 'o', PUT = 'p', BINPUT = 'q', LONG_BINPUT = 'r',
  SETITEM = 's', TUPLE = 't', EMPTY_TUPLE = ')', SETITEMS = 'u', BINFLOAT = 'G',
  PROTO = 0x80, NEWOBJ = 0x81, EXT1 = 0x82, EXT2 = 0x83, EXT4 = 0x84, TUPLE1 = 0x85, TUPLE2 = 0x86,
  TUPLE3 = 0x87, NEWTRUE = 0x88, NEWFALSE = 0x89, LONG1 = 0x8a, LONG4 = 0x8b,
  BINBYTES = 'B', SHORT_BINBYTES = 'C',
  SHORT_BINUNICODE = 0x8c, BINUNICODE8 = 0x8d, BINBYTES8 = 0x8e, EMPTY_SET = 0x8f, ADDITEMS = 0x90,
  FROZENSET = 0x91, NEWOBJ_EX = 0x92, STACK_GLOBAL = 0x93, MEMOIZE = 0x94, FRAME = 0x95,
  BYTEARRAY8 = 0x96, NEXT_BUFFER = 0x97, READONLY_BUFFER = 0x98,
};

const char* op_name(uint8_t op) {
  switch (op) {
    case MARK: return "MARK"; case STOP: return "STOP"; case POP: return "POP"; case POP_MARK: return "POP_MARK";
    case DUP: return "DUP"; case FLOAT: return "FLOAT"; case INT: return "INT"; case BININT: return "BININT";
    case BININT1: return "BININT1"; case LONG: return "LONG"; case BININT2: return "BININT2";
    case NONE: return "NONE"; case PERSID: return "PERSID"; case BINPERSID: return "BINPERSID";
    case REDUCE: return "REDUCE"; case STRING: return "STRING"; case BINSTRING: return "BINSTRING";
    case SHORT_BINSTRING: return "SHORT_BINSTRING"; case UNICODE: return "UNICODE";
    case BINUNICODE: return "BINUNICODE"; case APPEND: return "APPEND"; case BUILD: return "BUILD";
    case GLOBAL: return "GLOBAL"; case DICT: return "DICT"; case EMPTY_DICT: return "EMPTY_DICT";
    case APPENDS: return "APPENDS"; case GET: return "GET"; case BINGET: return "BINGET"; case INST: return "INST";
    case LONG_BINGET: return "LONG_BINGET"; case LIST: return "LIST"; case EMPTY_LIST: return "EMPTY_LIST";
    case OBJ: return "OBJ"; case PUT: return "PUT"; case BINPUT: return "BINPUT";
    case LONG_BINPUT: return "LONG_BINPUT"; case SETITEM: return "SETITEM"; case TUPLE: return "TUPLE";
    case EMPTY_TUPLE: return "EMPTY_TUPLE"; case SETITEMS: return "SETITEMS"; case BINFLOAT: return "BINFLOAT";
    case PROTO: return "PROTO"; case NEWOBJ: return "NEWOBJ"; case EXT1: return "EXT1"; case EXT2: return "EXT2";
    case EXT4: return "EXT4"; case TUPLE1: return "TUPLE1"; case TUPLE2: return "TUPLE2";
    case TUPLE3: return "TUPLE3"; case NEWTRUE: return "NEWTRUE"; case NEWFALSE: return "NEWFALSE";
    case LONG1: return "LONG1"; case LONG4: return "LONG4"; case BINBYTES: return "BINBYTES";
    case SHORT_BINBYTES: return "SHORT_BINBYTES"; case SHORT_BINUNICODE: return "SHORT_BINUNICODE";
    case BINUNICODE8: return "BINUNICODE8"; case BINBYTES8: return "BINBYTES8"; case EMPTY_SET: return "EMPTY_SET";
    case ADDITEMS: return "ADDITEMS"; case FROZENSET: return "FROZENSET"; case NEWOBJ_EX: return "NEWOBJ_EX";
    case STACK_GLOBAL: return "STACK_GLOBAL"; case MEMOIZE: return "MEMOIZE"; case FRAME: return "FRAME";
    case BYTEARRAY8: return "BYTEARRAY8"; case NEXT_BUFFER: return "NEXT_BUFFER";
    case READONLY_BUFFER: return "READONLY_BUFFER";
    default: return nullptr;
  }
}

/// Python 2 module names that protocol-2 pickles use for builtins (pickle's fix_imports).
std::string python3_module(std::string module) {
  if (module == "__builtin__") return "builtins";
  if (module == "copy_reg") return "copyreg";
  return module;
}

class Machine {
 public:
  Machine(std::string_view data, Graph& graph, const PersistentLoader& load)
      : data_(data), g_(graph), persistent_load_(load) {}

  Ref run() {
    while (true) {
      if (pos_ >= data_.size()) fail("the pickle ends without a STOP opcode (truncated?)");
      op_pos_ = pos_;
      op_ = static_cast<uint8_t>(data_[pos_++]);
      if (op_ == STOP) return pop();
      step();
    }
  }

 private:
  [[noreturn]] void fail(const std::string& what) const {
    const char* name = op_name(op_);
    throw PickleError(name ? detail::concat("at byte ", op_pos_, " (opcode ", name, "): ", what)
                           : detail::concat("at byte ", op_pos_, ": ", what));
  }

  // ---- reading the program ----
  std::string_view take(uint64_t n) {
    if (n > data_.size() - pos_) fail(detail::concat("needs ", n, " more bytes but the pickle ends (truncated?)"));
    auto out = data_.substr(pos_, n);
    pos_ += n;
    return out;
  }
  uint64_t le(int n) {  // little-endian unsigned integer of n bytes
    auto b = take(n);
    uint64_t v = 0;
    for (int i = n - 1; i >= 0; --i) v = (v << 8) | static_cast<uint8_t>(b[i]);
    return v;
  }
  std::string_view line() {  // protocol-0 arguments end with '\n'
    const size_t end = data_.find('\n', pos_);
    if (end == std::string_view::npos) fail("the argument line never ends (truncated?)");
    auto out = data_.substr(pos_, end - pos_);
    pos_ = end + 1;
    return out;
  }

  // ---- the stack: MARK opens a frame that pops may not cross, as in CPython's metastack ----
  size_t frame_start() const { return marks_.empty() ? 0 : marks_.back(); }
  void push(Ref r) { stack_.push_back(r); }
  Ref& top() {
    if (stack_.size() <= frame_start()) fail("stack underflow");
    return stack_.back();
  }
  Ref pop() {
    Ref r = top();
    stack_.pop_back();
    return r;
  }
  std::vector<Ref> pop_mark() {
    if (marks_.empty()) fail("no MARK to pop to");
    std::vector<Ref> items(stack_.begin() + marks_.back(), stack_.end());
    stack_.resize(marks_.back());
    marks_.pop_back();
    return items;
  }

  // ---- objects ----
  Ref add(Object o) { return g_.add(std::move(o)); }
  Ref add(Kind kind, std::string text = {}) { return g_.add(Object::of(kind, std::move(text))); }
  Ref add_int(int64_t v, Kind kind = Kind::Int) {
    Object o = Object::of(kind);
    o.integer = v;
    return add(std::move(o));
  }
  Ref add_sequence(Kind kind, std::vector<Ref> items) {
    Object o = Object::of(kind);
    o.items = std::move(items);
    return add(std::move(o));
  }
  Ref add_float(double v) {
    Object o = Object::of(Kind::Float);
    o.number = v;
    return add(std::move(o));
  }
  const Object& at(Ref r) const { return g_[r]; }

  void step();
  void step_proto0();
  void push_long(std::string_view bytes);
  void push_text_int(std::string_view text);
  void append_to(Ref target, const std::vector<Ref>& items);
  void set_items(Ref target, const std::vector<Ref>& items);
  void memo_put(uint64_t index) { memo_[index] = top(); }
  void memo_get(uint64_t index);
  void reduce();
  void new_object_op(bool with_kwargs);
  void stack_global();

  std::string_view data_;
  Graph& g_;
  const PersistentLoader& persistent_load_;
  size_t pos_ = 0, op_pos_ = 0;
  uint8_t op_ = 0;
  std::vector<Ref> stack_;
  std::vector<size_t> marks_;
  std::unordered_map<uint64_t, Ref> memo_;
};

void Machine::step() {
  switch (op_) {
    case PROTO: {
      const auto version = le(1);
      if (version > 5) fail(detail::concat("pickle protocol ", version, " is newer than 5"));
      break;
    }
    case FRAME: le(8); break;  // framing only groups opcodes; the data is already in memory
    case MARK: marks_.push_back(stack_.size()); break;
    case POP:
      if (stack_.size() > frame_start()) stack_.pop_back();
      else pop_mark();  // CPython: POP on an empty frame discards the frame
      break;
    case POP_MARK: pop_mark(); break;
    case DUP: push(top()); break;
    case NONE: push(add(Kind::None)); break;
    case NEWTRUE: push(add_int(1, Kind::Bool)); break;
    case NEWFALSE: push(add_int(0, Kind::Bool)); break;
    case BININT: push(add_int(static_cast<int32_t>(le(4)))); break;
    case BININT1: push(add_int(static_cast<int64_t>(le(1)))); break;
    case BININT2: push(add_int(static_cast<int64_t>(le(2)))); break;
    case LONG1: push_long(take(le(1))); break;
    case LONG4: push_long(take(le(4))); break;
    case BINFLOAT: {
      uint64_t bits = 0;
      for (char c : take(8)) bits = (bits << 8) | static_cast<uint8_t>(c);  // big-endian
      double v;
      std::memcpy(&v, &bits, sizeof v);
      push(add_float(v));
      break;
    }
    case BINUNICODE: push(add(Kind::Str, std::string(take(le(4))))); break;
    case SHORT_BINUNICODE: push(add(Kind::Str, std::string(take(le(1))))); break;
    case BINUNICODE8: push(add(Kind::Str, std::string(take(le(8))))); break;
    case BINSTRING: push(add(Kind::Bytes, std::string(take(le(4))))); break;  // Python 2 str
    case SHORT_BINSTRING: push(add(Kind::Bytes, std::string(take(le(1))))); break;
    case BINBYTES: push(add(Kind::Bytes, std::string(take(le(4))))); break;
    case SHORT_BINBYTES: push(add(Kind::Bytes, std::string(take(le(1))))); break;
    case BINBYTES8: push(add(Kind::Bytes, std::string(take(le(8))))); break;
    case BYTEARRAY8: take(le(8)); push(add(Kind::Opaque, "builtins.bytearray")); break;
    case EMPTY_TUPLE: push(add_sequence(Kind::Tuple, {})); break;
    case TUPLE1: case TUPLE2: case TUPLE3: {
      std::vector<Ref> items(op_ - TUPLE1 + 1);
      for (auto it = items.rbegin(); it != items.rend(); ++it) *it = pop();
      push(add_sequence(Kind::Tuple, std::move(items)));
      break;
    }
    case TUPLE: push(add_sequence(Kind::Tuple, pop_mark())); break;
    case EMPTY_LIST: push(add_sequence(Kind::List, {})); break;
    case EMPTY_DICT: push(add_sequence(Kind::Dict, {})); break;
    case EMPTY_SET: push(add(Kind::Opaque, "builtins.set")); break;
    case FROZENSET: pop_mark(); push(add(Kind::Opaque, "builtins.frozenset")); break;
    case APPEND: { Ref v = pop(); append_to(top(), {v}); break; }
    case APPENDS: { auto items = pop_mark(); append_to(top(), items); break; }
    case ADDITEMS: { auto items = pop_mark(); append_to(top(), items); break; }
    case SETITEM: { Ref v = pop(); Ref k = pop(); set_items(top(), {k, v}); break; }
    case SETITEMS: { auto items = pop_mark(); set_items(top(), items); break; }
    case BINPUT: memo_put(le(1)); break;
    case LONG_BINPUT: memo_put(le(4)); break;
    case MEMOIZE: memo_put(memo_.size()); break;
    case BINGET: memo_get(le(1)); break;
    case LONG_BINGET: memo_get(le(4)); break;
    case GLOBAL: {
      std::string module = python3_module(std::string(line()));
      push(add(Kind::Global, module + "." + std::string(line())));
      break;
    }
    case STACK_GLOBAL: stack_global(); break;
    case REDUCE: reduce(); break;
    case NEWOBJ: new_object_op(false); break;
    case NEWOBJ_EX: new_object_op(true); break;
    case BUILD: { Ref state = pop(); build_object(g_, top(), state); break; }
    case BINPERSID: {
      Ref pid = pop();
      try {
        push(persistent_load_(g_, pid));
      } catch (const PickleError& e) {  // a bad storage reference: report where in the program it was
        fail(e.what());
      }
      break;
    }
    default: step_proto0();
  }
}

/// The text opcodes of protocol 0 that are cheap to support; the rest are refused by name.
void Machine::step_proto0() {
  switch (op_) {
    case INT: push_text_int(line()); break;
    case LONG: {
      auto text = line();
      if (!text.empty() && text.back() == 'L') text.remove_suffix(1);
      push_text_int(text);
      break;
    }
    case FLOAT: {
      const std::string text(line());
      char* end = nullptr;
      const double v = std::strtod(text.c_str(), &end);
      if (text.empty() || end != text.c_str() + text.size()) fail("malformed float literal");
      push(add_float(v));
      break;
    }
    case GET: case PUT: {
      const auto text = line();
      uint64_t index = 0;
      auto [p, ec] = std::from_chars(text.data(), text.data() + text.size(), index);
      if (ec != std::errc() || p != text.data() + text.size()) fail("malformed memo index");
      op_ == GET ? memo_get(index) : memo_put(index);
      break;
    }
    case LIST: push(add_sequence(Kind::List, pop_mark())); break;
    case DICT: {
      auto items = pop_mark();
      Ref d = add_sequence(Kind::Dict, {});
      set_items(d, items);
      push(d);
      break;
    }
    default: {
      const char* name = op_name(op_);
      if (name)
        fail(detail::concat("opcode ", name, " is not supported: volt reads the pickles torch.save writes"));
      static constexpr char kHex[] = "0123456789abcdef";
      fail(detail::concat("unknown opcode 0x", kHex[op_ >> 4], kHex[op_ & 0xF]));
    }
  }
}

/// LONG1/LONG4: little-endian two's complement of any length; volt keeps what fits in 64 bits.
void Machine::push_long(std::string_view bytes) {
  const size_t n = bytes.size();
  if (n == 0) return push(add_int(0));
  const bool negative = static_cast<uint8_t>(bytes[n - 1]) & 0x80;
  const uint8_t fill = negative ? 0xFF : 0x00;
  for (size_t i = 8; i < n; ++i)
    if (static_cast<uint8_t>(bytes[i]) != fill) return push(add(Kind::BigInt));
  uint64_t v = negative ? ~uint64_t{0} : 0;
  for (size_t i = std::min<size_t>(n, 8); i-- > 0;) v = (v << 8) | static_cast<uint8_t>(bytes[i]);
  if (n > 8 && ((v >> 63) != 0) != negative) return push(add(Kind::BigInt));
  push(add_int(static_cast<int64_t>(v)));
}

void Machine::push_text_int(std::string_view text) {
  if (text == "00") return push(add_int(0, Kind::Bool));  // protocol 0 spells False and True this way
  if (text == "01") return push(add_int(1, Kind::Bool));
  int64_t v = 0;
  const char* first = text.data() + (!text.empty() && text[0] == '+');
  auto [p, ec] = std::from_chars(first, text.data() + text.size(), v);
  if (ec == std::errc::result_out_of_range) return push(add(Kind::BigInt));
  if (ec != std::errc() || p != text.data() + text.size()) fail("malformed int literal");
  push(add_int(v));
}

void Machine::append_to(Ref target, const std::vector<Ref>& items) {
  Object& t = g_[target];
  if (t.kind == Kind::List) {
    t.items.insert(t.items.end(), items.begin(), items.end());
  } else if (t.kind != Kind::Opaque && t.kind != Kind::Invalid) {  // those swallow what is added to them
    fail(detail::concat("cannot append to ", a_kind(t.kind)));
  }
}

void Machine::set_items(Ref target, const std::vector<Ref>& items) {
  if (items.size() % 2) fail("odd number of items for a dict (a key without a value)");
  Object& t = g_[target];
  if (t.kind == Kind::Dict) {
    for (size_t i = 0; i < items.size(); i += 2) {
      const Kind key = at(items[i]).kind;
      if (key == Kind::List || key == Kind::Dict) fail(detail::concat(a_kind(key), " is not a valid dict key"));
    }
    t.items.insert(t.items.end(), items.begin(), items.end());
  } else if (t.kind != Kind::Opaque && t.kind != Kind::Invalid) {
    fail(detail::concat("cannot set items on ", a_kind(t.kind)));
  }
}

void Machine::memo_get(uint64_t index) {
  auto it = memo_.find(index);
  if (it == memo_.end()) fail(detail::concat("memo index ", index, " was never stored"));
  push(it->second);
}

void Machine::stack_global() {
  Ref name = pop(), module = pop();
  if (at(name).kind != Kind::Str || at(module).kind != Kind::Str) fail("module and name must be strings");
  push(add(Kind::Global, python3_module(at(module).text) + "." + at(name).text));
}

void Machine::reduce() {
  Ref args = pop(), callable = pop();
  if (at(args).kind != Kind::Tuple) fail(detail::concat("arguments are ", a_kind(at(args).kind), ", not a tuple"));
  const Kind kind = at(callable).kind;
  if (kind == Kind::Global) {
    const std::string name = at(callable).text;   // copies: calling adds objects, which moves the graph
    const std::vector<Ref> items = at(args).items;
    return push(call_global(g_, name, items));
  }
  if (kind == Kind::Opaque || kind == Kind::Invalid) return push(callable);  // stays unrepresentable
  fail(detail::concat("calls ", a_kind(kind), ", which is not callable"));
}

void Machine::new_object_op(bool with_kwargs) {
  if (with_kwargs) pop();
  Ref args = pop(), cls = pop();
  if (at(args).kind != Kind::Tuple) fail(detail::concat("arguments are ", a_kind(at(args).kind), ", not a tuple"));
  const Kind kind = at(cls).kind;
  if (kind == Kind::Global) {
    const std::string name = at(cls).text;
    return push(new_object(g_, name));
  }
  if (kind == Kind::Opaque || kind == Kind::Invalid) return push(cls);
  fail(detail::concat("instantiates ", a_kind(kind), ", which is not a class"));
}

}  // namespace

Ref run_pickle(std::string_view data, Graph& graph, const PersistentLoader& persistent_load) {
  return Machine(data, graph, persistent_load).run();
}

}  // namespace volt::detail::pickle
