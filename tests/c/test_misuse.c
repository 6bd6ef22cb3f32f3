/*
 * The misuse suite: NULLs everywhere, double frees, calls after free and
 * after close, stale and forged handles, zero and huge lengths, bad
 * strings, wrong states and out-of-range enum values. Every call must fail
 * with the documented RTMFP_ERR_* code and a non-empty
 * rtmfp_last_error_message(); nothing may crash.
 *
 * scripts/test.sh builds it with -fsanitize=address and runs it with
 * ASAN_OPTIONS=detect_leaks=1, so that a memory error anywhere (including
 * a use after free of a handle) fails the run.
 *
 * The Flash layer's handles get the same treatment: NetConnections,
 * NetStreams (also after their NetConnection is closed or freed) and
 * rendezvous servers, their events and callbacks.
 *
 * Prints "N passed, M failed"; exits non-zero on failure.
 */
#define _POSIX_C_SOURCE 200809L

#include "check.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <time.h>

#define NO_SUCH_SESSION 987654321u

static void sleep_ms(long ms) {
    struct timespec ts;
    ts.tv_sec = ms / 1000;
    ts.tv_nsec = (ms % 1000) * 1000000L;
    nanosleep(&ts, NULL);
}

static rtmfp_endpoint *new_endpoint(int role) {
    rtmfp_config *cfg = NULL;
    rtmfp_endpoint *ep = NULL;
    CHECK_RC(rtmfp_config_new(&cfg), RTMFP_OK);
    CHECK_RC(rtmfp_config_set_bind_address(cfg, "127.0.0.1:0"), RTMFP_OK);
    CHECK_RC(rtmfp_config_set_role(cfg, role), RTMFP_OK);
    CHECK_RC(rtmfp_endpoint_new(cfg, &ep), RTMFP_OK);
    CHECK_RC(rtmfp_config_free(cfg), RTMFP_OK);
    return ep;
}

/* Takes events (bounded) until one of type `type` for `session` (any
 * session if 0) comes; returns it (the caller frees it) or NULL. */
static rtmfp_event *wait_event(rtmfp_endpoint *ep, rtmfp_event_type type, uint64_t session) {
    int i;
    rtmfp_event *ev = NULL;
    for (i = 0; i < 400; i++) {
        int rc = rtmfp_next_event(ep, 50, &ev);
        if (rc == RTMFP_ERR_AGAIN) {
            continue;
        }
        if (rc != RTMFP_OK) {
            return NULL;
        }
        if (ev->type == type && (session == 0 || ev->session == session)) {
            return ev;
        }
        rtmfp_event_free(ev);
    }
    return NULL;
}

static void test_config_misuse(void) {
    rtmfp_config *cfg = NULL, *stale;
    uint32_t groups[5] = {14, 16, 5, 2, 1};
    uint32_t bad_group = 3;
    uint32_t twice[2] = {14, 14};
    char *long_str;

    CHECK_ERR(rtmfp_config_new(NULL), RTMFP_ERR_NULL_POINTER);
    CHECK_RC(rtmfp_config_free(NULL), RTMFP_OK); /* like free(NULL) */

    /* NULL config everywhere. */
    CHECK_ERR(rtmfp_config_set_bind_address(NULL, "127.0.0.1:0"), RTMFP_ERR_NULL_POINTER);
    CHECK_ERR(rtmfp_config_add_bind_address(NULL, "127.0.0.1:0"), RTMFP_ERR_NULL_POINTER);
    CHECK_ERR(rtmfp_config_set_role(NULL, RTMFP_ROLE_SERVER), RTMFP_ERR_NULL_POINTER);
    CHECK_ERR(rtmfp_config_set_dh_groups(NULL, groups, 1), RTMFP_ERR_NULL_POINTER);
    CHECK_ERR(rtmfp_config_set_hmac_policy(NULL, RTMFP_POLICY_OFF), RTMFP_ERR_NULL_POINTER);
    CHECK_ERR(rtmfp_config_set_sseq_policy(NULL, RTMFP_POLICY_OFF), RTMFP_ERR_NULL_POINTER);
    CHECK_ERR(rtmfp_config_set_keepalive_ms(NULL, 1000), RTMFP_ERR_NULL_POINTER);
    CHECK_ERR(rtmfp_config_set_idle_timeout_ms(NULL, 1000), RTMFP_ERR_NULL_POINTER);
    CHECK_ERR(rtmfp_config_set_open_timeout_ms(NULL, 1000), RTMFP_ERR_NULL_POINTER);
    CHECK_ERR(rtmfp_config_set_max_datagram_size(NULL, 1200), RTMFP_ERR_NULL_POINTER);
    CHECK_ERR(rtmfp_config_set_flow_buffers(NULL, 4096, 4096), RTMFP_ERR_NULL_POINTER);
    CHECK_ERR(rtmfp_config_set_event_queue_limit(NULL, 100), RTMFP_ERR_NULL_POINTER);
    CHECK_ERR(rtmfp_config_set_recv_coalesce_us(NULL, 1000), RTMFP_ERR_NULL_POINTER);

    CHECK_RC(rtmfp_config_new(&cfg), RTMFP_OK);

    /* Bad strings. */
    CHECK_ERR(rtmfp_config_set_bind_address(cfg, NULL), RTMFP_ERR_NULL_POINTER);
    CHECK_ERR(rtmfp_config_set_bind_address(cfg, ""), RTMFP_ERR_INVALID_ARGUMENT);
    CHECK_ERR(rtmfp_config_set_bind_address(cfg, "127.0.0.1"), RTMFP_ERR_INVALID_ARGUMENT);
    CHECK_ERR(rtmfp_config_set_bind_address(cfg, "localhost:1935"), RTMFP_ERR_INVALID_ARGUMENT);
    CHECK_ERR(rtmfp_config_set_bind_address(cfg, "300.1.1.1:1"), RTMFP_ERR_INVALID_ARGUMENT);
    CHECK_ERR(rtmfp_config_set_bind_address(cfg, "127.0.0.1:65536"), RTMFP_ERR_INVALID_ARGUMENT);
    CHECK_ERR(rtmfp_config_set_bind_address(cfg, "::1:5"), RTMFP_ERR_INVALID_ARGUMENT);
    CHECK_ERR(rtmfp_config_set_bind_address(cfg, "\xff\xfe:1"), RTMFP_ERR_INVALID_ARGUMENT);
    long_str = (char *)malloc(10001);
    CHECK(long_str != NULL);
    if (long_str != NULL) {
        memset(long_str, '1', 10000);
        long_str[10000] = '\0';
        CHECK_ERR(rtmfp_config_set_bind_address(cfg, long_str), RTMFP_ERR_INVALID_ARGUMENT);
        free(long_str);
    }
    CHECK_RC(rtmfp_config_set_bind_address(cfg, "[::1]:0"), RTMFP_OK);

    /* Invalid enum values and out-of-range numbers. */
    CHECK_ERR(rtmfp_config_set_role(cfg, 2), RTMFP_ERR_INVALID_ARGUMENT);
    CHECK_ERR(rtmfp_config_set_role(cfg, -1), RTMFP_ERR_INVALID_ARGUMENT);
    CHECK_ERR(rtmfp_config_set_hmac_policy(cfg, 3), RTMFP_ERR_INVALID_ARGUMENT);
    CHECK_ERR(rtmfp_config_set_sseq_policy(cfg, INT32_MIN), RTMFP_ERR_INVALID_ARGUMENT);
    CHECK_ERR(rtmfp_config_set_dh_groups(cfg, groups, 0), RTMFP_ERR_INVALID_ARGUMENT);
    CHECK_ERR(rtmfp_config_set_dh_groups(cfg, groups, 5), RTMFP_ERR_INVALID_ARGUMENT);
    CHECK_ERR(rtmfp_config_set_dh_groups(cfg, groups, SIZE_MAX), RTMFP_ERR_INVALID_ARGUMENT);
    CHECK_ERR(rtmfp_config_set_dh_groups(cfg, NULL, 2), RTMFP_ERR_NULL_POINTER);
    CHECK_ERR(rtmfp_config_set_dh_groups(cfg, &bad_group, 1), RTMFP_ERR_INVALID_ARGUMENT);
    CHECK_ERR(rtmfp_config_set_dh_groups(cfg, twice, 2), RTMFP_ERR_INVALID_ARGUMENT);
    CHECK_RC(rtmfp_config_set_dh_groups(cfg, groups, 4), RTMFP_OK);
    CHECK_ERR(rtmfp_config_set_keepalive_ms(cfg, 0), RTMFP_ERR_INVALID_ARGUMENT);
    CHECK_ERR(rtmfp_config_set_idle_timeout_ms(cfg, 0), RTMFP_ERR_INVALID_ARGUMENT);
    CHECK_ERR(rtmfp_config_set_open_timeout_ms(cfg, 0), RTMFP_ERR_INVALID_ARGUMENT);
    CHECK_ERR(rtmfp_config_set_max_datagram_size(cfg, 0), RTMFP_ERR_INVALID_ARGUMENT);
    CHECK_ERR(rtmfp_config_set_max_datagram_size(cfg, 65508), RTMFP_ERR_INVALID_ARGUMENT);
    CHECK_ERR(rtmfp_config_set_max_datagram_size(cfg, SIZE_MAX), RTMFP_ERR_INVALID_ARGUMENT);
    CHECK_ERR(rtmfp_config_set_flow_buffers(cfg, 0, 4096), RTMFP_ERR_INVALID_ARGUMENT);
    CHECK_ERR(rtmfp_config_set_flow_buffers(cfg, 4096, SIZE_MAX), RTMFP_ERR_INVALID_ARGUMENT);
    CHECK_ERR(rtmfp_config_set_event_queue_limit(cfg, 0), RTMFP_ERR_INVALID_ARGUMENT);
    /* Receive coalescing takes any delay: 0 is off, past 10 ms is 10 ms. */
    CHECK_RC(rtmfp_config_set_recv_coalesce_us(cfg, 0), RTMFP_OK);
    CHECK_RC(rtmfp_config_set_recv_coalesce_us(cfg, UINT32_MAX), RTMFP_OK);
    CHECK_RC(rtmfp_config_set_recv_coalesce_us(cfg, 2000), RTMFP_OK);

    /* A failed call leaves a message; a successful one clears it. */
    CHECK_RC(rtmfp_config_set_role(cfg, RTMFP_ROLE_SERVER), RTMFP_OK);
    CHECK(rtmfp_last_error_message()[0] == '\0');

    /* Double free and use after free. */
    stale = cfg;
    CHECK_RC(rtmfp_config_free(cfg), RTMFP_OK);
    CHECK_ERR(rtmfp_config_free(stale), RTMFP_ERR_INVALID_HANDLE);
    CHECK_ERR(rtmfp_config_set_role(stale, RTMFP_ROLE_CLIENT), RTMFP_ERR_INVALID_HANDLE);
    CHECK_ERR(rtmfp_config_set_bind_address(stale, "127.0.0.1:0"), RTMFP_ERR_INVALID_HANDLE);

    /* A new config does not revive the stale handle. */
    CHECK_RC(rtmfp_config_new(&cfg), RTMFP_OK);
    CHECK(cfg != stale);
    CHECK_ERR(rtmfp_config_set_role(stale, RTMFP_ROLE_CLIENT), RTMFP_ERR_INVALID_HANDLE);
    CHECK_RC(rtmfp_config_free(cfg), RTMFP_OK);
}

