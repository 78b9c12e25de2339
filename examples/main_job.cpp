// The main job: a small CNN on Fashion-MNIST with the default callbacks and a OneCycle schedule, then the best
// checkpoint on the test set.   main_job [epochs] [data_dir]   (env: MAIN_JOB_EPOCHS, MAIN_JOB_THREADS,
// MAIN_JOB_LR, VOLT_FASHION_MNIST_DIR). Data: `apt install dataset-fashion-mnist`.
#include "main_job.hpp"

int main(int argc, char** argv) {
  try {
    auto config = main_job::config_from(argc, argv);
    std::cout << "main_job: " << config.epochs << " epochs, data in " << config.data_dir << ", "
              << config.threads << " thread(s)" << std::endl;
    auto r = main_job::run(config);
    std::cout << "best checkpoint: " << r.best_model_path << "\n"
              << "time per epoch (train + val): " << r.seconds_per_epoch << " s over " << r.epochs_run
              << " epochs\n"
              << "test accuracy: " << r.test_acc * 100 << "%" << std::endl;
    return 0;
  } catch (const volt::Error& e) {
    std::cerr << "main_job: " << e.what() << std::endl;
    return 1;
  }
}
