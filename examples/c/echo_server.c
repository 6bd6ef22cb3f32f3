/*
 * echo_server: an RTMFP echo server on the rtmfp C API.
 *
 * Every flow a client opens is accepted and answered with a return flow
 * (associated with it, RFC 7016 §2.3.11.1.2) that carries the same
 * messages back. Clients connect by URI (rtmfp://HOST:PORT/anything) or by
 * the peer ID it prints.
 *
 * Build (after `cargo build --release -p rtmfp-ffi && scripts/gen-pc.sh`):
 *   export PKG_CONFIG_PATH=$PWD/target/release
 *   cc -std=c99 echo_server.c $(pkg-config --cflags --libs rtmfp) \
 *      -Wl,-rpath,$PWD/target/release -o echo_server
 * Run:
 *   ./echo_server [BIND_ADDRESS]        default 0.0.0.0:1935; port 0 = any
 *
 * It prints "listening on ADDRESS" and "peer id HEX", then one line per
 * session; SIGINT / SIGTERM close it gracefully.
 */
#define _POSIX_C_SOURCE 200809L

#include "rtmfp.h"

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_FLOWS 1024

/* A client's flow and our return flow for it. */
struct route {
    int used;
    uint64_t session, from_flow, back_flow;
};

static struct route routes[MAX_FLOWS];
static volatile sig_atomic_t stop = 0;

static void on_signal(int sig) {
    (void)sig;
    stop = 1;
}

static void warn(const char *what, int rc) {
    fprintf(stderr, "echo_server: %s: %s (%s)\n", what, rtmfp_strerror(rc),
            rtmfp_last_error_message());
}

static struct route *find_route(uint64_t session, uint64_t flow) {
    int i;
    for (i = 0; i < MAX_FLOWS; i++) {
        if (routes[i].used && routes[i].session == session && routes[i].from_flow == flow) {
            return &routes[i];
        }
    }
    return NULL;
}

static void handle(rtmfp_endpoint *ep, const rtmfp_event *ev) {
    struct route *r;
    uint64_t back;
    int rc, i;

    switch (ev->type) {
    case RTMFP_EVENT_TYPE_SESSION_OPENED:
        printf("session %llu opened from %s\n", (unsigned long long)ev->session, ev->address);
        break;
    case RTMFP_EVENT_TYPE_SESSION_CLOSED:
        printf("session %llu closed\n", (unsigned long long)ev->session);
        for (i = 0; i < MAX_FLOWS; i++) {
            if (routes[i].session == ev->session) {
                routes[i].used = 0;
            }
        }
        break;
    case RTMFP_EVENT_TYPE_FLOW_OPENED:
        /* Accept the flow and open the return flow that answers it. */
        for (i = 0; i < MAX_FLOWS && routes[i].used; i++) {
        }
        if (i == MAX_FLOWS) {
            rtmfp_flow_reject(ep, ev->session, ev->flow, 1);
            break;
        }
        rc = rtmfp_flow_accept(ep, ev->session, ev->flow, RTMFP_ORDER_SEQUENCE);
        if (rc == RTMFP_OK) {
            rc = rtmfp_flow_open(ep, ev->session, ev->data, ev->data_len,
                                 RTMFP_PRIORITY_ROUTINE, &ev->flow, &back);
        }
        if (rc != RTMFP_OK) {
            warn("opening a return flow", rc);
            break;
        }
        routes[i].used = 1;
        routes[i].session = ev->session;
        routes[i].from_flow = ev->flow;
        routes[i].back_flow = back;
        break;
    case RTMFP_EVENT_TYPE_MESSAGE:
        r = find_route(ev->session, ev->flow);
        if (r == NULL) {
            break;
        }
        rc = rtmfp_flow_send(ep, ev->session, r->back_flow, ev->data, ev->data_len, NULL, NULL);
        if (rc == RTMFP_ERR_AGAIN) {
            /* The return flow's send buffer is full: a real server would
             * suspend the incoming flow (rtmfp_flow_set_suspended) until
             * FLOW_WRITABLE. An echo server may drop. */
            fprintf(stderr, "echo_server: return flow full, message dropped\n");
        } else if (rc != RTMFP_OK) {
            warn("echo", rc);
        }
        break;
    case RTMFP_EVENT_TYPE_FLOW_FINISHED:
        /* The client closed its flow: close ours once the echoes are out. */
        r = find_route(ev->session, ev->flow);
        if (r != NULL) {
            rtmfp_flow_close(ep, ev->session, r->back_flow);
            r->used = 0;
        }
        break;
    default:
        break;
    }
    fflush(stdout);
}

int main(int argc, char **argv) {
    const char *bind = argc > 1 ? argv[1] : "0.0.0.0:1935";
    rtmfp_config *cfg = NULL;
    rtmfp_endpoint *ep = NULL;
    char addr[RTMFP_ADDR_STRLEN], id[RTMFP_PEER_ID_HEX_LEN];
    struct sigaction sa;
    struct pollfd pfd;
    rtmfp_event *ev;
    int rc;

    if (argc > 2) {
        fprintf(stderr, "usage: %s [BIND_ADDRESS]\n", argv[0]);
        return 2;
    }
    if ((rc = rtmfp_config_new(&cfg)) != RTMFP_OK ||
        (rc = rtmfp_config_set_role(cfg, RTMFP_ROLE_SERVER)) != RTMFP_OK ||
        (rc = rtmfp_config_set_bind_address(cfg, bind)) != RTMFP_OK ||
        (rc = rtmfp_endpoint_new(cfg, &ep)) != RTMFP_OK) {
        warn("starting", rc);
        rtmfp_config_free(cfg);
        return 1;
    }
    rtmfp_config_free(cfg);

    rtmfp_endpoint_local_addr(ep, 0, addr, sizeof addr);
    rtmfp_endpoint_peer_id_hex(ep, id, sizeof id);
    printf("rtmfp %s echo server\nlistening on %s\npeer id %s\n", rtmfp_version(), addr, id);
    fflush(stdout);

    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);

    /* The event fd is readable while events wait: poll it, then take
     * every waiting event. A signal interrupts poll() with EINTR. */
    pfd.fd = rtmfp_event_fd(ep);
    pfd.events = POLLIN;
    while (!stop) {
        if (poll(&pfd, 1, -1) < 0 && errno != EINTR) {
            perror("poll");
            break;
        }
        while ((rc = rtmfp_next_event(ep, 0, &ev)) == RTMFP_OK) {
            handle(ep, ev);
            rtmfp_event_free(ev);
        }
        if (rc != RTMFP_ERR_AGAIN) {
            warn("next event", rc);
            break;
        }
    }

    printf("closing\n");
    fflush(stdout);
    rc = rtmfp_endpoint_close(ep, 2000);
    rtmfp_endpoint_free(ep);
    return rc == RTMFP_OK || rc == RTMFP_ERR_TIMEOUT ? 0 : 1;
}
