/*
 * FLV byte streams through the C API (issue 16), all in one process over
 * 127.0.0.1: a rendezvous server, a publisher that writes FLV bytes with
 * rtmfp_netstream_write_flv() and a player that reads FLV bytes with
 * rtmfp_netstream_read_flv().
 *
 *   - a synthetic FLV written in pieces split at odd places (a header in
 *     two writes, tags across many) arrives as FLV whose audio and video
 *     tags match, each type in order, byte for byte;
 *   - bytes that are not FLV: the tags before them still arrive, and the
 *     error (RTMFP_ERR_INVALID_ARGUMENT) is sticky;
 *   - the same synthetic FLV over DIRECT_CONNECTIONS: a publisher's
 *     DIRECT_CONNECTIONS stream writes it once a subscriber's peer stream
 *     (by the publisher's peer ID) is open, the subscriber reads it back
 *     as FLV, tags matching per type; the server publishes nothing;
 *   - with ffmpeg on PATH: a 2 s testsrc2 + sine encode (libx264 + AAC)
 *     published through the API and read back decodes (ffprobe) to as
 *     many video and audio frames as the encode itself.  Without ffmpeg
 *     that part prints SKIP (RTMFP_SKIP_FFMPEG=1) or fails.
 *
 * Prints "N passed, M failed"; exits non-zero on failure. Every wait is
 * bounded.
 */
#define _POSIX_C_SOURCE 200809L

#include "check.h"

#include <stdint.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#define WAIT_MS 20000

/* A growable byte buffer. */
typedef struct {
    uint8_t *p;
    size_t len, cap;
} buf_t;

static void buf_put(buf_t *b, const void *data, size_t n) {
    if (b->len + n > b->cap) {
        b->cap = (b->len + n) * 2 + 1024;
        b->p = realloc(b->p, b->cap);
        if (b->p == NULL) {
            abort();
        }
    }
    memcpy(b->p + b->len, data, n);
    b->len += n;
}

static void put_tag(buf_t *b, uint8_t type, uint32_t ts, const uint8_t *data, uint32_t n) {
    uint8_t h[11];
    uint8_t prev[4];
    uint32_t total = 11 + n;
    h[0] = type;
    h[1] = (uint8_t)(n >> 16);
    h[2] = (uint8_t)(n >> 8);
    h[3] = (uint8_t)n;
    h[4] = (uint8_t)(ts >> 16);
    h[5] = (uint8_t)(ts >> 8);
    h[6] = (uint8_t)ts;
    h[7] = (uint8_t)(ts >> 24);
    h[8] = h[9] = h[10] = 0;
    buf_put(b, h, 11);
    buf_put(b, data, n);
    prev[0] = (uint8_t)(total >> 24);
    prev[1] = (uint8_t)(total >> 16);
    prev[2] = (uint8_t)(total >> 8);
    prev[3] = (uint8_t)total;
    buf_put(b, prev, 4);
}

/* 2 s of 25 fps video and ~43 fps audio, payloads a pattern. */
static buf_t synthetic_flv(void) {
    static const uint8_t header[13] = {'F', 'L', 'V', 1, 5, 0, 0, 0, 9, 0, 0, 0, 0};
    buf_t b = {NULL, 0, 0};
    uint8_t data[3000];
    int v = 0, a = 0;
    buf_put(&b, header, sizeof header);
    while (v < 50 || a < 86) {
        uint32_t tv = (uint32_t)v * 40, ta = (uint32_t)a * 23;
        int video = v < 50 && (a >= 86 || tv <= ta);
        uint32_t n = video ? 200 + (uint32_t)(v * 53) % 2500 : 20 + (uint32_t)(a * 7) % 200;
        uint32_t k;
        for (k = 0; k < n; k++) {
            data[k] = (uint8_t)(k * 13 + (video ? v : a) * 7);
        }
        data[0] = video ? (v % 25 == 0 ? 0x17 : 0x27) : 0xAF;
        put_tag(&b, video ? 9 : 8, video ? tv : ta, data, n);
        if (video) {
            v++;
        } else {
            a++;
        }
    }
    return b;
}

