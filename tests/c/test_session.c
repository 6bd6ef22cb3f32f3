/*
 * A server endpoint and a client endpoint in one process exchange flows over
 * 127.0.0.1, through the C API only:
 *
 *   1. polling: both endpoints' event fds in one poll(2) loop, events taken
 *      with rtmfp_next_event(); the client connects by rtmfp:// URI, with a
 *      small send buffer so that rtmfp_flow_send() hits RTMFP_ERR_AGAIN and
 *      waits for FLOW_WRITABLE;
 *   2. callbacks: both endpoints deliver events to callbacks on their
 *      dispatcher threads; the server echoes from inside its callback
 *      (calling back into the API); the client connects by peer ID.
 *
 *   3. a closed port: the ICMP port unreachable ends the opening
 *      (RTMFP_OPEN_FAILURE_UNREACHABLE, naming the address) long before
 *      the open timeout.
 *
 * In the first two, the client opens a flow, sends messages of many sizes (one
 * empty, some with options), checks the echoes on the server's return flow
 * byte for byte, every write receipt, a rejected flow, session stats, flow
 * close, and session close.
 *
 *   test_session                 both scenarios, in-process server
 *   test_session --uri URI       the polling client only, against an
 *                                external echo server (examples/c/echo_server)
 *
 * Prints "N passed, M failed"; exits non-zero on failure. Every wait is
 * bounded.
 */
#define _POSIX_C_SOURCE 200809L

#include "check.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>
#include <poll.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <time.h>

#define WAIT_MS 20000
#define N_MSGS 9
static const size_t sizes[N_MSGS] = {1, 7, 600, 1200, 0, 4000, 65536, 200000, 33};

static void fill(uint8_t *buf, size_t len, int seq) {
    size_t i;
    for (i = 0; i < len; i++) {
        buf[i] = (uint8_t)(seq * 31 + i * 7 + (i >> 8));
    }
}

static int matches(const uint8_t *p, size_t len, int seq) {
    size_t i;
    if (seq < 0 || seq >= N_MSGS || len != sizes[seq]) {
        return 0;
    }
    if (len > 0 && p == NULL) {
        return 0;
    }
    for (i = 0; i < len; i++) {
        if (p[i] != (uint8_t)(seq * 31 + i * 7 + (i >> 8))) {
            return 0;
        }
    }
    return 1;
}

static void sleep_ms(long ms) {
    struct timespec ts;
    ts.tv_sec = ms / 1000;
    ts.tv_nsec = (ms % 1000) * 1000000L;
    nanosleep(&ts, NULL);
}

/* ------------------------------------------------------ echo server -- */

#define MAX_MAPS 64

struct echo_map {
    int used;
    uint64_t session, recv_flow, send_flow;
};

struct echo_server {
    pthread_mutex_t lock;
    rtmfp_endpoint *ep;
    struct echo_map maps[MAX_MAPS];
    int sessions_opened, sessions_closed, rejected, echoed, errors;
};

static struct echo_map *echo_find(struct echo_server *s, uint64_t session, uint64_t recv_flow) {
    int i;
    for (i = 0; i < MAX_MAPS; i++) {
        if (s->maps[i].used && s->maps[i].session == session &&
            s->maps[i].recv_flow == recv_flow) {
            return &s->maps[i];
        }
    }
    return NULL;
}

static void echo_error(struct echo_server *s, const char *what, int rc) {
    s->errors++;
    fprintf(stderr, "echo server: %s: %d (%s: %s)\n", what, rc, rtmfp_strerror(rc),
            rtmfp_last_error_message());
}

/* The server's event handling: the same code runs polled and in callbacks.
 * A flow whose metadata is "reject-me" is rejected with code 42; any other
 * is accepted and answered on a return flow carrying the same messages. */
