#ifndef PRISM_FILES_H
#define PRISM_FILES_H
// Linux file operations Swift's Glibc module does not declare (they need _GNU_SOURCE):
// anonymous temporary files, linking them into place, and atomic rename variants. Each
// returns 0 (or a descriptor) on success, -1 with errno set on failure.

// An unnamed file in `dir` (O_TMPFILE): nothing is left behind if the process dies before
// it is linked. -1 with errno EOPNOTSUPP/EISDIR/EINVAL where the file system lacks it.
int prism_open_tmpfile(const char *dir, int mode);

// Gives the unnamed file `fd` the name `path`; fails with EEXIST if `path` exists (never replaces).
int prism_link_tmpfile(int fd, const char *path);

// Swaps two paths atomically (renameat2 RENAME_EXCHANGE); EINVAL where unsupported.
int prism_rename_exchange(const char *a, const char *b);

// Renames `from` to `to` only if `to` does not exist (renameat2 RENAME_NOREPLACE); EINVAL where unsupported.
int prism_rename_noreplace(const char *from, const char *to);

// Starts writing [offset, offset + length) of `fd` back to disk without waiting for it
// (sync_file_range SYNC_FILE_RANGE_WRITE), so a final fsync of a large file has little left to
// do; 0 where unsupported. Advisory: the fsync that follows reports any error.
int prism_start_writeback(int fd, long long offset, long long length);

// Mapped files that may change under a running command (truncated: SIGBUS on the next read).
// Registers [base, base + size) with the one-line message to print if a read there faults;
// the SIGBUS handler (installed on first use) prints it and exits with status 1 instead of
// crashing with a backtrace. `prism_unwatch_mapping` forgets a range (the file was unmapped).
void prism_watch_mapping(const void *base, unsigned long size, const char *message);
void prism_unwatch_mapping(const void *base);

// Drops what standard output holds in its buffer, unwritten (glibc's __fpurge; elsewhere a
// no-op): results found invalid before they were flushed are not reported.
void prism_discard_stdout_buffer(void);

#endif