/* A digest of the tags of one type of an FLV file, in order; *count set. */
static uint64_t digest(const buf_t *f, uint8_t type, int *count) {
    uint64_t h = 1469598103934665603ull;
    size_t at = 13;
    *count = 0;
    if (f->len < 13 || memcmp(f->p, "FLV", 3) != 0) {
        return 0;
    }
    while (at + 11 <= f->len) {
        const uint8_t *t = f->p + at;
        uint32_t n = ((uint32_t)t[1] << 16) | ((uint32_t)t[2] << 8) | t[3];
        uint32_t ts = ((uint32_t)t[7] << 24) | ((uint32_t)t[4] << 16) | ((uint32_t)t[5] << 8) | t[6];
        uint32_t k;
        if (at + 11 + n > f->len) {
            break;
        }
        if ((t[0] & 0x1f) == type) {
            (*count)++;
            h = (h ^ ts) * 1099511628211ull;
            for (k = 0; k < n; k++) {
                h = (h ^ t[11 + k]) * 1099511628211ull;
            }
        }
        at += 11 + n + 4;
    }
    return h;
}

static rtmfp_netconnection *connect_to(const char *addr) {
    rtmfp_config *cfg = NULL;
    rtmfp_netconnection *nc = NULL;
    char uri[256];
    snprintf(uri, sizeof uri, "rtmfp://%s/app/FLVKEY", addr);
    CHECK_RC(rtmfp_config_new(&cfg), RTMFP_OK);
    CHECK_RC(rtmfp_config_set_bind_address(cfg, "127.0.0.1:0"), RTMFP_OK);
    CHECK_RC(rtmfp_netconnection_connect(cfg, uri, &nc), RTMFP_OK);
    CHECK_RC(rtmfp_config_free(cfg), RTMFP_OK);
    return nc;
}

/* Waits for status `code` (on any stream); media events fail the test:
 * the played stream is read as FLV. */
static void expect_status(rtmfp_netconnection *nc, const char *code) {
    long long deadline = now_ms() + WAIT_MS;
    rtmfp_event *ev = NULL;
    while (now_ms() < deadline) {
        int rc = rtmfp_netconnection_next_event(nc, 50, &ev);
        if (rc == RTMFP_ERR_AGAIN) {
            continue;
        }
        if (rc != RTMFP_OK) {
            break;
        }
        CHECK(ev->type != RTMFP_EVENT_TYPE_MEDIA);
        if (ev->type == RTMFP_EVENT_TYPE_NETSTATUS && ev->status_code != NULL &&
            strcmp(ev->status_code, code) == 0) {
            rtmfp_event_free(ev);
            CHECK(1);
            return;
        }
        rtmfp_event_free(ev);
    }
    fprintf(stderr, "no %s within %d ms\n", code, WAIT_MS);
    CHECK(0);
}

typedef struct {
    rtmfp_netconnection *pub_nc, *play_nc;
    rtmfp_netstream *pub, *play;
} pair_t;

static pair_t pair(const char *addr, const char *name, uint32_t window) {
    pair_t p;
    p.pub_nc = connect_to(addr);
    p.play_nc = connect_to(addr);
    expect_status(p.pub_nc, "NetConnection.Connect.Success");
    expect_status(p.play_nc, "NetConnection.Connect.Success");
    CHECK_RC(rtmfp_netstream_create(p.play_nc, RTMFP_NETSTREAM_KIND_SERVER, NULL, &p.play),
             RTMFP_OK);
    CHECK_RC(rtmfp_netstream_start_flv_read(p.play, window), RTMFP_OK);
    CHECK_ERR(rtmfp_netstream_start_flv_read(p.play, window), RTMFP_ERR_WRONG_STATE);
    CHECK(rtmfp_netstream_flv_fd(p.play) >= 0);
    CHECK_RC(rtmfp_netstream_play(p.play, name), RTMFP_OK);
    expect_status(p.play_nc, "NetStream.Play.Start");
    CHECK_RC(rtmfp_netstream_create(p.pub_nc, RTMFP_NETSTREAM_KIND_SERVER, NULL, &p.pub),
             RTMFP_OK);
    CHECK_RC(rtmfp_netstream_publish(p.pub, name), RTMFP_OK);
    expect_status(p.pub_nc, "NetStream.Publish.Start");
    expect_status(p.play_nc, "NetStream.Play.PublishNotify");
    return p;
}

static void unpair(pair_t *p) {
    CHECK_RC(rtmfp_netconnection_free(p->pub_nc), RTMFP_OK);
    CHECK_RC(rtmfp_netconnection_free(p->play_nc), RTMFP_OK);
}

