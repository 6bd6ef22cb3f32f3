/*
 * rtmfp_config_set_turn_proxy through the C API, with a real TURN server
 * (coturn, started by scripts/test.sh as $RTMFP_TURN_URI, user and
 * password in the URI) and a Flash server ($RTMFP_FLASH_SERVER_URI):
 *
 *   - argument checks: NULL config, a URI that does not parse, no user;
 *     rtmfp_config_set_direct_timeout (the relay fallback's wait);
 *   - a NetConnection whose every datagram goes through the relay
 *     connects (NetConnection.Connect.Success) and publishes a stream
 *     through the server; a plain NetConnection plays it, and N audio
 *     messages arrive byte for byte, in order;
 *   - a wrong password fails rtmfp_netconnection_connect with
 *     RTMFP_ERR_IO and a message that names the 401.
 *
 * Without the two variables it prints SKIP and "0 passed, 0 failed".
 * Prints "N passed, M failed"; exits non-zero on failure. Every wait is
 * bounded.
 */
#define _POSIX_C_SOURCE 200809L

#include "check.h"

#include <stdint.h>
#include <stdlib.h>
#include <time.h>

#define WAIT_MS 20000
#define N_AUDIO 20

static size_t audio_fill(uint8_t *buf, int i) {
    size_t k, len = 2 + (size_t)(30 + (i * 41) % 300);
    for (k = 0; k < len; k++) {
        buf[k] = (uint8_t)(i * 13 + k * 5);
    }
    buf[0] = 0xAF;
    buf[1] = 0x01;
    return len;
}

/* rtmfp_last_error_message() right after the connect call (the calls
 * after it reset it). */
static char connect_error[512];

/* A NetConnection to `uri`, through the relay `turn` if not NULL. */
static int connect_via(const char *uri, const char *turn, rtmfp_netconnection **nc) {
    rtmfp_config *cfg = NULL;
    int rc;
    CHECK_RC(rtmfp_config_new(&cfg), RTMFP_OK);
    CHECK_RC(rtmfp_config_set_bind_address(cfg, "127.0.0.1:0"), RTMFP_OK);
    if (turn != NULL) {
        CHECK_RC(rtmfp_config_set_turn_proxy(cfg, turn, NULL, NULL), RTMFP_OK);
    }
    rc = rtmfp_netconnection_connect(cfg, uri, nc);
    snprintf(connect_error, sizeof connect_error, "%s", rtmfp_last_error_message());
    CHECK_RC(rtmfp_config_free(cfg), RTMFP_OK);
    return rc;
}

static int wait_status(rtmfp_netconnection *nc, const char *code) {
    long long deadline = now_ms() + WAIT_MS;
    while (now_ms() < deadline) {
        rtmfp_event *ev = NULL;
        if (rtmfp_netconnection_next_event(nc, 50, &ev) != RTMFP_OK) {
            continue;
        }
        if (ev->type == RTMFP_EVENT_TYPE_NETSTATUS && ev->status_code != NULL &&
            strcmp(ev->status_code, code) == 0) {
            rtmfp_event_free(ev);
            return 1;
        }
        rtmfp_event_free(ev);
    }
    fprintf(stderr, "no %s within %d ms\n", code, WAIT_MS);
    return 0;
}

static void argument_checks(void) {
    rtmfp_config *cfg = NULL;
    CHECK_ERR(rtmfp_config_set_turn_proxy(NULL, "turn:127.0.0.1", "u", "p"),
              RTMFP_ERR_NULL_POINTER);
    CHECK_RC(rtmfp_config_new(&cfg), RTMFP_OK);
    CHECK_ERR(rtmfp_config_set_turn_proxy(cfg, "turn:host:notaport", "u", "p"),
              RTMFP_ERR_INVALID_ARGUMENT);
    CHECK_ERR(rtmfp_config_set_turn_proxy(cfg, "turn:127.0.0.1", NULL, NULL),
              RTMFP_ERR_INVALID_ARGUMENT);
    CHECK(strstr(rtmfp_last_error_message(), "user") != NULL);
    CHECK_RC(rtmfp_config_set_turn_proxy(cfg, "turn:127.0.0.1:3478", "u", "p"), RTMFP_OK);
    CHECK_RC(rtmfp_config_set_turn_proxy(cfg, NULL, NULL, NULL), RTMFP_OK);
    /* The relay fallback's wait: 0 is Flash Player's (no fallback). */
    CHECK_ERR(rtmfp_config_set_direct_timeout(NULL, 5000), RTMFP_ERR_NULL_POINTER);
    CHECK_RC(rtmfp_config_set_direct_timeout(cfg, 2500), RTMFP_OK);
    CHECK_RC(rtmfp_config_set_direct_timeout(cfg, 0), RTMFP_OK);
    CHECK_RC(rtmfp_config_free(cfg), RTMFP_OK);
}

