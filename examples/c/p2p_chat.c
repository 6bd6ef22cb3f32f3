/*
 * p2p_chat: two peers find each other by name through a rendezvous server
 * and exchange lines of text directly (RTMFP DIRECT_CONNECTIONS streams).
 *
 *   p2p_chat server [BIND]              run a rendezvous server
 *                                       (BIND default 0.0.0.0:1935)
 *   p2p_chat join URI NAME [PEER_NAME]  join the server at URI as NAME;
 *                                       with PEER_NAME, call that peer
 *
 * e.g.  p2p_chat server 0.0.0.0:1935
 *       p2p_chat join rtmfp://server.example/chat alice
 *       p2p_chat join rtmfp://server.example/chat bob alice
 *
 * How it works: each peer connects a NetConnection to the server,
 * registers its NAME (registerName) and publishes a DIRECT_CONNECTIONS
 * stream "chat". The caller looks PEER_NAME up (lookupName), which gives
 * the peer's ID, and plays the peer's "chat" stream by that ID: the server
 * introduces the two (through NATs too), and the media then goes peer to
 * peer. The callee sees the subscriber arrive and plays the caller's
 * "chat" stream back. Each line typed on stdin is sent on one's own stream
 * as a data message, NetStream.send("chat", line); the peer prints it as
 * "peer> ...". Input is read once the peer listens. End of input (Ctrl-D)
 * leaves the chat (after half a second, for the last lines to arrive), and
 * when one peer leaves the other exits too. Ctrl-C quits at once.
 *
 * Build (after `cargo build --release -p rtmfp-ffi && scripts/gen-pc.sh`):
 *   export PKG_CONFIG_PATH=$PWD/target/release
 *   cc -std=c99 p2p_chat.c $(pkg-config --cflags --libs rtmfp) \
 *      -Wl,-rpath,$PWD/target/release -o p2p_chat
 */
#define _POSIX_C_SOURCE 200809L

#include "rtmfp.h"

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define LINE_MAX_LEN 4096
#define LINGER_MS 500

static volatile sig_atomic_t interrupted = 0;

static void on_signal(int sig) {
    (void)sig;
    interrupted = 1;
}

static int fail(const char *what, int rc) {
    fprintf(stderr, "p2p_chat: %s: %s (%s)\n", what, rtmfp_strerror(rc),
            rtmfp_last_error_message());
    return 1;
}

static long long now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void catch_signals(void) {
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
}

/* ------------------------------------------------------------ server -- */

static int run_server(const char *bind) {
    rtmfp_config *cfg = NULL;
    rtmfp_server *srv = NULL;
    char addr[RTMFP_ADDR_STRLEN], id[RTMFP_PEER_ID_HEX_LEN];
    struct pollfd pfd;
    rtmfp_event *ev;
    int rc;

    if ((rc = rtmfp_config_new(&cfg)) != RTMFP_OK ||
        (rc = rtmfp_config_set_bind_address(cfg, bind)) != RTMFP_OK ||
        (rc = rtmfp_server_start(cfg, NULL, 0, &srv)) != RTMFP_OK) { /* any key */
        rtmfp_config_free(cfg);
        return fail("starting the server", rc);
    }
    rtmfp_config_free(cfg);
    rtmfp_server_local_addr(srv, 0, addr, sizeof addr);
    printf("listening on %s\n", addr);
    printf("peers join with: p2p_chat join rtmfp://%s/chat NAME [PEER_NAME]\n", addr);
    fflush(stdout);

    catch_signals();
    pfd.fd = rtmfp_server_event_fd(srv);
    pfd.events = POLLIN;
    while (!interrupted) {
        if (poll(&pfd, 1, -1) < 0 && errno != EINTR) {
            perror("poll");
            break;
        }
        while ((rc = rtmfp_server_next_event(srv, 0, &ev)) == RTMFP_OK) {
            id[0] = '\0';
            if (ev->has_peer_id) {
                rtmfp_peer_id_to_hex(ev->peer_id, id, sizeof id);
            }
            switch (ev->type) {
            case RTMFP_EVENT_TYPE_SERVER_CONNECTED:
                printf("connected %.16s... from %s\n", id, ev->address);
                break;
            case RTMFP_EVENT_TYPE_SERVER_DISCONNECTED:
                printf("disconnected %.16s...\n", id);
                break;
            case RTMFP_EVENT_TYPE_SERVER_NAME_REGISTERED:
                printf("name %s is %.16s...\n", ev->name, id);
                break;
            case RTMFP_EVENT_TYPE_SERVER_INTRODUCED:
                printf("introduced %s to %.16s... at %s\n", ev->address, id, ev->text);
                break;
            default:
                break;
            }
            rtmfp_event_free(ev);
        }
        fflush(stdout);
        if (rc != RTMFP_ERR_AGAIN) {
            fail("events", rc);
            break;
        }
    }
    rtmfp_server_free(srv);
    return 0;
}