/* Writes all of `data` in pieces of the sizes in `sizes` (cycled). */
static int write_all(rtmfp_netstream *ns, const uint8_t *data, size_t len) {
    static const size_t sizes[] = {5, 1, 7, 4096, 3, 999, 17};
    size_t at = 0, i = 0;
    while (at < len) {
        size_t piece = sizes[i++ % 7];
        size_t end = at + piece < len ? at + piece : len;
        while (at < end) {
            size_t n = 0;
            int rc = rtmfp_netstream_write_flv(ns, data + at, end - at, WAIT_MS, &n);
            if (rc != RTMFP_OK) {
                return rc;
            }
            at += n;
        }
    }
    return RTMFP_OK;
}

/* Reads FLV bytes until the end of the stream (bounded). */
static buf_t read_all(rtmfp_netstream *ns) {
    buf_t out = {NULL, 0, 0};
    uint8_t buf[1013];
    long long deadline = now_ms() + WAIT_MS;
    while (now_ms() < deadline) {
        size_t n = 0;
        int rc = rtmfp_netstream_read_flv(ns, buf, sizeof buf, 200, &n);
        if (rc == RTMFP_ERR_AGAIN) {
            continue;
        }
        CHECK_RC(rc, RTMFP_OK);
        if (rc != RTMFP_OK || n == 0) {
            return out;
        }
        buf_put(&out, buf, n);
    }
    fprintf(stderr, "read_all: no end within %d ms\n", WAIT_MS);
    CHECK(0);
    return out;
}

static void same_tags(const buf_t *got, const buf_t *want, const char *what) {
    int g, w;
    uint8_t type;
    for (type = 8; type <= 9; type++) {
        uint64_t dg = digest(got, type, &g), dw = digest(want, type, &w);
        if (dg != dw || g != w) {
            fprintf(stderr, "%s: type %u: %d tags, %d expected (digest %s)\n", what, type, g, w,
                    dg == dw ? "same" : "differs");
        }
        CHECK(g == w && dg == dw);
    }
}

static void round_trip(const char *addr, uint32_t window) {
    buf_t file = synthetic_flv();
    char name[32];
    pair_t p;
    buf_t got;
    snprintf(name, sizeof name, "w%u", window);
    p = pair(addr, name, window);
    CHECK_RC(write_all(p.pub, file.p, file.len), RTMFP_OK);
    CHECK_RC(rtmfp_netstream_flush_flv(p.pub, WAIT_MS), RTMFP_OK);
    CHECK_RC(rtmfp_netstream_close(p.pub), RTMFP_OK);
    got = read_all(p.play);
    CHECK(got.len > 13 && memcmp(got.p, "FLV", 3) == 0);
    same_tags(&got, &file, window ? "window 100" : "window 0");
    /* The end stays the end. */
    {
        size_t n = 99;
        uint8_t b[8];
        CHECK_RC(rtmfp_netstream_read_flv(p.play, b, sizeof b, 0, &n), RTMFP_OK);
        CHECK(n == 0);
    }
    /* A closed stream takes no more bytes. */
    {
        size_t n = 0;
        CHECK_ERR(rtmfp_netstream_write_flv(p.pub, file.p, 13, 0, &n), RTMFP_ERR_CLOSED);
    }
    unpair(&p);
    free(file.p);
    free(got.p);
}

/* Takes events of `nc` until one of `type` (media fails the test, as in
 * expect_status()); returns it (the caller frees it) or NULL. */
static rtmfp_event *expect_event(rtmfp_netconnection *nc, rtmfp_event_type type) {
    long long deadline = now_ms() + WAIT_MS;
    rtmfp_event *ev = NULL;
    while (now_ms() < deadline) {
        int rc = rtmfp_netconnection_next_event(nc, 50, &ev);
        if (rc == RTMFP_ERR_AGAIN) {
            continue;
        }
        if (rc != RTMFP_OK) {
            break;
        }
        CHECK(ev->type != RTMFP_EVENT_TYPE_MEDIA);
        if (ev->type == type) {
            return ev;
        }
        rtmfp_event_free(ev);
    }
    fprintf(stderr, "no %s event within %d ms\n", rtmfp_event_type_name(type), WAIT_MS);
    CHECK(0);
    return NULL;
}

/* DIRECT_CONNECTIONS: the publisher writes FLV to its subscriber, the
 * subscriber reads it by the publisher's peer ID; no media goes through
 * the server. */
