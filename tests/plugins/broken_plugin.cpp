// A test fixture: a shared library that is not a volt plugin (it exports no volt_register_plugin).
extern "C" int not_a_volt_plugin() { return 1; }
