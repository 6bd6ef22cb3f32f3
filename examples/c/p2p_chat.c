/*
 * p2p_chat: two peers exchange lines of text over a direct RTMFP session.
 *
 *   p2p_chat listen [BIND]                     wait for a peer
 *   p2p_chat connect PEER_ID ADDRESS [BIND]    connect to a listening peer
 *
 * The listener prints its peer ID and address; give both to the other side.
 * BIND defaults to 0.0.0.0:0 (any port). Lines typed on stdin go to the
 * peer; the peer's lines are printed as "peer> ...". End of input (Ctrl-D)
 * leaves the chat: this side's flow is closed, and once the peer has
 * acknowledged every line the session is closed and both programs exit.
 * Ctrl-C quits at once.
 *
 * Finding a peer by name, and its addresses by peer ID, comes with the
 * rendezvous server (the Flash layer); until then the peer ID and address
 * are given on the command line.
 *
 * Build (after `cargo build --release -p rtmfp-ffi && scripts/gen-pc.sh`):
 *   export PKG_CONFIG_PATH=$PWD/target/release
 *   cc -std=c99 p2p_chat.c $(pkg-config --cflags --libs rtmfp) \
 *      -Wl,-rpath,$PWD/target/release -o p2p_chat
 */
#define _POSIX_C_SOURCE 200809L

#include "rtmfp.h"

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define LINE_MAX_LEN 4096

static volatile sig_atomic_t interrupted = 0;

static void on_signal(int sig) {
    (void)sig;
    interrupted = 1;
}

struct chat {
    rtmfp_endpoint *ep;
    uint64_t session;
    int have_session;   /* the one chat session is open */
    uint64_t flow;      /* our sending flow */
    int flow_open;      /* we may send */
    int input_done;     /* stdin ended: our flow is closing */
    int done;
    char line[LINE_MAX_LEN];
    size_t line_len;
};

static int fail(const char *what, int rc) {
    fprintf(stderr, "p2p_chat: %s: %s (%s)\n", what, rtmfp_strerror(rc),
            rtmfp_last_error_message());
    return 1;
}

static void handle(struct chat *c, const rtmfp_event *ev) {
    int rc;
    switch (ev->type) {
    case RTMFP_EVENT_TYPE_SESSION_OPENED:
        if (c->have_session) {
            /* One chat at a time. */
            rtmfp_session_close(c->ep, ev->session, false);
            break;
        }
        c->have_session = 1;
        c->session = ev->session;
        printf("connected to %s\n", ev->address);
        rc = rtmfp_flow_open(c->ep, c->session, (const uint8_t *)"chat", 4,
                             RTMFP_PRIORITY_ROUTINE, NULL, &c->flow);
        if (rc != RTMFP_OK) {
            fail("opening the chat flow", rc);
            c->done = 1;
            break;
        }
        c->flow_open = 1;
        break;
    case RTMFP_EVENT_TYPE_SESSION_OPEN_FAILED:
        fprintf(stderr, "p2p_chat: could not reach the peer\n");
        c->done = 1;
        break;
    case RTMFP_EVENT_TYPE_SESSION_CLOSED:
        if (c->have_session && ev->session == c->session) {
            printf("session closed (reason %d)\n", ev->reason);
            c->done = 1;
        }
        break;
    case RTMFP_EVENT_TYPE_FLOW_OPENED:
        if (ev->session == c->session && ev->data_len == 4 && memcmp(ev->data, "chat", 4) == 0) {
            rtmfp_flow_accept(c->ep, ev->session, ev->flow, RTMFP_ORDER_SEQUENCE);
        } else {
            rtmfp_flow_reject(c->ep, ev->session, ev->flow, 0);
        }
        break;
    case RTMFP_EVENT_TYPE_MESSAGE:
        printf("peer> %.*s\n", (int)ev->data_len, (const char *)ev->data);
        break;
    case RTMFP_EVENT_TYPE_FLOW_COMPLETE:
        /* Every line we sent was acknowledged: leave. */
        if (ev->flow == c->flow && c->input_done) {
            rtmfp_session_close(c->ep, c->session, false);
        }
        break;
    case RTMFP_EVENT_TYPE_FLOW_REJECTED:
        fprintf(stderr, "p2p_chat: the peer refused the chat\n");
        c->done = 1;
        break;
    default:
        break;
    }
    fflush(stdout);
}