static void p2p_round_trip(rtmfp_server *srv, const char *addr, uint32_t window) {
    buf_t file = synthetic_flv();
    rtmfp_netconnection *pub_nc = connect_to(addr), *play_nc = connect_to(addr);
    rtmfp_netstream *cam = NULL, *play = NULL;
    uint8_t pub_id[RTMFP_PEER_ID_LEN];
    rtmfp_event *ev;
    buf_t got;
    int published = 0;
    /* Forget what the server did before. */
    while (rtmfp_server_next_event(srv, 0, &ev) == RTMFP_OK) {
        rtmfp_event_free(ev);
    }
    expect_status(pub_nc, "NetConnection.Connect.Success");
    expect_status(play_nc, "NetConnection.Connect.Success");
    CHECK_RC(rtmfp_netconnection_near_id(pub_nc, pub_id), RTMFP_OK);
    CHECK_RC(rtmfp_netstream_create(pub_nc, RTMFP_NETSTREAM_KIND_DIRECT_CONNECTIONS, NULL, &cam),
             RTMFP_OK);
    CHECK_RC(rtmfp_netstream_publish(cam, "p2p"), RTMFP_OK);
    expect_status(pub_nc, "NetStream.Publish.Start");
    CHECK_RC(rtmfp_netstream_create(play_nc, RTMFP_NETSTREAM_KIND_PEER, pub_id, &play), RTMFP_OK);
    CHECK_RC(rtmfp_netstream_start_flv_read(play, window), RTMFP_OK);
    CHECK_RC(rtmfp_netstream_play(play, "p2p"), RTMFP_OK);
    /* The subscriber is accepted (the default mode): write from then on. */
    ev = expect_event(pub_nc, RTMFP_EVENT_TYPE_PEER_STREAM_OPENED);
    if (ev != NULL) {
        CHECK(ev->stream == (uint32_t)rtmfp_netstream_id(cam));
        rtmfp_event_free(ev);
    }
    CHECK_RC(rtmfp_netstream_peer_count(cam), 1);
    expect_status(play_nc, "NetStream.Play.Start");
    CHECK_RC(write_all(cam, file.p, file.len), RTMFP_OK);
    CHECK_RC(rtmfp_netstream_flush_flv(cam, WAIT_MS), RTMFP_OK);
    /* Closing the stream unpublishes to the subscriber: its read ends. */
    CHECK_RC(rtmfp_netstream_close(cam), RTMFP_OK);
    got = read_all(play);
    CHECK(got.len > 13 && memcmp(got.p, "FLV", 3) == 0);
    same_tags(&got, &file, window ? "P2P, window 100" : "P2P, window 0");
    /* The server saw no publish: the media went peer to peer. */
    while (rtmfp_server_next_event(srv, 0, &ev) == RTMFP_OK) {
        published += ev->type == RTMFP_EVENT_TYPE_SERVER_PUBLISHED;
        rtmfp_event_free(ev);
    }
    CHECK(published == 0);
    CHECK_RC(rtmfp_netconnection_free(pub_nc), RTMFP_OK);
    CHECK_RC(rtmfp_netconnection_free(play_nc), RTMFP_OK);
    free(file.p);
    free(got.p);
}

static void not_flv(const char *addr) {
    buf_t file = synthetic_flv();
    buf_t bad = {NULL, 0, 0};
    pair_t p = pair(addr, "bad", 0);
    size_t n = 0, at = 0;
    int rc = RTMFP_OK;
    buf_t got;
    buf_put(&bad, file.p, file.len);
    buf_put(&bad, "hello, not a tag", 16);
    /* Write until the error: what comes before it is taken. */
    while (at < bad.len) {
        rc = rtmfp_netstream_write_flv(p.pub, bad.p + at, bad.len - at, WAIT_MS, &n);
        if (rc != RTMFP_OK) {
            break;
        }
        at += n;
    }
    CHECK_RC(rc, RTMFP_ERR_INVALID_ARGUMENT);
    CHECK(strstr(rtmfp_last_error_message(), "not FLV") != NULL);
    CHECK(at >= file.len - 4 && at < bad.len);
    /* Sticky. */
    CHECK_ERR(rtmfp_netstream_write_flv(p.pub, file.p, 3, 0, &n), RTMFP_ERR_INVALID_ARGUMENT);
    CHECK_RC(rtmfp_netstream_flush_flv(p.pub, WAIT_MS), RTMFP_OK);
    CHECK_RC(rtmfp_netstream_close(p.pub), RTMFP_OK);
    got = read_all(p.play);
    same_tags(&got, &file, "before the bad bytes");
    unpair(&p);
    free(file.p);
    free(bad.p);
    free(got.p);
}

