#define _GNU_SOURCE
#include "prism_files.h"
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <unistd.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#if defined(__GLIBC__)
#include <stdio_ext.h>
#endif

int prism_open_tmpfile(const char *dir, int mode) {
#ifdef O_TMPFILE
    return open(dir, O_TMPFILE | O_WRONLY | O_CLOEXEC, mode);
#else
    errno = EOPNOTSUPP;
    return -1;
#endif
}

int prism_link_tmpfile(int fd, const char *path) {
    // AT_EMPTY_PATH needs CAP_DAC_READ_SEARCH; the /proc form works for anyone.
    if (linkat(fd, "", AT_FDCWD, path, AT_EMPTY_PATH) == 0) return 0;
    if (errno == EEXIST) return -1;
    char proc[64];
    snprintf(proc, sizeof proc, "/proc/self/fd/%d", fd);
    return linkat(AT_FDCWD, proc, AT_FDCWD, path, AT_SYMLINK_FOLLOW);
}

int prism_rename_exchange(const char *a, const char *b) {
    return renameat2(AT_FDCWD, a, AT_FDCWD, b, RENAME_EXCHANGE);
}

int prism_rename_noreplace(const char *from, const char *to) {
    return renameat2(AT_FDCWD, from, AT_FDCWD, to, RENAME_NOREPLACE);
}

// A fixed table: the handler must not allocate or lock. A slot is claimed by storing its base
// last, so the handler never sees a half-written slot as live.
#define PRISM_WATCH_SLOTS 64
#define PRISM_WATCH_MESSAGE 512
static struct {
    const char *volatile base;
    unsigned long size;
    char message[PRISM_WATCH_MESSAGE];
} watched[PRISM_WATCH_SLOTS];
static volatile int handler_installed = 0;

static void on_sigbus(int sig, siginfo_t *info, void *context) {
    (void)sig; (void)context;
    const char *addr = (const char *)info->si_addr;
    const char *message = "error: a mapped file changed while running (truncated or rewritten in place); replace files by rename, never in place\n";
    for (int i = 0; i < PRISM_WATCH_SLOTS; i++) {
        const char *b = watched[i].base;
        if (b && addr >= b && addr < b + watched[i].size) { message = watched[i].message; break; }
    }
    ssize_t ignored = write(2, message, strlen(message));
    (void)ignored;
    _exit(1);
}

void prism_watch_mapping(const void *base, unsigned long size, const char *message) {
    if (!handler_installed) {
        struct sigaction sa;
        memset(&sa, 0, sizeof sa);
        sa.sa_sigaction = on_sigbus;
        sa.sa_flags = SA_SIGINFO;
        sigemptyset(&sa.sa_mask);
        sigaction(SIGBUS, &sa, NULL);
        handler_installed = 1;
    }
    for (int i = 0; i < PRISM_WATCH_SLOTS; i++) {
        if (watched[i].base == NULL) {
            watched[i].size = size;
            strncpy(watched[i].message, message, PRISM_WATCH_MESSAGE - 1);
            watched[i].message[PRISM_WATCH_MESSAGE - 1] = 0;
            __atomic_store_n(&watched[i].base, (const char *)base, __ATOMIC_RELEASE);
            return;
        }
    }
}

void prism_unwatch_mapping(const void *base) {
    for (int i = 0; i < PRISM_WATCH_SLOTS; i++)
        if (watched[i].base == base) { __atomic_store_n(&watched[i].base, (const char *)NULL, __ATOMIC_RELEASE); return; }
}

int prism_start_writeback(int fd, long long offset, long long length) {
#ifdef SYNC_FILE_RANGE_WRITE
    return sync_file_range(fd, (off_t)offset, (off_t)length, SYNC_FILE_RANGE_WRITE);
#else
    (void)fd; (void)offset; (void)length;
    return 0;
#endif
}

void prism_discard_stdout_buffer(void) {
#if defined(__GLIBC__)
    __fpurge(stdout);
#endif
}
