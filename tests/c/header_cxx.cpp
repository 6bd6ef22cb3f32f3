// Compile-only check that include/rtmfp.h is valid C++ (cpp_compat):
//   c++ -std=c++11 -Wall -Wextra -pedantic -Werror -fsyntax-only -Iinclude tests/c/header_cxx.cpp
#include "rtmfp.h"

static_assert(RTMFP_OK == 0, "RTMFP_OK is 0");
static_assert(RTMFP_EVENT_TYPE_SESSION_OPENED == 1, "event types are ABI");
static_assert(sizeof(rtmfp_event().address) == RTMFP_ADDR_STRLEN, "address array");
static_assert(RTMFP_EVENT_TYPE_NETSTATUS == 100, "Flash event types start at 100");
static_assert(RTMFP_EVENT_TYPE_SERVER_CONNECTED == 150, "server event types start at 150");
static_assert(RTMFP_MEDIA_TYPE_VIDEO == 9, "RTMP message types");

static int on_connect(const char *peer_id_hex, const char *app, const char *key, void *user) {
    (void)user;
    return (peer_id_hex != nullptr && app != nullptr && key != nullptr)
               ? RTMFP_CONNECT_DECISION_ACCEPT
               : RTMFP_CONNECT_DECISION_REJECT;
}

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
    rtmfp_connect_hook hook = on_connect;
    rtmfp_server *srv = nullptr;
    rtmfp_netconnection *nc = nullptr;
    rtmfp_netstream *ns = nullptr;
    const char *keys[1] = {"key"};
    if (rtmfp_server_start(cfg, keys, 1, &srv) == RTMFP_OK) {
        rtmfp_server_set_connect_hook(srv, hook, nullptr);
        rtmfp_server_free(srv);
    }
    if (rtmfp_netconnection_connect(cfg, "rtmfp://127.0.0.1/app/key", &nc) == RTMFP_OK &&
        rtmfp_netstream_create(nc, RTMFP_NETSTREAM_KIND_DIRECT_CONNECTIONS, nullptr, &ns) ==
            RTMFP_OK) {
        rtmfp_netstream_publish(ns, "cam");
        rtmfp_netconnection_set_event_callback(nc, cb, &count);
    }
    rtmfp_netconnection_free(nc);
    rtmfp_config_free(cfg);
    return (v != nullptr && rc == RTMFP_OK && rtmfp_strerror(rc) != nullptr &&
            rtmfp_last_error_message() != nullptr)
               ? 0
               : 1;
}
