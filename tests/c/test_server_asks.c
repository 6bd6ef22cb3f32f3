/*
 * The rendezvous server's ask mode through the C API only
 * (rtmfp_server_set_asks(), RTMFP_EVENT_TYPE_SERVER_ASK,
 * rtmfp_server_accept() / rtmfp_server_reject()), all in one process over
 * 127.0.0.1:
 *
 *   - a connect waits, unanswered, until the verdict; rejected, the client
 *     sees NetConnection.Connect.Rejected with the reason as description;
 *     a second verdict is RTMFP_ERR_WRONG_STATE, an unknown id
 *     RTMFP_ERR_INVALID_ARGUMENT;
 *   - a connect accepted from another thread succeeds;
 *   - a publish refused by the application: NetStream.Publish.BadName
 *     with the reason; an accepted one: NetStream.Publish.Start;
 *   - an unanswered connect gets the default at the deadline
 *     (RTMFP_ASK_END_EXPIRED, "no answer from the server application");
 *   - a client that leaves while parked ends its ask (RTMFP_ASK_END_GONE);
 *     the late verdict is RTMFP_ERR_WRONG_STATE;
 *   - asks answered from the server's event callback;
 *   - bad arguments.
 *
 * Prints "N passed, M failed"; exits non-zero on failure. Every wait is
 * bounded.
 */
#define _POSIX_C_SOURCE 200809L

#include "check.h"

#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <time.h>

#define WAIT_MS 20000
#define DEADLINE_MS 1500

static rtmfp_netconnection *connect_to(const char *addr, const char *app) {
    rtmfp_config *cfg = NULL;
    rtmfp_netconnection *nc = NULL;
    char uri[256];
    CHECK_RC(rtmfp_config_new(&cfg), RTMFP_OK);
    CHECK_RC(rtmfp_config_set_bind_address(cfg, "127.0.0.1:0"), RTMFP_OK);
    snprintf(uri, sizeof uri, "rtmfp://%s/%s", addr, app);
    CHECK_RC(rtmfp_netconnection_connect(cfg, uri, &nc), RTMFP_OK);
    CHECK_RC(rtmfp_config_free(cfg), RTMFP_OK);
    return nc;
}

/* The next NETSTATUS of `nc` on `stream`, or NULL after `ms`. */
static rtmfp_event *next_status(rtmfp_netconnection *nc, uint32_t stream, long ms) {
    long long deadline = now_ms() + ms;
    rtmfp_event *ev = NULL;
    while (now_ms() < deadline) {
        int rc = rtmfp_netconnection_next_event(nc, 50, &ev);
        if (rc == RTMFP_ERR_AGAIN) {
            continue;
        }
        if (rc != RTMFP_OK) {
            return NULL;
        }
        if (ev->type == RTMFP_EVENT_TYPE_NETSTATUS && ev->stream == stream) {
            return ev;
        }
        rtmfp_event_free(ev);
    }
    return NULL;
}

/* Waits for a status with `code` (and `description` if not NULL). */
static void expect_status(rtmfp_netconnection *nc, uint32_t stream, const char *code,
                          const char *description) {
    rtmfp_event *ev = next_status(nc, stream, WAIT_MS);
    CHECK(ev != NULL);
    if (ev == NULL) {
        fprintf(stderr, "no status %s\n", code);
        return;
    }
    CHECK(strcmp(ev->status_code, code) == 0);
    if (description != NULL) {
        CHECK(strcmp(ev->status_description, description) == 0);
    }
    if (strcmp(ev->status_code, code) != 0) {
        fprintf(stderr, "got %s (%s), want %s\n", ev->status_code, ev->status_description, code);
    }
    rtmfp_event_free(ev);
}

/* The next server event of `type` (others are freed), or NULL. */
static rtmfp_event *server_wait(rtmfp_server *srv, rtmfp_event_type type, long ms) {
    long long deadline = now_ms() + ms;
    rtmfp_event *ev = NULL;
    while (now_ms() < deadline) {
        int rc = rtmfp_server_next_event(srv, 50, &ev);
        if (rc == RTMFP_ERR_AGAIN) {
            continue;
        }
        if (rc != RTMFP_OK) {
            return NULL;
        }
        if (ev->type == type) {
            return ev;
        }
        rtmfp_event_free(ev);
    }
    fprintf(stderr, "server: no %s within %ld ms\n", rtmfp_event_type_name(type), ms);
    return NULL;
}

/* The id of the next ask, checking its kind; 0 if none came. */
static uint64_t next_ask(rtmfp_server *srv, rtmfp_ask_kind kind, const char *name) {
    uint64_t id = 0;
    rtmfp_event *ev = server_wait(srv, RTMFP_EVENT_TYPE_SERVER_ASK, WAIT_MS);
    CHECK(ev != NULL);
    if (ev == NULL) {
        return 0;
    }
    id = ev->ask_id;
    CHECK(id != 0);
    CHECK(ev->ask_kind == kind);
    CHECK(ev->has_peer_id);
    CHECK(strncmp(ev->address, "127.0.0.1:", 10) == 0);
    CHECK(ev->app != NULL && strncmp(ev->app, "app", 3) == 0);
    if (kind == RTMFP_ASK_KIND_CONNECT) {
        CHECK(ev->text != NULL && strcmp(ev->text, "KEY") == 0); /* the developer key */
    } else {
        CHECK(ev->name != NULL && strcmp(ev->name, name) == 0);
        CHECK(ev->rtmp_stream_id >= 1);
    }
    rtmfp_event_free(ev);
    return id;
}

