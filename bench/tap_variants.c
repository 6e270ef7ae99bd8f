/* Ways to hand frames to a TAP device, measured on the same frames: the CPU each costs per million frames.
 * Each mode writes every frame of a classic pcap file (little-endian) into the TAP, REPEAT times, and prints
 * frames, errors, wall seconds and the CPU seconds of this process (user + system, all threads, from
 * getrusage) per million frames. The kernel's receive path for a TAP write (netif_rx and the softirq that
 * follows) runs in the writer's context, so it is in the figure too.
 *   cc -O2 -pthread -o tap_variants tap_variants.c
 *   ./tap_variants MODE DEV FILE.pcap REPEAT
 * MODE: write     one write() per frame (what Fabric's TAP sink did before issue 16)
 *       writev    one writev() per frame, the Ethernet header and the rest as two iovecs
 *       uring     io_uring: IORING_OP_WRITE per frame, up to 256 per io_uring_enter (raw syscalls)
 *       uringlinked  the same, each write hard-linked to the next (IOSQE_IO_HARDLINK: in order even if one
 *                    is punted to a kernel worker; a failed write does not cancel the rest)
 *       mq        IFF_MULTI_QUEUE, two queues, one writer thread per queue, each writing half the frames
 *       napi      IFF_NAPI: the kernel receives the frames through NAPI (and GRO) instead of netif_rx
 *       napifrags IFF_NAPI | IFF_NAPI_FRAGS, frames written with writev
 * Nothing here is part of Fabric: it is the yardstick bench/tap-variants.sh holds Fabric against. */
#define _GNU_SOURCE
#include <fcntl.h>
#include <linux/if.h>
#include <linux/if_tun.h>
#include <linux/io_uring.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#ifndef IFF_NAPI
#define IFF_NAPI 0x0010
#endif
#ifndef IFF_NAPI_FRAGS
#define IFF_NAPI_FRAGS 0x0020
#endif

static unsigned char *data;
static long count, *off;
static uint32_t *len;
static int repeat;

static int open_tap(const char *dev, short flags) {
    int fd = open("/dev/net/tun", O_RDWR | O_CLOEXEC);
    if (fd < 0) { perror("/dev/net/tun"); exit(1); }
    struct ifreq ifr; memset(&ifr, 0, sizeof ifr);
    ifr.ifr_flags = IFF_TAP | IFF_NO_PI | flags; strncpy(ifr.ifr_name, dev, IFNAMSIZ - 1);
    if (ioctl(fd, TUNSETIFF, &ifr) < 0) { perror("TUNSETIFF"); exit(1); }
    /* the device lives as long as this process (not persistent); bring it up or writes fail with EIO */
    int s = socket(AF_INET, SOCK_DGRAM, 0);
    struct ifreq up; memset(&up, 0, sizeof up); strncpy(up.ifr_name, dev, IFNAMSIZ - 1);
    if (s < 0 || ioctl(s, SIOCGIFFLAGS, &up) < 0) { perror("SIOCGIFFLAGS"); exit(1); }
    up.ifr_flags |= IFF_UP;
    if (ioctl(s, SIOCSIFFLAGS, &up) < 0) { perror("SIOCSIFFLAGS"); exit(1); }
    close(s);
    return fd;
}

static void load(const char *path) {
    FILE *f = fopen(path, "rb");
    if (!f) { perror(path); exit(1); }
    fseek(f, 0, SEEK_END); long size = ftell(f); fseek(f, 0, SEEK_SET);
    data = malloc(size);
    if (fread(data, 1, size, f) != (size_t)size) { perror("read"); exit(1); }
    fclose(f);
    long cap = 1 << 16; off = malloc(cap * sizeof(long)); len = malloc(cap * 4);
    for (long p = 24; p + 16 <= size; ) {
        uint32_t caplen; memcpy(&caplen, data + p + 8, 4);
        if (p + 16 + caplen > (unsigned long)size) break;
        if (count == cap) { cap *= 2; off = realloc(off, cap * sizeof(long)); len = realloc(len, cap * 4); }
        off[count] = p + 16; len[count] = caplen; count++; p += 16 + caplen;
    }
}

struct range { int fd; long from, to, written, errors; int use_writev; };

static void *write_range(void *arg) {
    struct range *r = arg;
    for (int k = 0; k < repeat; k++)
        for (long i = r->from; i < r->to; i++) {
            ssize_t n;
            if (r->use_writev) {
                struct iovec v[2] = { { data + off[i], 14 }, { data + off[i] + 14, len[i] - 14 } };
                n = writev(r->fd, v, 2);
            } else {
                n = write(r->fd, data + off[i], len[i]);
            }
            if (n < 0) r->errors++; else r->written++;
        }
    return NULL;
}