static void echo_handle(struct echo_server *s, const rtmfp_event *ev) {
    struct echo_map *m;
    int rc, i;
    uint64_t back;

    pthread_mutex_lock(&s->lock);
    switch (ev->type) {
    case RTMFP_EVENT_TYPE_SESSION_OPENED:
        s->sessions_opened++;
        break;
    case RTMFP_EVENT_TYPE_SESSION_CLOSED:
        s->sessions_closed++;
        for (i = 0; i < MAX_MAPS; i++) {
            if (s->maps[i].session == ev->session) {
                s->maps[i].used = 0;
            }
        }
        break;
    case RTMFP_EVENT_TYPE_FLOW_OPENED:
        if (ev->data_len == 9 && memcmp(ev->data, "reject-me", 9) == 0) {
            rc = rtmfp_flow_reject(s->ep, ev->session, ev->flow, 42);
            if (rc != RTMFP_OK) {
                echo_error(s, "reject", rc);
            }
            s->rejected++;
            break;
        }
        rc = rtmfp_flow_accept(s->ep, ev->session, ev->flow, RTMFP_ORDER_SEQUENCE);
        if (rc != RTMFP_OK) {
            echo_error(s, "accept", rc);
            break;
        }
        rc = rtmfp_flow_open(s->ep, ev->session, (const uint8_t *)"echo-reply", 10,
                             RTMFP_PRIORITY_ROUTINE, &ev->flow, &back);
        if (rc != RTMFP_OK) {
            echo_error(s, "open return flow", rc);
            break;
        }
        for (i = 0; i < MAX_MAPS; i++) {
            if (!s->maps[i].used) {
                s->maps[i].used = 1;
                s->maps[i].session = ev->session;
                s->maps[i].recv_flow = ev->flow;
                s->maps[i].send_flow = back;
                break;
            }
        }
        break;
    case RTMFP_EVENT_TYPE_MESSAGE:
        m = echo_find(s, ev->session, ev->flow);
        if (m == NULL) {
            echo_error(s, "message on an unknown flow", 0);
            break;
        }
        rc = rtmfp_flow_send(s->ep, ev->session, m->send_flow, ev->data, ev->data_len, NULL,
                             NULL);
        if (rc != RTMFP_OK) {
            echo_error(s, "echo send", rc);
        }
        s->echoed++;
        break;
    case RTMFP_EVENT_TYPE_FLOW_FINISHED:
        m = echo_find(s, ev->session, ev->flow);
        if (m != NULL) {
            rc = rtmfp_flow_close(s->ep, ev->session, m->send_flow);
            if (rc != RTMFP_OK) {
                echo_error(s, "close return flow", rc);
            }
            m->used = 0;
        }
        break;
    default:
        break;
    }
    pthread_mutex_unlock(&s->lock);
}

static void echo_callback(const rtmfp_event *ev, void *user) {
    echo_handle((struct echo_server *)user, ev);
}

/* ------------------------------------------------------------ client -- */

struct client {
    pthread_mutex_t lock;
    rtmfp_endpoint *ep;
    int expect_reject;
    uint64_t session;
    int opened, open_failed, closed, initiator, has_peer_id;
    uint8_t far_peer_id[RTMFP_PEER_ID_LEN];
    char far_address[RTMFP_ADDR_STRLEN];
    uint64_t flow, reject_flow;
    int flow_set, reject_flow_set;
    uint64_t sent_ids[N_MSGS];
    uint64_t delivered_ids[N_MSGS + 4];
    int delivered, abandoned, writable, again;
    int rejected, rejected_code;
    uint64_t echo_flow;
    int echo_flow_seen, echoes, echo_bad, echo_finished, flow_complete;
    int unexpected;
};