static void test_endpoint_new_misuse(void) {
    rtmfp_config *cfg = NULL, *stale;
    rtmfp_endpoint *ep = NULL, *first = NULL;
    char addr[RTMFP_ADDR_STRLEN];
    char bind[RTMFP_ADDR_STRLEN + 16];

    CHECK_ERR(rtmfp_endpoint_new(NULL, &ep), RTMFP_ERR_NULL_POINTER);
    CHECK(ep == NULL);
    CHECK_RC(rtmfp_config_new(&cfg), RTMFP_OK);
    CHECK_ERR(rtmfp_endpoint_new(cfg, NULL), RTMFP_ERR_NULL_POINTER);

    /* A non-local address and a port in use: I/O errors. */
    CHECK_RC(rtmfp_config_set_bind_address(cfg, "192.0.2.1:0"), RTMFP_OK);
    CHECK_ERR(rtmfp_endpoint_new(cfg, &ep), RTMFP_ERR_IO);
    CHECK(ep == NULL);
    first = new_endpoint(RTMFP_ROLE_CLIENT);
    CHECK(rtmfp_endpoint_local_addr(first, 0, addr, sizeof addr) > 0);
    snprintf(bind, sizeof bind, "%s", addr);
    CHECK_RC(rtmfp_config_set_bind_address(cfg, bind), RTMFP_OK);
    CHECK_ERR(rtmfp_endpoint_new(cfg, &ep), RTMFP_ERR_IO);
    CHECK(ep == NULL);
    CHECK_RC(rtmfp_endpoint_free(first), RTMFP_OK);

    /* A freed config. */
    stale = cfg;
    CHECK_RC(rtmfp_config_free(cfg), RTMFP_OK);
    CHECK_ERR(rtmfp_endpoint_new(stale, &ep), RTMFP_ERR_INVALID_HANDLE);
    CHECK(ep == NULL);
}

static void test_stale_and_forged_handles(void) {
    rtmfp_endpoint *ep = new_endpoint(RTMFP_ROLE_CLIENT);
    rtmfp_endpoint *stale = ep;
    rtmfp_endpoint *forged[3];
    rtmfp_config *cfg = NULL;
    rtmfp_event *ev = NULL;
    uint8_t id[RTMFP_PEER_ID_LEN];
    char buf[RTMFP_ADDR_STRLEN];
    uint64_t out = 0;
    int local = 0;
    size_t i;

    CHECK_RC(rtmfp_endpoint_free(ep), RTMFP_OK);
    CHECK_ERR(rtmfp_endpoint_free(stale), RTMFP_ERR_INVALID_HANDLE); /* double free */

    CHECK_RC(rtmfp_config_new(&cfg), RTMFP_OK);
    forged[0] = stale;                     /* freed */
    forged[1] = (rtmfp_endpoint *)&local;  /* a pointer to real memory */
    forged[2] = (rtmfp_endpoint *)(void *)cfg; /* a handle of another kind */
    for (i = 0; i < sizeof forged / sizeof forged[0]; i++) {
        rtmfp_endpoint *h = forged[i];
        CHECK_ERR(rtmfp_endpoint_free(h), RTMFP_ERR_INVALID_HANDLE);
        CHECK_ERR(rtmfp_endpoint_close(h, 10), RTMFP_ERR_INVALID_HANDLE);
        CHECK_ERR(rtmfp_endpoint_local_addr_count(h), RTMFP_ERR_INVALID_HANDLE);
        CHECK_ERR(rtmfp_endpoint_local_addr(h, 0, buf, sizeof buf), RTMFP_ERR_INVALID_HANDLE);
        CHECK_ERR(rtmfp_endpoint_peer_id(h, id), RTMFP_ERR_INVALID_HANDLE);
        CHECK_ERR(rtmfp_endpoint_peer_id_hex(h, buf, sizeof buf), RTMFP_ERR_INVALID_HANDLE);
        CHECK_ERR(rtmfp_session_connect_uri(h, "rtmfp://127.0.0.1:1/x", &out),
                  RTMFP_ERR_INVALID_HANDLE);
        CHECK_ERR(rtmfp_session_close(h, 1, false), RTMFP_ERR_INVALID_HANDLE);
        CHECK_ERR(rtmfp_flow_open(h, 1, NULL, 0, 3, NULL, &out), RTMFP_ERR_INVALID_HANDLE);
        CHECK_ERR(rtmfp_flow_send(h, 1, 1, NULL, 0, NULL, NULL), RTMFP_ERR_INVALID_HANDLE);
        CHECK_ERR(rtmfp_flow_close(h, 1, 1), RTMFP_ERR_INVALID_HANDLE);
        CHECK_ERR(rtmfp_next_event(h, 0, &ev), RTMFP_ERR_INVALID_HANDLE);
        CHECK(ev == NULL);
        CHECK_ERR(rtmfp_event_fd(h), RTMFP_ERR_INVALID_HANDLE);
        CHECK_ERR(rtmfp_set_event_callback(h, NULL, NULL), RTMFP_ERR_INVALID_HANDLE);
    }
    /* An endpoint handle is not a config either. */
    ep = new_endpoint(RTMFP_ROLE_CLIENT);
    CHECK_ERR(rtmfp_config_set_role((rtmfp_config *)(void *)ep, 0), RTMFP_ERR_INVALID_HANDLE);
    CHECK_ERR(rtmfp_config_free((rtmfp_config *)(void *)ep), RTMFP_ERR_INVALID_HANDLE);
    CHECK_RC(rtmfp_endpoint_free(ep), RTMFP_OK);
    CHECK_RC(rtmfp_config_free(cfg), RTMFP_OK);
}

static void test_null_arguments(void) {
    rtmfp_endpoint *ep = new_endpoint(RTMFP_ROLE_CLIENT);
    uint8_t id[RTMFP_PEER_ID_LEN];
    char buf[RTMFP_PEER_ID_HEX_LEN];
    const char *addrs[2] = {"127.0.0.1:1", NULL};
    const char *bad_addrs[1] = {"127.0.0.1"};
    uint64_t out = 0;
    rtmfp_event *ev = NULL;

    memset(id, 0, sizeof id);
    /* NULL endpoint. */
    CHECK_RC(rtmfp_endpoint_free(NULL), RTMFP_OK); /* like free(NULL) */
    CHECK_ERR(rtmfp_endpoint_close(NULL, 0), RTMFP_ERR_NULL_POINTER);
    CHECK_ERR(rtmfp_endpoint_local_addr_count(NULL), RTMFP_ERR_NULL_POINTER);
    CHECK_ERR(rtmfp_endpoint_local_addr(NULL, 0, buf, sizeof buf), RTMFP_ERR_NULL_POINTER);
    CHECK_ERR(rtmfp_endpoint_peer_id(NULL, id), RTMFP_ERR_NULL_POINTER);
    CHECK_ERR(rtmfp_endpoint_peer_id_hex(NULL, buf, sizeof buf), RTMFP_ERR_NULL_POINTER);
    CHECK_ERR(rtmfp_session_connect_uri(NULL, "rtmfp://127.0.0.1/", &out),
              RTMFP_ERR_NULL_POINTER);
    CHECK_ERR(rtmfp_session_connect_peer(NULL, id, addrs, 1, &out), RTMFP_ERR_NULL_POINTER);
    CHECK_ERR(rtmfp_session_connect_epd(NULL, id, 4, addrs, 1, &out), RTMFP_ERR_NULL_POINTER);
    CHECK_ERR(rtmfp_session_close(NULL, 1, true), RTMFP_ERR_NULL_POINTER);
    CHECK_ERR(rtmfp_session_stats(NULL, 1, NULL), RTMFP_ERR_NULL_POINTER);
    CHECK_ERR(rtmfp_flow_open(NULL, 1, NULL, 0, 3, NULL, &out), RTMFP_ERR_NULL_POINTER);
    CHECK_ERR(rtmfp_flow_send(NULL, 1, 1, NULL, 0, NULL, NULL), RTMFP_ERR_NULL_POINTER);
    CHECK_ERR(rtmfp_flow_writable(NULL, 1, 1), RTMFP_ERR_NULL_POINTER);
    CHECK_ERR(rtmfp_flow_accept(NULL, 1, 1, RTMFP_ORDER_SEQUENCE), RTMFP_ERR_NULL_POINTER);
    CHECK_ERR(rtmfp_flow_reject(NULL, 1, 1, 0), RTMFP_ERR_NULL_POINTER);
    CHECK_ERR(rtmfp_flow_close(NULL, 1, 1), RTMFP_ERR_NULL_POINTER);
    CHECK_ERR(rtmfp_flow_set_suspended(NULL, 1, 1, true), RTMFP_ERR_NULL_POINTER);
    CHECK_ERR(rtmfp_flow_abandon_message(NULL, 1, 1, 1), RTMFP_ERR_NULL_POINTER);
    CHECK_ERR(rtmfp_next_event(NULL, 0, &ev), RTMFP_ERR_NULL_POINTER);
    CHECK_ERR(rtmfp_event_fd(NULL), RTMFP_ERR_NULL_POINTER);
    CHECK_ERR(rtmfp_set_event_callback(NULL, NULL, NULL), RTMFP_ERR_NULL_POINTER);

    /* NULL out-pointers and inputs on a live endpoint. */
    CHECK_ERR(rtmfp_endpoint_local_addr(ep, 0, NULL, 64), RTMFP_ERR_NULL_POINTER);
    CHECK_ERR(rtmfp_endpoint_peer_id(ep, NULL), RTMFP_ERR_NULL_POINTER);
    CHECK_ERR(rtmfp_endpoint_peer_id_hex(ep, NULL, 65), RTMFP_ERR_NULL_POINTER);
    CHECK_ERR(rtmfp_peer_id_from_hex(NULL, id), RTMFP_ERR_NULL_POINTER);
    CHECK_ERR(rtmfp_session_connect_uri(ep, NULL, &out), RTMFP_ERR_NULL_POINTER);
    CHECK_ERR(rtmfp_session_connect_uri(ep, "rtmfp://127.0.0.1:1/x", NULL),
              RTMFP_ERR_NULL_POINTER);
    CHECK_ERR(rtmfp_session_connect_peer(ep, NULL, addrs, 1, &out), RTMFP_ERR_NULL_POINTER);
    CHECK_ERR(rtmfp_session_connect_peer(ep, id, NULL, 1, &out), RTMFP_ERR_NULL_POINTER);
    CHECK_ERR(rtmfp_session_connect_peer(ep, id, addrs, 2, &out), RTMFP_ERR_NULL_POINTER);
    CHECK_ERR(rtmfp_session_connect_peer(ep, id, addrs, 1, NULL), RTMFP_ERR_NULL_POINTER);
    CHECK_ERR(rtmfp_session_connect_epd(ep, NULL, 4, addrs, 1, &out), RTMFP_ERR_NULL_POINTER);
    CHECK_ERR(rtmfp_next_event(ep, 0, NULL), RTMFP_ERR_NULL_POINTER);

    /* Zero and huge lengths, bad strings. */
    CHECK_ERR(rtmfp_endpoint_local_addr(ep, 0, buf, 0), RTMFP_ERR_BUFFER_TOO_SMALL);
    CHECK_ERR(rtmfp_endpoint_local_addr(ep, 0, buf, 4), RTMFP_ERR_BUFFER_TOO_SMALL);
    CHECK_ERR(rtmfp_endpoint_local_addr(ep, 1, buf, sizeof buf), RTMFP_ERR_INVALID_ARGUMENT);
    CHECK_ERR(rtmfp_endpoint_local_addr(ep, SIZE_MAX, buf, sizeof buf),
              RTMFP_ERR_INVALID_ARGUMENT);
    CHECK_ERR(rtmfp_endpoint_peer_id_hex(ep, buf, 64), RTMFP_ERR_BUFFER_TOO_SMALL);
    CHECK_RC(rtmfp_endpoint_peer_id_hex(ep, buf, 65), 64);
    CHECK_ERR(rtmfp_peer_id_from_hex("abc", id), RTMFP_ERR_INVALID_ARGUMENT);
    CHECK_ERR(rtmfp_peer_id_from_hex("gggggggggggggggggggggggggggggggggggggggggggggggggggggggggggg"
                                     "gggg",
                                     id),
              RTMFP_ERR_INVALID_ARGUMENT);
    CHECK_ERR(rtmfp_session_connect_uri(ep, "", &out), RTMFP_ERR_INVALID_ARGUMENT);
    CHECK_ERR(rtmfp_session_connect_uri(ep, "http://127.0.0.1/", &out),
              RTMFP_ERR_INVALID_ARGUMENT);
    CHECK_ERR(rtmfp_session_connect_uri(ep, "rtmfp://", &out), RTMFP_ERR_INVALID_ARGUMENT);
    CHECK_ERR(rtmfp_session_connect_uri(ep, "rtmfp://127.0.0.1:port/", &out),
              RTMFP_ERR_INVALID_ARGUMENT);
    CHECK_ERR(rtmfp_session_connect_uri(ep, "rtmfp://\xc3\x28/", &out),
              RTMFP_ERR_INVALID_ARGUMENT);
    CHECK_ERR(rtmfp_session_connect_peer(ep, id, addrs, 0, &out), RTMFP_ERR_INVALID_ARGUMENT);
    CHECK_ERR(rtmfp_session_connect_peer(ep, id, addrs, SIZE_MAX, &out),
              RTMFP_ERR_INVALID_ARGUMENT);
    CHECK_ERR(rtmfp_session_connect_peer(ep, id, bad_addrs, 1, &out),
              RTMFP_ERR_INVALID_ARGUMENT);
    CHECK_ERR(rtmfp_session_connect_epd(ep, id, 0, addrs, 1, &out), RTMFP_ERR_INVALID_ARGUMENT);
    CHECK_ERR(rtmfp_session_connect_epd(ep, id, SIZE_MAX, addrs, 1, &out),
              RTMFP_ERR_INVALID_ARGUMENT);

    /* Unknown codes and types still give text. */
    CHECK(strcmp(rtmfp_strerror(12345), "unknown error code") == 0);
    CHECK(strcmp(rtmfp_event_type_name(-7), "UNKNOWN") == 0);

    CHECK_RC(rtmfp_endpoint_free(ep), RTMFP_OK);
}

