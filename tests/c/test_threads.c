/*
 * The C ABI from many threads at once, for ThreadSanitizer (and
 * AddressSanitizer): scripts/sanitize.sh builds it with -fsanitize=thread
 * against a TSan librtmfp.so, and with -fsanitize=address against an ASan
 * one.
 *
 *   cc -std=c99 -Wall -Wextra -pedantic -Werror -pthread -I include \
 *      tests/c/test_threads.c -L target/debug -lrtmfp -o test_threads
 *
 * 1. Close while sending: four threads send on one flow (and one more
 *    reads stats, polls writability and swaps the event callback) while
 *    the main thread closes, then frees, the endpoint; callbacks run on
 *    both endpoints' dispatcher threads and call back into the API
 *    (accepting flows, stats). Then the same with a free and no close.
 * 2. Callback churn: four threads register and remove the event callback
 *    over and over while messages arrive; every message is delivered
 *    exactly once, in order.
 * 3. The Flash layer: three threads send audio, video and data on a
 *    publishing NetStream while the main thread closes, then frees, its
 *    NetConnection; the player, the publisher and the rendezvous server
 *    take their events by callback.
 *
 * A call that races with a close or free must fail cleanly
 * (RTMFP_ERR_CLOSED, RTMFP_ERR_INVALID_HANDLE, RTMFP_ERR_WRONG_STATE);
 * anything else fails the test. Every wait is bounded.
 *
 * Prints "N passed, M failed"; exits non-zero on failure.
 */
#define _POSIX_C_SOURCE 200809L

#include "check.h"

#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <time.h>

#define WAIT_MS 30000
#define SENDERS 4

static void sleep_ms(long ms) {
    struct timespec ts;
    ts.tv_sec = ms / 1000;
    ts.tv_nsec = (ms % 1000) * 1000000L;
    nanosleep(&ts, NULL);
}

/* An error a call may get when it races with a close or a free. */
static int race_ok(int rc) {
    return rc == RTMFP_ERR_CLOSED || rc == RTMFP_ERR_INVALID_HANDLE || rc == RTMFP_ERR_WRONG_STATE;
}

/* Counters shared by the callbacks and the main thread. */
struct counts {
    pthread_mutex_t lock;
    pthread_cond_t cond;
    uint64_t session;
    int opened, closed, messages, out_of_order, writable, delivered, abandoned;
    int media, statuses, published, playing, connected, server_events;
    int api_errors; /* an API call made from a callback failed unexpectedly */
    uint32_t next_seq;
};

static void counts_init(struct counts *c) {
    memset(c, 0, sizeof *c);
    pthread_mutex_init(&c->lock, NULL);
    pthread_cond_init(&c->cond, NULL);
}

static void counts_destroy(struct counts *c) {
    pthread_mutex_destroy(&c->lock);
    pthread_cond_destroy(&c->cond);
}

/* Waits until *field >= want (bounded); returns whether it came. */
static int wait_for(struct counts *c, const int *field, int want, const char *what) {
    long long deadline = now_ms() + WAIT_MS;
    int ok;
    pthread_mutex_lock(&c->lock);
    while (*field < want && now_ms() < deadline) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        ts.tv_nsec += 50 * 1000000L;
        if (ts.tv_nsec >= 1000000000L) {
            ts.tv_sec++;
            ts.tv_nsec -= 1000000000L;
        }
        pthread_cond_timedwait(&c->cond, &c->lock, &ts);
    }
    ok = *field >= want;
    if (!ok) {
        fprintf(stderr, "no %s within %d ms (%d of %d)\n", what, WAIT_MS, *field, want);
    }
    pthread_mutex_unlock(&c->lock);
    return ok;
}