static void client_handle(struct client *c, const rtmfp_event *ev) {
    pthread_mutex_lock(&c->lock);
    switch (ev->type) {
    case RTMFP_EVENT_TYPE_SESSION_OPENED:
        if (ev->session == c->session) {
            c->opened = 1;
            c->initiator = ev->initiator;
            c->has_peer_id = ev->has_peer_id;
            memcpy(c->far_peer_id, ev->peer_id, RTMFP_PEER_ID_LEN);
            memcpy(c->far_address, ev->address, RTMFP_ADDR_STRLEN);
        }
        break;
    case RTMFP_EVENT_TYPE_SESSION_OPEN_FAILED:
        c->open_failed = 1;
        break;
    case RTMFP_EVENT_TYPE_SESSION_CLOSED:
        if (ev->session == c->session) {
            c->closed = 1;
        }
        break;
    case RTMFP_EVENT_TYPE_FLOW_OPENED:
        /* The return flow answers ours (its metadata is up to the server). */
        if (c->flow_set && ev->has_association && ev->association == c->flow) {
            c->echo_flow = ev->flow;
            c->echo_flow_seen = 1;
            if (rtmfp_flow_accept(c->ep, ev->session, ev->flow, RTMFP_ORDER_SEQUENCE) != 0) {
                c->unexpected++;
            }
        } else {
            c->unexpected++;
        }
        break;
    case RTMFP_EVENT_TYPE_MESSAGE:
        if (c->echo_flow_seen && ev->flow == c->echo_flow) {
            if (!matches(ev->data, ev->data_len, c->echoes) || ev->gap_before) {
                c->echo_bad++;
                fprintf(stderr, "client: echo %d has %lu bytes, expected %lu\n", c->echoes,
                        (unsigned long)ev->data_len,
                        (unsigned long)(c->echoes < N_MSGS ? sizes[c->echoes] : 0));
            }
            c->echoes++;
        } else {
            c->unexpected++;
        }
        break;
    case RTMFP_EVENT_TYPE_MESSAGE_DELIVERED:
        if (c->flow_set && ev->flow == c->flow && c->delivered < N_MSGS + 4) {
            c->delivered_ids[c->delivered++] = ev->message;
        }
        break;
    case RTMFP_EVENT_TYPE_MESSAGE_ABANDONED:
        if (c->flow_set && ev->flow == c->flow) {
            c->abandoned++;
        }
        break;
    case RTMFP_EVENT_TYPE_FLOW_WRITABLE:
        if (c->flow_set && ev->flow == c->flow) {
            c->writable++;
        }
        break;
    case RTMFP_EVENT_TYPE_FLOW_REJECTED:
        if (c->reject_flow_set && ev->flow == c->reject_flow) {
            c->rejected = 1;
            c->rejected_code = (int)ev->code;
        } else {
            c->unexpected++;
        }
        break;
    case RTMFP_EVENT_TYPE_FLOW_FINISHED:
        if (c->echo_flow_seen && ev->flow == c->echo_flow) {
            c->echo_finished = 1;
        }
        break;
    case RTMFP_EVENT_TYPE_FLOW_COMPLETE:
        if (c->flow_set && ev->flow == c->flow) {
            c->flow_complete = 1;
        }
        break;
    default:
        break;
    }
    pthread_mutex_unlock(&c->lock);
}

static void client_callback(const rtmfp_event *ev, void *user) {
    client_handle((struct client *)user, ev);
}

/* --------------------------------------------------------- scenarios -- */

enum style { POLLING, CALLBACKS };

struct ctx {
    enum style style;
    struct client *c;
    struct echo_server *s; /* NULL: an external server */
    int target;
};

/* Polling style: wait on both event fds, then drain both queues. */
static void pump(struct ctx *x, int timeout_ms) {
    struct pollfd pfd[2];
    rtmfp_endpoint *eps[2];
    nfds_t n = 0, i;
    rtmfp_event *ev;
    int rc;

    eps[n] = x->c->ep;
    pfd[n].fd = rtmfp_event_fd(x->c->ep);
    pfd[n++].events = POLLIN;
    if (x->s != NULL) {
        eps[n] = x->s->ep;
        pfd[n].fd = rtmfp_event_fd(x->s->ep);
        pfd[n++].events = POLLIN;
    }
    for (i = 0; i < n; i++) {
        CHECK(pfd[i].fd >= 0);
        pfd[i].revents = 0;
    }
    if (poll(pfd, n, timeout_ms) <= 0) {
        return;
    }
    for (i = 0; i < n; i++) {
        if (!(pfd[i].revents & POLLIN)) {
            continue;
        }
        /* Readable while events wait: take them all (timeout 0). */
        while ((rc = rtmfp_next_event(eps[i], 0, &ev)) == RTMFP_OK) {
            if (eps[i] == x->c->ep) {
                client_handle(x->c, ev);
            } else {
                echo_handle(x->s, ev);
            }
            CHECK_RC(rtmfp_event_free(ev), RTMFP_OK);
        }
        CHECK(rc == RTMFP_ERR_AGAIN || rc == RTMFP_ERR_CLOSED);
        CHECK(ev == NULL);
    }
}

