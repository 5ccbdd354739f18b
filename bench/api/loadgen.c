/*
 * loadgen: a small open-loop HTTP/1.1 load generator (wrk2 is not packaged in
 * Debian 12). It schedules request i at T0 + i/rate and measures each latency
 * from that *intended* send time to the end of the response, so a stalled
 * server is charged for the requests that queue up behind the stall (no
 * coordinated omission). Requests go over a fixed set of keep-alive
 * connections; a request whose time has come waits in a queue until a
 * connection is free, and that wait counts in its latency.
 *
 *   loadgen --port P --rate 1000 --duration 10 --connections 16 \
 *           --requests FILE [--host 127.0.0.1] [--header 'K: V']... [--drain 10]
 *
 * FILE: one request per line, "METHOD PATH BODY" separated by tabs (BODY may
 * be empty). The lines are used round-robin; "%N%" in a body is replaced by a
 * counter unique within the run. Output: one JSON object on stdout with the
 * counts by status, the achieved rate and latency percentiles in ms. After the
 * last scheduled request the generator waits (up to --drain seconds) for every
 * response, so "status" counts every request the server answered.
 *
 * Build: cc -O2 -Wall -o loadgen loadgen.c -lm
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

typedef struct {
    char *method, *path, *body;
} Template;

typedef struct {
    int fd;
    int busy;
    double intended;  /* intended send time of the request in flight */
    double sent;      /* actual send time */
    char *out;
    size_t outLen, outOff;
    char in[65536];
    size_t inLen;
} Conn;

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void die(const char *msg) {
    perror(msg);
    exit(2);
}

static const char *host = "127.0.0.1";
static int port = 0;
static char headers[4096] = "";
static Template *templates;
static size_t templateCount;
static unsigned long counter, sentSeq;

static void loadTemplates(const char *file) {
    FILE *f = fopen(file, "r");
    if (!f) die(file);
    char *line = NULL;
    size_t cap = 0;
    ssize_t n;
    size_t alloc = 0;
    while ((n = getline(&line, &cap, f)) > 0) {
        while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r')) line[--n] = 0;
        if (n == 0) continue;
        char *method = strtok(line, "\t");
        char *path = strtok(NULL, "\t");
        char *body = strtok(NULL, "");
        if (!method || !path) continue;
        if (templateCount == alloc) {
            alloc = alloc ? alloc * 2 : 64;
            templates = realloc(templates, alloc * sizeof *templates);
        }
        templates[templateCount].method = strdup(method);
        templates[templateCount].path = strdup(path);
        templates[templateCount].body = strdup(body ? body : "");
        templateCount++;
    }
    free(line);
    fclose(f);
    if (templateCount == 0) {
        fprintf(stderr, "%s: no requests\n", file);
        exit(2);
    }
}

/* Renders request number `seq` into a freshly allocated buffer. */
static char *render(unsigned long seq, size_t *len) {
    const Template *t = &templates[seq % templateCount];
    char body[16384];
    size_t bl = 0;
    for (const char *p = t->body; *p && bl < sizeof body - 32;) {
        if (strncmp(p, "%N%", 3) == 0) {
            bl += (size_t)snprintf(body + bl, sizeof body - bl, "%lu", counter++);
            p += 3;
        } else {
            body[bl++] = *p++;
        }
    }
    body[bl] = 0;
    size_t cap = bl + strlen(t->path) + strlen(headers) + 256;
    char *out = malloc(cap);
    int n = snprintf(out, cap,
                     "%s %s HTTP/1.1\r\nHost: %s:%d\r\n%sContent-Type: application/json\r\nContent-Length: %zu\r\n\r\n%s",
                     t->method, t->path, host, port, headers, bl, body);
    *len = (size_t)n;
    return out;
}

static int connectOne(void) {
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) die("socket");
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    inet_pton(AF_INET, host, &sa.sin_addr);
    if (connect(fd, (struct sockaddr *)&sa, sizeof sa) < 0 && errno != EINPROGRESS) die("connect");
    return fd;
}