static rtmfp_endpoint *new_endpoint(int role) {
    rtmfp_config *cfg = NULL;
    rtmfp_endpoint *ep = NULL;
    CHECK_RC(rtmfp_config_new(&cfg), RTMFP_OK);
    CHECK_RC(rtmfp_config_set_bind_address(cfg, "127.0.0.1:0"), RTMFP_OK);
    CHECK_RC(rtmfp_config_set_role(cfg, role), RTMFP_OK);
    /* A small send buffer: the senders meet RTMFP_ERR_AGAIN and
     * FLOW_WRITABLE. */
    CHECK_RC(rtmfp_config_set_flow_buffers(cfg, 16384, 1 << 20), RTMFP_OK);
    CHECK_RC(rtmfp_endpoint_new(cfg, &ep), RTMFP_OK);
    CHECK_RC(rtmfp_config_free(cfg), RTMFP_OK);
    return ep;
}

/* ------------------------------------------------- endpoints: callbacks -- */

struct server_side {
    rtmfp_endpoint *ep;
    struct counts c;
};

/* The receiving endpoint's callback: accepts flows and reads stats from
 * the dispatcher thread; counts messages (sequence numbers in order). */
static void server_callback(const rtmfp_event *ev, void *user) {
    struct server_side *s = (struct server_side *)user;
    rtmfp_session_info info;
    int rc = RTMFP_OK;
    if (ev->type == RTMFP_EVENT_TYPE_FLOW_OPENED) {
        rc = rtmfp_flow_accept(s->ep, ev->session, ev->flow, RTMFP_ORDER_SEQUENCE);
    }
    pthread_mutex_lock(&s->c.lock);
    switch (ev->type) {
    case RTMFP_EVENT_TYPE_SESSION_OPENED:
        s->c.opened++;
        break;
    case RTMFP_EVENT_TYPE_SESSION_CLOSED:
        s->c.closed++;
        break;
    case RTMFP_EVENT_TYPE_MESSAGE:
        s->c.messages++;
        break;
    default:
        break;
    }
    if (rc != RTMFP_OK && !race_ok(rc)) {
        s->c.api_errors++;
    }
    pthread_cond_broadcast(&s->c.cond);
    pthread_mutex_unlock(&s->c.lock);
    if (ev->type == RTMFP_EVENT_TYPE_MESSAGE && ev->data_len > 0 && ev->data[0] == 0) {
        /* Now and then, stats of the session from the callback. */
        rc = rtmfp_session_stats(s->ep, ev->session, &info);
        if (rc != RTMFP_OK && !race_ok(rc)) {
            pthread_mutex_lock(&s->c.lock);
            s->c.api_errors++;
            pthread_mutex_unlock(&s->c.lock);
        }
    }
}

/* The sending endpoint's callback. */
static void client_callback(const rtmfp_event *ev, void *user) {
    struct counts *c = (struct counts *)user;
    pthread_mutex_lock(&c->lock);
    switch (ev->type) {
    case RTMFP_EVENT_TYPE_SESSION_OPENED:
        c->session = ev->session;
        c->opened++;
        break;
    case RTMFP_EVENT_TYPE_SESSION_CLOSED:
        c->closed++;
        break;
    case RTMFP_EVENT_TYPE_FLOW_WRITABLE:
        c->writable++;
        break;
    case RTMFP_EVENT_TYPE_MESSAGE_DELIVERED:
        c->delivered++;
        break;
    case RTMFP_EVENT_TYPE_MESSAGE_ABANDONED:
        c->abandoned++;
        break;
    default:
        break;
    }
    pthread_cond_broadcast(&c->cond);
    pthread_mutex_unlock(&c->lock);
}

/* Opens a session from `client` to `server` (callbacks set); returns it. */
static uint64_t open_session(rtmfp_endpoint *client, struct counts *cc, rtmfp_endpoint *server) {
    char addr[RTMFP_ADDR_STRLEN];
    const char *addrs[1];
    uint8_t id[RTMFP_PEER_ID_LEN];
    uint64_t session = 0;
    CHECK(rtmfp_endpoint_local_addr(server, 0, addr, sizeof addr) > 0);
    CHECK_RC(rtmfp_endpoint_peer_id(server, id), RTMFP_OK);
    addrs[0] = addr;
    CHECK_RC(rtmfp_session_connect_peer(client, id, addrs, 1, &session), RTMFP_OK);
    CHECK(wait_for(cc, &cc->opened, 1, "SESSION_OPENED"));
    return session;
}