static int wait_until(struct ctx *x, int (*done)(struct ctx *), const char *what) {
    long long deadline = now_ms() + WAIT_MS;
    while (now_ms() < deadline) {
        if (done(x)) {
            return 1;
        }
        if (x->style == POLLING) {
            pump(x, 50);
        } else {
            sleep_ms(5);
        }
    }
    if (done(x)) {
        return 1;
    }
    fprintf(stderr, "timed out waiting for %s\n", what);
    return 0;
}

#define LOCKED(c, expr)                                                      \
    int r_;                                                                  \
    pthread_mutex_lock(&(c)->lock);                                          \
    r_ = (expr);                                                             \
    pthread_mutex_unlock(&(c)->lock);                                        \
    return r_

static int is_open(struct ctx *x) { LOCKED(x->c, x->c->opened || x->c->open_failed); }
static int is_writable(struct ctx *x) { LOCKED(x->c, x->c->writable >= x->target); }
static int all_echoed(struct ctx *x) {
    LOCKED(x->c, x->c->echoes >= N_MSGS && x->c->delivered >= N_MSGS &&
                     (!x->c->expect_reject || x->c->rejected));
}
static int flows_done(struct ctx *x) { LOCKED(x->c, x->c->flow_complete && x->c->echo_finished); }
static int is_closed(struct ctx *x) { LOCKED(x->c, x->c->closed); }
static int server_saw_close(struct ctx *x) { LOCKED(x->s, x->s->sessions_closed >= x->target); }

/* Every endpoint of this test logs its session keys here (main sets it). */
static char key_log_path[256];

static rtmfp_endpoint *new_endpoint(int role, size_t send_buffer) {
    rtmfp_config *cfg = NULL;
    rtmfp_endpoint *ep = NULL;
    CHECK_RC(rtmfp_config_new(&cfg), RTMFP_OK);
    if (key_log_path[0] != '\0') {
        CHECK_RC(rtmfp_config_set_key_log_file(cfg, key_log_path), RTMFP_OK);
    }
    CHECK_RC(rtmfp_config_set_bind_address(cfg, "127.0.0.1:0"), RTMFP_OK);
    CHECK_RC(rtmfp_config_set_role(cfg, role), RTMFP_OK);
    CHECK_RC(rtmfp_config_set_keepalive_ms(cfg, 2000), RTMFP_OK);
    if (send_buffer > 0) {
        CHECK_RC(rtmfp_config_set_flow_buffers(cfg, send_buffer, 1 << 20), RTMFP_OK);
    }
    CHECK_RC(rtmfp_endpoint_new(cfg, &ep), RTMFP_OK);
    CHECK_RC(rtmfp_config_free(cfg), RTMFP_OK);
    CHECK(ep != NULL);
    return ep;
}

static void client_init(struct client *c, rtmfp_endpoint *ep, int expect_reject) {
    memset(c, 0, sizeof *c);
    pthread_mutex_init(&c->lock, NULL);
    c->ep = ep;
    c->expect_reject = expect_reject;
}