/* Wrong states: a session still opening, sessions and flows that do not
 * exist, flows of the wrong direction, bad lengths on a real session. */
static void test_wrong_state(void) {
    rtmfp_endpoint *server = new_endpoint(RTMFP_ROLE_SERVER);
    rtmfp_endpoint *client = new_endpoint(RTMFP_ROLE_CLIENT);
    rtmfp_endpoint *nobody = new_endpoint(RTMFP_ROLE_CLIENT);
    char addr[RTMFP_ADDR_STRLEN], nobody_addr[RTMFP_ADDR_STRLEN];
    const char *addrs[1];
    uint8_t id[RTMFP_PEER_ID_LEN], byte = 7;
    uint64_t opening = 0, session = 0, flow = 0, bogus = 99;
    rtmfp_session_info info;
    rtmfp_event *ev;
    uint8_t *big;
    int silent;
    struct sockaddr_in sin;
    socklen_t sin_len = sizeof sin;

    /* Open towards a silent peer: the session stays opening. A plain UDP
     * socket takes the IHellos and never answers (a closed port would draw
     * an ICMP port unreachable, which ends an opening at once). */
    CHECK_RC(rtmfp_endpoint_peer_id(nobody, id), RTMFP_OK);
    CHECK_RC(rtmfp_endpoint_close(nobody, 0), RTMFP_OK);
    silent = socket(AF_INET, SOCK_DGRAM, 0);
    memset(&sin, 0, sizeof sin);
    sin.sin_family = AF_INET;
    sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    CHECK(bind(silent, (struct sockaddr *)&sin, sizeof sin) == 0);
    CHECK(getsockname(silent, (struct sockaddr *)&sin, &sin_len) == 0);
    snprintf(nobody_addr, sizeof nobody_addr, "127.0.0.1:%u", (unsigned)ntohs(sin.sin_port));
    addrs[0] = nobody_addr;
    CHECK_RC(rtmfp_session_connect_peer(client, id, addrs, 1, &opening), RTMFP_OK);
    CHECK_ERR(rtmfp_flow_open(client, opening, NULL, 0, RTMFP_PRIORITY_ROUTINE, NULL, &flow),
              RTMFP_ERR_WRONG_STATE);
    CHECK_ERR(rtmfp_flow_send(client, opening, 1, &byte, 1, NULL, NULL), RTMFP_ERR_WRONG_STATE);
    CHECK_ERR(rtmfp_session_stats(client, opening, &info), RTMFP_ERR_WRONG_STATE);
    CHECK_RC(rtmfp_session_close(client, opening, false), RTMFP_OK); /* cancels it */
    ev = wait_event(client, RTMFP_EVENT_TYPE_SESSION_OPEN_FAILED, opening);
    CHECK(ev != NULL);
    if (ev != NULL) {
        CHECK(ev->reason == RTMFP_OPEN_FAILURE_CANCELLED);
        CHECK_RC(rtmfp_event_free(ev), RTMFP_OK);
    }
    CHECK_ERR(rtmfp_flow_open(client, opening, NULL, 0, RTMFP_PRIORITY_ROUTINE, NULL, &flow),
              RTMFP_ERR_INVALID_HANDLE);
    CHECK_ERR(rtmfp_session_close(client, opening, false), RTMFP_ERR_INVALID_HANDLE);
    CHECK_RC(rtmfp_endpoint_free(nobody), RTMFP_OK);
    close(silent);

    /* Sessions that never existed. */
    CHECK_ERR(rtmfp_session_close(client, NO_SUCH_SESSION, false), RTMFP_ERR_INVALID_HANDLE);
    CHECK_ERR(rtmfp_session_stats(client, NO_SUCH_SESSION, &info), RTMFP_ERR_INVALID_HANDLE);
    CHECK_ERR(rtmfp_flow_send(client, 0, 0, &byte, 1, NULL, NULL), RTMFP_ERR_INVALID_HANDLE);

    /* A real session. */
    CHECK(rtmfp_endpoint_local_addr(server, 0, addr, sizeof addr) > 0);
    CHECK_RC(rtmfp_endpoint_peer_id(server, id), RTMFP_OK);
    addrs[0] = addr;
    CHECK_RC(rtmfp_session_connect_peer(client, id, addrs, 1, &session), RTMFP_OK);
    ev = wait_event(client, RTMFP_EVENT_TYPE_SESSION_OPENED, session);
    CHECK(ev != NULL);
    rtmfp_event_free(ev);
    CHECK_ERR(rtmfp_session_stats(client, session, NULL), RTMFP_ERR_NULL_POINTER);

    /* Flows that do not exist, in either direction. */
    CHECK_ERR(rtmfp_flow_send(client, session, bogus, &byte, 1, NULL, NULL),
              RTMFP_ERR_INVALID_HANDLE);
    CHECK_ERR(rtmfp_flow_writable(client, session, bogus), RTMFP_ERR_INVALID_HANDLE);
    CHECK_ERR(rtmfp_flow_close(client, session, bogus), RTMFP_ERR_INVALID_HANDLE);
    CHECK_ERR(rtmfp_flow_accept(client, session, bogus, RTMFP_ORDER_SEQUENCE),
              RTMFP_ERR_INVALID_HANDLE);
    CHECK_ERR(rtmfp_flow_reject(client, session, bogus, 1), RTMFP_ERR_INVALID_HANDLE);
    CHECK_ERR(rtmfp_flow_set_suspended(client, session, bogus, true), RTMFP_ERR_INVALID_HANDLE);
    CHECK_ERR(rtmfp_flow_abandon_message(client, session, bogus, 0), RTMFP_ERR_INVALID_HANDLE);
    CHECK_ERR(rtmfp_flow_open(client, session, NULL, 0, RTMFP_PRIORITY_ROUTINE, &bogus, &flow),
              RTMFP_ERR_INVALID_HANDLE); /* association with no such receiving flow */

    /* Bad arguments to flow calls. */
    CHECK_ERR(rtmfp_flow_open(client, session, NULL, 0, 8, NULL, &flow),
              RTMFP_ERR_INVALID_ARGUMENT);
    CHECK_ERR(rtmfp_flow_open(client, session, NULL, 0, -1, NULL, &flow),
              RTMFP_ERR_INVALID_ARGUMENT);
    CHECK_ERR(rtmfp_flow_open(client, session, NULL, 5, 3, NULL, &flow), RTMFP_ERR_NULL_POINTER);
    CHECK_ERR(rtmfp_flow_open(client, session, &byte, RTMFP_MAX_METADATA_LEN + 1, 3, NULL, &flow),
              RTMFP_ERR_INVALID_ARGUMENT);
    CHECK_ERR(rtmfp_flow_open(client, session, NULL, 0, 3, NULL, NULL), RTMFP_ERR_NULL_POINTER);
    CHECK_RC(rtmfp_flow_open(client, session, NULL, 0, RTMFP_PRIORITY_ROUTINE, NULL, &flow),
             RTMFP_OK);
    CHECK_ERR(rtmfp_flow_send(client, session, flow, NULL, 10, NULL, NULL),
              RTMFP_ERR_NULL_POINTER);
    CHECK_ERR(rtmfp_flow_send(client, session, flow, &byte, SIZE_MAX, NULL, NULL),
              RTMFP_ERR_INVALID_ARGUMENT);
    CHECK_ERR(rtmfp_flow_send(client, session, flow, &byte, (size_t)RTMFP_MAX_MESSAGE_LEN + 1,
                              NULL, NULL),
              RTMFP_ERR_INVALID_ARGUMENT);
    CHECK_ERR(rtmfp_flow_accept(client, session, flow, 2), RTMFP_ERR_INVALID_ARGUMENT);
    CHECK_ERR(rtmfp_flow_accept(client, session, flow, -1), RTMFP_ERR_INVALID_ARGUMENT);
    /* A message as large as allowed is fine. */
    big = (uint8_t *)calloc(1, RTMFP_MAX_MESSAGE_LEN);
    CHECK(big != NULL);
    if (big != NULL) {
        CHECK_RC(rtmfp_flow_send(client, session, flow, big, RTMFP_MAX_MESSAGE_LEN, NULL, NULL),
                 RTMFP_OK);
        free(big);
    }
    /* The send buffer (4 MiB) is now full. */
    CHECK_RC(rtmfp_flow_writable(client, session, flow), 0);
    CHECK_ERR(rtmfp_flow_send(client, session, flow, &byte, 1, NULL, NULL), RTMFP_ERR_AGAIN);
    /* A closed flow takes nothing more. */
    CHECK_RC(rtmfp_flow_close(client, session, flow), RTMFP_OK);
    CHECK_ERR(rtmfp_flow_send(client, session, flow, &byte, 1, NULL, NULL), RTMFP_ERR_CLOSED);

    /* After the endpoint is closed: RTMFP_ERR_CLOSED; its events stay
     * readable, then RTMFP_ERR_CLOSED. */
    {
        int rc = rtmfp_endpoint_close(client, 2000);
        CHECK(rc == RTMFP_OK || rc == RTMFP_ERR_TIMEOUT);
    }
    CHECK_ERR(rtmfp_endpoint_close(client, 10), RTMFP_ERR_CLOSED);
    CHECK_ERR(rtmfp_session_connect_peer(client, id, addrs, 1, &session), RTMFP_ERR_CLOSED);
    CHECK_ERR(rtmfp_session_close(client, session, false), RTMFP_ERR_CLOSED);
    CHECK_ERR(rtmfp_flow_open(client, session, NULL, 0, 3, NULL, &flow), RTMFP_ERR_CLOSED);
    CHECK_ERR(rtmfp_flow_send(client, session, flow, &byte, 1, NULL, NULL), RTMFP_ERR_CLOSED);
    CHECK_ERR(rtmfp_session_stats(client, session, &info), RTMFP_ERR_CLOSED);
    CHECK(rtmfp_endpoint_local_addr(client, 0, addr, sizeof addr) > 0); /* still known */
    CHECK(rtmfp_event_fd(client) >= 0);
    {
        int i, rc = RTMFP_OK;
        for (i = 0; i < 1000 && rc == RTMFP_OK; i++) {
            rc = rtmfp_next_event(client, 0, &ev);
            if (rc == RTMFP_OK) {
                CHECK_RC(rtmfp_event_free(ev), RTMFP_OK);
            }
        }
        CHECK_RC(rc, RTMFP_ERR_CLOSED);
        CHECK_ERR(rtmfp_next_event(client, -1, &ev), RTMFP_ERR_CLOSED); /* never blocks */
        CHECK(ev == NULL);
    }
    CHECK_RC(rtmfp_endpoint_free(client), RTMFP_OK);
    CHECK_ERR(rtmfp_endpoint_free(client), RTMFP_ERR_INVALID_HANDLE);
    CHECK_RC(rtmfp_endpoint_free(server), RTMFP_OK);
}