struct sender {
    pthread_t thread;
    rtmfp_endpoint *ep;
    uint64_t session, flow;
    int sent;
    int last_rc;    /* the call that ended the loop */
    int unexpected; /* a return code that no race explains */
};

/* Sends until the endpoint is closed or freed under it. */
static void *send_loop(void *arg) {
    struct sender *s = (struct sender *)arg;
    uint8_t buf[300];
    long long deadline = now_ms() + WAIT_MS;
    memset(buf, 0xA5, sizeof buf);
    while (now_ms() < deadline) {
        int rc;
        buf[0] = (uint8_t)(s->sent % 50); /* 0: the server reads stats */
        rc = rtmfp_flow_send(s->ep, s->session, s->flow, buf, sizeof buf, NULL, NULL);
        if (rc == RTMFP_OK) {
            s->sent++;
        } else if (rc == RTMFP_ERR_AGAIN) {
            sleep_ms(1);
        } else {
            s->last_rc = rc;
            s->unexpected = !race_ok(rc);
            return NULL;
        }
    }
    s->last_rc = RTMFP_ERR_TIMEOUT;
    s->unexpected = 1;
    return NULL;
}

struct poker {
    pthread_t thread;
    rtmfp_endpoint *ep;
    struct counts *c;
    uint64_t session, flow;
    int calls, unexpected, stop;
    pthread_mutex_t lock;
};

/* Reads stats, polls writability, swaps the callback: until told to stop
 * or the endpoint is gone. */
static void *poke_loop(void *arg) {
    struct poker *p = (struct poker *)arg;
    long long deadline = now_ms() + WAIT_MS;
    while (now_ms() < deadline) {
        rtmfp_session_info info;
        char addr[RTMFP_ADDR_STRLEN];
        int rc, stop;
        pthread_mutex_lock(&p->lock);
        stop = p->stop;
        pthread_mutex_unlock(&p->lock);
        if (stop) {
            return NULL;
        }
        rc = rtmfp_session_stats(p->ep, p->session, &info);
        if (rc == RTMFP_ERR_INVALID_HANDLE) {
            return NULL; /* freed (or the session is gone) */
        }
        p->unexpected += rc != RTMFP_OK && !race_ok(rc);
        rc = rtmfp_flow_writable(p->ep, p->session, p->flow);
        p->unexpected += rc != 0 && rc != 1 && !race_ok(rc);
        rc = rtmfp_endpoint_local_addr(p->ep, 0, addr, sizeof addr);
        p->unexpected += rc <= 0 && !race_ok(rc);
        /* The same callback again: a new dispatcher takes over. */
        rc = rtmfp_set_event_callback(p->ep, client_callback, p->c);
        p->unexpected += rc != RTMFP_OK && !race_ok(rc);
        p->calls++;
        sleep_ms(2);
    }
    return NULL;
}