/* -------------------------------------------------------------- peer -- */

struct chat {
    rtmfp_netconnection *nc;
    const char *name, *peer_name;
    rtmfp_netstream *mine;   /* our DIRECT_CONNECTIONS stream "chat" */
    rtmfp_netstream *theirs; /* the peer's "chat", played by its peer ID */
    uint32_t mine_id, theirs_id;
    uint64_t register_call, lookup_call;
    int listened;   /* the peer subscribed to our stream: we may send */
    int input_done; /* stdin ended: linger, then leave */
    long long leave_at;
    int done, status;
    char line[LINE_MAX_LEN];
    size_t line_len;
};

static void play_peer(struct chat *c, const uint8_t peer_id[RTMFP_PEER_ID_LEN]) {
    int rc;
    if (c->theirs != NULL) {
        return;
    }
    if ((rc = rtmfp_netstream_create(c->nc, RTMFP_NETSTREAM_KIND_PEER, peer_id, &c->theirs)) !=
            RTMFP_OK ||
        (rc = rtmfp_netstream_play(c->theirs, "chat")) != RTMFP_OK) {
        c->status = fail("playing the peer", rc);
        c->done = 1;
        return;
    }
    c->theirs_id = (uint32_t)rtmfp_netstream_id(c->theirs);
}

static void handle(struct chat *c, const rtmfp_event *ev) {
    char id[RTMFP_PEER_ID_HEX_LEN];
    int rc;

    switch (ev->type) {
    case RTMFP_EVENT_TYPE_NETSTATUS:
        if (ev->stream == 0 && strcmp(ev->status_code, "NetConnection.Connect.Success") == 0) {
            /* Up: take our name, publish our stream. */
            if ((rc = rtmfp_netconnection_register_name(c->nc, c->name, &c->register_call)) !=
                    RTMFP_OK ||
                (rc = rtmfp_netstream_create(c->nc, RTMFP_NETSTREAM_KIND_DIRECT_CONNECTIONS, NULL,
                                             &c->mine)) != RTMFP_OK ||
                (rc = rtmfp_netstream_publish(c->mine, "chat")) != RTMFP_OK) {
                c->status = fail("setting up", rc);
                c->done = 1;
                break;
            }
            c->mine_id = (uint32_t)rtmfp_netstream_id(c->mine);
        } else if (ev->stream == 0 || strcmp(ev->status_level, "error") == 0) {
            /* Connect.Rejected / .Failed / .Closed, or a stream error. */
            printf("%s: %s\n", ev->status_code, ev->status_description);
            c->status = strcmp(ev->status_level, "error") == 0;
            c->done = 1;
        }
        break;
    case RTMFP_EVENT_TYPE_CALL_RESULT:
        if (ev->call_id == c->register_call) {
            if (!ev->ok) {
                printf("cannot register %s: %s\n", c->name, ev->status_description);
                c->status = 1;
                c->done = 1;
                break;
            }
            printf("registered as %s\n", c->name);
            if (c->peer_name != NULL) {
                rc = rtmfp_netconnection_lookup_name(c->nc, c->peer_name, &c->lookup_call);
                if (rc != RTMFP_OK) {
                    c->status = fail("lookupName", rc);
                    c->done = 1;
                }
            } else {
                printf("waiting for a peer\n");
            }
        } else if (ev->call_id == c->lookup_call) {
            if (!ev->ok || !ev->has_peer_id) {
                printf("nobody is called %s\n", c->peer_name);
                c->status = 1;
                c->done = 1;
                break;
            }
            printf("calling %s (%.16s...)\n", c->peer_name, ev->text);
            play_peer(c, ev->peer_id);
        }
        break;
    case RTMFP_EVENT_TYPE_PEER_STREAM_OPENED:
        /* Someone plays our stream: play theirs back (the callee's side),
         * and start reading input. */
        if (ev->stream == c->mine_id && ev->has_peer_id) {
            rtmfp_peer_id_to_hex(ev->peer_id, id, sizeof id);
            printf("peer %.16s... is listening; type away\n", id);
            play_peer(c, ev->peer_id);
            c->listened = 1;
        }
        break;
    case RTMFP_EVENT_TYPE_PEER_STREAM_CLOSED:
        if (ev->stream == c->mine_id && c->listened) {
            printf("the peer left\n");
            c->done = 1;
        }
        break;
    case RTMFP_EVENT_TYPE_MEDIA:
        if (ev->stream == c->theirs_id && ev->name != NULL && strcmp(ev->name, "chat") == 0 &&
            ev->text != NULL) {
            printf("peer> %s\n", ev->text);
        }
        break;
    default:
        break;
    }
    fflush(stdout);
}