/* Events: double free, freeing what is not an event, events outliving
 * their endpoint. */
static void test_event_misuse(void) {
    rtmfp_endpoint *server = new_endpoint(RTMFP_ROLE_SERVER);
    rtmfp_endpoint *client = new_endpoint(RTMFP_ROLE_CLIENT);
    char addr[RTMFP_ADDR_STRLEN], uri[128];
    uint64_t session = 0;
    rtmfp_event *ev, fake;
    int rc;

    CHECK_RC(rtmfp_event_free(NULL), RTMFP_OK);
    memset(&fake, 0, sizeof fake);
    CHECK_ERR(rtmfp_event_free(&fake), RTMFP_ERR_INVALID_HANDLE);
    CHECK_ERR(rtmfp_event_free((rtmfp_event *)(void *)addr), RTMFP_ERR_INVALID_HANDLE);

    rc = rtmfp_next_event(client, 0, &ev);
    CHECK_RC(rc, RTMFP_ERR_AGAIN); /* nothing yet: a timeout, not a failure */
    CHECK(ev == NULL);
    rc = rtmfp_next_event(client, 20, &ev);
    CHECK_RC(rc, RTMFP_ERR_AGAIN);

    CHECK(rtmfp_endpoint_local_addr(server, 0, addr, sizeof addr) > 0);
    snprintf(uri, sizeof uri, "rtmfp://%s/app", addr);
    CHECK_RC(rtmfp_session_connect_uri(client, uri, &session), RTMFP_OK);
    ev = wait_event(client, RTMFP_EVENT_TYPE_SESSION_OPENED, session);
    CHECK(ev != NULL);
    /* The event outlives its endpoint. */
    CHECK_RC(rtmfp_endpoint_free(client), RTMFP_OK);
    if (ev != NULL) {
        CHECK(ev->session == session);
        CHECK(strcmp(ev->address, addr) == 0);
        CHECK(ev->has_peer_id);
        CHECK_RC(rtmfp_event_free(ev), RTMFP_OK);
        CHECK_ERR(rtmfp_event_free(ev), RTMFP_ERR_INVALID_HANDLE); /* double free */
    }
    CHECK_RC(rtmfp_endpoint_free(server), RTMFP_OK);
}

/* Callbacks that misbehave on purpose: free their event, unset
 * themselves, free their endpoint. */
struct cb_state {
    pthread_mutex_t lock;
    rtmfp_endpoint *ep;
    int calls;
    int free_event_rc;
    int unset_rc;
    int endpoint_free_rc;
    int next_event_rc;
    int mode; /* 0: unset itself; 1: free its endpoint */
};

static void misbehaving_callback(const rtmfp_event *ev, void *user) {
    struct cb_state *st = (struct cb_state *)user;
    rtmfp_event *taken = NULL;
    pthread_mutex_lock(&st->lock);
    st->calls++;
    st->free_event_rc = rtmfp_event_free((rtmfp_event *)ev); /* not the caller's */
    st->next_event_rc = rtmfp_next_event(st->ep, 0, &taken); /* callback registered */
    if (st->mode == 0) {
        st->unset_rc = rtmfp_set_event_callback(st->ep, NULL, NULL);
    } else {
        st->endpoint_free_rc = rtmfp_endpoint_free(st->ep);
    }
    pthread_mutex_unlock(&st->lock);
}

static int cb_calls(struct cb_state *st) {
    int n;
    pthread_mutex_lock(&st->lock);
    n = st->calls;
    pthread_mutex_unlock(&st->lock);
    return n;
}

static void test_callback_misuse(void) {
    rtmfp_endpoint *server = new_endpoint(RTMFP_ROLE_SERVER);
    char addr[RTMFP_ADDR_STRLEN], uri[128];
    struct cb_state st;
    uint64_t session = 0;
    rtmfp_event *ev = NULL;
    int mode, i;

    CHECK(rtmfp_endpoint_local_addr(server, 0, addr, sizeof addr) > 0);
    snprintf(uri, sizeof uri, "rtmfp://%s/app", addr);
    for (mode = 0; mode < 2; mode++) {
        memset(&st, 0, sizeof st);
        pthread_mutex_init(&st.lock, NULL);
        st.mode = mode;
        st.ep = new_endpoint(RTMFP_ROLE_CLIENT);
        CHECK_RC(rtmfp_set_event_callback(st.ep, misbehaving_callback, &st), RTMFP_OK);
        /* Registering again replaces it (no second dispatcher). */
        CHECK_RC(rtmfp_set_event_callback(st.ep, misbehaving_callback, &st), RTMFP_OK);
        CHECK_RC(rtmfp_session_connect_uri(st.ep, uri, &session), RTMFP_OK);
        for (i = 0; i < 400 && cb_calls(&st) == 0; i++) {
            sleep_ms(10);
        }
        sleep_ms(50); /* a second call would happen now if it could */
        pthread_mutex_lock(&st.lock);
        CHECK(st.calls == 1);
        CHECK(st.free_event_rc == RTMFP_ERR_INVALID_HANDLE);
        CHECK(st.next_event_rc == RTMFP_ERR_WRONG_STATE);
        if (mode == 0) {
            CHECK(st.unset_rc == RTMFP_OK);
        } else {
            CHECK(st.endpoint_free_rc == RTMFP_OK);
        }
        pthread_mutex_unlock(&st.lock);
        if (mode == 0) {
            /* Unset from inside: events are polled again. */
            CHECK_RC(rtmfp_session_close(st.ep, session, true), RTMFP_OK);
            ev = wait_event(st.ep, RTMFP_EVENT_TYPE_SESSION_CLOSED, session);
            CHECK(ev != NULL);
            CHECK_RC(rtmfp_event_free(ev), RTMFP_OK);
            CHECK_RC(rtmfp_endpoint_free(st.ep), RTMFP_OK);
        } else {
            /* Freed from inside: the handle is dead. */
            CHECK_ERR(rtmfp_endpoint_free(st.ep), RTMFP_ERR_INVALID_HANDLE);
            CHECK_ERR(rtmfp_set_event_callback(st.ep, NULL, NULL), RTMFP_ERR_INVALID_HANDLE);
        }
        pthread_mutex_destroy(&st.lock);
    }
    CHECK_RC(rtmfp_endpoint_free(server), RTMFP_OK);
}

/* Freeing an endpoint while another thread waits for its events. */
struct waiter {
    rtmfp_endpoint *ep;
    int rc;
};

static void *wait_forever(void *arg) {
    struct waiter *w = (struct waiter *)arg;
    rtmfp_event *ev = NULL;
    w->rc = rtmfp_next_event(w->ep, -1, &ev);
    if (ev != NULL) {
        rtmfp_event_free(ev);
    }
    return NULL;
}

static void test_free_while_waiting(void) {
    struct waiter w;
    pthread_t t;

    w.ep = new_endpoint(RTMFP_ROLE_CLIENT);
    w.rc = 1;
    CHECK(pthread_create(&t, NULL, wait_forever, &w) == 0);
    sleep_ms(50);
    CHECK_RC(rtmfp_endpoint_free(w.ep), RTMFP_OK);
    CHECK(pthread_join(t, NULL) == 0);
    CHECK(w.rc == RTMFP_ERR_CLOSED || w.rc == RTMFP_ERR_INVALID_HANDLE);
}

/* ------------------------------------------------------ Flash layer -- */

static rtmfp_server *new_server(const char *const *keys, size_t nkeys, char *addr, size_t len) {
    rtmfp_config *cfg = NULL;
    rtmfp_server *srv = NULL;
    CHECK_RC(rtmfp_config_new(&cfg), RTMFP_OK);
    CHECK_RC(rtmfp_config_set_bind_address(cfg, "127.0.0.1:0"), RTMFP_OK);
    CHECK_RC(rtmfp_server_start(cfg, keys, nkeys, &srv), RTMFP_OK);
    CHECK_RC(rtmfp_config_free(cfg), RTMFP_OK);
    CHECK(rtmfp_server_local_addr(srv, 0, addr, len) > 0);
    return srv;
}

static rtmfp_netconnection *new_nc(const char *addr, const char *app) {
    rtmfp_config *cfg = NULL;
    rtmfp_netconnection *nc = NULL;
    char uri[160];
    snprintf(uri, sizeof uri, "rtmfp://%s/%s", addr, app);
    CHECK_RC(rtmfp_config_new(&cfg), RTMFP_OK);
    CHECK_RC(rtmfp_config_set_bind_address(cfg, "127.0.0.1:0"), RTMFP_OK);
    CHECK_RC(rtmfp_netconnection_connect(cfg, uri, &nc), RTMFP_OK);
    CHECK_RC(rtmfp_config_free(cfg), RTMFP_OK);
    return nc;
}

/* Waits (bounded) for a NETSTATUS with `code` on `stream`; returns the
 * event (the caller frees it) or NULL. */
static rtmfp_event *wait_status(rtmfp_netconnection *nc, uint32_t stream, const char *code) {
    int i;
    rtmfp_event *ev = NULL;
    for (i = 0; i < 400; i++) {
        int rc = rtmfp_netconnection_next_event(nc, 50, &ev);
        if (rc == RTMFP_ERR_AGAIN) {
            continue;
        }
        if (rc != RTMFP_OK) {
            return NULL;
        }
        if (ev->type == RTMFP_EVENT_TYPE_NETSTATUS && ev->stream == stream &&
            strcmp(ev->status_code, code) == 0) {
            return ev;
        }
        rtmfp_event_free(ev);
    }
    return NULL;
}