/* 1. Senders, a poker, then close (if `graceful`) and free under them. */
static void scenario_close_while_sending(int graceful) {
    struct server_side srv;
    struct counts cc;
    struct sender senders[SENDERS];
    struct poker poker;
    rtmfp_endpoint *client;
    uint64_t session, flow = 0;
    int i, sent = 0, rc;

    counts_init(&srv.c);
    counts_init(&cc);
    srv.ep = new_endpoint(RTMFP_ROLE_SERVER);
    client = new_endpoint(RTMFP_ROLE_CLIENT);
    CHECK_RC(rtmfp_set_event_callback(srv.ep, server_callback, &srv), RTMFP_OK);
    CHECK_RC(rtmfp_set_event_callback(client, client_callback, &cc), RTMFP_OK);
    session = open_session(client, &cc, srv.ep);
    CHECK_RC(rtmfp_flow_open(client, session, (const uint8_t *)"threads", 7, RTMFP_PRIORITY_ROUTINE,
                             NULL, &flow),
             RTMFP_OK);

    for (i = 0; i < SENDERS; i++) {
        memset(&senders[i], 0, sizeof senders[i]);
        senders[i].ep = client;
        senders[i].session = session;
        senders[i].flow = flow;
        CHECK(pthread_create(&senders[i].thread, NULL, send_loop, &senders[i]) == 0);
    }
    memset(&poker, 0, sizeof poker);
    pthread_mutex_init(&poker.lock, NULL);
    poker.ep = client;
    poker.c = &cc;
    poker.session = session;
    poker.flow = flow;
    CHECK(pthread_create(&poker.thread, NULL, poke_loop, &poker) == 0);

    /* Let them run until the far end has taken a good number. */
    CHECK(wait_for(&srv.c, &srv.c.messages, 300, "300 messages at the far end"));
    if (graceful) {
        rc = rtmfp_endpoint_close(client, 2000);
        CHECK(rc == RTMFP_OK || rc == RTMFP_ERR_TIMEOUT);
    }
    CHECK_RC(rtmfp_endpoint_free(client), RTMFP_OK);
    for (i = 0; i < SENDERS; i++) {
        CHECK(pthread_join(senders[i].thread, NULL) == 0);
        CHECK(senders[i].unexpected == 0);
        if (senders[i].unexpected) {
            fprintf(stderr, "sender %d ended with %d (%s)\n", i, senders[i].last_rc,
                    rtmfp_strerror(senders[i].last_rc));
        }
        sent += senders[i].sent;
    }
    pthread_mutex_lock(&poker.lock);
    poker.stop = 1;
    pthread_mutex_unlock(&poker.lock);
    CHECK(pthread_join(poker.thread, NULL) == 0);
    CHECK(poker.unexpected == 0);
    pthread_mutex_destroy(&poker.lock);

    if (graceful) {
        /* The close was in order: the far end saw it. */
        CHECK(wait_for(&srv.c, &srv.c.closed, 1, "SESSION_CLOSED at the far end"));
    }
    pthread_mutex_lock(&srv.c.lock);
    CHECK(srv.c.messages > 0 && srv.c.messages <= sent);
    CHECK(srv.c.api_errors == 0);
    printf("%s: %d sent by %d threads, %d received, %d FLOW_WRITABLE, %d pokes\n",
           graceful ? "close, then free, while sending" : "free while sending", sent, SENDERS,
           srv.c.messages, cc.writable, poker.calls);
    pthread_mutex_unlock(&srv.c.lock);
    /* Free the receiver while its callback may still run. */
    CHECK_RC(rtmfp_endpoint_free(srv.ep), RTMFP_OK);
    counts_destroy(&srv.c);
    counts_destroy(&cc);
}

/* ----------------------------------------------- endpoints: churn -- */

#define CHURN_MESSAGES 400
#define CHURNERS 4

struct churn {
    struct counts c;
    rtmfp_endpoint *ep;
    int unexpected;
};

/* Counts messages, checking that they come in order, once each. */
static void churn_callback(const rtmfp_event *ev, void *user) {
    struct churn *ch = (struct churn *)user;
    int rc = RTMFP_OK;
    if (ev->type == RTMFP_EVENT_TYPE_FLOW_OPENED) {
        rc = rtmfp_flow_accept(ch->ep, ev->session, ev->flow, RTMFP_ORDER_SEQUENCE);
    }
    pthread_mutex_lock(&ch->c.lock);
    if (ev->type == RTMFP_EVENT_TYPE_MESSAGE) {
        uint32_t seq = 0;
        if (ev->data_len == 4) {
            seq = (uint32_t)ev->data[0] << 24 | (uint32_t)ev->data[1] << 16 |
                  (uint32_t)ev->data[2] << 8 | ev->data[3];
        }
        ch->c.out_of_order += seq != ch->c.next_seq;
        ch->c.next_seq = seq + 1;
        ch->c.messages++;
    }
    if (rc != RTMFP_OK) {
        ch->c.api_errors++;
    }
    pthread_cond_broadcast(&ch->c.cond);
    pthread_mutex_unlock(&ch->c.lock);
}

