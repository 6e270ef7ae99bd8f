/* Reference for the TAP sink: write() every frame of a pcap file into a TAP device, in a loop,
 * as fast as possible, and print frames/s. Same device setup as Fabric's sink (IFF_TAP|IFF_NO_PI).
 *   cc -O2 -o tap_writer tap_writer.c && ./tap_writer DEV FILE.pcap REPEAT            */
#include <fcntl.h>
#include <linux/if.h>
#include <linux/if_tun.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <time.h>
#include <unistd.h>

int main(int argc, char **argv) {
    if (argc != 4) { fprintf(stderr, "usage: tap_writer DEV FILE.pcap REPEAT\n"); return 2; }
    FILE *f = fopen(argv[2], "rb");
    if (!f) { perror(argv[2]); return 1; }
    fseek(f, 0, SEEK_END); long size = ftell(f); fseek(f, 0, SEEK_SET);
    unsigned char *data = malloc(size);
    if (fread(data, 1, size, f) != (size_t)size) { perror("read"); return 1; }
    fclose(f);
    /* index the records (classic pcap, little-endian) */
    long count = 0, cap = 1 << 16; long *off = malloc(cap * sizeof(long)); uint32_t *len = malloc(cap * 4);
    for (long p = 24; p + 16 <= size; ) {
        uint32_t caplen; memcpy(&caplen, data + p + 8, 4);
        if (p + 16 + caplen > (unsigned long)size) break;
        if (count == cap) { cap *= 2; off = realloc(off, cap * sizeof(long)); len = realloc(len, cap * 4); }
        off[count] = p + 16; len[count] = caplen; count++; p += 16 + caplen;
    }
    int fd = open("/dev/net/tun", O_RDWR);
    if (fd < 0) { perror("/dev/net/tun"); return 1; }
    struct ifreq ifr; memset(&ifr, 0, sizeof ifr);
    ifr.ifr_flags = IFF_TAP | IFF_NO_PI; strncpy(ifr.ifr_name, argv[1], IFNAMSIZ - 1);
    if (ioctl(fd, TUNSETIFF, &ifr) < 0) { perror("TUNSETIFF"); return 1; }
    int repeat = atoi(argv[3]);
    struct timespec a, b; clock_gettime(CLOCK_MONOTONIC, &a);
    long written = 0, errors = 0;
    for (int r = 0; r < repeat; r++)
        for (long i = 0; i < count; i++)
            if (write(fd, data + off[i], len[i]) < 0) errors++; else written++;
    clock_gettime(CLOCK_MONOTONIC, &b);
    double s = (b.tv_sec - a.tv_sec) + (b.tv_nsec - a.tv_nsec) / 1e9;
    printf("c-writer frames=%ld errors=%ld seconds=%.3f frames_per_s=%.0f\n", written, errors, s, written / s);
    return 0;
}