struct verdict {
    rtmfp_server *srv;
    uint64_t id;
    int rc;
};

/* An event callback that answers asks: the usual way for C. */
struct answering {
    rtmfp_server *srv;
    pthread_mutex_t lock;
    int asked;
    int rc;
};

static void answer_in_callback(const rtmfp_event *ev, void *user) {
    struct answering *a = (struct answering *)user;
    if (ev->type != RTMFP_EVENT_TYPE_SERVER_ASK) {
        return;
    }
    pthread_mutex_lock(&a->lock);
    a->asked++;
    a->rc = rtmfp_server_accept(a->srv, ev->ask_id);
    pthread_mutex_unlock(&a->lock);
}

static void *accept_later(void *arg) {
    struct verdict *v = (struct verdict *)arg;
    v->rc = rtmfp_server_accept(v->srv, v->id);
    return NULL;
}

int main(void) {
    rtmfp_config *cfg = NULL;
    rtmfp_server *srv = NULL;
    rtmfp_netconnection *nc = NULL, *ok = NULL, *slow = NULL, *gone = NULL;
    rtmfp_netstream *secret = NULL, *live = NULL;
    char addr[RTMFP_ADDR_STRLEN];
    uint64_t id;
    rtmfp_event *ev;
    pthread_t thread;
    struct verdict v;
    long long start;

    CHECK_RC(rtmfp_config_new(&cfg), RTMFP_OK);
    CHECK_RC(rtmfp_config_set_bind_address(cfg, "127.0.0.1:0"), RTMFP_OK);
    CHECK_RC(rtmfp_server_start(cfg, NULL, 0, &srv), RTMFP_OK);
    CHECK_RC(rtmfp_config_free(cfg), RTMFP_OK);
    if (srv == NULL) {
        return check_summary();
    }
    CHECK(rtmfp_server_local_addr(srv, 0, addr, sizeof addr) > 0);

    /* Bad arguments. */
    CHECK_ERR(rtmfp_server_set_asks(NULL, RTMFP_ASK_KIND_CONNECT, 1000, false, NULL),
              RTMFP_ERR_NULL_POINTER);
    CHECK_ERR(rtmfp_server_set_asks(srv, 8, 1000, false, NULL), RTMFP_ERR_INVALID_ARGUMENT);
    CHECK_ERR(rtmfp_server_set_asks(srv, RTMFP_ASK_KIND_CONNECT, 0, false, NULL),
              RTMFP_ERR_INVALID_ARGUMENT);
    CHECK_ERR(rtmfp_server_accept(NULL, 1), RTMFP_ERR_NULL_POINTER);
    CHECK_ERR(rtmfp_server_reject(NULL, 1, NULL), RTMFP_ERR_NULL_POINTER);
    CHECK_RC(rtmfp_server_set_asks(srv, RTMFP_ASK_KIND_CONNECT | RTMFP_ASK_KIND_PUBLISH,
                                   DEADLINE_MS, false, NULL),
             RTMFP_OK);

    /* A connect waits for the verdict; rejected, the reason reaches it. */
    nc = connect_to(addr, "app/KEY");
    id = next_ask(srv, RTMFP_ASK_KIND_CONNECT, NULL);
    ev = next_status(nc, 0, 300);
    CHECK(ev == NULL); /* not answered yet */
    if (ev != NULL) {
        rtmfp_event_free(ev);
    }
    CHECK_RC(rtmfp_server_reject(srv, id, "closed for maintenance"), RTMFP_OK);
    expect_status(nc, 0, "NetConnection.Connect.Rejected", "closed for maintenance");
    ev = server_wait(srv, RTMFP_EVENT_TYPE_SERVER_CONNECT_REJECTED, WAIT_MS);
    CHECK(ev != NULL && strcmp(ev->text, "closed for maintenance") == 0);
    rtmfp_event_free(ev);
    CHECK_ERR(rtmfp_server_accept(srv, id), RTMFP_ERR_WRONG_STATE);
    CHECK(strstr(rtmfp_last_error_message(), "answered already") != NULL);
    CHECK_ERR(rtmfp_server_reject(srv, 99999, NULL), RTMFP_ERR_INVALID_ARGUMENT);

    /* Accepted from another thread. */
    ok = connect_to(addr, "app/KEY");
    v.srv = srv;
    v.id = next_ask(srv, RTMFP_ASK_KIND_CONNECT, NULL);
    v.rc = -100;
    CHECK(pthread_create(&thread, NULL, accept_later, &v) == 0);
    pthread_join(thread, NULL);
    CHECK_RC(v.rc, RTMFP_OK);
    expect_status(ok, 0, "NetConnection.Connect.Success", NULL);
    CHECK_RC(rtmfp_server_session_count(srv), 1);

    /* A publish refused by the application, then one accepted. */
    CHECK_RC(rtmfp_netstream_create(ok, RTMFP_NETSTREAM_KIND_SERVER, NULL, &secret), RTMFP_OK);
    CHECK_RC(rtmfp_netstream_publish(secret, "secret"), RTMFP_OK);
    id = next_ask(srv, RTMFP_ASK_KIND_PUBLISH, "secret");
    CHECK_RC(rtmfp_server_reject(srv, id, "no such channel"), RTMFP_OK);
    expect_status(ok, (uint32_t)rtmfp_netstream_id(secret), "NetStream.Publish.BadName",
                  "no such channel");
    CHECK_RC(rtmfp_netstream_create(ok, RTMFP_NETSTREAM_KIND_SERVER, NULL, &live), RTMFP_OK);
    CHECK_RC(rtmfp_netstream_publish(live, "live"), RTMFP_OK);
    id = next_ask(srv, RTMFP_ASK_KIND_PUBLISH, "live");
    CHECK_RC(rtmfp_server_accept(srv, id), RTMFP_OK);
    expect_status(ok, (uint32_t)rtmfp_netstream_id(live), "NetStream.Publish.Start", NULL);

    /* Nobody answers: the default verdict at the deadline. */
    slow = connect_to(addr, "app/KEY");
    start = now_ms();
    id = next_ask(srv, RTMFP_ASK_KIND_CONNECT, NULL);
    expect_status(slow, 0, "NetConnection.Connect.Rejected", "no answer from the server application");
    CHECK(now_ms() - start >= DEADLINE_MS - 100);
    ev = server_wait(srv, RTMFP_EVENT_TYPE_SERVER_ASK_ENDED, WAIT_MS);
    CHECK(ev != NULL && ev->ask_id == id && ev->reason == RTMFP_ASK_END_EXPIRED);
    rtmfp_event_free(ev);
    CHECK_ERR(rtmfp_server_accept(srv, id), RTMFP_ERR_WRONG_STATE);
    CHECK(strstr(rtmfp_last_error_message(), "expired") != NULL);

    /* The client leaves while parked. */
    gone = connect_to(addr, "app/KEY");
    id = next_ask(srv, RTMFP_ASK_KIND_CONNECT, NULL);
    CHECK_RC(rtmfp_netconnection_free(gone), RTMFP_OK);
    ev = server_wait(srv, RTMFP_EVENT_TYPE_SERVER_ASK_ENDED, WAIT_MS);
    CHECK(ev != NULL && ev->ask_id == id && ev->reason == RTMFP_ASK_END_GONE);
    rtmfp_event_free(ev);
    CHECK_ERR(rtmfp_server_accept(srv, id), RTMFP_ERR_WRONG_STATE);
    CHECK(strstr(rtmfp_last_error_message(), "went away") != NULL);
    CHECK_RC(rtmfp_server_session_count(srv), 1);

    /* Answered from the event callback (the dispatcher thread). */
    {
        struct answering a;
        rtmfp_netconnection *cb = NULL;
        memset(&a, 0, sizeof a);
        a.srv = srv;
        a.rc = -100;
        pthread_mutex_init(&a.lock, NULL);
        CHECK_RC(rtmfp_server_set_event_callback(srv, answer_in_callback, &a), RTMFP_OK);
        cb = connect_to(addr, "app/KEY");
        expect_status(cb, 0, "NetConnection.Connect.Success", NULL);
        CHECK_RC(rtmfp_server_set_event_callback(srv, NULL, NULL), RTMFP_OK);
        pthread_mutex_lock(&a.lock);
        CHECK(a.asked == 1);
        CHECK_RC(a.rc, RTMFP_OK);
        pthread_mutex_unlock(&a.lock);
        pthread_mutex_destroy(&a.lock);
        CHECK_RC(rtmfp_netconnection_free(cb), RTMFP_OK);
    }

    CHECK_RC(rtmfp_netconnection_free(nc), RTMFP_OK);
    CHECK_RC(rtmfp_netconnection_free(ok), RTMFP_OK);
    CHECK_RC(rtmfp_netconnection_free(slow), RTMFP_OK);
    CHECK_RC(rtmfp_server_close(srv, 1000), RTMFP_OK);
    CHECK_ERR(rtmfp_server_accept(srv, id), RTMFP_ERR_CLOSED);
    CHECK_RC(rtmfp_server_free(srv), RTMFP_OK);
    /* A freed handle is an error, not a crash. */
    CHECK_ERR(rtmfp_server_accept(srv, id), RTMFP_ERR_INVALID_HANDLE);
    CHECK_ERR(rtmfp_server_reject(srv, id, "x"), RTMFP_ERR_INVALID_HANDLE);
    CHECK_ERR(rtmfp_server_set_asks(srv, 0, 1000, true, NULL), RTMFP_ERR_INVALID_HANDLE);
    return check_summary();
}