static void test_flash_config_misuse(void) {
    rtmfp_config *cfg = NULL;
    CHECK_ERR(rtmfp_config_set_max_peer_connections(NULL, 8), RTMFP_ERR_NULL_POINTER);
    CHECK_ERR(rtmfp_config_set_peer_connect_mode(NULL, RTMFP_PEER_CONNECT_MODE_ASK),
              RTMFP_ERR_NULL_POINTER);
    CHECK_RC(rtmfp_config_new(&cfg), RTMFP_OK);
    CHECK_RC(rtmfp_config_set_max_peer_connections(cfg, 0), RTMFP_OK);
    CHECK_RC(rtmfp_config_set_max_peer_connections(cfg, RTMFP_MAX_PEER_CONNECTIONS_LIMIT),
             RTMFP_OK);
    CHECK_ERR(rtmfp_config_set_max_peer_connections(cfg, RTMFP_MAX_PEER_CONNECTIONS_LIMIT + 1),
              RTMFP_ERR_INVALID_ARGUMENT);
    CHECK_ERR(rtmfp_config_set_max_peer_connections(cfg, SIZE_MAX), RTMFP_ERR_INVALID_ARGUMENT);
    CHECK_ERR(rtmfp_config_set_peer_connect_mode(cfg, 2), RTMFP_ERR_INVALID_ARGUMENT);
    CHECK_ERR(rtmfp_config_set_peer_connect_mode(cfg, -1), RTMFP_ERR_INVALID_ARGUMENT);
    CHECK_ERR(rtmfp_config_set_key_log_file(NULL, "/tmp/keys.log"), RTMFP_ERR_NULL_POINTER);
    CHECK_ERR(rtmfp_config_set_key_log_file(cfg, "\xff\xfe"), RTMFP_ERR_INVALID_ARGUMENT);
    CHECK_ERR(rtmfp_config_set_key_log_file(cfg, "/"), RTMFP_ERR_IO);
    CHECK_RC(rtmfp_config_free(cfg), RTMFP_OK);
    CHECK_ERR(rtmfp_config_set_peer_connect_mode(cfg, 0), RTMFP_ERR_INVALID_HANDLE);
}

/* Every NetConnection and NetStream function with a handle `nc` / `ns`
 * that is NULL (want RTMFP_ERR_NULL_POINTER) or not live (want
 * RTMFP_ERR_INVALID_HANDLE). */
static void bad_nc_handle(rtmfp_netconnection *nc, int want) {
    uint8_t id[RTMFP_PEER_ID_LEN];
    char buf[RTMFP_PEER_ID_HEX_LEN];
    const char *args[1] = {"x"};
    uint64_t call = 0;
    rtmfp_event *ev = NULL;
    rtmfp_netstream *ns = NULL;

    memset(id, 1, sizeof id);
    if (want == RTMFP_ERR_NULL_POINTER) {
        CHECK_RC(rtmfp_netconnection_free(nc), RTMFP_OK); /* like free(NULL) */
    } else {
        CHECK_ERR(rtmfp_netconnection_free(nc), want);
    }
    CHECK_ERR(rtmfp_netconnection_close(nc, 10), want);
    CHECK_ERR(rtmfp_netconnection_connected(nc), want);
    CHECK_ERR(rtmfp_netconnection_near_id(nc, id), want);
    CHECK_ERR(rtmfp_netconnection_near_id_hex(nc, buf, sizeof buf), want);
    CHECK_ERR(rtmfp_netconnection_far_id_hex(nc, buf, sizeof buf), want);
    CHECK_ERR(rtmfp_netconnection_near_nonce_hex(nc, buf, sizeof buf), want);
    CHECK_ERR(rtmfp_netconnection_far_nonce_hex(nc, buf, sizeof buf), want);
    CHECK_ERR(rtmfp_netconnection_call(nc, "f", args, 1, &call), want);
    CHECK_ERR(rtmfp_netconnection_register_name(nc, "n", &call), want);
    CHECK_ERR(rtmfp_netconnection_lookup_name(nc, "n", &call), want);
    CHECK_ERR(rtmfp_netconnection_accept_peer(nc, 1), want);
    CHECK_ERR(rtmfp_netconnection_reject_peer(nc, 1, NULL), want);
    CHECK_ERR(rtmfp_netconnection_next_event(nc, 0, &ev), want);
    CHECK(ev == NULL);
    CHECK_ERR(rtmfp_netconnection_event_fd(nc), want);
    CHECK_ERR(rtmfp_netconnection_set_event_callback(nc, NULL, NULL), want);
    CHECK_ERR(rtmfp_netstream_create(nc, RTMFP_NETSTREAM_KIND_DIRECT_CONNECTIONS, NULL, &ns),
              want);
    CHECK(ns == NULL);
}

static void bad_ns_handle(rtmfp_netstream *ns, int want) {
    uint8_t byte = 1;
    const char *args[1] = {"x"};
    if (want == RTMFP_ERR_NULL_POINTER) {
        CHECK_RC(rtmfp_netstream_free(ns), RTMFP_OK);
    } else {
        CHECK_ERR(rtmfp_netstream_free(ns), want);
    }
    CHECK_ERR(rtmfp_netstream_id(ns), want);
    CHECK_ERR(rtmfp_netstream_publish(ns, "s"), want);
    CHECK_ERR(rtmfp_netstream_play(ns, "s"), want);
    CHECK_ERR(rtmfp_netstream_send_audio(ns, 0, &byte, 1), want);
    CHECK_ERR(rtmfp_netstream_send_video(ns, 0, &byte, 1), want);
    CHECK_ERR(rtmfp_netstream_send_data(ns, 0, &byte, 1), want);
    CHECK_ERR(rtmfp_netstream_send_strings(ns, 0, "h", args, 1), want);
    CHECK_ERR(rtmfp_netstream_send_to_peer(ns, 1, RTMFP_MEDIA_TYPE_AUDIO, 0, &byte, 1), want);
    CHECK_ERR(rtmfp_netstream_peer_count(ns), want);
    CHECK_ERR(rtmfp_netstream_close(ns), want);
    {
        size_t n = 7;
        CHECK_ERR(rtmfp_netstream_write_flv(ns, &byte, 1, 0, &n), want);
        CHECK_ERR(rtmfp_netstream_flush_flv(ns, 0), want);
        CHECK_ERR(rtmfp_netstream_start_flv_read(ns, 0), want);
        CHECK_ERR(rtmfp_netstream_read_flv(ns, &byte, 1, 0, &n), want);
        CHECK_ERR(rtmfp_netstream_flv_fd(ns), want);
        CHECK(n == 7);
    }
}

static void bad_srv_handle(rtmfp_server *srv, int want) {
    uint8_t id[RTMFP_PEER_ID_LEN];
    char buf[RTMFP_ADDR_STRLEN];
    rtmfp_event *ev = NULL;
    if (want == RTMFP_ERR_NULL_POINTER) {
        CHECK_RC(rtmfp_server_free(srv), RTMFP_OK);
    } else {
        CHECK_ERR(rtmfp_server_free(srv), want);
    }
    CHECK_ERR(rtmfp_server_close(srv, 10), want);
    CHECK_ERR(rtmfp_server_local_addr(srv, 0, buf, sizeof buf), want);
    CHECK_ERR(rtmfp_server_peer_id(srv, id), want);
    CHECK_ERR(rtmfp_server_peer_id_hex(srv, buf, sizeof buf), want);
    CHECK_ERR(rtmfp_server_session_count(srv), want);
    CHECK_ERR(rtmfp_server_set_connect_hook(srv, NULL, NULL), want);
    CHECK_ERR(rtmfp_server_next_event(srv, 0, &ev), want);
    CHECK(ev == NULL);
    CHECK_ERR(rtmfp_server_event_fd(srv), want);
    CHECK_ERR(rtmfp_server_set_event_callback(srv, NULL, NULL), want);
}

static void test_flash_handles(void) {
    char addr[RTMFP_ADDR_STRLEN];
    rtmfp_server *srv = new_server(NULL, 0, addr, sizeof addr);
    rtmfp_netconnection *nc = new_nc(addr, "app");
    rtmfp_netstream *ns = NULL, *stale_ns;
    rtmfp_netconnection *stale_nc;
    rtmfp_server *stale_srv;
    rtmfp_endpoint *ep = new_endpoint(RTMFP_ROLE_CLIENT);
    rtmfp_config *cfg = NULL;
    int local = 0;

    /* NULL handles. */
    bad_nc_handle(NULL, RTMFP_ERR_NULL_POINTER);
    bad_ns_handle(NULL, RTMFP_ERR_NULL_POINTER);
    bad_srv_handle(NULL, RTMFP_ERR_NULL_POINTER);

    /* Forged handles and handles of another kind. */
    CHECK_RC(rtmfp_config_new(&cfg), RTMFP_OK);
    bad_nc_handle((rtmfp_netconnection *)&local, RTMFP_ERR_INVALID_HANDLE);
    bad_nc_handle((rtmfp_netconnection *)(void *)ep, RTMFP_ERR_INVALID_HANDLE);
    bad_nc_handle((rtmfp_netconnection *)(void *)srv, RTMFP_ERR_INVALID_HANDLE);
    bad_ns_handle((rtmfp_netstream *)(void *)nc, RTMFP_ERR_INVALID_HANDLE);
    bad_ns_handle((rtmfp_netstream *)(void *)cfg, RTMFP_ERR_INVALID_HANDLE);
    bad_srv_handle((rtmfp_server *)(void *)nc, RTMFP_ERR_INVALID_HANDLE);
    bad_srv_handle((rtmfp_server *)(void *)ep, RTMFP_ERR_INVALID_HANDLE);
    CHECK_ERR(rtmfp_endpoint_free((rtmfp_endpoint *)(void *)srv), RTMFP_ERR_INVALID_HANDLE);
    CHECK_ERR(rtmfp_config_free((rtmfp_config *)(void *)nc), RTMFP_ERR_INVALID_HANDLE);
    CHECK_RC(rtmfp_config_free(cfg), RTMFP_OK);
    CHECK_RC(rtmfp_endpoint_free(ep), RTMFP_OK);

    /* A freed NetStream: double free, use after free. */
    CHECK_RC(rtmfp_netstream_create(nc, RTMFP_NETSTREAM_KIND_DIRECT_CONNECTIONS, NULL, &ns),
             RTMFP_OK);
    stale_ns = ns;
    CHECK_RC(rtmfp_netstream_free(ns), RTMFP_OK);
    bad_ns_handle(stale_ns, RTMFP_ERR_INVALID_HANDLE);

    /* Freeing a NetConnection frees its NetStreams. */
    CHECK_RC(rtmfp_netstream_create(nc, RTMFP_NETSTREAM_KIND_SERVER, NULL, &ns), RTMFP_OK);
    stale_nc = nc;
    CHECK_RC(rtmfp_netconnection_free(nc), RTMFP_OK);
    bad_nc_handle(stale_nc, RTMFP_ERR_INVALID_HANDLE);
    bad_ns_handle(ns, RTMFP_ERR_INVALID_HANDLE);

    /* A freed server. */
    stale_srv = srv;
    CHECK_RC(rtmfp_server_free(srv), RTMFP_OK);
    bad_srv_handle(stale_srv, RTMFP_ERR_INVALID_HANDLE);
}

