#define _GNU_SOURCE
#include "CSkiffCore.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <string.h>
#include <pthread.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#ifndef POSIX_SPAWN_SETSID
#define POSIX_SPAWN_SETSID 0x80
#endif

static int add_stdio(posix_spawn_file_actions_t *actions, int source, int target, int flags) {
    if (source < 0) return posix_spawn_file_actions_addopen(actions, target, "/dev/null", flags, 0);
    if (source == target) {
        // dup2 onto itself keeps FD_CLOEXEC; go through a spare descriptor so the child keeps it.
        int rc = posix_spawn_file_actions_adddup2(actions, source, 1000);
        if (rc != 0) return rc;
        rc = posix_spawn_file_actions_adddup2(actions, 1000, target);
        if (rc != 0) return rc;
        return posix_spawn_file_actions_addclose(actions, 1000);
    }
    return posix_spawn_file_actions_adddup2(actions, source, target);
}

int skiff_spawn(const skiff_spawn_options *options, pid_t *pid) {
    posix_spawn_file_actions_t actions;
    posix_spawnattr_t attributes;
    int rc = posix_spawn_file_actions_init(&actions);
    if (rc != 0) return rc;
    rc = posix_spawnattr_init(&attributes);
    if (rc != 0) {
        posix_spawn_file_actions_destroy(&actions);
        return rc;
    }
    if (rc == 0) rc = add_stdio(&actions, options->stdin_fd, 0, O_RDONLY);
    if (rc == 0) rc = add_stdio(&actions, options->stdout_fd, 1, O_WRONLY);
    if (rc == 0) rc = add_stdio(&actions, options->stderr_fd, 2, O_WRONLY);
    if (rc == 0 && options->directory != NULL) rc = posix_spawn_file_actions_addchdir_np(&actions, options->directory);
    if (rc == 0) rc = posix_spawn_file_actions_addclosefrom_np(&actions, 3);

    sigset_t empty, all;
    sigemptyset(&empty);
    // Every signal, glibc's internal ones (32 and 33) included: sigfillset leaves those out, and posix_spawn would
    // then leave them ignored in the child. SIGKILL and SIGSTOP cannot be changed.
    memset(&all, 0xff, sizeof all);
    sigdelset(&all, SIGKILL);
    sigdelset(&all, SIGSTOP);
    short flags = POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF;
    if (options->new_session) {
        flags |= POSIX_SPAWN_SETSID;
    } else if (options->new_process_group) {
        flags |= POSIX_SPAWN_SETPGROUP;
        if (rc == 0) rc = posix_spawnattr_setpgroup(&attributes, 0);
    }
    if (rc == 0) rc = posix_spawnattr_setsigmask(&attributes, &empty);
    if (rc == 0) rc = posix_spawnattr_setsigdefault(&attributes, &all);
    if (rc == 0) rc = posix_spawnattr_setflags(&attributes, flags);
    if (rc == 0) rc = posix_spawn(pid, options->path, &actions, &attributes, options->argv, options->envp);
    posix_spawnattr_destroy(&attributes);
    posix_spawn_file_actions_destroy(&actions);
    return rc;
}

int skiff_pipe_cloexec(int fds[2]) { return pipe2(fds, O_CLOEXEC); }

int skiff_set_nonblocking(int fd) {
    int flags = fcntl(fd, F_GETFL);
    if (flags < 0) return -1;
    return fcntl(fd, F_SETFL, flags | O_NONBLOCK);
}

int skiff_exit_status(int wait_status) {
    if (WIFEXITED(wait_status)) return WEXITSTATUS(wait_status);
    if (WIFSIGNALED(wait_status)) return 128 + WTERMSIG(wait_status);
    return 255;
}

int skiff_fd_is_open(int fd) { return fcntl(fd, F_GETFD) != -1 || errno != EBADF; }

int skiff_pidfd_open(pid_t pid) {
#ifdef SYS_pidfd_open
    return (int)syscall(SYS_pidfd_open, pid, 0);
#else
    errno = ENOSYS;
    return -1;
#endif
}

void skiff_sigpipe_block(sigset_t *old) {
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGPIPE);
    pthread_sigmask(SIG_BLOCK, &set, old);
}

void skiff_sigpipe_restore(const sigset_t *old) {
    if (sigismember(old, SIGPIPE)) return;
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGPIPE);
    sigset_t pending;
    sigpending(&pending);
    if (sigismember(&pending, SIGPIPE)) {
        struct timespec zero = {0, 0};
        sigtimedwait(&set, NULL, &zero);
    }
    pthread_sigmask(SIG_SETMASK, old, NULL);
}
