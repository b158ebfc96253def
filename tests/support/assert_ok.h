// ASSERT_OK(expr): a Status or Result must be OK; the failure message is its error.
#pragma once

#include <gtest/gtest.h>

#define ASSERT_OK(expr)                               \
  do {                                                \
    auto status_ = (expr);                            \
    ASSERT_TRUE(status_.ok()) << status_.to_string(); \
  } while (0)