/* The exchange, once the session is connecting. */
static void exchange(struct ctx *x, const char *server_addr, const uint8_t *server_id) {
    struct client *c = x->c;
    uint8_t *buf;
    uint64_t flow = 0, reject_flow = 0, id = 0;
    rtmfp_send_options opts;
    rtmfp_session_info info;
    size_t total = 0;
    int i, j, rc, found;

    CHECK(wait_until(x, is_open, "SESSION_OPENED"));
    pthread_mutex_lock(&c->lock);
    CHECK(c->opened && !c->open_failed);
    CHECK(c->initiator);
    CHECK(c->has_peer_id);
    if (server_id != NULL) {
        CHECK(memcmp(c->far_peer_id, server_id, RTMFP_PEER_ID_LEN) == 0);
    }
    if (server_addr != NULL) {
        CHECK(strcmp(c->far_address, server_addr) == 0);
    }
    pthread_mutex_unlock(&c->lock);
    if (!c->opened) {
        return;
    }

    /* The flow and its messages. */
    CHECK_RC(rtmfp_flow_open(c->ep, c->session, (const uint8_t *)"echo-test", 9,
                             RTMFP_PRIORITY_ROUTINE, NULL, &flow),
             RTMFP_OK);
    pthread_mutex_lock(&c->lock);
    c->flow = flow;
    c->flow_set = 1;
    pthread_mutex_unlock(&c->lock);
    CHECK_RC(rtmfp_flow_writable(c->ep, c->session, flow), 1);

    buf = (uint8_t *)malloc(200000);
    CHECK(buf != NULL);
    if (buf == NULL) {
        return;
    }
    for (i = 0; i < N_MSGS; i++) {
        const rtmfp_send_options *o = NULL;
        memset(&opts, 0, sizeof opts);
        if (i == 1) {
            opts.finish_within_ms = 60000; /* generous: it is delivered */
            o = &opts;
        } else if (i == 2) {
            opts.has_parent = true; /* chained to message 1 */
            opts.parent = c->sent_ids[1];
            o = &opts;
        }
        fill(buf, sizes[i], i);
        for (;;) {
            rc = rtmfp_flow_send(c->ep, c->session, flow, sizes[i] ? buf : NULL, sizes[i], o, &id);
            if (rc != RTMFP_ERR_AGAIN) {
                break;
            }
            /* Send buffer full: wait for FLOW_WRITABLE, then retry. */
            pthread_mutex_lock(&c->lock);
            c->again++;
            x->target = c->writable + 1;
            pthread_mutex_unlock(&c->lock);
            if (!wait_until(x, is_writable, "FLOW_WRITABLE")) {
                break;
            }
        }
        CHECK_RC(rc, RTMFP_OK);
        pthread_mutex_lock(&c->lock);
        c->sent_ids[i] = id;
        pthread_mutex_unlock(&c->lock);
        total += sizes[i];
    }
    free(buf);

    /* A flow the server rejects (it sees it with its first message). */
    if (c->expect_reject) {
        CHECK_RC(rtmfp_flow_open(c->ep, c->session, (const uint8_t *)"reject-me", 9,
                                 RTMFP_PRIORITY_BULK, NULL, &reject_flow),
                 RTMFP_OK);
        pthread_mutex_lock(&c->lock);
        c->reject_flow = reject_flow;
        c->reject_flow_set = 1;
        pthread_mutex_unlock(&c->lock);
        CHECK_RC(rtmfp_flow_send(c->ep, c->session, reject_flow, (const uint8_t *)"x", 1, NULL,
                                 NULL),
                 RTMFP_OK);
    }

    CHECK(wait_until(x, all_echoed, "echoes, receipts and rejection"));
    pthread_mutex_lock(&c->lock);
    CHECK(c->echoes == N_MSGS);
    CHECK(c->echo_bad == 0);
    CHECK(c->delivered == N_MSGS);
    CHECK(c->abandoned == 0);
    CHECK(c->unexpected == 0);
    /* Every message ID got exactly one MESSAGE_DELIVERED. */
    for (i = 0; i < N_MSGS; i++) {
        found = 0;
        for (j = 0; j < c->delivered; j++) {
            found += c->delivered_ids[j] == c->sent_ids[i];
        }
        CHECK(found == 1);
    }
    if (c->expect_reject) {
        CHECK(c->rejected);
        CHECK(c->rejected_code == 42);
    }
    pthread_mutex_unlock(&c->lock);

    /* Stats of a busy session. */
    memset(&info, 0, sizeof info);
    CHECK_RC(rtmfp_session_stats(c->ep, c->session, &info), RTMFP_OK);
    CHECK(info.open);
    CHECK(info.initiator);
    CHECK(info.has_far_peer_id);
    CHECK(info.srtt_ms >= 0.0);
    CHECK(info.erto_ms > 0.0);
    CHECK(info.cwnd > 0);
    CHECK(info.packets_out > 0 && info.packets_in > 0);
    CHECK(info.bytes_out > total && info.bytes_in > total);
    CHECK(info.data_bytes_delivered >= total);
    CHECK(info.data_bytes_sent >= total);
    if (server_addr != NULL) {
        CHECK(strcmp(info.far_address, server_addr) == 0);
    }

    /* Close our flow: FLOW_COMPLETE here; the server sees FLOW_FINISHED
     * and closes its return flow: FLOW_FINISHED here. */
    CHECK_RC(rtmfp_flow_close(c->ep, c->session, flow), RTMFP_OK);
    CHECK(wait_until(x, flows_done, "FLOW_COMPLETE and FLOW_FINISHED"));
    rc = rtmfp_flow_send(c->ep, c->session, flow, (const uint8_t *)"late", 4, NULL, NULL);
    CHECK(rc == RTMFP_ERR_CLOSED || rc == RTMFP_ERR_INVALID_HANDLE);

    /* Close the session in order. */
    CHECK_RC(rtmfp_session_close(c->ep, c->session, false), RTMFP_OK);
    CHECK(wait_until(x, is_closed, "SESSION_CLOSED"));
    CHECK_ERR(rtmfp_session_stats(c->ep, c->session, &info), RTMFP_ERR_INVALID_HANDLE);
}

