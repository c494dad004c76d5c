#ifndef CVQSYS_H
#define CVQSYS_H

// Kept free of system headers: defining _GNU_SOURCE here would make this module's view of libc
// disagree with Swift's Glibc module. shim.c defines it and includes what it needs.
#include <stddef.h>

/// process_vm_readv(2), which Swift's Glibc module does not export. `local` and `remote` are
/// arrays of `struct iovec`. Reads only; never writes to the remote process, needs no ptrace stop.
/// Returns bytes read, or -1 with errno set.
long cvq_process_vm_readv(int pid, const void *local, unsigned long local_count,
                          const void *remote, unsigned long remote_count);

/// prctl(PR_SET_PDEATHSIG, signal) (prctl is variadic, so Swift cannot call it): the kernel sends
/// `signal` to the calling process when the thread that created it exits. Returns 0, or -1 with
/// errno set.
int cvq_set_parent_death_signal(int signal);

/// posix_spawn_file_actions_addclosefrom_np(3) (glibc 2.34+, not exported to Swift): the spawned
/// child closes every descriptor from `from` up. `actions` is a `posix_spawn_file_actions_t *`.
/// Returns 0 or an error number.
int cvq_spawn_actions_close_from(void *actions, int from);

/// pidfd_open(pid, 0) (Linux 5.3; syscall is variadic, so Swift cannot call it): a descriptor of
/// the process that becomes readable when the process ends. Returns it, or -1 with errno set.
int cvq_pidfd_open(int pid);

#endif