/* (video, audio) frames ffprobe decodes from `path`. */
static void probe(const char *path, int *video, int *audio) {
    char cmd[512], line[256];
    FILE *f;
    *video = *audio = 0;
    snprintf(cmd, sizeof cmd,
             "ffprobe -v error -show_entries frame=media_type -of csv=p=0 '%s'", path);
    f = popen(cmd, "r");
    if (f == NULL) {
        return;
    }
    while (fgets(line, sizeof line, f) != NULL) {
        if (strncmp(line, "video", 5) == 0) {
            (*video)++;
        } else if (strncmp(line, "audio", 5) == 0) {
            (*audio)++;
        }
    }
    pclose(f);
}

static int save(const buf_t *b, char *path) {
    int fd = mkstemp(path);
    FILE *f;
    if (fd < 0) {
        return -1;
    }
    f = fdopen(fd, "wb");
    if (f == NULL || fwrite(b->p, 1, b->len, f) != b->len) {
        return -1;
    }
    return fclose(f);
}

static void ffmpeg_scenario(const char *addr) {
    buf_t enc = {NULL, 0, 0}, got;
    uint8_t chunk[4096];
    size_t n;
    FILE *f;
    pair_t p;
    char src_path[] = "/tmp/rtmfp-flv-src-XXXXXX", out_path[] = "/tmp/rtmfp-flv-out-XXXXXX";
    int v0, a0, v1, a1;
    const char *skip = getenv("RTMFP_SKIP_FFMPEG");
    if (system("ffmpeg -version >/dev/null 2>&1 && ffprobe -version >/dev/null 2>&1") != 0) {
        if (skip != NULL && strcmp(skip, "1") == 0) {
            printf("SKIP ffmpeg scenario: ffmpeg/ffprobe not found and RTMFP_SKIP_FFMPEG=1\n");
            return;
        }
        fprintf(stderr, "ffmpeg and ffprobe are required (RTMFP_SKIP_FFMPEG=1 skips)\n");
        CHECK(0);
        return;
    }
    f = popen("ffmpeg -hide_banner -loglevel error -nostdin -f lavfi -i "
              "testsrc2=size=160x120:rate=25 -f lavfi -i sine -t 2 -c:v libx264 -c:a aac "
              "-f flv -",
              "r");
    CHECK(f != NULL);
    if (f == NULL) {
        return;
    }
    while ((n = fread(chunk, 1, sizeof chunk, f)) > 0) {
        buf_put(&enc, chunk, n);
    }
    CHECK(pclose(f) == 0);
    p = pair(addr, "ffmpeg", RTMFP_FLV_DEFAULT_WINDOW_MS);
    CHECK_RC(write_all(p.pub, enc.p, enc.len), RTMFP_OK);
    CHECK_RC(rtmfp_netstream_flush_flv(p.pub, WAIT_MS), RTMFP_OK);
    CHECK_RC(rtmfp_netstream_close(p.pub), RTMFP_OK);
    got = read_all(p.play);
    unpair(&p);
    CHECK(save(&enc, src_path) == 0);
    CHECK(save(&got, out_path) == 0);
    probe(src_path, &v0, &a0);
    probe(out_path, &v1, &a1);
    printf("ffmpeg encoded %d video and %d audio frames; read back %d and %d\n", v0, a0, v1, a1);
    CHECK(v0 > 0 && a0 > 0);
    CHECK(v1 == v0);
    CHECK(a1 == a0);
    unlink(src_path);
    unlink(out_path);
    free(enc.p);
    free(got.p);
}

int main(void) {
    static const char *keys[] = {"FLVKEY"};
    rtmfp_config *cfg = NULL;
    rtmfp_server *srv = NULL;
    char addr[64];
    CHECK_RC(rtmfp_config_new(&cfg), RTMFP_OK);
    CHECK_RC(rtmfp_config_set_bind_address(cfg, "127.0.0.1:0"), RTMFP_OK);
    CHECK_RC(rtmfp_server_start(cfg, keys, 1, &srv), RTMFP_OK);
    CHECK_RC(rtmfp_config_free(cfg), RTMFP_OK);
    if (srv == NULL) {
        return check_summary();
    }
    CHECK(rtmfp_server_local_addr(srv, 0, addr, sizeof addr) > 0);
    round_trip(addr, 0);
    round_trip(addr, 100);
    not_flv(addr);
    p2p_round_trip(srv, addr, 0);
    p2p_round_trip(srv, addr, 100);
    ffmpeg_scenario(addr);
    CHECK_RC(rtmfp_server_free(srv), RTMFP_OK);
    return check_summary();
}
