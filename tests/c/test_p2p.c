/*
 * DIRECT_CONNECTIONS publish/play between two NetConnections through a
 * rendezvous server, all in one process over 127.0.0.1, through the C API
 * only:
 *
 *   - a server started with a developer key list and a connect hook;
 *   - a publisher (RTMFP_PEER_CONNECT_MODE_ASK) connects
 *     (NetConnection.Connect.Success), registers a name, makes a
 *     DIRECT_CONNECTIONS stream and publishes "cam";
 *   - a player looks the name up, plays "cam" by the publisher's peer ID,
 *     is accepted, and receives N audio + M video messages and a data
 *     message byte for byte, in order, with their timestamps;
 *   - a bad developer key and the connect hook's refusal both give
 *     NetConnection.Connect.Rejected; the hook's calls back into its own
 *     server fail with RTMFP_ERR_WRONG_STATE;
 *   - a second subscriber (events by callback) is rejected by the
 *     publisher and sees NetStream.Connect.Rejected;
 *   - the server reports connects, rejections and the introduction;
 *   - rtmfp_netconnection_close() leaves the last events readable, then
 *     RTMFP_ERR_CLOSED.
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
#define N_AUDIO 40
#define N_VIDEO 25
#define ANY_STREAM 0xffffffffu

static void sleep_ms(long ms) {
    struct timespec ts;
    ts.tv_sec = ms / 1000;
    ts.tv_nsec = (ms % 1000) * 1000000L;
    nanosleep(&ts, NULL);
}

/* ------------------------------------------------- synthetic media -- */

/* Message i of a kind: a size and a byte pattern. Audio looks like AAC
 * (0xAF), video like AVC with a key frame every 10 (0x17, else 0x27);
 * some video frames span several packets. */
static size_t media_len(int video, int i) {
    return video ? (size_t)(300 + (i * 2957) % 9000) : (size_t)(4 + (i * 37) % 400);
}

static uint32_t media_ts(int video, int i) {
    return video ? (uint32_t)(i * 40) : (uint32_t)(i * 23);
}

static void media_fill(uint8_t *buf, int video, int i) {
    size_t k, len = media_len(video, i);
    for (k = 0; k < len; k++) {
        buf[k] = (uint8_t)(i * 31 + k * 7 + (k >> 8) + (video ? 101 : 0));
    }
    buf[0] = video ? (i % 10 == 0 ? 0x17 : 0x27) : 0xAF;
}

static int media_matches(const rtmfp_event *ev, int video, int i) {
    uint8_t want[16384];
    size_t len = media_len(video, i);
    if (ev->data_len != len || ev->timestamp != media_ts(video, i) || ev->data == NULL) {
        return 0;
    }
    media_fill(want, video, i);
    return memcmp(ev->data, want, len) == 0;
}

/* ------------------------------------------------------------ setup -- */

static rtmfp_config *loopback_config(int mode) {
    rtmfp_config *cfg = NULL;
    CHECK_RC(rtmfp_config_new(&cfg), RTMFP_OK);
    CHECK_RC(rtmfp_config_set_bind_address(cfg, "127.0.0.1:0"), RTMFP_OK);
    CHECK_RC(rtmfp_config_set_peer_connect_mode(cfg, mode), RTMFP_OK);
    CHECK_RC(rtmfp_config_set_max_peer_connections(cfg, 8), RTMFP_OK);
    return cfg;
}

static rtmfp_netconnection *connect_to(const char *addr, const char *app_and_key, int mode) {
    rtmfp_config *cfg = loopback_config(mode);
    rtmfp_netconnection *nc = NULL;
    char uri[256];
    snprintf(uri, sizeof uri, "rtmfp://%s/%s", addr, app_and_key);
    CHECK_RC(rtmfp_netconnection_connect(cfg, uri, &nc), RTMFP_OK);
    CHECK(nc != NULL);
    CHECK_RC(rtmfp_config_free(cfg), RTMFP_OK);
    return nc;
}

/* The last statuses nc_wait() skipped, shown if it times out. */
#define SKIPPED 8
static char skipped[SKIPPED][160];
static int n_skipped = 0;