static void send_line(struct chat *c) {
    const char *args[1];
    int rc;
    c->line[c->line_len] = '\0';
    args[0] = c->line;
    rc = rtmfp_netstream_send_strings(c->mine, 0, "chat", args, 1);
    if (rc < 0) {
        fail("sending", rc);
    }
    c->line_len = 0;
}

/* Reads what stdin has; sends each complete line. */
static void read_input(struct chat *c) {
    char buf[1024];
    ssize_t n = read(STDIN_FILENO, buf, sizeof buf);
    ssize_t i;

    if (n < 0 && errno == EINTR) {
        return;
    }
    if (n <= 0) {
        /* End of input: send a last unterminated line, then leave soon. */
        if (c->line_len > 0) {
            send_line(c);
        }
        c->input_done = 1;
        c->leave_at = now_ms() + LINGER_MS;
        return;
    }
    for (i = 0; i < n; i++) {
        if (buf[i] == '\n') {
            send_line(c);
        } else if (c->line_len < sizeof c->line - 1) {
            c->line[c->line_len++] = buf[i];
        } /* else: an overlong line is cut off */
    }
}

static int run_peer(const char *uri, const char *name, const char *peer_name) {
    struct chat c;
    rtmfp_config *cfg = NULL;
    struct pollfd pfd[2];
    rtmfp_event *ev;
    int rc;

    memset(&c, 0, sizeof c);
    c.name = name;
    c.peer_name = peer_name;
    if ((rc = rtmfp_config_new(&cfg)) != RTMFP_OK ||
        (rc = rtmfp_netconnection_connect(cfg, uri, &c.nc)) != RTMFP_OK) {
        rtmfp_config_free(cfg);
        return fail("connecting", rc);
    }
    rtmfp_config_free(cfg);
    printf("connecting to %s as %s\n", uri, name);
    fflush(stdout);

    catch_signals();
    pfd[0].fd = rtmfp_netconnection_event_fd(c.nc);
    pfd[0].events = POLLIN;
    pfd[1].fd = STDIN_FILENO;
    pfd[1].events = POLLIN;
    while (!c.done && !interrupted) {
        /* Read stdin only while the peer listens. */
        nfds_t n = (c.listened && !c.input_done) ? 2 : 1;
        int timeout = -1;
        if (c.input_done) {
            long long left = c.leave_at - now_ms();
            if (left <= 0) {
                break;
            }
            timeout = (int)left;
        }
        pfd[1].revents = 0;
        if (poll(pfd, n, timeout) < 0 && errno != EINTR) {
            perror("poll");
            break;
        }
        while (!c.done && (rc = rtmfp_netconnection_next_event(c.nc, 0, &ev)) == RTMFP_OK) {
            handle(&c, ev);
            rtmfp_event_free(ev);
        }
        if (!c.done && rc != RTMFP_ERR_AGAIN) {
            c.status = fail("events", rc);
            break;
        }
        if (n == 2 && (pfd[1].revents & (POLLIN | POLLHUP))) {
            read_input(&c);
        }
    }

    /* Leave: streams and sessions close in order. */
    rtmfp_netconnection_close(c.nc, 1000);
    rtmfp_netconnection_free(c.nc); /* frees c.mine and c.theirs too */
    return interrupted ? 1 : c.status;
}

int main(int argc, char **argv) {
    if (argc >= 2 && argc <= 3 && strcmp(argv[1], "server") == 0) {
        return run_server(argc == 3 ? argv[2] : "0.0.0.0:1935");
    }
    if (argc >= 4 && argc <= 5 && strcmp(argv[1], "join") == 0) {
        return run_peer(argv[2], argv[3], argc == 5 ? argv[4] : NULL);
    }
    fprintf(stderr,
            "usage: %s server [BIND]\n"
            "       %s join URI NAME [PEER_NAME]\n",
            argv[0], argv[0]);
    return 2;
}