static void local_addr(rtmfp_endpoint *ep, char *buf) {
    int n = rtmfp_endpoint_local_addr(ep, 0, buf, RTMFP_ADDR_STRLEN);
    CHECK(n > 0 && (size_t)n == strlen(buf));
}

/* 1. Polling, connect by URI, small send buffer (backpressure). */
static void scenario_polling(struct echo_server *s, const char *uri) {
    struct client c;
    struct ctx x;
    char addr[RTMFP_ADDR_STRLEN], server_uri[128];

    client_init(&c, new_endpoint(RTMFP_ROLE_CLIENT, 16384), s != NULL);
    memset(&x, 0, sizeof x);
    x.style = POLLING;
    x.c = &c;
    x.s = s;
    if (s != NULL) {
        local_addr(s->ep, addr);
        snprintf(server_uri, sizeof server_uri, "rtmfp://%s/echo", addr);
        uri = server_uri;
    }
    CHECK_RC(rtmfp_session_connect_uri(c.ep, uri, &c.session), RTMFP_OK);
    CHECK(c.session != 0);
    exchange(&x, s != NULL ? addr : NULL, NULL);
    CHECK(c.again > 0); /* the 16 KiB send buffer filled up */
    CHECK(c.writable > 0);
    if (s != NULL) {
        x.target = 1;
        CHECK(wait_until(&x, server_saw_close, "server SESSION_CLOSED"));
        CHECK(s->errors == 0);
        CHECK(s->rejected == 1);
        CHECK(s->echoed == N_MSGS);
    }
    CHECK_RC(rtmfp_endpoint_close(c.ep, 2000), RTMFP_OK);
    CHECK_RC(rtmfp_endpoint_free(c.ep), RTMFP_OK);
    pthread_mutex_destroy(&c.lock);
}

