#ifndef CSKIFFCORE_H
#define CSKIFFCORE_H

#include <signal.h>
#include <sys/types.h>

/// How a child is started by skiff_spawn: its descriptors, directory and session.
typedef struct {
    /// The executable's path (not searched on PATH).
    const char *path;
    /// NULL-terminated arguments, argv[0] included.
    char *const *argv;
    /// NULL-terminated `NAME=value` entries.
    char *const *envp;
    /// The working directory, or NULL to keep ours.
    const char *directory;
    /// The descriptors the child gets as 0, 1 and 2; -1 means /dev/null.
    int stdin_fd;
    int stdout_fd;
    int stderr_fd;
    /// Non-zero: the child leads a new session (and process group), detached from our terminal.
    int new_session;
    /// Non-zero: the child leads a new process group in our session (ignored with new_session).
    int new_process_group;
} skiff_spawn_options;

/// Starts a child with posix_spawn: every descriptor above 2 closed, an empty signal mask and every signal (glibc's
/// internal ones included) at its default disposition. Returns 0 and sets *pid, or an errno value.
int skiff_spawn(const skiff_spawn_options *options, pid_t *pid);

/// pipe2(2) with O_CLOEXEC on both ends. Returns 0 or -1 with errno set.
int skiff_pipe_cloexec(int fds[2]);

/// Sets O_NONBLOCK on a descriptor. Returns 0 or -1 with errno set.
int skiff_set_nonblocking(int fd);

/// Decodes a waitpid status: the exit status, or 128 + the signal number for a child killed by a signal.
int skiff_exit_status(int wait_status);

/// Whether the descriptor is open in this process.
int skiff_fd_is_open(int fd);

/// pidfd_open(2): a descriptor that polls readable once the process exits; -1 with errno set (ENOSYS on old
/// kernels).
int skiff_pidfd_open(pid_t pid);

/// Blocks SIGPIPE in the calling thread, so a write to a pipe whose reader is gone fails with EPIPE instead of
/// killing the process; the thread's previous mask goes to *old.
void skiff_sigpipe_block(sigset_t *old);

/// Discards a SIGPIPE the calling thread's writes left pending, then restores the mask saved by
/// skiff_sigpipe_block.
void skiff_sigpipe_restore(const sigset_t *old);

#endif