static void *churn_loop(void *arg) {
    struct churn *ch = (struct churn *)arg;
    int i;
    for (i = 0; i < 100; i++) {
        int rc = rtmfp_set_event_callback(ch->ep, i % 2 ? NULL : churn_callback, ch);
        if (rc != RTMFP_OK) {
            fprintf(stderr, "rtmfp_set_event_callback: %d (%s: %s)\n", rc, rtmfp_strerror(rc),
                    rtmfp_last_error_message());
            pthread_mutex_lock(&ch->c.lock);
            ch->unexpected++;
            pthread_mutex_unlock(&ch->c.lock);
        }
        if (i % 10 == 0) {
            sleep_ms(1);
        }
    }
    return NULL;
}

/* 2. The callback registered and removed by many threads while messages
 * arrive: none is lost or delivered twice. */
static void scenario_callback_churn(void) {
    struct churn ch;
    struct counts cc;
    rtmfp_endpoint *client;
    pthread_t churners[CHURNERS];
    uint64_t session, flow = 0;
    uint32_t i;
    int t;

    counts_init(&ch.c);
    counts_init(&cc);
    ch.unexpected = 0;
    ch.ep = new_endpoint(RTMFP_ROLE_SERVER);
    client = new_endpoint(RTMFP_ROLE_CLIENT);
    CHECK_RC(rtmfp_set_event_callback(ch.ep, churn_callback, &ch), RTMFP_OK);
    CHECK_RC(rtmfp_set_event_callback(client, client_callback, &cc), RTMFP_OK);
    session = open_session(client, &cc, ch.ep);
    CHECK_RC(rtmfp_flow_open(client, session, NULL, 0, RTMFP_PRIORITY_ROUTINE, NULL, &flow),
             RTMFP_OK);
    for (t = 0; t < CHURNERS; t++) {
        CHECK(pthread_create(&churners[t], NULL, churn_loop, &ch) == 0);
    }
    for (i = 0; i < CHURN_MESSAGES; i++) {
        uint8_t b[4];
        int rc;
        long long deadline = now_ms() + WAIT_MS;
        b[0] = (uint8_t)(i >> 24);
        b[1] = (uint8_t)(i >> 16);
        b[2] = (uint8_t)(i >> 8);
        b[3] = (uint8_t)i;
        while ((rc = rtmfp_flow_send(client, session, flow, b, sizeof b, NULL, NULL)) ==
                   RTMFP_ERR_AGAIN &&
               now_ms() < deadline) {
            sleep_ms(1);
        }
        CHECK_RC(rc, RTMFP_OK);
    }
    for (t = 0; t < CHURNERS; t++) {
        CHECK(pthread_join(churners[t], NULL) == 0);
    }
    /* Whatever the churn left, with the callback set every message comes. */
    CHECK_RC(rtmfp_set_event_callback(ch.ep, churn_callback, &ch), RTMFP_OK);
    CHECK(wait_for(&ch.c, &ch.c.messages, CHURN_MESSAGES, "every message by callback"));
    sleep_ms(100);
    pthread_mutex_lock(&ch.c.lock);
    CHECK(ch.c.messages == CHURN_MESSAGES);
    CHECK(ch.c.out_of_order == 0);
    CHECK(ch.c.api_errors == 0);
    CHECK(ch.unexpected == 0);
    printf("callback churn: %d messages through %d threads x 100 callback changes\n",
           ch.c.messages, CHURNERS);
    pthread_mutex_unlock(&ch.c.lock);
    CHECK_RC(rtmfp_endpoint_free(client), RTMFP_OK);
    CHECK_RC(rtmfp_endpoint_free(ch.ep), RTMFP_OK);
    counts_destroy(&ch.c);
    counts_destroy(&cc);
}

/* ------------------------------------------------------ Flash layer -- */

static int code_is(const rtmfp_event *ev, const char *code) {
    return ev->status_code != NULL && strcmp(ev->status_code, code) == 0;
}