int main(void) {
    const char *uri = getenv("RTMFP_FLASH_SERVER_URI");
    const char *turn = getenv("RTMFP_TURN_URI");
    rtmfp_netconnection *pub = NULL, *player = NULL, *bad = NULL;
    rtmfp_netstream *out = NULL, *in = NULL;
    uint8_t buf[512];
    char wrong[512];
    int i, got = 0, matched = 0;
    long long deadline;

    argument_checks();
    if (uri == NULL || uri[0] == '\0' || turn == NULL || turn[0] == '\0') {
        printf("SKIP test_turn: RTMFP_FLASH_SERVER_URI or RTMFP_TURN_URI is not set\n");
        return check_summary();
    }
    printf("test_turn: %s through %s\n", uri, turn);

    CHECK_RC(connect_via(uri, turn, &pub), RTMFP_OK);
    if (pub == NULL) {
        return check_summary();
    }
    CHECK(wait_status(pub, "NetConnection.Connect.Success"));
    {
        char relayed[RTMFP_ADDR_STRLEN];
        CHECK(rtmfp_netconnection_relayed_addr(pub, relayed, sizeof relayed) > 0);
        printf("publishing from the relayed address %s\n", relayed);
    }
    CHECK_RC(rtmfp_netstream_create(pub, RTMFP_NETSTREAM_KIND_SERVER, NULL, &out), RTMFP_OK);
    CHECK_RC(rtmfp_netstream_publish(out, "c-turn"), RTMFP_OK);
    CHECK(wait_status(pub, "NetStream.Publish.Start"));

    CHECK_RC(connect_via(uri, NULL, &player), RTMFP_OK);
    {
        char none[RTMFP_ADDR_STRLEN];
        CHECK_RC(rtmfp_netconnection_relayed_addr(player, none, sizeof none), 0);
        CHECK(none[0] == '\0');
    }
    CHECK(wait_status(player, "NetConnection.Connect.Success"));
    CHECK_RC(rtmfp_netstream_create(player, RTMFP_NETSTREAM_KIND_SERVER, NULL, &in), RTMFP_OK);
    CHECK_RC(rtmfp_netstream_play(in, "c-turn"), RTMFP_OK);
    CHECK(wait_status(player, "NetStream.Play.Start"));

    for (i = 0; i < N_AUDIO; i++) {
        size_t len = audio_fill(buf, i);
        CHECK_RC(rtmfp_netstream_send_audio(out, (uint32_t)(i * 23), buf, len), 1);
    }
    deadline = now_ms() + WAIT_MS;
    while (got < N_AUDIO && now_ms() < deadline) {
        rtmfp_event *ev = NULL;
        if (rtmfp_netconnection_next_event(player, 50, &ev) != RTMFP_OK) {
            continue;
        }
        if (ev->type == RTMFP_EVENT_TYPE_MEDIA && ev->media_type == RTMFP_MEDIA_TYPE_AUDIO) {
            size_t len = audio_fill(buf, got);
            matched += ev->data_len == len && ev->data != NULL && memcmp(ev->data, buf, len) == 0;
            got++;
        }
        rtmfp_event_free(ev);
    }
    printf("audio through the relay: %d of %d arrived, %d byte for byte in order\n", got,
           N_AUDIO, matched);
    CHECK(got == N_AUDIO);
    CHECK(matched == N_AUDIO);
    CHECK_RC(rtmfp_netconnection_free(player), RTMFP_OK);
    CHECK_RC(rtmfp_netconnection_free(pub), RTMFP_OK);

    /* The same relay with a wrong password: "turn://USER:PASS@..." -> ":nope@". */
    {
        const char *at = strrchr(turn, '@');
        const char *colon = strchr(turn + strlen("turn://"), ':');
        if (at != NULL && colon != NULL && colon < at &&
            (size_t)(colon - turn) + strlen(at) + 8 < sizeof wrong) {
            snprintf(wrong, sizeof wrong, "%.*s:nope%s", (int)(colon - turn), turn, at);
            CHECK_RC(connect_via(uri, wrong, &bad), RTMFP_ERR_IO);
            printf("wrong password: %s\n", connect_error);
            CHECK(strstr(connect_error, "401") != NULL);
            CHECK(bad == NULL);
        } else {
            CHECK(!"RTMFP_TURN_URI has the form turn://USER:PASS@HOST:PORT");
        }
    }
    return check_summary();
}
