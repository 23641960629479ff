/* cm_psnr: per-frame PSNR between two raw RGB24 frame files.
 *
 *   cm_psnr A.rgb B.rgb WIDTH HEIGHT [FRAMES]
 *
 * Compares the first FRAMES frames (default: as many as both files hold) and
 * prints "frames N min_db X mean_db Y" (identical frames count as 99 dB).
 * Exit status 0, or 2 when a file cannot be read or holds no whole frame. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

static unsigned char *read_all(const char *path, long *len)
{
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    fseek(f, 0, SEEK_END);
    *len = ftell(f);
    fseek(f, 0, SEEK_SET);
    unsigned char *buf = malloc(*len > 0 ? (size_t)*len : 1);
    if (buf && fread(buf, 1, (size_t)*len, f) != (size_t)*len) {
        free(buf);
        buf = NULL;
    }
    fclose(f);
    return buf;
}

int main(int argc, char **argv)
{
    if (argc < 5) {
        fprintf(stderr, "usage: cm_psnr A.rgb B.rgb WIDTH HEIGHT [FRAMES]\n");
        return 2;
    }
    long la = 0, lb = 0, w = atol(argv[3]), h = atol(argv[4]);
    unsigned char *a = read_all(argv[1], &la), *b = read_all(argv[2], &lb);
    long fb = w * h * 3;
    if (!a || !b || fb <= 0) {
        fprintf(stderr, "cm_psnr: cannot read %s or %s\n", argv[1], argv[2]);
        return 2;
    }
    long n = (la < lb ? la : lb) / fb;
    if (argc > 5 && atol(argv[5]) < n) n = atol(argv[5]);
    if (n <= 0) {
        fprintf(stderr, "cm_psnr: no whole frame (%ld and %ld bytes, frame %ld)\n", la, lb, fb);
        return 2;
    }
    double min_db = 1e9, sum_db = 0;
    for (long i = 0; i < n; i++) {
        double se = 0;
        for (long j = 0; j < fb; j++) {
            double d = (double)a[i * fb + j] - (double)b[i * fb + j];
            se += d * d;
        }
        double mse = se / (double)fb;
        double db = mse == 0 ? 99.0 : 10.0 * log10(255.0 * 255.0 / mse);
        if (db < min_db) min_db = db;
        sum_db += db;
    }
    printf("frames %ld min_db %.2f mean_db %.2f\n", n, min_db, sum_db / (double)n);
    free(a);
    free(b);
    return 0;
}