static void nc_callback(const rtmfp_event *ev, void *user) {
    struct counts *c = (struct counts *)user;
    pthread_mutex_lock(&c->lock);
    if (ev->type == RTMFP_EVENT_TYPE_NETSTATUS) {
        c->statuses++;
        c->connected += code_is(ev, "NetConnection.Connect.Success");
        c->published += code_is(ev, "NetStream.Publish.Start");
        c->playing += code_is(ev, "NetStream.Play.Start");
        c->closed += code_is(ev, "NetConnection.Connect.Closed");
    } else if (ev->type == RTMFP_EVENT_TYPE_MEDIA) {
        c->media++;
    }
    pthread_cond_broadcast(&c->cond);
    pthread_mutex_unlock(&c->lock);
}

static void server_events_callback(const rtmfp_event *ev, void *user) {
    struct counts *c = (struct counts *)user;
    (void)ev;
    pthread_mutex_lock(&c->lock);
    c->server_events++;
    pthread_mutex_unlock(&c->lock);
}

struct media_sender {
    pthread_t thread;
    rtmfp_netstream *ns;
    int kind; /* 0 audio, 1 video, 2 data */
    int sent, last_rc, unexpected;
};

static void *media_loop(void *arg) {
    struct media_sender *m = (struct media_sender *)arg;
    uint8_t buf[700];
    uint32_t ts = 0;
    long long deadline = now_ms() + WAIT_MS;
    memset(buf, 0x5A, sizeof buf);
    buf[0] = m->kind == 0 ? 0xAF : 0x27;
    /* An AMF0 string "onTick" for data messages. */
    if (m->kind == 2) {
        buf[0] = 2;
        buf[1] = 0;
        buf[2] = 6;
        memcpy(buf + 3, "onTick", 6);
    }
    while (now_ms() < deadline) {
        int rc;
        if (m->kind == 0) {
            rc = rtmfp_netstream_send_audio(m->ns, ts, buf, 200);
        } else if (m->kind == 1) {
            rc = rtmfp_netstream_send_video(m->ns, ts, buf, sizeof buf);
        } else {
            rc = rtmfp_netstream_send_data(m->ns, ts, buf, 9);
        }
        if (rc >= 0) {
            m->sent++;
            ts += 20;
            sleep_ms(1);
        } else if (rc == RTMFP_ERR_AGAIN) {
            sleep_ms(2);
        } else {
            m->last_rc = rc;
            m->unexpected = !race_ok(rc);
            return NULL;
        }
    }
    m->last_rc = RTMFP_ERR_TIMEOUT;
    m->unexpected = 1;
    return NULL;
}

static rtmfp_netconnection *nc_connect(const char *uri, struct counts *c) {
    rtmfp_config *cfg = NULL;
    rtmfp_netconnection *nc = NULL;
    CHECK_RC(rtmfp_config_new(&cfg), RTMFP_OK);
    CHECK_RC(rtmfp_config_set_bind_address(cfg, "127.0.0.1:0"), RTMFP_OK);
    CHECK_RC(rtmfp_netconnection_connect(cfg, uri, &nc), RTMFP_OK);
    CHECK_RC(rtmfp_config_free(cfg), RTMFP_OK);
    /* Set at once: the connect status comes by callback. */
    CHECK_RC(rtmfp_netconnection_set_event_callback(nc, nc_callback, c), RTMFP_OK);
    return nc;
}

/* 3. Media from three threads while the publisher's NetConnection closes
 * and is freed. */