/* Latencies and counters. */
static double *lat, *svc;
static double runStart;
#define MAX_SECONDS 3600
static double worstBySecond[MAX_SECONDS]; /* max latency of the requests intended in each second */
static unsigned long countBySecond[MAX_SECONDS];
static size_t latCount, latCap;
static unsigned long statusCount[600];
static unsigned long errorsConnect, errorsRead;

static void record(double intended, double sent, double done, int status) {
    if (latCount == latCap) {
        latCap = latCap ? latCap * 2 : 65536;
        lat = realloc(lat, latCap * sizeof *lat);
        svc = realloc(svc, latCap * sizeof *svc);
    }
    lat[latCount] = (done - intended) * 1000.0;
    long sec = (long)(intended - runStart);
    if (sec >= 0 && sec < MAX_SECONDS) {
        if (lat[latCount] > worstBySecond[sec]) worstBySecond[sec] = lat[latCount];
        countBySecond[sec]++;
    }
    svc[latCount] = (done - sent) * 1000.0;
    latCount++;
    if (status >= 0 && status < 600) statusCount[status]++;
}

static int cmpd(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static double pct(double *v, size_t n, double p) {
    if (n == 0) return 0;
    size_t i = (size_t)(p / 100.0 * (double)n);
    if (i >= n) i = n - 1;
    return v[i];
}

/* Parses one complete response from c->in. Returns its status, 0 if more
 * bytes are needed, -1 on a protocol error. Consumes the bytes. */
static int parseResponse(Conn *c, int *closeAfter) {
    c->in[c->inLen < sizeof c->in ? c->inLen : sizeof c->in - 1] = 0;
    char *end = memmem(c->in, c->inLen, "\r\n\r\n", 4);
    if (!end) return c->inLen >= sizeof c->in - 1 ? -1 : 0;
    size_t headLen = (size_t)(end - c->in) + 4;
    int status = 0;
    if (sscanf(c->in, "HTTP/1.%*d %d", &status) != 1) return -1;
    long contentLength = -1;
    int chunked = 0;
    *closeAfter = 0;
    for (char *p = strstr(c->in, "\r\n"); p && p < end; p = strstr(p + 2, "\r\n")) {
        char *h = p + 2;
        if (strncasecmp(h, "Content-Length:", 15) == 0) contentLength = strtol(h + 15, NULL, 10);
        if (strncasecmp(h, "Connection:", 11) == 0) {
            char *eol = strstr(h, "\r\n");
            char *word = strcasestr(h, "close");
            if (word && eol && word < eol) *closeAfter = 1;
        }
        if (strncasecmp(h, "Transfer-Encoding:", 18) == 0) {
            char *eol = strstr(h, "\r\n");
            char *word = strcasestr(h, "chunked");
            if (word && eol && word < eol) chunked = 1;
            else return -1;
        }
    }
    if (chunked) { /* Janus (libmicrohttpd) answers chunked */
        size_t pos = headLen;
        for (;;) {
            char *lineEnd = memmem(c->in + pos, c->inLen - pos, "\r\n", 2);
            if (!lineEnd) return c->inLen >= sizeof c->in - 1 ? -1 : 0;
            unsigned long size = strtoul(c->in + pos, NULL, 16);
            pos = (size_t)(lineEnd - c->in) + 2;
            if (size == 0) {
                /* no trailers expected: the final CRLF follows */
                if (c->inLen < pos + 2) return 0;
                pos += 2;
                break;
            }
            if (c->inLen < pos + size + 2) return pos + size + 2 >= sizeof c->in ? -1 : 0;
            pos += size + 2;
        }
        memmove(c->in, c->in + pos, c->inLen - pos);
        c->inLen -= pos;
        return status;
    }
    if (contentLength < 0) contentLength = 0;
    if (c->inLen < headLen + (size_t)contentLength) {
        if (headLen + (size_t)contentLength >= sizeof c->in) return -1;
        return 0;
    }
    size_t used = headLen + (size_t)contentLength;
    memmove(c->in, c->in + used, c->inLen - used);
    c->inLen -= used;
    return status;
}

int main(int argc, char **argv) {
    double rate = 1000, duration = 10, drain = 10;
    int connections = 16;
    const char *requestsFile = NULL;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!v) break;
        if (!strcmp(a, "--host")) host = v;
        else if (!strcmp(a, "--port")) port = atoi(v);
        else if (!strcmp(a, "--rate")) rate = atof(v);
        else if (!strcmp(a, "--duration")) duration = atof(v);
        else if (!strcmp(a, "--drain")) drain = atof(v);
        else if (!strcmp(a, "--connections")) connections = atoi(v);
        else if (!strcmp(a, "--requests")) requestsFile = v;
        else if (!strcmp(a, "--header")) {
            strncat(headers, v, sizeof headers - strlen(headers) - 3);
            strcat(headers, "\r\n");
        } else {
            fprintf(stderr, "unknown option %s\n", a);
            return 2;
        }
        i++;
    }
    if (!port || !requestsFile || rate <= 0 || connections < 1) {
        fprintf(stderr, "usage: loadgen --port P --requests FILE [--rate R] [--duration S] [--connections C]\n");
        return 2;
    }
    loadTemplates(requestsFile);

    int ep = epoll_create1(EPOLL_CLOEXEC);
    Conn *conns = calloc((size_t)connections, sizeof *conns);
    for (int i = 0; i < connections; i++) {
        conns[i].fd = connectOne();
        struct epoll_event ev = {.events = EPOLLIN | EPOLLOUT | EPOLLET, .data.u32 = (uint32_t)i};
        epoll_ctl(ep, EPOLL_CTL_ADD, conns[i].fd, &ev);
    }
    /* Let the connections establish before the clock starts. */
    usleep(100000);

    int tfd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
    long intervalNs = (long)(1e9 / rate);
    if (intervalNs < 20000) intervalNs = 20000; /* tick at most every 20 us; several requests per tick are fine */
    struct itimerspec its = {.it_interval = {0, intervalNs}, .it_value = {0, intervalNs}};
    timerfd_settime(tfd, 0, &its, NULL);
    struct epoll_event tev = {.events = EPOLLIN, .data.u32 = 0xFFFFFFFFu};
    epoll_ctl(ep, EPOLL_CTL_ADD, tfd, &tev);

    const unsigned long total = (unsigned long)(rate * duration);
    double *queue = malloc(total * sizeof *queue); /* intended times of due, unsent requests */
    size_t qHead = 0, qTail = 0;
    unsigned long scheduled = 0, completed = 0;
    const double t0 = now();
    runStart = t0;
    double lastSend = t0;

    for (;;) {
        double t = now();
        while (scheduled < total && t0 + (double)scheduled / rate <= t) queue[qTail++] = t0 + (double)scheduled++ / rate;
        /* Hand due requests to free connections. */
        for (int i = 0; i < connections && qHead < qTail; i++) {
            Conn *c = &conns[i];
            if (c->busy || c->fd < 0) continue;
            c->busy = 1;
            c->intended = queue[qHead++];
            c->sent = now();
            lastSend = c->sent;
            c->out = render(sentSeq++, &c->outLen);
            c->outOff = 0;
            ssize_t w = send(c->fd, c->out, c->outLen, MSG_NOSIGNAL);
            if (w > 0) c->outOff = (size_t)w;
            else if (w < 0 && errno != EAGAIN) errorsConnect++;
        }
        if (scheduled == total && qHead == qTail && completed == total) break;
        if (scheduled == total && t - (t0 + duration) > drain) break;

        struct epoll_event evs[64];
        int n = epoll_wait(ep, evs, 64, 5);
        for (int k = 0; k < n; k++) {
            if (evs[k].data.u32 == 0xFFFFFFFFu) {
                uint64_t x;
                if (read(tfd, &x, sizeof x) < 0) { /* fine */ }
                continue;
            }
            Conn *c = &conns[evs[k].data.u32];
            if (c->busy && c->outOff < c->outLen && (evs[k].events & EPOLLOUT)) {
                ssize_t w = send(c->fd, c->out + c->outOff, c->outLen - c->outOff, MSG_NOSIGNAL);
                if (w > 0) c->outOff += (size_t)w;
            }
            if (!(evs[k].events & (EPOLLIN | EPOLLHUP | EPOLLERR))) continue;
            for (;;) {
                ssize_t r = recv(c->fd, c->in + c->inLen, sizeof c->in - 1 - c->inLen, 0);
                if (r > 0) {
                    c->inLen += (size_t)r;
                    continue;
                }
                if (r < 0 && errno == EAGAIN) break;
                /* closed or error: reconnect; an in-flight request is lost */
                if (c->busy) {
                    errorsRead++;
                    completed++;
                    c->busy = 0;
                    free(c->out);
                }
                epoll_ctl(ep, EPOLL_CTL_DEL, c->fd, NULL);
                close(c->fd);
                c->inLen = 0;
                c->fd = connectOne();
                struct epoll_event ev = {.events = EPOLLIN | EPOLLOUT | EPOLLET, .data.u32 = evs[k].data.u32};
                epoll_ctl(ep, EPOLL_CTL_ADD, c->fd, &ev);
                break;
            }
            while (c->busy && c->inLen > 0) {
                int closeAfter = 0;
                int status = parseResponse(c, &closeAfter);
                if (status == 0) break;
                record(c->intended, c->sent, now(), status);
                completed++;
                c->busy = 0;
                free(c->out);
                if (status < 0 || closeAfter) {
                    if (status < 0) errorsRead++;
                    epoll_ctl(ep, EPOLL_CTL_DEL, c->fd, NULL);
                    close(c->fd);
                    c->inLen = 0;
                    c->fd = connectOne();
                    struct epoll_event ev = {.events = EPOLLIN | EPOLLOUT | EPOLLET, .data.u32 = evs[k].data.u32};
                    epoll_ctl(ep, EPOLL_CTL_ADD, c->fd, &ev);
                }
            }
        }
    }
    const double elapsed = lastSend - t0;
    qsort(lat, latCount, sizeof *lat, cmpd);
    qsort(svc, latCount, sizeof *svc, cmpd);
    printf("{\"scheduled\": %lu, \"answered\": %zu, \"lost\": %lu, \"unsent\": %zu, \"target_rate\": %.1f, "
           "\"achieved_rate\": %.1f, \"status\": {",
           scheduled, latCount, errorsRead + errorsConnect, (size_t)(qTail - qHead), rate,
           elapsed > 0 ? (double)latCount / elapsed : 0.0);
    int first = 1;
    for (int s = 0; s < 600; s++) {
        if (!statusCount[s]) continue;
        printf("%s\"%d\": %lu", first ? "" : ", ", s, statusCount[s]);
        first = 0;
    }
    printf("}, \"latency_ms\": {\"p50\": %.3f, \"p90\": %.3f, \"p99\": %.3f, \"p999\": %.3f, \"max\": %.3f}, "
           "\"service_ms\": {\"p50\": %.3f, \"p99\": %.3f, \"max\": %.3f}}\n",
           pct(lat, latCount, 50), pct(lat, latCount, 90), pct(lat, latCount, 99), pct(lat, latCount, 99.9),
           latCount ? lat[latCount - 1] : 0.0, pct(svc, latCount, 50), pct(svc, latCount, 99),
           latCount ? svc[latCount - 1] : 0.0);
    /* second line: the worst latency (ms) of the requests due in each second of the run */
    printf("{\"max_ms_by_second\": [");
    for (long i = 0; i < MAX_SECONDS && i < (long)duration + 1; i++) printf("%s%.1f", i ? ", " : "", worstBySecond[i]);
    printf("]}\n");
    return 0;
}
