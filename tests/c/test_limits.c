/*
 * The per-client limits of a rendezvous server through the C API, in one
 * process over 127.0.0.1:
 *
 *   - zero or absurd values are refused by the config setters
 *     (RTMFP_ERR_INVALID_ARGUMENT, with a message that gives the range);
 *   - a server started with at most 2 streams and 1 name per client
 *     answers a client's third createStream and second registerName with
 *     `_error` ("NetConnection.Call.Failed", saying which limit), and the
 *     connection keeps working.
 *
 * Prints "N passed, M failed"; exits non-zero on failure. Every wait is
 * bounded.
 */
#define _POSIX_C_SOURCE 200809L

#include "check.h"

#include <stdint.h>
#include <time.h>

#define WAIT_MS 20000

/* Waits for an event of `type` (CALL_RESULT: with `call_id`); returns it
 * (the caller frees it) or NULL after WAIT_MS. Others are freed. */
static rtmfp_event *wait_event(rtmfp_netconnection *nc, rtmfp_event_type type, uint64_t call_id) {
    long long deadline = now_ms() + WAIT_MS;
    rtmfp_event *ev = NULL;
    while (now_ms() < deadline) {
        int rc = rtmfp_netconnection_next_event(nc, 50, &ev);
        if (rc == RTMFP_ERR_AGAIN) {
            continue;
        }
        if (rc != RTMFP_OK) {
            fprintf(stderr, "wait_event: %s (%s)\n", rtmfp_strerror(rc),
                    rtmfp_last_error_message());
            return NULL;
        }
        if (ev->type == type && (type != RTMFP_EVENT_TYPE_CALL_RESULT || ev->call_id == call_id)) {
            return ev;
        }
        rtmfp_event_free(ev);
    }
    fprintf(stderr, "wait_event: no %s within %d ms\n", rtmfp_event_type_name(type), WAIT_MS);
    return NULL;
}

/* Checks the answer to call `id`: `_result`, or `_error` with
 * NetConnection.Call.Failed and `why` in its description. */
static void expect_answer(rtmfp_netconnection *nc, uint64_t id, const char *why) {
    rtmfp_event *ev = wait_event(nc, RTMFP_EVENT_TYPE_CALL_RESULT, id);
    CHECK(ev != NULL);
    if (ev == NULL) {
        return;
    }
    if (why == NULL) {
        CHECK(ev->ok);
    } else {
        CHECK(!ev->ok);
        CHECK(ev->status_code != NULL &&
              strcmp(ev->status_code, "NetConnection.Call.Failed") == 0);
        CHECK(ev->status_description != NULL && strstr(ev->status_description, why) != NULL);
        if (ev->status_description != NULL) {
            printf("refused: %s\n", ev->status_description);
        }
    }
    CHECK_RC(rtmfp_event_free(ev), RTMFP_OK);
}

int main(void) {
    rtmfp_config *cfg = NULL;
    rtmfp_server *srv = NULL;
    rtmfp_netconnection *nc = NULL;
    rtmfp_event *ev;
    char addr[RTMFP_ADDR_STRLEN], uri[256];
    uint64_t id = 0;
    int i;

    CHECK_RC(rtmfp_config_new(&cfg), RTMFP_OK);
    CHECK_RC(rtmfp_config_set_bind_address(cfg, "127.0.0.1:0"), RTMFP_OK);

    /* Zero or absurd values are refused, with the range in the message. */
    CHECK_ERR(rtmfp_config_set_max_streams_per_client(cfg, 0), RTMFP_ERR_INVALID_ARGUMENT);
    CHECK(strstr(rtmfp_last_error_message(), "must be from 1 to 65535, got 0") != NULL);
    CHECK_ERR(rtmfp_config_set_max_names_per_client(cfg, 65536), RTMFP_ERR_INVALID_ARGUMENT);
    CHECK_ERR(rtmfp_config_set_max_flows_per_session(cfg, 0), RTMFP_ERR_INVALID_ARGUMENT);
    CHECK_ERR(rtmfp_config_set_max_flows_per_session(cfg, SIZE_MAX), RTMFP_ERR_INVALID_ARGUMENT);
    CHECK_ERR(rtmfp_config_set_max_streams_per_client(NULL, 2), RTMFP_ERR_NULL_POINTER);

    /* A server with low limits. */
    CHECK_RC(rtmfp_config_set_max_streams_per_client(cfg, 2), RTMFP_OK);
    CHECK_RC(rtmfp_config_set_max_names_per_client(cfg, 1), RTMFP_OK);
    CHECK_RC(rtmfp_config_set_max_flows_per_session(cfg, 64), RTMFP_OK);
    CHECK_RC(rtmfp_server_start(cfg, NULL, 0, &srv), RTMFP_OK);
    if (srv == NULL) {
        return check_summary();
    }
    CHECK(rtmfp_server_local_addr(srv, 0, addr, sizeof addr) > 0);

    /* A client (the same config: its flows limit applies to it too). */
    snprintf(uri, sizeof uri, "rtmfp://%s/app/KEY", addr);
    CHECK_RC(rtmfp_netconnection_connect(cfg, uri, &nc), RTMFP_OK);
    CHECK_RC(rtmfp_config_free(cfg), RTMFP_OK);
    if (nc == NULL) {
        rtmfp_server_free(srv);
        return check_summary();
    }
    ev = wait_event(nc, RTMFP_EVENT_TYPE_NETSTATUS, 0);
    CHECK(ev != NULL && ev->status_code != NULL &&
          strcmp(ev->status_code, "NetConnection.Connect.Success") == 0);
    if (ev != NULL) {
        rtmfp_event_free(ev);
    }

    /* Two streams, then one too many. */
    for (i = 0; i < 3; i++) {
        CHECK_RC(rtmfp_netconnection_call(nc, "createStream", NULL, 0, &id), RTMFP_OK);
        expect_answer(nc, id, i < 2 ? NULL : "too many streams: at most 2");
    }
    /* One name, then one too many. */
    CHECK_RC(rtmfp_netconnection_register_name(nc, "first", &id), RTMFP_OK);
    expect_answer(nc, id, NULL);
    CHECK_RC(rtmfp_netconnection_register_name(nc, "second", &id), RTMFP_OK);
    expect_answer(nc, id, "too many names: at most 1");
    /* The connection still works. */
    CHECK_RC(rtmfp_netconnection_lookup_name(nc, "first", &id), RTMFP_OK);
    expect_answer(nc, id, NULL);

    CHECK_RC(rtmfp_netconnection_free(nc), RTMFP_OK);
    CHECK_RC(rtmfp_server_free(srv), RTMFP_OK);
    return check_summary();
}