/* Reads what stdin has; sends each complete line. */
static void read_input(struct chat *c) {
    char buf[1024];
    ssize_t n = read(STDIN_FILENO, buf, sizeof buf);
    ssize_t i;
    int rc;

    if (n < 0 && errno == EINTR) {
        return;
    }
    if (n <= 0) {
        /* End of input: send a last unterminated line, then finish our
         * flow (queued lines still arrive). */
        if (c->line_len > 0) {
            rtmfp_flow_send(c->ep, c->session, c->flow, (const uint8_t *)c->line, c->line_len,
                            NULL, NULL);
            c->line_len = 0;
        }
        c->input_done = 1;
        rtmfp_flow_close(c->ep, c->session, c->flow);
        return;
    }
    for (i = 0; i < n; i++) {
        if (buf[i] != '\n' && c->line_len < sizeof c->line) {
            c->line[c->line_len++] = buf[i];
            continue;
        }
        if (buf[i] != '\n') {
            continue; /* overlong line: the rest is cut off */
        }
        rc = rtmfp_flow_send(c->ep, c->session, c->flow, (const uint8_t *)c->line, c->line_len,
                             NULL, NULL);
        if (rc != RTMFP_OK) {
            fail("sending", rc);
        }
        c->line_len = 0;
    }
}

int main(int argc, char **argv) {
    struct chat c;
    rtmfp_config *cfg = NULL;
    const char *bind = "0.0.0.0:0";
    char addr[RTMFP_ADDR_STRLEN], id[RTMFP_PEER_ID_HEX_LEN];
    uint8_t peer[RTMFP_PEER_ID_LEN];
    const char *candidates[1];
    struct sigaction sa;
    struct pollfd pfd[2];
    rtmfp_event *ev;
    int rc, listening;

    listening = argc >= 2 && strcmp(argv[1], "listen") == 0 && argc <= 3;
    if (!listening && !(argc >= 4 && argc <= 5 && strcmp(argv[1], "connect") == 0)) {
        fprintf(stderr, "usage: %s listen [BIND]\n       %s connect PEER_ID ADDRESS [BIND]\n",
                argv[0], argv[0]);
        return 2;
    }
    if (listening && argc == 3) {
        bind = argv[2];
    } else if (!listening && argc == 5) {
        bind = argv[4];
    }

    memset(&c, 0, sizeof c);
    if ((rc = rtmfp_config_new(&cfg)) != RTMFP_OK ||
        (rc = rtmfp_config_set_bind_address(cfg, bind)) != RTMFP_OK ||
        (rc = rtmfp_endpoint_new(cfg, &c.ep)) != RTMFP_OK) {
        rtmfp_config_free(cfg);
        return fail("starting", rc);
    }
    rtmfp_config_free(cfg);

    if (listening) {
        rtmfp_endpoint_local_addr(c.ep, 0, addr, sizeof addr);
        rtmfp_endpoint_peer_id_hex(c.ep, id, sizeof id);
        printf("listening on %s\npeer id %s\n", addr, id);
        printf("on the other side: p2p_chat connect %s %s\n", id, addr);
    } else {
        uint64_t session;
        if ((rc = rtmfp_peer_id_from_hex(argv[2], peer)) != RTMFP_OK) {
            rtmfp_endpoint_free(c.ep);
            return fail("PEER_ID", rc);
        }
        candidates[0] = argv[3];
        rc = rtmfp_session_connect_peer(c.ep, peer, candidates, 1, &session);
        if (rc != RTMFP_OK) {
            rtmfp_endpoint_free(c.ep);
            return fail("connecting", rc);
        }
        printf("connecting to %s\n", argv[3]);
    }
    fflush(stdout);

    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);

    pfd[0].fd = rtmfp_event_fd(c.ep);
    pfd[0].events = POLLIN;
    pfd[1].fd = STDIN_FILENO;
    pfd[1].events = POLLIN;
    while (!c.done && !interrupted) {
        /* Read stdin only while there is a flow to send on. */
        nfds_t n = (c.flow_open && !c.input_done) ? 2 : 1;
        pfd[1].revents = 0;
        if (poll(pfd, n, -1) < 0 && errno != EINTR) {
            perror("poll");
            break;
        }
        while ((rc = rtmfp_next_event(c.ep, 0, &ev)) == RTMFP_OK) {
            handle(&c, ev);
            rtmfp_event_free(ev);
        }
        if (rc != RTMFP_ERR_AGAIN) {
            fail("events", rc);
            break;
        }
        if (n == 2 && (pfd[1].revents & (POLLIN | POLLHUP))) {
            read_input(&c);
        }
    }

    rtmfp_endpoint_close(c.ep, 1000);
    rtmfp_endpoint_free(c.ep);
    return c.done && !interrupted ? 0 : 1;
}
