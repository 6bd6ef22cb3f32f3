// Compile-only check that include/rtmfp.h is valid C++ (cpp_compat):
//   c++ -std=c++11 -Wall -Wextra -pedantic -Werror -fsyntax-only -Iinclude tests/c/header_cxx.cpp
#include "rtmfp.h"

static_assert(RTMFP_OK == 0, "RTMFP_OK is 0");
static_assert(RTMFP_EVENT_TYPE_SESSION_OPENED == 1, "event types are ABI");
static_assert(sizeof(rtmfp_event().address) == RTMFP_ADDR_STRLEN, "address array");

static void on_event(const rtmfp_event *ev, void *user) {
    int *count = static_cast<int *>(user);
    switch (ev->type) {
    case RTMFP_EVENT_TYPE_MESSAGE:
        *count += static_cast<int>(ev->data_len);
        break;
    default:
        break;
    }
}

int rtmfp_cxx_smoke() {
    uint32_t a = 0, b = 0, c = 0;
    const char *v = rtmfp_version();
    int rc = rtmfp_version_parts(&a, &b, &c);
    rtmfp_config *cfg = nullptr;
    rtmfp_endpoint *ep = nullptr;
    rtmfp_send_options opts = rtmfp_send_options();
    opts.finish_within_ms = 100;
    rtmfp_event_callback cb = on_event;
    int count = 0;
    if (rtmfp_config_new(&cfg) == RTMFP_OK &&
        rtmfp_config_set_role(cfg, RTMFP_ROLE_SERVER) == RTMFP_OK &&
        rtmfp_endpoint_new(cfg, &ep) == RTMFP_OK) {
        rtmfp_set_event_callback(ep, cb, &count);
        rtmfp_flow_send(ep, 1, 1, nullptr, 0, &opts, nullptr);
        rtmfp_endpoint_free(ep);
    }
    rtmfp_config_free(cfg);
    return (v != nullptr && rc == RTMFP_OK && rtmfp_strerror(rc) != nullptr &&
            rtmfp_last_error_message() != nullptr)
               ? 0
               : 1;
}