/* 2. Callbacks on both endpoints, connect by peer ID and address. */
static void scenario_callbacks(struct echo_server *s) {
    struct client c;
    struct ctx x;
    char addr[RTMFP_ADDR_STRLEN], hex[RTMFP_PEER_ID_HEX_LEN];
    const char *addrs[1];
    uint8_t id[RTMFP_PEER_ID_LEN], parsed[RTMFP_PEER_ID_LEN];
    rtmfp_event *ev = NULL;

    client_init(&c, new_endpoint(RTMFP_ROLE_CLIENT, 0), 1);
    memset(&x, 0, sizeof x);
    x.style = CALLBACKS;
    x.c = &c;
    x.s = s;

    CHECK_RC(rtmfp_set_event_callback(s->ep, echo_callback, s), RTMFP_OK);
    CHECK_RC(rtmfp_set_event_callback(c.ep, client_callback, &c), RTMFP_OK);
    CHECK_ERR(rtmfp_next_event(c.ep, 0, &ev), RTMFP_ERR_WRONG_STATE);

    local_addr(s->ep, addr);
    CHECK_RC(rtmfp_endpoint_peer_id(s->ep, id), RTMFP_OK);
    CHECK_RC(rtmfp_endpoint_peer_id_hex(s->ep, hex, sizeof hex), 64);
    CHECK_RC(rtmfp_peer_id_from_hex(hex, parsed), RTMFP_OK);
    CHECK(memcmp(id, parsed, sizeof id) == 0);
    addrs[0] = addr;
    pthread_mutex_lock(&c.lock);
    CHECK_RC(rtmfp_session_connect_peer(c.ep, id, addrs, 1, &c.session), RTMFP_OK);
    pthread_mutex_unlock(&c.lock);
    exchange(&x, addr, id);
    x.target = 2; /* the polling scenario's session, then this one */
    CHECK(wait_until(&x, server_saw_close, "server SESSION_CLOSED"));

    /* Back to polling: the queue is empty, the fd is usable again. */
    CHECK_RC(rtmfp_set_event_callback(c.ep, NULL, NULL), RTMFP_OK);
    CHECK_RC(rtmfp_set_event_callback(s->ep, NULL, NULL), RTMFP_OK);
    CHECK_RC(rtmfp_next_event(c.ep, 0, &ev), RTMFP_ERR_AGAIN);
    CHECK(ev == NULL);
    pthread_mutex_lock(&s->lock);
    CHECK(s->errors == 0);
    CHECK(s->rejected == 2);
    CHECK(s->echoed == 2 * N_MSGS);
    pthread_mutex_unlock(&s->lock);

    CHECK_RC(rtmfp_endpoint_free(c.ep), RTMFP_OK);
    pthread_mutex_destroy(&c.lock);
}

/* A port nobody listens on: the ICMP port unreachable ends the opening
 * (RTMFP_OPEN_FAILURE_UNREACHABLE, naming the address) although the open
 * timeout is far longer than this test waits. */
static void scenario_closed_port(void) {
    rtmfp_config *cfg = NULL;
    rtmfp_endpoint *ep = NULL;
    rtmfp_event *ev = NULL;
    char dead[64], uri[96];
    uint64_t session = 0;
    long long deadline;
    int failed = 0, probe;
    struct sockaddr_in sin;
    socklen_t len = sizeof sin;

    /* Bind a UDP port, note it, close it. */
    probe = socket(AF_INET, SOCK_DGRAM, 0);
    memset(&sin, 0, sizeof sin);
    sin.sin_family = AF_INET;
    sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    CHECK(bind(probe, (struct sockaddr *)&sin, sizeof sin) == 0);
    CHECK(getsockname(probe, (struct sockaddr *)&sin, &len) == 0);
    close(probe);
    snprintf(dead, sizeof dead, "127.0.0.1:%u", (unsigned)ntohs(sin.sin_port));
    snprintf(uri, sizeof uri, "rtmfp://%s/app", dead);

    CHECK_RC(rtmfp_config_new(&cfg), RTMFP_OK);
    CHECK_RC(rtmfp_config_set_bind_address(cfg, "127.0.0.1:0"), RTMFP_OK);
    CHECK_RC(rtmfp_config_set_open_timeout_ms(cfg, 600000), RTMFP_OK);
    CHECK_RC(rtmfp_endpoint_new(cfg, &ep), RTMFP_OK);
    CHECK_RC(rtmfp_config_free(cfg), RTMFP_OK);
    CHECK_RC(rtmfp_session_connect_uri(ep, uri, &session), RTMFP_OK);
    deadline = now_ms() + 20000;
    while (!failed && now_ms() < deadline) {
        if (rtmfp_next_event(ep, 100, &ev) != RTMFP_OK) {
            continue;
        }
        if (ev->type == RTMFP_EVENT_TYPE_SESSION_OPEN_FAILED && ev->session == session) {
            failed = 1;
            CHECK(ev->reason == RTMFP_OPEN_FAILURE_UNREACHABLE);
            CHECK(strcmp(ev->address, dead) == 0);
        }
        rtmfp_event_free(ev);
    }
    CHECK(failed);
    printf("closed port %s: %s\n", dead, failed ? "SESSION_OPEN_FAILED, unreachable" : "no failure");
    CHECK_RC(rtmfp_endpoint_free(ep), RTMFP_OK);
}

