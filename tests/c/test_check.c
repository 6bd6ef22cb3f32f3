/*
 * rtmfp_check through the C API:
 *
 *   - argument checks: NULL uri, a URI that is not rtmfp://;
 *   - a closed port: RTMFP_ERR_IO, the report's "udp" line says so;
 *   - against $RTMFP_FLASH_SERVER_URI: RTMFP_OK, a report with the
 *     "server", "udp", "public" and "verdict" lines; a report buffer too
 *     small is cut and says RTMFP_ERR_BUFFER_TOO_SMALL;
 *   - through the TURN relay $RTMFP_TURN_URI with a wrong password:
 *     RTMFP_ERR_IO and the 401 in the report (the check tells whether a
 *     TURN proxy works).
 *
 * Prints "N passed, M failed"; exits non-zero on failure.
 */
#define _POSIX_C_SOURCE 200809L

#include "check.h"

#include <stdlib.h>

static char report[4096];

int main(void) {
    const char *uri = getenv("RTMFP_FLASH_SERVER_URI");
    const char *turn = getenv("RTMFP_TURN_URI");
    rtmfp_config *cfg = NULL;
    char small[16];

    CHECK_ERR(rtmfp_check(NULL, NULL, 1000, report, sizeof report), RTMFP_ERR_NULL_POINTER);
    CHECK_ERR(rtmfp_check(NULL, "http://127.0.0.1/", 1000, report, sizeof report),
              RTMFP_ERR_INVALID_ARGUMENT);

    /* Nothing listens on port 9 of loopback: the ICMP error ends it. */
    CHECK_RC(rtmfp_config_new(&cfg), RTMFP_OK);
    CHECK_RC(rtmfp_config_set_bind_address(cfg, "127.0.0.1:0"), RTMFP_OK);
    CHECK_ERR(rtmfp_check(cfg, "rtmfp://127.0.0.1:9", 3000, report, sizeof report), RTMFP_ERR_IO);
    printf("closed port:\n%s", report);
    CHECK(strstr(report, "udp         no session with the server") != NULL);

    if (uri == NULL || uri[0] == '\0') {
        printf("SKIP the live checks: RTMFP_FLASH_SERVER_URI is not set\n");
        CHECK_RC(rtmfp_config_free(cfg), RTMFP_OK);
        return check_summary();
    }
    CHECK_RC(rtmfp_check(cfg, uri, 5000, report, sizeof report), RTMFP_OK);
    printf("%s:\n%s", uri, report);
    CHECK(strncmp(report, "server      ", 12) == 0);
    CHECK(strstr(report, "\nudp         reaches the server: connected in ") != NULL);
    CHECK(strstr(report, "\npublic      ") != NULL);
    CHECK(strstr(report, "\nverdict     ") != NULL);
    CHECK_ERR(rtmfp_check(cfg, uri, 5000, small, sizeof small), RTMFP_ERR_BUFFER_TOO_SMALL);
    CHECK(strlen(small) == sizeof small - 1);

    if (turn != NULL && turn[0] != '\0') {
        /* turn://USER:PASS@HOST:PORT with the user only: a wrong password. */
        const char *at = strrchr(turn, '@');
        char host[256];
        snprintf(host, sizeof host, "turn:%s", at != NULL ? at + 1 : "127.0.0.1");
        CHECK_RC(rtmfp_config_set_turn_proxy(cfg, host, "rtmfp", "wrong"), RTMFP_OK);
        CHECK_ERR(rtmfp_check(cfg, uri, 5000, report, sizeof report), RTMFP_ERR_IO);
        printf("through the TURN relay with a wrong password:\n%s", report);
        CHECK(strstr(report, "401") != NULL);
    }
    CHECK_RC(rtmfp_config_free(cfg), RTMFP_OK);
    return check_summary();
}