/* Takes NetConnection events until one of `type` on `stream` (ANY_STREAM:
 * any) whose status code is `code` (NULL: any) comes; returns it (the
 * caller frees it) or NULL after `ms`. Others are freed. */
static rtmfp_event *nc_wait(rtmfp_netconnection *nc, rtmfp_event_type type, uint32_t stream,
                            const char *code, long ms) {
    long long deadline = now_ms() + ms;
    rtmfp_event *ev = NULL;
    int i;
    while (now_ms() < deadline) {
        int rc = rtmfp_netconnection_next_event(nc, 50, &ev);
        if (rc == RTMFP_ERR_AGAIN) {
            continue;
        }
        if (rc != RTMFP_OK) {
            fprintf(stderr, "nc_wait: %s (%s)\n", rtmfp_strerror(rc), rtmfp_last_error_message());
            return NULL;
        }
        if (ev->type == type && (stream == ANY_STREAM || ev->stream == stream) &&
            (code == NULL || (ev->status_code != NULL && strcmp(ev->status_code, code) == 0))) {
            return ev;
        }
        if (ev->type == RTMFP_EVENT_TYPE_NETSTATUS) {
            snprintf(skipped[n_skipped++ % SKIPPED], sizeof skipped[0], "stream %u: %s %s",
                     ev->stream, ev->status_level, ev->status_code);
        }
        rtmfp_event_free(ev);
    }
    fprintf(stderr, "nc_wait: no %s %s on stream %u within %ld ms; last statuses skipped:\n",
            rtmfp_event_type_name(type), code ? code : "", stream, ms);
    for (i = n_skipped > SKIPPED ? n_skipped - SKIPPED : 0; i < n_skipped; i++) {
        fprintf(stderr, "  %s\n", skipped[i % SKIPPED]);
    }
    return NULL;
}

/* Waits for a status and checks its level. */
static void expect_status(rtmfp_netconnection *nc, uint32_t stream, const char *code,
                          const char *level) {
    rtmfp_event *ev = nc_wait(nc, RTMFP_EVENT_TYPE_NETSTATUS, stream, code, WAIT_MS);
    CHECK(ev != NULL);
    if (ev != NULL) {
        CHECK(ev->status_level != NULL && strcmp(ev->status_level, level) == 0);
        CHECK(ev->status_description != NULL);
        CHECK_RC(rtmfp_event_free(ev), RTMFP_OK);
    }
}

/* Server events of `type` seen (others counted too), draining the queue. */
static int server_events[200];

static void drain_server(rtmfp_server *srv, const uint8_t *introduced_to, int *introduced) {
    rtmfp_event *ev = NULL;
    while (rtmfp_server_next_event(srv, 0, &ev) == RTMFP_OK) {
        if ((int)ev->type >= 0 && (int)ev->type < 200) {
            server_events[ev->type]++;
        }
        if (ev->type == RTMFP_EVENT_TYPE_SERVER_INTRODUCED && ev->has_peer_id &&
            memcmp(ev->peer_id, introduced_to, RTMFP_PEER_ID_LEN) == 0) {
            CHECK(ev->address[0] != '\0');
            CHECK(ev->text != NULL);
            (*introduced)++;
        }
        if (ev->type == RTMFP_EVENT_TYPE_SERVER_CONNECTED) {
            CHECK(ev->has_peer_id);
            CHECK(ev->app != NULL && strncmp(ev->app, "app", 3) == 0);
            CHECK(ev->text != NULL);                                    /* the key */
        }
        if (ev->type == RTMFP_EVENT_TYPE_SERVER_CONNECT_REJECTED) {
            CHECK(ev->text != NULL && ev->text[0] != '\0');
        }
        CHECK_RC(rtmfp_event_free(ev), RTMFP_OK);
    }
}

/* ---------------------------------------------------- connect hook -- */

struct hook_state {
    pthread_mutex_t lock;
    rtmfp_server *srv;
    int calls;
    int refused;
    int inner_count_rc; /* rtmfp_server_session_count() from inside */
    int inner_set_rc;   /* rtmfp_server_set_connect_hook() from inside */
    int inner_free_rc;  /* rtmfp_server_free() from inside */
    int inner_addr_rc;  /* rtmfp_server_local_addr() from inside: allowed */
    char last_key[64];
};

