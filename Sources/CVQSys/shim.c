#define _GNU_SOURCE
#include <spawn.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <sys/uio.h>
#include <unistd.h>
#include "cvqsys.h"

long cvq_process_vm_readv(int pid, const void *local, unsigned long local_count,
                          const void *remote, unsigned long remote_count) {
    return (long)process_vm_readv((pid_t)pid, (const struct iovec *)local, local_count,
                                  (const struct iovec *)remote, remote_count, 0);
}

int cvq_set_parent_death_signal(int signal) {
    return prctl(PR_SET_PDEATHSIG, (unsigned long)signal, 0UL, 0UL, 0UL);
}

int cvq_spawn_actions_close_from(void *actions, int from) {
    return posix_spawn_file_actions_addclosefrom_np((posix_spawn_file_actions_t *)actions, from);
}

int cvq_pidfd_open(int pid) {
    return (int)syscall(SYS_pidfd_open, pid, 0);
}
