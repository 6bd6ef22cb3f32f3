/*
 * rtmfp_server_start_clustered through the C API:
 *
 *   - Redis unreachable (a port nothing listens on): RTMFP_ERR_IO, and the
 *     message says "Redis is unreachable"; no server is made;
 *   - a URL that is not a Redis URL: RTMFP_ERR_IO as well;
 *   - with $RTMFP_REDIS_URL (scripts/test.sh starts a redis-server): the
 *     node starts, a NetConnection connects to it, registers a name, and
 *     looks it up again (the lookup that a cluster answers from Redis when
 *     the node does not know it).
 *
 * Prints "N passed, M failed"; exits non-zero on failure.
 */
#define _POSIX_C_SOURCE 200809L

#include "check.h"

#include <stdlib.h>
#include <time.h>

#define WAIT_MS 10000

/* The next event of `type` within WAIT_MS, or NULL. */
static rtmfp_event *wait_for(rtmfp_netconnection *nc, rtmfp_event_type type) {
    long long deadline = now_ms() + WAIT_MS;
    while (now_ms() < deadline) {
        rtmfp_event *ev = NULL;
        if (rtmfp_netconnection_next_event(nc, 50, &ev) != RTMFP_OK) {
            continue;
        }
        if (ev->type == type) {
            return ev;
        }
        rtmfp_event_free(ev);
    }
    return NULL;
}

int main(void) {
    const char *redis = getenv("RTMFP_REDIS_URL");
    rtmfp_config *cfg = NULL;
    rtmfp_server *srv = NULL;

    CHECK_RC(rtmfp_config_new(&cfg), RTMFP_OK);
    CHECK_RC(rtmfp_config_set_bind_address(cfg, "127.0.0.1:0"), RTMFP_OK);
    CHECK_ERR(rtmfp_server_start_clustered(cfg, NULL, 0, "redis://127.0.0.1:9/0", &srv),
              RTMFP_ERR_IO);
    CHECK(strstr(rtmfp_last_error_message(), "Redis is unreachable") != NULL);
    CHECK(srv == NULL);
    CHECK_ERR(rtmfp_server_start_clustered(cfg, NULL, 0, "http://127.0.0.1/", &srv),
              RTMFP_ERR_IO);
    CHECK(srv == NULL);

    if (redis == NULL || redis[0] == '\0') {
        printf("SKIP the live node: RTMFP_REDIS_URL is not set\n");
    } else {
        char addr[64], uri[128];
        rtmfp_netconnection *nc = NULL;
        rtmfp_event *ev;
        uint64_t call = 0;
        CHECK_RC(rtmfp_server_start_clustered(cfg, NULL, 0, redis, &srv), RTMFP_OK);
        CHECK(rtmfp_server_local_addr(srv, 0, addr, sizeof addr) > 0);
        snprintf(uri, sizeof uri, "rtmfp://%s/app", addr);
        CHECK_RC(rtmfp_netconnection_connect(cfg, uri, &nc), RTMFP_OK);
        ev = wait_for(nc, RTMFP_EVENT_TYPE_NETSTATUS);
        CHECK(ev != NULL && ev->status_code != NULL &&
              strcmp(ev->status_code, "NetConnection.Connect.Success") == 0);
        rtmfp_event_free(ev);
        CHECK_RC(rtmfp_netconnection_register_name(nc, "c-cluster", &call), RTMFP_OK);
        ev = wait_for(nc, RTMFP_EVENT_TYPE_CALL_RESULT);
        CHECK(ev != NULL);
        rtmfp_event_free(ev);
        CHECK_RC(rtmfp_netconnection_lookup_name(nc, "c-cluster", &call), RTMFP_OK);
        ev = wait_for(nc, RTMFP_EVENT_TYPE_CALL_RESULT);
        CHECK(ev != NULL && ev->ok && ev->has_peer_id && ev->text != NULL);
        if (ev != NULL && ev->text != NULL) {
            char hex[65];
            CHECK_RC(rtmfp_netconnection_near_id_hex(nc, hex, sizeof hex), 64);
            CHECK(strcmp(ev->text, hex) == 0);
            printf("clustered node at %s: the name resolves to our peer ID\n", addr);
        }
        rtmfp_event_free(ev);
        CHECK_RC(rtmfp_netconnection_free(nc), RTMFP_OK);
        CHECK_RC(rtmfp_server_free(srv), RTMFP_OK);
    }
    CHECK_RC(rtmfp_config_free(cfg), RTMFP_OK);
    return check_summary();
}