/* io_uring through raw syscalls, the same way Fabric's WriteRing does it. */
static void run_uring(int fd, long *written, long *errors, int link) {
    struct io_uring_params p; memset(&p, 0, sizeof p);
    unsigned entries = 256;
    int ring = syscall(__NR_io_uring_setup, entries, &p);
    if (ring < 0) { perror("io_uring_setup"); exit(1); }
    size_t sq_size = p.sq_off.array + p.sq_entries * sizeof(unsigned);
    size_t cq_size = p.cq_off.cqes + p.cq_entries * sizeof(struct io_uring_cqe);
    unsigned char *sq = mmap(0, sq_size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE, ring, IORING_OFF_SQ_RING);
    unsigned char *cq = mmap(0, cq_size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE, ring, IORING_OFF_CQ_RING);
    struct io_uring_sqe *sqes = mmap(0, p.sq_entries * sizeof(struct io_uring_sqe), PROT_READ | PROT_WRITE,
                                     MAP_SHARED | MAP_POPULATE, ring, IORING_OFF_SQES);
    if (sq == MAP_FAILED || cq == MAP_FAILED || sqes == MAP_FAILED) { perror("mmap"); exit(1); }
    unsigned *sq_tail = (unsigned *)(sq + p.sq_off.tail), *sq_mask = (unsigned *)(sq + p.sq_off.ring_mask);
    unsigned *sq_array = (unsigned *)(sq + p.sq_off.array);
    unsigned *cq_head = (unsigned *)(cq + p.cq_off.head), *cq_tail = (unsigned *)(cq + p.cq_off.tail);
    unsigned *cq_mask = (unsigned *)(cq + p.cq_off.ring_mask);
    struct io_uring_cqe *cqes = (struct io_uring_cqe *)(cq + p.cq_off.cqes);
    for (int k = 0; k < repeat; k++)
        for (long i = 0; i < count; ) {
            unsigned n = 0, tail = *sq_tail;
            for (; n < p.sq_entries && i < count; n++, i++) {
                unsigned idx = (tail + n) & *sq_mask;
                struct io_uring_sqe *e = &sqes[idx];
                memset(e, 0, sizeof *e);
                e->opcode = IORING_OP_WRITE; e->fd = fd; e->addr = (uint64_t)(data + off[i]); e->len = len[i];
                e->off = (uint64_t)-1; e->user_data = i;
                if (link && n + 1 < p.sq_entries && i + 1 < count) e->flags = IOSQE_IO_HARDLINK;
                sq_array[idx] = idx;
            }
            __atomic_store_n(sq_tail, tail + n, __ATOMIC_RELEASE);
            int r = syscall(__NR_io_uring_enter, ring, n, n, IORING_ENTER_GETEVENTS, NULL, 0);
            if (r < 0) { perror("io_uring_enter"); exit(1); }
            unsigned head = *cq_head, seen = 0;
            while (seen < n) {
                unsigned t = __atomic_load_n(cq_tail, __ATOMIC_ACQUIRE);
                for (; head != t; head++, seen++)
                    if (cqes[head & *cq_mask].res < 0) (*errors)++; else (*written)++;
                __atomic_store_n(cq_head, head, __ATOMIC_RELEASE);
                if (seen < n) syscall(__NR_io_uring_enter, ring, 0, n - seen, IORING_ENTER_GETEVENTS, NULL, 0);
            }
        }
}

int main(int argc, char **argv) {
    if (argc != 5) { fprintf(stderr, "usage: tap_variants MODE DEV FILE.pcap REPEAT\n"); return 2; }
    const char *mode = argv[1], *dev = argv[2];
    load(argv[3]); repeat = atoi(argv[4]);
    long written = 0, errors = 0;
    struct timespec a, b; struct rusage u0, u1;
    if (!strcmp(mode, "mq")) {
        int fd1 = open_tap(dev, IFF_MULTI_QUEUE), fd2 = open_tap(dev, IFF_MULTI_QUEUE);
        struct range r1 = { fd1, 0, count / 2, 0, 0, 0 }, r2 = { fd2, count / 2, count, 0, 0, 0 };
        pthread_t t1, t2;
        getrusage(RUSAGE_SELF, &u0); clock_gettime(CLOCK_MONOTONIC, &a);
        pthread_create(&t1, NULL, write_range, &r1); pthread_create(&t2, NULL, write_range, &r2);
        pthread_join(t1, NULL); pthread_join(t2, NULL);
        written = r1.written + r2.written; errors = r1.errors + r2.errors;
    } else {
        short flags = !strcmp(mode, "napi") ? IFF_NAPI : !strcmp(mode, "napifrags") ? IFF_NAPI | IFF_NAPI_FRAGS : 0;
        if (strcmp(mode, "write") && strcmp(mode, "writev") && strcmp(mode, "uring") && strcmp(mode, "uringlinked") && !flags) {
            fprintf(stderr, "tap_variants: unknown mode %s\n", mode); return 2;
        }
        int fd = open_tap(dev, flags);
        getrusage(RUSAGE_SELF, &u0); clock_gettime(CLOCK_MONOTONIC, &a);
        if (!strncmp(mode, "uring", 5)) {
            run_uring(fd, &written, &errors, !strcmp(mode, "uringlinked"));
        } else {
            struct range r = { fd, 0, count, 0, 0, !strcmp(mode, "writev") || !strcmp(mode, "napifrags") };
            write_range(&r); written = r.written; errors = r.errors;
        }
    }
    clock_gettime(CLOCK_MONOTONIC, &b); getrusage(RUSAGE_SELF, &u1);
    double s = (b.tv_sec - a.tv_sec) + (b.tv_nsec - a.tv_nsec) / 1e9;
    double cpu = (u1.ru_utime.tv_sec - u0.ru_utime.tv_sec) + (u1.ru_stime.tv_sec - u0.ru_stime.tv_sec)
               + ((u1.ru_utime.tv_usec - u0.ru_utime.tv_usec) + (u1.ru_stime.tv_usec - u0.ru_stime.tv_usec)) / 1e6;
    printf("mode=%s frames=%ld errors=%ld seconds=%.3f cpu_s_per_m=%.3f\n", mode, written, errors, s,
           written ? cpu * 1e6 / written : 0);
    return errors ? 1 : 0;
}
