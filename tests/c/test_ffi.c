/*
 * C-side tests of the rtmfp C ABI (include/rtmfp.h, librtmfp).
 *
 * Built and run by scripts/test.sh:
 *   cc -std=c99 -Wall -Wextra -pedantic -Werror -pthread \
 *      -DRTMFP_EXPECTED_VERSION='"0.1.0"' -Iinclude tests/c/test_ffi.c \
 *      -Ltarget/debug -lrtmfp -Wl,-rpath,$PWD/target/debug -o build/c/test_ffi
 *
 * Prints one line per failed check and "N passed, M failed" at the end;
 * exits non-zero if anything failed.
 */
#define _POSIX_C_SOURCE 200809L

#include "rtmfp.h"

#include <pthread.h>
#include <stdio.h>
#include <string.h>

#ifndef RTMFP_EXPECTED_VERSION
#error "compile with -DRTMFP_EXPECTED_VERSION='\"x.y.z\"' (the Cargo version)"
#endif

static int passed = 0;
static int failed = 0;

#define CHECK(cond)                                                          \
    do {                                                                     \
        if (cond) {                                                          \
            passed++;                                                        \
        } else {                                                             \
            failed++;                                                        \
            fprintf(stderr, "%s:%d: %s: check failed: %s\n", __FILE__,       \
                    __LINE__, __func__, #cond);                              \
        }                                                                    \
    } while (0)

#define CHECK_STR(actual, expected)                                          \
    do {                                                                     \
        const char *a_ = (actual);                                           \
        const char *e_ = (expected);                                         \
        if (a_ != NULL && strcmp(a_, e_) == 0) {                             \
            passed++;                                                        \
        } else {                                                             \
            failed++;                                                        \
            fprintf(stderr, "%s:%d: %s: %s is \"%s\", expected \"%s\"\n",    \
                    __FILE__, __LINE__, __func__, #actual,                   \
                    a_ ? a_ : "(NULL)", e_);                                 \
        }                                                                    \
    } while (0)

static void test_version(void) {
    uint32_t major = 99, minor = 99, patch = 99;
    char parts[64];
    const char *v = rtmfp_version();

    CHECK(v != NULL);
    CHECK_STR(v, RTMFP_EXPECTED_VERSION);
    CHECK(rtmfp_version() == v); /* static: the same pointer every time */

    CHECK(rtmfp_version_parts(&major, &minor, &patch) == RTMFP_OK);
    snprintf(parts, sizeof parts, "%u.%u.%u", (unsigned)major,
             (unsigned)minor, (unsigned)patch);
    /* The string may carry a "-pre" suffix; the numbers are its prefix. */
    CHECK(strncmp(v, parts, strlen(parts)) == 0);
    CHECK(v[strlen(parts)] == '\0' || v[strlen(parts)] == '-');
}

static void test_error_codes(void) {
    /* The values are ABI: they must never change. */
    CHECK(RTMFP_OK == 0);
    CHECK(RTMFP_ERR_NULL_POINTER == -1);
    CHECK(RTMFP_ERR_INVALID_ARGUMENT == -2);
    CHECK(RTMFP_ERR_INVALID_HANDLE == -3);
    CHECK(RTMFP_ERR_WRONG_STATE == -4);
    CHECK(RTMFP_ERR_BUFFER_TOO_SMALL == -5);
    CHECK(RTMFP_ERR_IO == -6);
    CHECK(RTMFP_ERR_PROTOCOL == -7);
    CHECK(RTMFP_ERR_TIMEOUT == -8);
    CHECK(RTMFP_ERR_CLOSED == -9);
    CHECK(RTMFP_ERR_PANIC == -10);
    CHECK(RTMFP_ERR_AGAIN == -11);
    CHECK(RTMFP_ERR_CRYPTO == -12);
    CHECK(RTMFP_ERR_UNSUPPORTED == -13);
}

static void test_strerror(void) {
    static const struct {
        int code;
        const char *text;
    } expected[] = {
        {RTMFP_OK, "success"},
        {RTMFP_ERR_NULL_POINTER, "NULL pointer argument"},
        {RTMFP_ERR_INVALID_ARGUMENT, "invalid argument"},
        {RTMFP_ERR_INVALID_HANDLE, "invalid or stale handle"},
        {RTMFP_ERR_WRONG_STATE, "operation not valid in the current state"},
        {RTMFP_ERR_BUFFER_TOO_SMALL, "buffer too small"},
        {RTMFP_ERR_IO, "I/O error"},
        {RTMFP_ERR_PROTOCOL, "protocol error"},
        {RTMFP_ERR_TIMEOUT, "timed out"},
        {RTMFP_ERR_CLOSED, "closed"},
        {RTMFP_ERR_PANIC, "internal error (Rust panic)"},
        {RTMFP_ERR_AGAIN, "try again"},
        {RTMFP_ERR_CRYPTO, "cryptographic error"},
        {RTMFP_ERR_UNSUPPORTED, "not supported"},
    };
    static const int unknown[] = {1, 42, -14, -1000, INT32_MIN, INT32_MAX};
    size_t i;

    for (i = 0; i < sizeof expected / sizeof expected[0]; i++) {
        CHECK_STR(rtmfp_strerror(expected[i].code), expected[i].text);
    }
    for (i = 0; i < sizeof unknown / sizeof unknown[0]; i++) {
        CHECK_STR(rtmfp_strerror(unknown[i]), "unknown error code");
    }
}

static void *other_thread(void *arg) {
    char *out = (char *)arg;
    /* A fresh thread has no error, whatever other threads did. Copied:
     * the string is this thread's, and goes when the thread exits. */
    snprintf(out, 64, "%s", rtmfp_last_error_message());
    return NULL;
}

static void test_last_error_message(void) {
    uint32_t major = 7, minor = 7, patch = 7;
    const char *msg;
    char seen_by_thread[64] = "(not set)";
    pthread_t t;

    msg = rtmfp_last_error_message();
    CHECK(msg != NULL);
    CHECK_STR(msg, "");

    /* A failing call sets a detailed message naming the argument. */
    CHECK(rtmfp_version_parts(NULL, &minor, &patch) == RTMFP_ERR_NULL_POINTER);
    CHECK(minor == 7 && patch == 7); /* nothing written on failure */
    CHECK_STR(rtmfp_last_error_message(), "argument `major` must not be NULL");
    CHECK(rtmfp_version_parts(&major, &minor, NULL) == RTMFP_ERR_NULL_POINTER);
    CHECK_STR(rtmfp_last_error_message(), "argument `patch` must not be NULL");

    /* Reading it, and infallible calls, do not change it. */
    msg = rtmfp_last_error_message();
    CHECK(rtmfp_last_error_message() == msg);
    (void)rtmfp_version();
    (void)rtmfp_strerror(RTMFP_ERR_IO);
    CHECK_STR(rtmfp_last_error_message(), "argument `patch` must not be NULL");

    /* It is per thread. */
    CHECK(pthread_create(&t, NULL, other_thread, seen_by_thread) == 0);
    CHECK(pthread_join(t, NULL) == 0);
    CHECK_STR(seen_by_thread, "");
    CHECK_STR(rtmfp_last_error_message(), "argument `patch` must not be NULL");

    /* The next fallible call clears it when it succeeds. */
    CHECK(rtmfp_version_parts(&major, &minor, &patch) == RTMFP_OK);
    CHECK_STR(rtmfp_last_error_message(), "");
}

int main(void) {
    test_version();
    test_error_codes();
    test_strerror();
    test_last_error_message();

    printf("%d passed, %d failed\n", passed, failed);
    return failed == 0 ? 0 : 1;
}
