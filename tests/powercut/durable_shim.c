/* A power cut in a shim, for tests/powercut/: LD_PRELOAD it into a process that writes to
 * $POWERCUT_DIR. Every fsync/fdatasync of a regular file there first copies the whole file
 * to $POWERCUT_DURABLE (atomically: a temporary name, then rename), then syncs as usual.
 *
 * So $POWERCUT_DURABLE always holds each file as it was at its last sync: what a disk keeps
 * when the power goes and every write that was not synced is lost (the page cache with it).
 * A SIGKILL alone proves nothing of the kind: the kernel keeps the page cache.
 *
 * Files never synced are absent from $POWERCUT_DURABLE, as on a disk whose directory entry
 * was never made durable. A file removed (SQLite's rollback journal once committed) is
 * removed from $POWERCUT_DURABLE at once, which is kinder than a disk whose directory was
 * not synced: the shim does not model a sync of a directory.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* The name of ``path`` in $POWERCUT_DURABLE when ``path`` is in $POWERCUT_DIR, else 0. */
static int durable_name(const char *path, char *dst, size_t size) {
    const char *dir = getenv("POWERCUT_DIR"), *durable = getenv("POWERCUT_DURABLE");
    if (!dir || !durable) return 0;
    size_t len = strlen(dir);
    if (strncmp(path, dir, len) != 0 || path[len] != '/' || strchr(path + len + 1, '/'))
        return 0;
    snprintf(dst, size, "%s/%s", durable, path + len + 1);
    return 1;
}

static int copy_out(int fd) {
    char link[64], path[PATH_MAX], tmp[PATH_MAX + 8], dst[PATH_MAX], buf[65536];
    struct stat st;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) return 0;
    snprintf(link, sizeof link, "/proc/self/fd/%d", fd);
    ssize_t n = readlink(link, path, sizeof path - 1);
    if (n <= 0) return 0;
    path[n] = 0;
    if (!durable_name(path, dst, sizeof dst)) return 0;
    snprintf(tmp, sizeof tmp, "%s.tmp~", dst);
    int out = open(tmp, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (out < 0) return -1;
    off_t off = 0;
    ssize_t got;
    while ((got = pread(fd, buf, sizeof buf, off)) > 0) {
        if (write(out, buf, (size_t)got) != got) { close(out); return -1; }
        off += got;
    }
    close(out);
    return got < 0 ? -1 : rename(tmp, dst);
}

int fsync(int fd) {
    static int (*real)(int);
    if (!real) real = (int (*)(int))dlsym(RTLD_NEXT, "fsync");
    if (copy_out(fd) != 0) return -1;
    return real(fd);
}

int fdatasync(int fd) {
    static int (*real)(int);
    if (!real) real = (int (*)(int))dlsym(RTLD_NEXT, "fdatasync");
    if (copy_out(fd) != 0) return -1;
    return real(fd);
}

int unlink(const char *path) {
    static int (*real)(const char *);
    char dst[PATH_MAX];
    if (!real) real = (int (*)(const char *))dlsym(RTLD_NEXT, "unlink");
    int rc = real(path);
    if (rc == 0 && path[0] == '/' && durable_name(path, dst, sizeof dst)) real(dst);
    return rc;
}
