/*
 * Interop through the C API with a Flash server that we did not write
 * (MonaServer2 in scripts/test.sh, when MONASERVER2_DIR names a build):
 *
 *   - a NetConnection connects to $RTMFP_FLASH_SERVER_URI
 *     (NetConnection.Connect.Success, a 64-hex-digit peer ID);
 *   - it publishes a stream through the server, a second NetConnection
 *     plays it, and N audio messages arrive byte for byte, in order.
 *
 * Without RTMFP_FLASH_SERVER_URI it prints SKIP and "0 passed, 0 failed".
 * Prints "N passed, M failed"; exits non-zero on failure. Every wait is
 * bounded.
 */
#define _POSIX_C_SOURCE 200809L

#include "check.h"

#include <stdint.h>
#include <stdlib.h>
#include <time.h>

#define WAIT_MS 20000
#define N_AUDIO 30

/* Audio message i: an AAC raw frame header (0xAF 0x01), then a pattern. */
static size_t audio_fill(uint8_t *buf, int i) {
    size_t k, len = 2 + (size_t)(20 + (i * 37) % 200);
    for (k = 0; k < len; k++) {
        buf[k] = (uint8_t)(i * 31 + k * 7);
    }
    buf[0] = 0xAF;
    buf[1] = 0x01;
    return len;
}

static rtmfp_netconnection *connect_to(const char *uri) {
    rtmfp_config *cfg = NULL;
    rtmfp_netconnection *nc = NULL;
    CHECK_RC(rtmfp_config_new(&cfg), RTMFP_OK);
    CHECK_RC(rtmfp_config_set_bind_address(cfg, "127.0.0.1:0"), RTMFP_OK);
    CHECK_RC(rtmfp_netconnection_connect(cfg, uri, &nc), RTMFP_OK);
    CHECK_RC(rtmfp_config_free(cfg), RTMFP_OK);
    return nc;
}

/* The next event of `type` (with status `code`, if given) within WAIT_MS,
 * or NULL; others are freed. */
static rtmfp_event *wait_for(rtmfp_netconnection *nc, rtmfp_event_type type, const char *code) {
    long long deadline = now_ms() + WAIT_MS;
    rtmfp_event *ev = NULL;
    while (now_ms() < deadline) {
        int rc = rtmfp_netconnection_next_event(nc, 50, &ev);
        if (rc == RTMFP_ERR_AGAIN) {
            continue;
        }
        if (rc != RTMFP_OK) {
            fprintf(stderr, "wait_for: %s (%s)\n", rtmfp_strerror(rc), rtmfp_last_error_message());
            return NULL;
        }
        if (ev->type == RTMFP_EVENT_TYPE_NETSTATUS) {
            fprintf(stderr, "  status %s\n", ev->status_code ? ev->status_code : "?");
        }
        if (ev->type == type &&
            (code == NULL || (ev->status_code != NULL && strcmp(ev->status_code, code) == 0))) {
            return ev;
        }
        rtmfp_event_free(ev);
    }
    fprintf(stderr, "wait_for: no %s %s within %d ms\n", rtmfp_event_type_name(type),
            code ? code : "", WAIT_MS);
    return NULL;
}

static void expect_status(rtmfp_netconnection *nc, const char *code) {
    rtmfp_event *ev = wait_for(nc, RTMFP_EVENT_TYPE_NETSTATUS, code);
    CHECK(ev != NULL);
    if (ev != NULL) {
        CHECK_RC(rtmfp_event_free(ev), RTMFP_OK);
    }
}

int main(void) {
    const char *uri = getenv("RTMFP_FLASH_SERVER_URI");
    rtmfp_netconnection *pub, *player;
    rtmfp_netstream *out = NULL, *in = NULL;
    char hex[65];
    uint8_t buf[512];
    int i, got = 0, matched = 0;
    long long deadline;

    if (uri == NULL || uri[0] == '\0') {
        printf("SKIP test_flash_server: RTMFP_FLASH_SERVER_URI is not set\n");
        return check_summary();
    }
    printf("test_flash_server: %s\n", uri);

    pub = connect_to(uri);
    expect_status(pub, "NetConnection.Connect.Success");
    CHECK_RC(rtmfp_netconnection_connected(pub), 1);
    CHECK_RC(rtmfp_netconnection_near_id_hex(pub, hex, sizeof hex), 64);
    printf("connected, peer ID %s\n", hex);

    CHECK_RC(rtmfp_netstream_create(pub, RTMFP_NETSTREAM_KIND_SERVER, NULL, &out), RTMFP_OK);
    CHECK_RC(rtmfp_netstream_publish(out, "c-interop"), RTMFP_OK);
    expect_status(pub, "NetStream.Publish.Start");

    player = connect_to(uri);
    expect_status(player, "NetConnection.Connect.Success");
    CHECK_RC(rtmfp_netstream_create(player, RTMFP_NETSTREAM_KIND_SERVER, NULL, &in), RTMFP_OK);
    CHECK_RC(rtmfp_netstream_play(in, "c-interop"), RTMFP_OK);
    expect_status(player, "NetStream.Play.Start");

    for (i = 0; i < N_AUDIO; i++) {
        size_t len = audio_fill(buf, i);
        CHECK_RC(rtmfp_netstream_send_audio(out, (uint32_t)(i * 23), buf, len), 1);
    }
    deadline = now_ms() + WAIT_MS;
    while (got < N_AUDIO && now_ms() < deadline) {
        rtmfp_event *ev = NULL;
        int rc = rtmfp_netconnection_next_event(player, 50, &ev);
        if (rc != RTMFP_OK) {
            continue;
        }
        if (ev->type == RTMFP_EVENT_TYPE_MEDIA && ev->media_type == RTMFP_MEDIA_TYPE_AUDIO) {
            size_t len = audio_fill(buf, got);
            matched += ev->data_len == len && ev->data != NULL && memcmp(ev->data, buf, len) == 0;
            got++;
        }
        rtmfp_event_free(ev);
    }
    printf("audio: %d of %d arrived, %d byte for byte in order\n", got, N_AUDIO, matched);
    CHECK(got == N_AUDIO);
    CHECK(matched == N_AUDIO);

    CHECK_RC(rtmfp_netconnection_close(player, 1000), RTMFP_OK);
    CHECK_RC(rtmfp_netconnection_close(pub, 1000), RTMFP_OK);
    CHECK_RC(rtmfp_netconnection_free(player), RTMFP_OK);
    CHECK_RC(rtmfp_netconnection_free(pub), RTMFP_OK);
    return check_summary();
}
