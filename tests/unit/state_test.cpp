#include <gtest/gtest.h>

#include "volt/error.hpp"
#include "volt/state.hpp"

// One namespace per file: unity builds compile several test files as one translation unit.
namespace {
namespace volt_test_state_test {

TEST(State, KeepsInsertionOrderAndFirstPositionOnOverwrite) {
  volt::StateDict s{{"b", 1}, {"a", 2.5}};
  s.set("b", 3);
  ASSERT_EQ(s.size(), 2u);
  EXPECT_EQ(s.begin()->key().toStringRef(), "b");
  EXPECT_EQ(s.at("b").toInt(), 3);
}

TEST(State, AsStateRejectsNonDicts) {
  volt::StateDict s{{"x", 1}};
  EXPECT_EQ(volt::as_state(s.ivalue(), "callbacks").at("x").toInt(), 1);
  EXPECT_THROW(volt::as_state(c10::IValue(3), "callbacks"), volt::CheckpointError);
}

}  // namespace volt_test_state_test
}  // namespace
