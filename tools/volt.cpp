// The `volt` command: `volt fit|validate|test|predict --config cfg.yaml [--trainer.max_epochs=3 ...]`.
// See include/volt/cli.hpp; `volt --help` lists the registered names.
#include <volt/cli.hpp>

int main(int argc, char** argv) { return volt::run_cli(argc, argv); }