/*
 * The key log the endpoints wrote: one RTMFP_SESSION line per session
 * and end, 8 fields; each line's encrypt key is another line's decrypt
 * key (the far end of the same session), and the other way round.
 */
static void check_key_log(int min_sessions) {
    char lines[64][512];
    char enc[64][33], dec[64][33];
    int n = 0, i, j, mirrored = 0;
    FILE *f = fopen(key_log_path, "r");
    rtmfp_config *cfg = NULL;

    CHECK(f != NULL);
    if (f == NULL) {
        return;
    }
    while (n < 64 && fgets(lines[n], sizeof lines[n], f) != NULL) {
        char label[32], nonce[80], send_hmac[80], recv_hmac[80];
        int send_sseq = -1, recv_sseq = -1;
        int fields = sscanf(lines[n], "%31s %79s %32s %32s %79s %79s %d %d", label, nonce,
                            enc[n], dec[n], send_hmac, recv_hmac, &send_sseq, &recv_sseq);
        CHECK(fields == 8);
        CHECK(strcmp(label, "RTMFP_SESSION") == 0);
        CHECK(strlen(enc[n]) == 32 && strlen(dec[n]) == 32);
        n++;
    }
    fclose(f);
    CHECK(n >= 2 * min_sessions);
    for (i = 0; i < n; i++) {
        for (j = 0; j < n; j++) {
            if (i != j && strcmp(enc[i], dec[j]) == 0 && strcmp(dec[i], enc[j]) == 0) {
                mirrored++;
                break;
            }
        }
    }
    CHECK(mirrored == n);
    printf("key log: %d lines, each mirrored by the far end's\n", n);

    CHECK_RC(rtmfp_config_new(&cfg), RTMFP_OK);
    CHECK_ERR(rtmfp_config_set_key_log_file(cfg, "/nonexistent-dir/keys.log"), RTMFP_ERR_IO);
    CHECK_RC(rtmfp_config_set_key_log_file(cfg, NULL), RTMFP_OK);
    CHECK_RC(rtmfp_config_free(cfg), RTMFP_OK);
    CHECK_ERR(rtmfp_config_set_key_log_file(cfg, NULL), RTMFP_ERR_INVALID_HANDLE);
    remove(key_log_path);
}

int main(int argc, char **argv) {
    struct echo_server s;

    if (argc == 3 && strcmp(argv[1], "--uri") == 0) {
        scenario_polling(NULL, argv[2]);
        return check_summary();
    }
    if (argc != 1) {
        fprintf(stderr, "usage: %s [--uri rtmfp://host:port/app]\n", argv[0]);
        return 2;
    }

    snprintf(key_log_path, sizeof key_log_path, "/tmp/rtmfp-test-session-%ld.keys",
             (long)getpid());
    remove(key_log_path);
    memset(&s, 0, sizeof s);
    pthread_mutex_init(&s.lock, NULL);
    s.ep = new_endpoint(RTMFP_ROLE_SERVER, 0);
    scenario_polling(&s, NULL);
    scenario_callbacks(&s);
    scenario_closed_port();
    CHECK_RC(rtmfp_endpoint_close(s.ep, 1000), RTMFP_OK);
    CHECK_RC(rtmfp_endpoint_free(s.ep), RTMFP_OK);
    pthread_mutex_destroy(&s.lock);
    check_key_log(2);
    return check_summary();
}