static void test_netconnection_arguments(void) {
    char addr[RTMFP_ADDR_STRLEN], buf[RTMFP_PEER_ID_HEX_LEN];
    const char *keys[1] = {"KEY"};
    rtmfp_server *srv = new_server(keys, 1, addr, sizeof addr);
    rtmfp_config *cfg = NULL, *stale;
    rtmfp_netconnection *nc = NULL;
    rtmfp_netstream *direct = NULL, *peer = NULL, *server_ns = NULL, *ns = NULL;
    const char *args[2] = {"a", NULL};
    uint8_t id[RTMFP_PEER_ID_LEN], byte = 7;
    uint64_t call = 0;
    char uri[160];
    rtmfp_event *ev;
    int rc;

    /* rtmfp_netconnection_connect() arguments. */
    CHECK_RC(rtmfp_config_new(&cfg), RTMFP_OK);
    CHECK_RC(rtmfp_config_set_bind_address(cfg, "127.0.0.1:0"), RTMFP_OK);
    snprintf(uri, sizeof uri, "rtmfp://%s/app/KEY", addr);
    CHECK_ERR(rtmfp_netconnection_connect(NULL, uri, &nc), RTMFP_ERR_NULL_POINTER);
    CHECK_ERR(rtmfp_netconnection_connect(cfg, NULL, &nc), RTMFP_ERR_NULL_POINTER);
    CHECK_ERR(rtmfp_netconnection_connect(cfg, uri, NULL), RTMFP_ERR_NULL_POINTER);
    CHECK_ERR(rtmfp_netconnection_connect(cfg, "", &nc), RTMFP_ERR_INVALID_ARGUMENT);
    CHECK_ERR(rtmfp_netconnection_connect(cfg, "http://127.0.0.1/app", &nc),
              RTMFP_ERR_INVALID_ARGUMENT);
    CHECK_ERR(rtmfp_netconnection_connect(cfg, "rtmfp://", &nc), RTMFP_ERR_INVALID_ARGUMENT);
    CHECK_ERR(rtmfp_netconnection_connect(cfg, "rtmfp://\xc3\x28/app", &nc),
              RTMFP_ERR_INVALID_ARGUMENT);
    /* Only IPv4 is bound: an IPv6 server cannot be reached. */
    CHECK_ERR(rtmfp_netconnection_connect(cfg, "rtmfp://[::1]:1935/app", &nc),
              RTMFP_ERR_INVALID_ARGUMENT);
    CHECK(nc == NULL);
    stale = cfg;
    CHECK_RC(rtmfp_config_free(cfg), RTMFP_OK);
    CHECK_ERR(rtmfp_netconnection_connect(stale, uri, &nc), RTMFP_ERR_INVALID_HANDLE);
    CHECK(nc == NULL);

    /* Before the connection is up (or never: a bad key). */
    nc = new_nc(addr, "app/WRONG");
    CHECK_ERR(rtmfp_netconnection_far_id_hex(nc, NULL, 65), RTMFP_ERR_NULL_POINTER);
    CHECK_ERR(rtmfp_netconnection_call(nc, "f", NULL, 0, &call), RTMFP_ERR_WRONG_STATE);
    CHECK_ERR(rtmfp_netconnection_register_name(nc, "me", &call), RTMFP_ERR_WRONG_STATE);
    ev = wait_status(nc, 0, "NetConnection.Connect.Rejected");
    CHECK(ev != NULL);
    rtmfp_event_free(ev);
    CHECK_RC(rtmfp_netconnection_connected(nc), 0);
    CHECK_ERR(rtmfp_netconnection_lookup_name(nc, "me", &call), RTMFP_ERR_WRONG_STATE);
    CHECK_RC(rtmfp_netconnection_free(nc), RTMFP_OK);

    nc = new_nc(addr, "app/KEY");
    ev = wait_status(nc, 0, "NetConnection.Connect.Success");
    CHECK(ev != NULL);
    rtmfp_event_free(ev);

    /* Output buffers. */
    CHECK_ERR(rtmfp_netconnection_near_id(nc, NULL), RTMFP_ERR_NULL_POINTER);
    CHECK_ERR(rtmfp_netconnection_near_id_hex(nc, NULL, 65), RTMFP_ERR_NULL_POINTER);
    CHECK_ERR(rtmfp_netconnection_near_id_hex(nc, buf, 0), RTMFP_ERR_BUFFER_TOO_SMALL);
    CHECK_ERR(rtmfp_netconnection_near_id_hex(nc, buf, 64), RTMFP_ERR_BUFFER_TOO_SMALL);
    CHECK_ERR(rtmfp_netconnection_far_id_hex(nc, buf, 64), RTMFP_ERR_BUFFER_TOO_SMALL);
    CHECK_ERR(rtmfp_netconnection_near_nonce_hex(nc, buf, 1), RTMFP_ERR_BUFFER_TOO_SMALL);
    CHECK_RC(rtmfp_netconnection_far_id_hex(nc, buf, sizeof buf), 64);

    /* Calls: names, argument lists, out pointers. */
    CHECK_ERR(rtmfp_netconnection_call(nc, NULL, NULL, 0, &call), RTMFP_ERR_NULL_POINTER);
    CHECK_ERR(rtmfp_netconnection_call(nc, "", NULL, 0, &call), RTMFP_ERR_INVALID_ARGUMENT);
    CHECK_ERR(rtmfp_netconnection_call(nc, "f", NULL, 1, &call), RTMFP_ERR_NULL_POINTER);
    CHECK_ERR(rtmfp_netconnection_call(nc, "f", args, 2, &call), RTMFP_ERR_NULL_POINTER);
    CHECK_ERR(rtmfp_netconnection_call(nc, "f", args, SIZE_MAX, &call),
              RTMFP_ERR_INVALID_ARGUMENT);
    CHECK_ERR(rtmfp_netconnection_call(nc, "f", args, RTMFP_MAX_CALL_ARGS + 1, &call),
              RTMFP_ERR_INVALID_ARGUMENT);
    CHECK_ERR(rtmfp_netconnection_call(nc, "f", args, 1, NULL), RTMFP_ERR_NULL_POINTER);
    CHECK_ERR(rtmfp_netconnection_register_name(nc, NULL, &call), RTMFP_ERR_NULL_POINTER);
    CHECK_ERR(rtmfp_netconnection_register_name(nc, "", &call), RTMFP_ERR_INVALID_ARGUMENT);
    CHECK_ERR(rtmfp_netconnection_register_name(nc, "\xff", &call), RTMFP_ERR_INVALID_ARGUMENT);
    CHECK_ERR(rtmfp_netconnection_lookup_name(nc, "me", NULL), RTMFP_ERR_NULL_POINTER);
    CHECK_RC(rtmfp_netconnection_call(nc, "noSuchCommand", args, 1, &call), RTMFP_OK);
    CHECK_ERR(rtmfp_netconnection_accept_peer(nc, 424242), RTMFP_ERR_INVALID_HANDLE);
    CHECK_ERR(rtmfp_netconnection_reject_peer(nc, 424242, "no"), RTMFP_ERR_INVALID_HANDLE);
    CHECK_ERR(rtmfp_netconnection_reject_peer(nc, 1, "\xc3\x28"), RTMFP_ERR_INVALID_ARGUMENT);
    CHECK_ERR(rtmfp_netconnection_next_event(nc, 0, NULL), RTMFP_ERR_NULL_POINTER);

    /* rtmfp_netstream_create() arguments. */
    memset(id, 0xab, sizeof id);
    CHECK_ERR(rtmfp_netstream_create(nc, 3, NULL, &ns), RTMFP_ERR_INVALID_ARGUMENT);
    CHECK_ERR(rtmfp_netstream_create(nc, -1, NULL, &ns), RTMFP_ERR_INVALID_ARGUMENT);
    CHECK_ERR(rtmfp_netstream_create(nc, RTMFP_NETSTREAM_KIND_PEER, NULL, &ns),
              RTMFP_ERR_INVALID_ARGUMENT);
    CHECK_ERR(rtmfp_netstream_create(nc, RTMFP_NETSTREAM_KIND_DIRECT_CONNECTIONS, id, &ns),
              RTMFP_ERR_INVALID_ARGUMENT);
    CHECK_ERR(rtmfp_netstream_create(nc, RTMFP_NETSTREAM_KIND_SERVER, NULL, NULL),
              RTMFP_ERR_NULL_POINTER);
    CHECK(ns == NULL);
    CHECK_RC(rtmfp_netstream_create(nc, RTMFP_NETSTREAM_KIND_DIRECT_CONNECTIONS, NULL, &direct),
             RTMFP_OK);
    CHECK_RC(rtmfp_netstream_create(nc, RTMFP_NETSTREAM_KIND_PEER, id, &peer), RTMFP_OK);
    CHECK_RC(rtmfp_netstream_create(nc, RTMFP_NETSTREAM_KIND_SERVER, NULL, &server_ns),
             RTMFP_OK);
    CHECK(rtmfp_netstream_id(direct) != rtmfp_netstream_id(peer));

    /* Wrong states and bad arguments on streams. */
    CHECK_ERR(rtmfp_netstream_publish(direct, NULL), RTMFP_ERR_NULL_POINTER);
    CHECK_ERR(rtmfp_netstream_publish(direct, ""), RTMFP_ERR_INVALID_ARGUMENT);
    CHECK_ERR(rtmfp_netstream_play(direct, "x"), RTMFP_ERR_WRONG_STATE);
    CHECK_ERR(rtmfp_netstream_publish(peer, "x"), RTMFP_ERR_WRONG_STATE);
    CHECK_ERR(rtmfp_netstream_send_audio(direct, 0, &byte, 1), RTMFP_ERR_WRONG_STATE);
    CHECK_ERR(rtmfp_netstream_send_audio(peer, 0, &byte, 1), RTMFP_ERR_WRONG_STATE);
    /* FLV byte streams: bad arguments, wrong states, not FLV. */
    {
        /* A header, then one audio tag (AAC raw, 2 bytes) and its size. */
        static const uint8_t flv[] = {'F', 'L', 'V', 1, 4, 0, 0, 0, 9, 0, 0, 0, 0,
                                      8, 0, 0, 2, 0, 0, 0, 0, 0, 0, 0, 0xAF, 1, 0, 0, 0, 13};
        uint8_t out[8];
        size_t n = 0;
        CHECK_ERR(rtmfp_netstream_write_flv(direct, NULL, 5, 0, &n), RTMFP_ERR_NULL_POINTER);
        CHECK_ERR(rtmfp_netstream_write_flv(direct, flv, 9, 0, NULL), RTMFP_ERR_NULL_POINTER);
        CHECK_ERR(rtmfp_netstream_read_flv(peer, NULL, 8, 0, &n), RTMFP_ERR_NULL_POINTER);
        CHECK_ERR(rtmfp_netstream_read_flv(peer, out, 8, 0, NULL), RTMFP_ERR_NULL_POINTER);
        /* Not read as FLV (rtmfp_netstream_start_flv_read() first). */
        CHECK_ERR(rtmfp_netstream_read_flv(peer, out, 8, 0, &n), RTMFP_ERR_WRONG_STATE);
        CHECK_ERR(rtmfp_netstream_flv_fd(peer), RTMFP_ERR_WRONG_STATE);
        CHECK_RC(rtmfp_netstream_start_flv_read(peer, 0), RTMFP_OK);
        CHECK_ERR(rtmfp_netstream_start_flv_read(peer, 0), RTMFP_ERR_WRONG_STATE);
        CHECK(rtmfp_netstream_flv_fd(peer) >= 0);
        /* The header is readable at once; then nothing yet. */
        CHECK_RC(rtmfp_netstream_read_flv(peer, out, 8, 0, &n), RTMFP_OK);
        CHECK(n == 8 && memcmp(out, "FLV", 3) == 0);
        CHECK_RC(rtmfp_netstream_read_flv(peer, out, 8, 0, &n), RTMFP_OK);
        CHECK(n == 5);
        CHECK_ERR(rtmfp_netstream_read_flv(peer, out, 8, 0, &n), RTMFP_ERR_AGAIN);
        CHECK_RC(rtmfp_netstream_read_flv(peer, NULL, 0, 0, &n), RTMFP_OK);
        CHECK(n == 0);
        /* Not FLV at the first byte. */
        CHECK_ERR(rtmfp_netstream_write_flv(direct, (const uint8_t *)"GIF89a", 6, 0, &n),
                  RTMFP_ERR_INVALID_ARGUMENT);
        CHECK(strstr(rtmfp_last_error_message(), "not an FLV stream") != NULL);
        CHECK_ERR(rtmfp_netstream_write_flv(direct, flv, sizeof flv, 0, &n),
                  RTMFP_ERR_INVALID_ARGUMENT);
        /* A stream that does not publish: the tag is taken, sending it
         * fails, it stays queued. */
        CHECK_RC(rtmfp_netstream_write_flv(server_ns, flv, sizeof flv, 0, &n), RTMFP_OK);
        CHECK(n == sizeof flv);
        CHECK_ERR(rtmfp_netstream_flush_flv(server_ns, 0), RTMFP_ERR_WRONG_STATE);
        CHECK_ERR(rtmfp_netstream_write_flv(server_ns, flv, 0, 0, &n), RTMFP_ERR_WRONG_STATE);
    }
    CHECK_RC(rtmfp_netstream_publish(direct, "cam"), RTMFP_OK);
    CHECK_ERR(rtmfp_netstream_publish(direct, "cam2"), RTMFP_ERR_WRONG_STATE);
    CHECK_RC(rtmfp_netstream_send_audio(direct, 0, &byte, 1), 0); /* no subscriber */
    CHECK_RC(rtmfp_netstream_send_video(direct, 0, NULL, 0), 0);  /* empty is fine */
    CHECK_ERR(rtmfp_netstream_send_video(direct, 0, NULL, 10), RTMFP_ERR_NULL_POINTER);
    CHECK_ERR(rtmfp_netstream_send_data(direct, 0, &byte, SIZE_MAX), RTMFP_ERR_INVALID_ARGUMENT);
    CHECK_ERR(rtmfp_netstream_send_data(direct, 0, &byte, RTMFP_MAX_MEDIA_LEN + 1),
              RTMFP_ERR_INVALID_ARGUMENT);
    CHECK_ERR(rtmfp_netstream_send_strings(direct, 0, NULL, NULL, 0), RTMFP_ERR_NULL_POINTER);
    CHECK_ERR(rtmfp_netstream_send_strings(direct, 0, "", NULL, 0), RTMFP_ERR_INVALID_ARGUMENT);
    CHECK_ERR(rtmfp_netstream_send_strings(direct, 0, "h", NULL, 3), RTMFP_ERR_NULL_POINTER);
    CHECK_ERR(rtmfp_netstream_send_strings(direct, 0, "h", args, 2), RTMFP_ERR_NULL_POINTER);
    CHECK_RC(rtmfp_netstream_send_strings(direct, 0, "h", args, 1), 0);
    CHECK_ERR(rtmfp_netstream_send_to_peer(direct, 1, 7, 0, &byte, 1), RTMFP_ERR_INVALID_ARGUMENT);
    CHECK_ERR(rtmfp_netstream_send_to_peer(direct, 1, -1, 0, &byte, 1),
              RTMFP_ERR_INVALID_ARGUMENT);
    CHECK_ERR(rtmfp_netstream_send_to_peer(direct, 1, RTMFP_MEDIA_TYPE_AUDIO, 0, NULL, 1),
              RTMFP_ERR_NULL_POINTER);
    CHECK_ERR(rtmfp_netstream_send_to_peer(direct, 777, RTMFP_MEDIA_TYPE_VIDEO, 0, &byte, 1),
              RTMFP_ERR_INVALID_HANDLE);
    CHECK_RC(rtmfp_netstream_peer_count(peer), 0);
    /* A server stream publishes once the server gave it a stream ID. */
    CHECK_RC(rtmfp_netstream_publish(server_ns, "live"), RTMFP_OK);
    ev = wait_status(nc, (uint32_t)rtmfp_netstream_id(server_ns), "NetStream.Publish.Start");
    CHECK(ev != NULL);
    rtmfp_event_free(ev);
    CHECK_RC(rtmfp_netstream_send_audio(server_ns, 0, &byte, 1), 1);
    /* Publishing now: the queued FLV tag goes out. */
    CHECK_RC(rtmfp_netstream_flush_flv(server_ns, 5000), RTMFP_OK);
    /* Closed streams. */
    CHECK_RC(rtmfp_netstream_close(direct), RTMFP_OK);
    CHECK_RC(rtmfp_netstream_close(direct), RTMFP_OK); /* twice is fine */
    CHECK_ERR(rtmfp_netstream_send_audio(direct, 0, &byte, 1), RTMFP_ERR_CLOSED);
    CHECK_ERR(rtmfp_netstream_send_strings(direct, 0, "h", args, 1), RTMFP_ERR_CLOSED);
    CHECK_ERR(rtmfp_netstream_publish(direct, "again"), RTMFP_ERR_CLOSED);
    {
        size_t n = 0;
        CHECK_ERR(rtmfp_netstream_write_flv(direct, &byte, 1, 0, &n), RTMFP_ERR_CLOSED);
        CHECK_ERR(rtmfp_netstream_flush_flv(direct, 0), RTMFP_ERR_CLOSED);
        CHECK_ERR(rtmfp_netstream_start_flv_read(direct, 0), RTMFP_ERR_CLOSED);
    }
    CHECK_RC(rtmfp_netstream_peer_count(direct), 0);

    /* After rtmfp_netconnection_close(): RTMFP_ERR_CLOSED, events drain. */
    rc = rtmfp_netconnection_close(nc, 1000);
    CHECK(rc == RTMFP_OK || rc == RTMFP_ERR_TIMEOUT);
    CHECK_ERR(rtmfp_netconnection_close(nc, 0), RTMFP_ERR_CLOSED);
    CHECK_ERR(rtmfp_netconnection_connected(nc), RTMFP_ERR_CLOSED);
    CHECK_ERR(rtmfp_netconnection_far_id_hex(nc, buf, sizeof buf), RTMFP_ERR_CLOSED);
    CHECK_ERR(rtmfp_netconnection_register_name(nc, "late", &call), RTMFP_ERR_CLOSED);
    CHECK_ERR(rtmfp_netconnection_accept_peer(nc, 1), RTMFP_ERR_CLOSED);
    CHECK_ERR(rtmfp_netstream_create(nc, RTMFP_NETSTREAM_KIND_SERVER, NULL, &ns),
              RTMFP_ERR_CLOSED);
    CHECK_ERR(rtmfp_netstream_publish(peer, "x"), RTMFP_ERR_CLOSED);
    CHECK_ERR(rtmfp_netstream_send_audio(server_ns, 0, &byte, 1), RTMFP_ERR_CLOSED);
    CHECK_ERR(rtmfp_netstream_peer_count(direct), RTMFP_ERR_CLOSED);
    CHECK_ERR(rtmfp_netstream_close(peer), RTMFP_ERR_CLOSED);
    {
        /* The FLV reader of a closed NetConnection ends (bounded wait). */
        uint8_t out[64];
        size_t n = 1;
        int i;
        CHECK_ERR(rtmfp_netstream_start_flv_read(server_ns, 0), RTMFP_ERR_CLOSED);
        for (i = 0; i < 100 && n > 0; i++) {
            rc = rtmfp_netstream_read_flv(peer, out, sizeof out, 100, &n);
            if (rc == RTMFP_ERR_AGAIN) {
                n = 1;
            }
        }
        CHECK(n == 0);
        CHECK_ERR(rtmfp_netstream_write_flv(server_ns, &byte, 1, 0, &n), RTMFP_ERR_CLOSED);
    }
    CHECK_RC(rtmfp_netconnection_near_id_hex(nc, buf, sizeof buf), 64);
    CHECK(rtmfp_netconnection_event_fd(nc) >= 0);
    {
        int i;
        rc = RTMFP_OK;
        for (i = 0; i < 1000 && rc == RTMFP_OK; i++) {
            rc = rtmfp_netconnection_next_event(nc, 0, &ev);
            if (rc == RTMFP_OK) {
                CHECK_RC(rtmfp_event_free(ev), RTMFP_OK);
            }
        }
        CHECK_RC(rc, RTMFP_ERR_CLOSED);
        CHECK_ERR(rtmfp_netconnection_next_event(nc, -1, &ev), RTMFP_ERR_CLOSED);
        CHECK(ev == NULL);
    }
    /* Streams of a closed NetConnection can still be freed. */
    CHECK_RC(rtmfp_netstream_free(direct), RTMFP_OK);
    CHECK_RC(rtmfp_netconnection_free(nc), RTMFP_OK);
    CHECK_ERR(rtmfp_netstream_free(peer), RTMFP_ERR_INVALID_HANDLE);
    CHECK_ERR(rtmfp_netstream_free(server_ns), RTMFP_ERR_INVALID_HANDLE);
    CHECK_RC(rtmfp_server_free(srv), RTMFP_OK);
}

