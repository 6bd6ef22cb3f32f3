// Compile-only check that include/rtmfp.h is valid C++ (cpp_compat):
//   c++ -std=c++11 -Wall -Wextra -pedantic -Werror -fsyntax-only -Iinclude tests/c/header_cxx.cpp
#include "rtmfp.h"

static_assert(RTMFP_OK == 0, "RTMFP_OK is 0");

int rtmfp_cxx_smoke() {
    uint32_t a = 0, b = 0, c = 0;
    const char *v = rtmfp_version();
    int rc = rtmfp_version_parts(&a, &b, &c);
    return (v != nullptr && rc == RTMFP_OK && rtmfp_strerror(rc) != nullptr &&
            rtmfp_last_error_message() != nullptr)
               ? 0
               : 1;
}
