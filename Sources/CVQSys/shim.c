#define _GNU_SOURCE
#include <sys/types.h>
#include <sys/uio.h>
#include "cvqsys.h"

long cvq_process_vm_readv(int pid, const void *local, unsigned long local_count,
                          const void *remote, unsigned long remote_count) {
    return (long)process_vm_readv((pid_t)pid, (const struct iovec *)local, local_count,
                                  (const struct iovec *)remote, remote_count, 0);
}