static void test_server_arguments(void) {
    const char *keys[3] = {"K1", NULL, ""};
    const char *empty[1] = {""};
    char addr[RTMFP_ADDR_STRLEN], buf[RTMFP_PEER_ID_HEX_LEN], bind[RTMFP_ADDR_STRLEN];
    uint8_t id[RTMFP_PEER_ID_LEN];
    rtmfp_config *cfg = NULL, *stale;
    rtmfp_server *srv = NULL, *other = NULL;
    rtmfp_event *ev = NULL;
    int rc;

    CHECK_RC(rtmfp_config_new(&cfg), RTMFP_OK);
    CHECK_RC(rtmfp_config_set_bind_address(cfg, "127.0.0.1:0"), RTMFP_OK);
    CHECK_ERR(rtmfp_server_start(NULL, NULL, 0, &srv), RTMFP_ERR_NULL_POINTER);
    CHECK_ERR(rtmfp_server_start(cfg, NULL, 0, NULL), RTMFP_ERR_NULL_POINTER);
    CHECK_ERR(rtmfp_server_start(cfg, NULL, 2, &srv), RTMFP_ERR_NULL_POINTER);
    CHECK_ERR(rtmfp_server_start(cfg, keys, 2, &srv), RTMFP_ERR_NULL_POINTER);
    CHECK_ERR(rtmfp_server_start(cfg, empty, 1, &srv), RTMFP_ERR_INVALID_ARGUMENT);
    CHECK_ERR(rtmfp_server_start(cfg, keys, SIZE_MAX, &srv), RTMFP_ERR_INVALID_ARGUMENT);
    CHECK_ERR(rtmfp_server_start(cfg, keys, RTMFP_MAX_DEVELOPER_KEYS + 1, &srv),
              RTMFP_ERR_INVALID_ARGUMENT);
    CHECK(srv == NULL);
    CHECK_RC(rtmfp_server_start(cfg, keys, 1, &srv), RTMFP_OK);
    /* The same port again: an I/O error. */
    CHECK(rtmfp_server_local_addr(srv, 0, addr, sizeof addr) > 0);
    snprintf(bind, sizeof bind, "%s", addr);
    CHECK_RC(rtmfp_config_set_bind_address(cfg, bind), RTMFP_OK);
    CHECK_ERR(rtmfp_server_start(cfg, NULL, 0, &other), RTMFP_ERR_IO);
    CHECK(other == NULL);
    stale = cfg;
    CHECK_RC(rtmfp_config_free(cfg), RTMFP_OK);
    CHECK_ERR(rtmfp_server_start(stale, NULL, 0, &other), RTMFP_ERR_INVALID_HANDLE);

    CHECK_ERR(rtmfp_server_local_addr(srv, 0, NULL, 64), RTMFP_ERR_NULL_POINTER);
    CHECK_ERR(rtmfp_server_local_addr(srv, 0, buf, 3), RTMFP_ERR_BUFFER_TOO_SMALL);
    CHECK_ERR(rtmfp_server_local_addr(srv, 1, buf, sizeof buf), RTMFP_ERR_INVALID_ARGUMENT);
    CHECK_ERR(rtmfp_server_local_addr(srv, SIZE_MAX, buf, sizeof buf),
              RTMFP_ERR_INVALID_ARGUMENT);
    CHECK_ERR(rtmfp_server_peer_id(srv, NULL), RTMFP_ERR_NULL_POINTER);
    CHECK_RC(rtmfp_server_peer_id(srv, id), RTMFP_OK);
    CHECK_ERR(rtmfp_server_peer_id_hex(srv, buf, 64), RTMFP_ERR_BUFFER_TOO_SMALL);
    CHECK_ERR(rtmfp_peer_id_to_hex(NULL, buf, sizeof buf), RTMFP_ERR_NULL_POINTER);
    CHECK_ERR(rtmfp_peer_id_to_hex(id, buf, 10), RTMFP_ERR_BUFFER_TOO_SMALL);
    CHECK_RC(rtmfp_peer_id_to_hex(id, buf, sizeof buf), 64);
    {
        char srv_hex[RTMFP_PEER_ID_HEX_LEN];
        CHECK_RC(rtmfp_server_peer_id_hex(srv, srv_hex, sizeof srv_hex), 64);
        CHECK(strcmp(buf, srv_hex) == 0);
    }
    CHECK_RC(rtmfp_server_session_count(srv), 0);
    CHECK_RC(rtmfp_server_set_connect_hook(srv, NULL, NULL), RTMFP_OK); /* none to remove */
    CHECK_ERR(rtmfp_server_next_event(srv, 0, NULL), RTMFP_ERR_NULL_POINTER);
    CHECK_ERR(rtmfp_server_next_event(srv, 0, &ev), RTMFP_ERR_AGAIN);
    CHECK_ERR(rtmfp_server_next_event(srv, 10, &ev), RTMFP_ERR_AGAIN);
    CHECK(ev == NULL);

    rc = rtmfp_server_close(srv, 500);
    CHECK(rc == RTMFP_OK || rc == RTMFP_ERR_TIMEOUT);
    CHECK_ERR(rtmfp_server_close(srv, 0), RTMFP_ERR_CLOSED);
    CHECK_ERR(rtmfp_server_session_count(srv), RTMFP_ERR_CLOSED);
    CHECK_ERR(rtmfp_server_next_event(srv, -1, &ev), RTMFP_ERR_CLOSED); /* never blocks */
    CHECK(rtmfp_server_local_addr(srv, 0, buf, sizeof buf) > 0);      /* still known */
    CHECK_RC(rtmfp_server_free(srv), RTMFP_OK);
    CHECK_ERR(rtmfp_server_free(srv), RTMFP_ERR_INVALID_HANDLE);
}