static void scenario_netconnection(void) {
    rtmfp_config *cfg = NULL;
    rtmfp_server *srv = NULL;
    rtmfp_netconnection *pub, *play;
    rtmfp_netstream *cam = NULL, *watch = NULL;
    struct counts pc, lc, sc;
    struct media_sender senders[3];
    char addr[RTMFP_ADDR_STRLEN], uri[128];
    int i, sent = 0, rc;

    counts_init(&pc);
    counts_init(&lc);
    counts_init(&sc);
    CHECK_RC(rtmfp_config_new(&cfg), RTMFP_OK);
    CHECK_RC(rtmfp_config_set_bind_address(cfg, "127.0.0.1:0"), RTMFP_OK);
    CHECK_RC(rtmfp_server_start(cfg, NULL, 0, &srv), RTMFP_OK);
    CHECK_RC(rtmfp_config_free(cfg), RTMFP_OK);
    if (srv == NULL) {
        return;
    }
    CHECK_RC(rtmfp_server_set_event_callback(srv, server_events_callback, &sc), RTMFP_OK);
    CHECK(rtmfp_server_local_addr(srv, 0, addr, sizeof addr) > 0);
    snprintf(uri, sizeof uri, "rtmfp://%s/live", addr);

    pub = nc_connect(uri, &pc);
    play = nc_connect(uri, &lc);
    CHECK(wait_for(&pc, &pc.connected, 1, "publisher Connect.Success"));
    CHECK(wait_for(&lc, &lc.connected, 1, "player Connect.Success"));
    CHECK_RC(rtmfp_netstream_create(pub, RTMFP_NETSTREAM_KIND_SERVER, NULL, &cam), RTMFP_OK);
    CHECK_RC(rtmfp_netstream_publish(cam, "threads"), RTMFP_OK);
    CHECK(wait_for(&pc, &pc.published, 1, "NetStream.Publish.Start"));
    CHECK_RC(rtmfp_netstream_create(play, RTMFP_NETSTREAM_KIND_SERVER, NULL, &watch), RTMFP_OK);
    CHECK_RC(rtmfp_netstream_play(watch, "threads"), RTMFP_OK);
    CHECK(wait_for(&lc, &lc.playing, 1, "NetStream.Play.Start"));

    for (i = 0; i < 3; i++) {
        memset(&senders[i], 0, sizeof senders[i]);
        senders[i].ns = cam;
        senders[i].kind = i;
        CHECK(pthread_create(&senders[i].thread, NULL, media_loop, &senders[i]) == 0);
    }
    CHECK(wait_for(&lc, &lc.media, 100, "100 media messages at the player"));
    rc = rtmfp_netconnection_close(pub, 2000);
    CHECK(rc == RTMFP_OK || rc == RTMFP_ERR_TIMEOUT);
    CHECK(wait_for(&pc, &pc.closed, 1, "NetConnection.Connect.Closed"));
    CHECK_RC(rtmfp_netconnection_free(pub), RTMFP_OK);
    for (i = 0; i < 3; i++) {
        CHECK(pthread_join(senders[i].thread, NULL) == 0);
        CHECK(senders[i].unexpected == 0);
        if (senders[i].unexpected) {
            fprintf(stderr, "media sender %d ended with %d (%s)\n", i, senders[i].last_rc,
                    rtmfp_strerror(senders[i].last_rc));
        }
        sent += senders[i].sent;
    }
    /* The NetStream went with its NetConnection. */
    CHECK_ERR(rtmfp_netstream_free(cam), RTMFP_ERR_INVALID_HANDLE);
    pthread_mutex_lock(&lc.lock);
    CHECK(lc.media > 0);
    printf("NetConnection closed and freed while 3 threads sent: %d sent, %d received\n", sent,
           lc.media);
    pthread_mutex_unlock(&lc.lock);
    CHECK_RC(rtmfp_netstream_free(watch), RTMFP_OK);
    CHECK_RC(rtmfp_netconnection_free(play), RTMFP_OK);
    CHECK_RC(rtmfp_server_free(srv), RTMFP_OK);
    pthread_mutex_lock(&sc.lock);
    CHECK(sc.server_events > 0);
    pthread_mutex_unlock(&sc.lock);
    counts_destroy(&pc);
    counts_destroy(&lc);
    counts_destroy(&sc);
}

int main(void) {
    scenario_close_while_sending(1);
    scenario_close_while_sending(0);
    scenario_callback_churn();
    scenario_netconnection();
    return check_summary();
}
