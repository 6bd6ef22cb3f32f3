/*
 * Tiny check helpers shared by the C tests (one translation unit each).
 *
 * CHECK(cond)            counts a pass or prints the failed condition.
 * CHECK_RC(call, want)   runs an rtmfp call returning int; on a mismatch
 *                        prints both codes and rtmfp_last_error_message().
 * CHECK_ERR(call, want)  as CHECK_RC for an expected error, and also checks
 *                        that the call left a non-empty error message.
 * check_summary()        prints "N passed, M failed" and returns the exit
 *                        status (0 only if nothing failed).
 * now_ms()               monotonic milliseconds, for bounded waits (the
 *                        including file defines _POSIX_C_SOURCE first).
 */
#ifndef RTMFP_TEST_CHECK_H
#define RTMFP_TEST_CHECK_H

#include "rtmfp.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

static inline long long now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int check_passed = 0;
static int check_failed = 0;

#define CHECK(cond)                                                          \
    do {                                                                     \
        if (cond) {                                                          \
            check_passed++;                                                  \
        } else {                                                             \
            check_failed++;                                                  \
            fprintf(stderr, "%s:%d: %s: check failed: %s\n", __FILE__,       \
                    __LINE__, __func__, #cond);                              \
        }                                                                    \
    } while (0)

#define CHECK_RC(call, want)                                                 \
    do {                                                                     \
        int rc_ = (call);                                                    \
        int want_ = (want);                                                  \
        if (rc_ == want_) {                                                  \
            check_passed++;                                                  \
        } else {                                                             \
            check_failed++;                                                  \
            fprintf(stderr, "%s:%d: %s: %s returned %d (%s: %s), want %d\n", \
                    __FILE__, __LINE__, __func__, #call, rc_,                \
                    rtmfp_strerror(rc_), rtmfp_last_error_message(), want_); \
        }                                                                    \
    } while (0)

#define CHECK_ERR(call, want)                                                \
    do {                                                                     \
        int rc_ = (call);                                                    \
        int want_ = (want);                                                  \
        const char *msg_ = rtmfp_last_error_message();                       \
        if (rc_ == want_ && msg_ != NULL && msg_[0] != '\0') {               \
            check_passed++;                                                  \
        } else {                                                             \
            check_failed++;                                                  \
            fprintf(stderr,                                                  \
                    "%s:%d: %s: %s returned %d (%s: \"%s\"), want %d (%s)"   \
                    " with a message\n",                                     \
                    __FILE__, __LINE__, __func__, #call, rc_,                \
                    rtmfp_strerror(rc_), msg_ ? msg_ : "(NULL)", want_,      \
                    rtmfp_strerror(want_));                                  \
        }                                                                    \
    } while (0)

static int check_summary(void) {
    printf("%d passed, %d failed\n", check_passed, check_failed);
    fflush(stdout);
    return check_failed == 0 ? 0 : 1;
}

#endif /* RTMFP_TEST_CHECK_H */
