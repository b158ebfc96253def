// ASSERT_OK(expr) / EXPECT_OK(expr): a Status or Result must be OK; the failure message is its
// error. EXPECT_OK goes on after a failure (usable in functions that return a value).
#pragma once

#include <gtest/gtest.h>

#define ASSERT_OK(expr)                               \
  do {                                                \
    auto status_ = (expr);                            \
    ASSERT_TRUE(status_.ok()) << status_.to_string(); \
  } while (0)

#define EXPECT_OK(expr)                               \
  do {                                                \
    auto status_ = (expr);                            \
    EXPECT_TRUE(status_.ok()) << status_.to_string(); \
  } while (0)