/* Events outlive their NetConnection and server; callbacks free their
 * own NetConnection and server. */
struct flash_cb {
    pthread_mutex_t lock;
    rtmfp_netconnection *nc;
    rtmfp_server *srv;
    int calls;
    int free_rc;
    int event_free_rc;
    int next_rc;
};

static void nc_freeing_callback(const rtmfp_event *ev, void *user) {
    struct flash_cb *st = (struct flash_cb *)user;
    rtmfp_event *taken = NULL;
    pthread_mutex_lock(&st->lock);
    st->calls++;
    st->event_free_rc = rtmfp_event_free((rtmfp_event *)ev);
    st->next_rc = rtmfp_netconnection_next_event(st->nc, 0, &taken);
    st->free_rc = rtmfp_netconnection_free(st->nc);
    pthread_mutex_unlock(&st->lock);
}

static void srv_freeing_callback(const rtmfp_event *ev, void *user) {
    struct flash_cb *st = (struct flash_cb *)user;
    (void)ev;
    pthread_mutex_lock(&st->lock);
    st->calls++;
    st->free_rc = rtmfp_server_free(st->srv);
    pthread_mutex_unlock(&st->lock);
}

static void srv_ignoring_callback(const rtmfp_event *ev, void *user) {
    (void)ev;
    (void)user;
}

static int flash_cb_calls(struct flash_cb *st) {
    int n;
    pthread_mutex_lock(&st->lock);
    n = st->calls;
    pthread_mutex_unlock(&st->lock);
    return n;
}

/* Takes events until the NetConnection is gone (its last events, such as
 * "NetConnection.Connect.Closed", may still arrive). */
static void *wait_nc_forever(void *arg) {
    rtmfp_netconnection *nc = (rtmfp_netconnection *)arg;
    rtmfp_event *ev = NULL;
    int rc;
    while ((rc = rtmfp_netconnection_next_event(nc, -1, &ev)) == RTMFP_OK) {
        rtmfp_event_free(ev);
    }
    return (void *)(intptr_t)rc;
}

static void test_flash_events(void) {
    char addr[RTMFP_ADDR_STRLEN];
    rtmfp_server *srv = new_server(NULL, 0, addr, sizeof addr);
    rtmfp_netconnection *nc = new_nc(addr, "app");
    rtmfp_event *ev, *sev = NULL;
    struct flash_cb st;
    pthread_t t;
    void *ret = NULL;
    int i;

    /* A polled NetConnection event outlives its NetConnection. */
    ev = wait_status(nc, 0, "NetConnection.Connect.Success");
    CHECK(ev != NULL);
    CHECK_RC(rtmfp_netconnection_free(nc), RTMFP_OK);
    if (ev != NULL) {
        CHECK(strcmp(ev->status_level, "status") == 0);
        CHECK(strlen(ev->status_description) > 0);
        CHECK(ev->name == NULL && ev->text == NULL && ev->app == NULL);
        CHECK(strcmp(rtmfp_event_type_name(ev->type), "NETSTATUS") == 0);
        CHECK_RC(rtmfp_event_free(ev), RTMFP_OK);
        CHECK_ERR(rtmfp_event_free(ev), RTMFP_ERR_INVALID_HANDLE); /* double free */
    }
    /* So does a server event. */
    for (i = 0; i < 100 && sev == NULL; i++) {
        if (rtmfp_server_next_event(srv, 50, &sev) == RTMFP_OK &&
            sev->type != RTMFP_EVENT_TYPE_SERVER_CONNECTED) {
            rtmfp_event_free(sev);
            sev = NULL;
        }
    }
    CHECK(sev != NULL);

    /* A callback that frees its own NetConnection. */
    memset(&st, 0, sizeof st);
    pthread_mutex_init(&st.lock, NULL);
    st.nc = new_nc(addr, "app");
    CHECK_RC(rtmfp_netconnection_set_event_callback(st.nc, nc_freeing_callback, &st), RTMFP_OK);
    for (i = 0; i < 400 && flash_cb_calls(&st) == 0; i++) {
        sleep_ms(10);
    }
    sleep_ms(50);
    pthread_mutex_lock(&st.lock);
    CHECK(st.calls == 1);
    CHECK(st.event_free_rc == RTMFP_ERR_INVALID_HANDLE);
    CHECK(st.next_rc == RTMFP_ERR_WRONG_STATE);
    CHECK(st.free_rc == RTMFP_OK);
    pthread_mutex_unlock(&st.lock);
    CHECK_ERR(rtmfp_netconnection_free(st.nc), RTMFP_ERR_INVALID_HANDLE);

    /* Freeing a NetConnection while another thread waits for its events. */
    nc = new_nc(addr, "app");
    ev = wait_status(nc, 0, "NetConnection.Connect.Success");
    rtmfp_event_free(ev);
    CHECK(pthread_create(&t, NULL, wait_nc_forever, nc) == 0);
    sleep_ms(50);
    CHECK_RC(rtmfp_netconnection_free(nc), RTMFP_OK);
    CHECK(pthread_join(t, &ret) == 0);
    CHECK((intptr_t)ret == RTMFP_ERR_CLOSED || (intptr_t)ret == RTMFP_ERR_INVALID_HANDLE);

    /* A server callback that frees its own server (a client's connect
     * makes an event). */
    st.calls = 0;
    st.free_rc = 1;
    st.srv = srv;
    /* With a callback, polling is refused. (Checked with one that keeps
     * the server: an event still queued, such as the disconnect of a
     * NetConnection freed above, would run the freeing one at once.) */
    CHECK_RC(rtmfp_server_set_event_callback(srv, srv_ignoring_callback, NULL), RTMFP_OK);
    CHECK_ERR(rtmfp_server_next_event(srv, 0, &ev), RTMFP_ERR_WRONG_STATE);
    CHECK_RC(rtmfp_server_set_event_callback(srv, srv_freeing_callback, &st), RTMFP_OK);
    nc = new_nc(addr, "app");
    for (i = 0; i < 400 && flash_cb_calls(&st) == 0; i++) {
        sleep_ms(10);
    }
    sleep_ms(50);
    pthread_mutex_lock(&st.lock);
    CHECK(st.calls == 1);
    CHECK(st.free_rc == RTMFP_OK);
    pthread_mutex_unlock(&st.lock);
    CHECK_ERR(rtmfp_server_free(srv), RTMFP_ERR_INVALID_HANDLE);
    CHECK_RC(rtmfp_netconnection_free(nc), RTMFP_OK);
    pthread_mutex_destroy(&st.lock);

    /* The server event is still readable after its server is gone. */
    if (sev != NULL) {
        CHECK(sev->has_peer_id);
        CHECK(sev->app != NULL && strcmp(sev->app, "app") == 0);
        CHECK(sev->text != NULL && strcmp(sev->text, "app") == 0); /* the key: last segment */
        CHECK_RC(rtmfp_event_free(sev), RTMFP_OK);
    }
}

int main(void) {
    test_config_misuse();
    test_endpoint_new_misuse();
    test_stale_and_forged_handles();
    test_null_arguments();
    test_wrong_state();
    test_event_misuse();
    test_callback_misuse();
    test_free_while_waiting();
    test_flash_config_misuse();
    test_flash_handles();
    test_netconnection_arguments();
    test_server_arguments();
    test_flash_events();
    return check_summary();
}
