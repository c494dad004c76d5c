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

#endif