static int connect_hook(const char *peer_id_hex, const char *app, const char *key, void *user) {
    struct hook_state *h = (struct hook_state *)user;
    char addr[RTMFP_ADDR_STRLEN];
    int accept = strncmp(app, "deny", 4) != 0;
    pthread_mutex_lock(&h->lock);
    h->calls++;
    h->refused += !accept;
    h->inner_count_rc = rtmfp_server_session_count(h->srv);
    h->inner_set_rc = rtmfp_server_set_connect_hook(h->srv, NULL, NULL);
    h->inner_free_rc = rtmfp_server_free(h->srv);
    h->inner_addr_rc = rtmfp_server_local_addr(h->srv, 0, addr, sizeof addr);
    snprintf(h->last_key, sizeof h->last_key, "%s", key);
    if (strlen(peer_id_hex) != 64) {
        accept = 0;
    }
    pthread_mutex_unlock(&h->lock);
    return accept ? RTMFP_CONNECT_DECISION_ACCEPT : RTMFP_CONNECT_DECISION_REJECT;
}

/* --------------------------------------- second subscriber callback -- */

struct sub_state {
    pthread_mutex_t lock;
    uint32_t stream;
    int connected;
    int rejected;
    char description[256];
};

static void sub_callback(const rtmfp_event *ev, void *user) {
    struct sub_state *s = (struct sub_state *)user;
    if (ev->type != RTMFP_EVENT_TYPE_NETSTATUS) {
        return;
    }
    pthread_mutex_lock(&s->lock);
    if (ev->stream == 0 && strcmp(ev->status_code, "NetConnection.Connect.Success") == 0) {
        s->connected = 1;
    }
    if (ev->stream == s->stream && strcmp(ev->status_code, "NetStream.Connect.Rejected") == 0 &&
        strcmp(ev->status_level, "error") == 0) {
        s->rejected = 1;
        snprintf(s->description, sizeof s->description, "%s", ev->status_description);
    }
    pthread_mutex_unlock(&s->lock);
}

static int sub_flag(struct sub_state *s, int which) {
    int v;
    pthread_mutex_lock(&s->lock);
    v = which ? s->rejected : s->connected;
    pthread_mutex_unlock(&s->lock);
    return v;
}

/* ------------------------------------------------------------- test -- */

int main(void) {
    const char *keys[2] = {"KEY1", "KEY2"};
    rtmfp_config *cfg = NULL;
    rtmfp_server *srv = NULL;
    rtmfp_netconnection *pub = NULL, *player = NULL, *bad = NULL, *denied = NULL, *sub2 = NULL;
    rtmfp_netstream *cam = NULL, *play = NULL, *play2 = NULL;
    struct hook_state hook;
    struct sub_state sub;
    char addr[RTMFP_ADDR_STRLEN], srv_id[RTMFP_PEER_ID_HEX_LEN], far[RTMFP_PEER_ID_HEX_LEN];
    char hexid[RTMFP_PEER_ID_HEX_LEN], nonce[RTMFP_PEER_ID_HEX_LEN];
    uint8_t pub_id[RTMFP_PEER_ID_LEN], player_id[RTMFP_PEER_ID_LEN];
    uint8_t buf[16384];
    uint64_t call = 0, peer_stream = 0, peer_stream2 = 0;
    uint8_t peer_id2[RTMFP_PEER_ID_LEN] = {0};
    uint32_t cam_id, play_id;
    rtmfp_event *ev;
    int i, rc, introduced = 0, audio = 0, video = 0, bad_bytes = 0, data_ok = 0;
    long long deadline;

    memset(&hook, 0, sizeof hook);
    memset(&sub, 0, sizeof sub);
    pthread_mutex_init(&hook.lock, NULL);
    pthread_mutex_init(&sub.lock, NULL);

    /* The rendezvous server, with two developer keys and a hook. */
    CHECK_RC(rtmfp_config_new(&cfg), RTMFP_OK);
    CHECK_RC(rtmfp_config_set_bind_address(cfg, "127.0.0.1:0"), RTMFP_OK);
    CHECK_RC(rtmfp_server_start(cfg, keys, 2, &srv), RTMFP_OK);
    CHECK_RC(rtmfp_config_free(cfg), RTMFP_OK);
    if (srv == NULL) {
        return check_summary();
    }
    hook.srv = srv;
    CHECK_RC(rtmfp_server_set_connect_hook(srv, connect_hook, &hook), RTMFP_OK);
    CHECK(rtmfp_server_local_addr(srv, 0, addr, sizeof addr) > 0);
    CHECK_RC(rtmfp_server_peer_id_hex(srv, srv_id, sizeof srv_id), 64);
    CHECK(rtmfp_server_event_fd(srv) >= 0);
    printf("server on %s, peer id %.16s...\n", addr, srv_id);

    /* Publisher: connect, check its identities, register a name. */
    pub = connect_to(addr, "app/KEY1", RTMFP_PEER_CONNECT_MODE_ASK);
    expect_status(pub, 0, "NetConnection.Connect.Success", "status");
    CHECK_RC(rtmfp_netconnection_connected(pub), 1);
    CHECK_RC(rtmfp_netconnection_near_id(pub, pub_id), RTMFP_OK);
    CHECK_RC(rtmfp_netconnection_near_id_hex(pub, hexid, sizeof hexid), 64);
    CHECK_RC(rtmfp_netconnection_far_id_hex(pub, far, sizeof far), 64);
    CHECK(strcmp(far, srv_id) == 0);
    CHECK_RC(rtmfp_netconnection_near_nonce_hex(pub, nonce, sizeof nonce), 64);
    CHECK_RC(rtmfp_netconnection_far_nonce_hex(pub, nonce, sizeof nonce), 64);
    CHECK_RC(rtmfp_netconnection_register_name(pub, "alice", &call), RTMFP_OK);
    ev = nc_wait(pub, RTMFP_EVENT_TYPE_CALL_RESULT, ANY_STREAM, NULL, WAIT_MS);
    CHECK(ev != NULL);
    if (ev != NULL) {
        CHECK(ev->call_id == call);
        CHECK(ev->ok);
        rtmfp_event_free(ev);
    }

    /* A DIRECT_CONNECTIONS stream publishing "cam": no server involved. */
    CHECK_RC(rtmfp_netstream_create(pub, RTMFP_NETSTREAM_KIND_DIRECT_CONNECTIONS, NULL, &cam),
             RTMFP_OK);
    cam_id = (uint32_t)rtmfp_netstream_id(cam);
    CHECK(cam_id >= 1);
    CHECK_RC(rtmfp_netstream_publish(cam, "cam"), RTMFP_OK);
    expect_status(pub, cam_id, "NetStream.Publish.Start", "status");
    CHECK_RC(rtmfp_netstream_peer_count(cam), 0);
    CHECK_RC(rtmfp_netstream_send_audio(cam, 0, buf, 4), 0); /* nobody yet */

    /* Player: connect with the other key, find the publisher by name. */
    player = connect_to(addr, "app/KEY2", RTMFP_PEER_CONNECT_MODE_ACCEPT_ALL);
    expect_status(player, 0, "NetConnection.Connect.Success", "status");
    CHECK_RC(rtmfp_netconnection_near_id(player, player_id), RTMFP_OK);
    CHECK(memcmp(pub_id, player_id, RTMFP_PEER_ID_LEN) != 0);
    CHECK_RC(rtmfp_netconnection_lookup_name(player, "alice", &call), RTMFP_OK);
    ev = nc_wait(player, RTMFP_EVENT_TYPE_CALL_RESULT, ANY_STREAM, NULL, WAIT_MS);
    CHECK(ev != NULL);
    if (ev != NULL) {
        CHECK(ev->call_id == call && ev->ok && ev->has_peer_id);
        CHECK(memcmp(ev->peer_id, pub_id, RTMFP_PEER_ID_LEN) == 0);
        CHECK(ev->text != NULL && strcmp(ev->text, hexid) == 0);
        rtmfp_event_free(ev);
    }
    CHECK_RC(rtmfp_netconnection_lookup_name(player, "nobody", &call), RTMFP_OK);
    ev = nc_wait(player, RTMFP_EVENT_TYPE_CALL_RESULT, ANY_STREAM, NULL, WAIT_MS);
    CHECK(ev != NULL);
    if (ev != NULL) {
        CHECK(ev->call_id == call && !ev->ok && !ev->has_peer_id);
        CHECK(ev->status_code != NULL &&
              strcmp(ev->status_code, "NetConnection.Call.Failed") == 0);
        rtmfp_event_free(ev);
    }

    /* Play "cam" by the publisher's peer ID; the publisher asks us. */
    CHECK_RC(rtmfp_netstream_create(player, RTMFP_NETSTREAM_KIND_PEER, pub_id, &play), RTMFP_OK);
    play_id = (uint32_t)rtmfp_netstream_id(play);
    CHECK_RC(rtmfp_netstream_play(play, "cam"), RTMFP_OK);
    ev = nc_wait(pub, RTMFP_EVENT_TYPE_PEER_CONNECT, cam_id, NULL, WAIT_MS);
    CHECK(ev != NULL);
    if (ev != NULL) {
        peer_stream = ev->peer_stream;
        CHECK(ev->name != NULL && strcmp(ev->name, "cam") == 0);
        CHECK(ev->has_peer_id && memcmp(ev->peer_id, player_id, RTMFP_PEER_ID_LEN) == 0);
        CHECK(ev->address[0] != '\0');
        rtmfp_event_free(ev);
    }
    CHECK_RC(rtmfp_netconnection_accept_peer(pub, peer_stream), RTMFP_OK);
    CHECK_ERR(rtmfp_netconnection_accept_peer(pub, peer_stream), RTMFP_ERR_WRONG_STATE);
    ev = nc_wait(pub, RTMFP_EVENT_TYPE_PEER_STREAM_OPENED, cam_id, NULL, WAIT_MS);
    CHECK(ev != NULL);
    if (ev != NULL) {
        CHECK(ev->peer_stream == peer_stream);
        rtmfp_event_free(ev);
    }
    CHECK_RC(rtmfp_netstream_peer_count(cam), 1);
    expect_status(player, play_id, "NetStream.Play.Start", "status");

    /* N audio + M video messages, interleaved, then a data message and
     * one more audio message to this subscriber only. */
    for (i = 0; i < N_AUDIO || i < N_VIDEO; i++) {
        if (i < N_AUDIO) {
            media_fill(buf, 0, i);
            CHECK_RC(rtmfp_netstream_send_audio(cam, media_ts(0, i), buf, media_len(0, i)), 1);
        }
        if (i < N_VIDEO) {
            media_fill(buf, 1, i);
            CHECK_RC(rtmfp_netstream_send_video(cam, media_ts(1, i), buf, media_len(1, i)), 1);
        }
        sleep_ms(2);
    }
    {
        const char *args[1] = {"hello, player"};
        CHECK_RC(rtmfp_netstream_send_strings(cam, 999, "onText", args, 1), 1);
    }
    media_fill(buf, 0, N_AUDIO);
    CHECK_RC(rtmfp_netstream_send_to_peer(cam, peer_stream, RTMFP_MEDIA_TYPE_AUDIO,
                                          media_ts(0, N_AUDIO), buf, media_len(0, N_AUDIO)),
             RTMFP_OK);

    deadline = now_ms() + WAIT_MS;
    while ((audio < N_AUDIO + 1 || video < N_VIDEO || !data_ok) && now_ms() < deadline) {
        rc = rtmfp_netconnection_next_event(player, 50, &ev);
        if (rc == RTMFP_ERR_AGAIN) {
            continue;
        }
        CHECK_RC(rc, RTMFP_OK);
        if (rc != RTMFP_OK) {
            break;
        }
        if (ev->type == RTMFP_EVENT_TYPE_MEDIA && ev->stream == play_id) {
            if (ev->media_type == RTMFP_MEDIA_TYPE_AUDIO) {
                bad_bytes += !media_matches(ev, 0, audio);
                audio++;
            } else if (ev->media_type == RTMFP_MEDIA_TYPE_VIDEO) {
                bad_bytes += !media_matches(ev, 1, video);
                video++;
            } else if (ev->media_type == RTMFP_MEDIA_TYPE_DATA) {
                data_ok = ev->name != NULL && strcmp(ev->name, "onText") == 0 &&
                          ev->text != NULL && strcmp(ev->text, "hello, player") == 0 &&
                          ev->timestamp == 999;
            }
        }
        rtmfp_event_free(ev);
    }
    printf("player received %d audio + %d video messages, %d not byte-exact; data %s\n", audio,
           video, bad_bytes, data_ok ? "ok" : "missing");
    CHECK(audio == N_AUDIO + 1);
    CHECK(video == N_VIDEO);
    CHECK(bad_bytes == 0);
    CHECK(data_ok);

    /* A bad developer key, and a client the connect hook refuses. */
    bad = connect_to(addr, "app/WRONG", RTMFP_PEER_CONNECT_MODE_ACCEPT_ALL);
    expect_status(bad, 0, "NetConnection.Connect.Rejected", "error");
    CHECK_RC(rtmfp_netconnection_connected(bad), 0);
    denied = connect_to(addr, "deny/KEY1", RTMFP_PEER_CONNECT_MODE_ACCEPT_ALL);
    expect_status(denied, 0, "NetConnection.Connect.Rejected", "error");
    pthread_mutex_lock(&hook.lock);
    CHECK(hook.calls == 3); /* pub, player, denied; not the bad key */
    CHECK(hook.refused == 1);
    CHECK(strcmp(hook.last_key, "KEY1") == 0);
    CHECK(hook.inner_count_rc == RTMFP_ERR_WRONG_STATE);
    CHECK(hook.inner_set_rc == RTMFP_ERR_WRONG_STATE);
    CHECK(hook.inner_free_rc == RTMFP_ERR_WRONG_STATE);
    CHECK(hook.inner_addr_rc > 0);
    pthread_mutex_unlock(&hook.lock);

    /* A second subscriber, events by callback, rejected by the publisher. */
    sub2 = connect_to(addr, "app/KEY1", RTMFP_PEER_CONNECT_MODE_ACCEPT_ALL);
    CHECK_RC(rtmfp_netconnection_set_event_callback(sub2, sub_callback, &sub), RTMFP_OK);
    ev = NULL;
    CHECK_ERR(rtmfp_netconnection_next_event(sub2, 0, &ev), RTMFP_ERR_WRONG_STATE);
    CHECK_RC(rtmfp_netstream_create(sub2, RTMFP_NETSTREAM_KIND_PEER, pub_id, &play2), RTMFP_OK);
    pthread_mutex_lock(&sub.lock);
    sub.stream = (uint32_t)rtmfp_netstream_id(play2);
    pthread_mutex_unlock(&sub.lock);
    CHECK_RC(rtmfp_netstream_play(play2, "cam"), RTMFP_OK);
    ev = nc_wait(pub, RTMFP_EVENT_TYPE_PEER_CONNECT, cam_id, NULL, WAIT_MS);
    CHECK(ev != NULL);
    if (ev != NULL) {
        peer_stream2 = ev->peer_stream;
        CHECK(peer_stream2 != peer_stream);
        CHECK(ev->has_peer_id);
        memcpy(peer_id2, ev->peer_id, RTMFP_PEER_ID_LEN);
        rtmfp_event_free(ev);
    }
    CHECK_RC(rtmfp_netconnection_reject_peer(pub, peer_stream2, "one viewer only"), RTMFP_OK);
    ev = nc_wait(pub, RTMFP_EVENT_TYPE_PEER_STREAM_CLOSED, cam_id, NULL, WAIT_MS);
    CHECK(ev != NULL);
    if (ev != NULL) {
        CHECK(ev->peer_stream == peer_stream2);
        CHECK(ev->text != NULL);
        /* The subscriber that left is named by its peer ID. */
        CHECK(ev->has_peer_id);
        CHECK(memcmp(ev->peer_id, peer_id2, RTMFP_PEER_ID_LEN) == 0);
        rtmfp_event_free(ev);
    }
    for (i = 0; i < WAIT_MS / 10 && !sub_flag(&sub, 1); i++) {
        sleep_ms(10);
    }
    CHECK(sub_flag(&sub, 0));
    CHECK(sub_flag(&sub, 1));
    pthread_mutex_lock(&sub.lock);
    CHECK(strstr(sub.description, "one viewer only") != NULL);
    pthread_mutex_unlock(&sub.lock);
    CHECK_RC(rtmfp_netstream_peer_count(cam), 1);
    CHECK_ERR(rtmfp_netstream_send_to_peer(cam, peer_stream2, RTMFP_MEDIA_TYPE_AUDIO, 0, buf, 4),
              RTMFP_ERR_INVALID_HANDLE);

    /* What the server saw. */
    CHECK_RC(rtmfp_server_session_count(srv), 3); /* pub, player, sub2 */
    drain_server(srv, pub_id, &introduced);
    printf("server: %d connected, %d rejected, %d introductions to the publisher\n",
           server_events[RTMFP_EVENT_TYPE_SERVER_CONNECTED],
           server_events[RTMFP_EVENT_TYPE_SERVER_CONNECT_REJECTED], introduced);
    CHECK(server_events[RTMFP_EVENT_TYPE_SERVER_CONNECTED] == 3);
    CHECK(server_events[RTMFP_EVENT_TYPE_SERVER_CONNECT_REJECTED] == 2);
    CHECK(server_events[RTMFP_EVENT_TYPE_SERVER_NAME_REGISTERED] == 1);
    CHECK(introduced >= 2); /* the player's and sub2's */

    /* The player leaves: the publisher hears it. */
    CHECK_RC(rtmfp_netstream_free(play), RTMFP_OK);
    ev = nc_wait(pub, RTMFP_EVENT_TYPE_PEER_STREAM_CLOSED, cam_id, NULL, WAIT_MS);
    CHECK(ev != NULL);
    if (ev != NULL) {
        CHECK(ev->peer_stream == peer_stream);
        CHECK(ev->has_peer_id && memcmp(ev->peer_id, player_id, RTMFP_PEER_ID_LEN) == 0);
        rtmfp_event_free(ev);
    }
    CHECK_RC(rtmfp_netstream_peer_count(cam), 0);

    /* Close: the last events stay readable, then RTMFP_ERR_CLOSED. */
    rc = rtmfp_netconnection_close(pub, 2000);
    CHECK(rc == RTMFP_OK || rc == RTMFP_ERR_TIMEOUT);
    CHECK_ERR(rtmfp_netconnection_close(pub, 10), RTMFP_ERR_CLOSED);
    CHECK_ERR(rtmfp_netstream_send_audio(cam, 0, buf, 4), RTMFP_ERR_CLOSED);
    CHECK_ERR(rtmfp_netconnection_connected(pub), RTMFP_ERR_CLOSED);
    {
        int closed_status = 0, n = 0;
        while ((rc = rtmfp_netconnection_next_event(pub, 1000, &ev)) == RTMFP_OK && n++ < 1000) {
            closed_status |= ev->type == RTMFP_EVENT_TYPE_NETSTATUS && ev->stream == 0 &&
                             strcmp(ev->status_code, "NetConnection.Connect.Closed") == 0;
            rtmfp_event_free(ev);
        }
        CHECK_RC(rc, RTMFP_ERR_CLOSED);
        CHECK(closed_status);
        CHECK_ERR(rtmfp_netconnection_next_event(pub, -1, &ev), RTMFP_ERR_CLOSED);
    }
    CHECK_RC(rtmfp_netconnection_near_id_hex(pub, hexid, sizeof hexid), 64); /* still known */

    CHECK_RC(rtmfp_netstream_free(cam), RTMFP_OK);
    CHECK_RC(rtmfp_netconnection_free(pub), RTMFP_OK);
    CHECK_RC(rtmfp_netconnection_free(player), RTMFP_OK);
    CHECK_RC(rtmfp_netconnection_free(bad), RTMFP_OK);
    CHECK_RC(rtmfp_netconnection_free(denied), RTMFP_OK);
    CHECK_RC(rtmfp_netconnection_free(sub2), RTMFP_OK);
    CHECK_ERR(rtmfp_netstream_free(play2), RTMFP_ERR_INVALID_HANDLE); /* freed with sub2 */
    CHECK_RC(rtmfp_server_free(srv), RTMFP_OK);
    pthread_mutex_destroy(&hook.lock);
    pthread_mutex_destroy(&sub.lock);
    return check_summary();
}
