/* Loads and attaches vqscope's eBPF probes (bpf/vqprobes.bpf.c) on one QEMU process with libbpf,
 * and hands their records (bpf/vqprobes.h) to a callback. Read-only uprobes; nothing is written to
 * QEMU. */
#ifndef VQPROBES_LOADER_H
#define VQPROBES_LOADER_H
#include <stddef.h>

/* Where QEMU's VirtQueueElement keeps its fields (byte offsets). */
struct vqp_element_layout {
    unsigned int index, out_num, in_num, in_addr, out_addr, in_sg, out_sg;
};

struct vqp_probes;

/* Groups of probes, attached only when asked for (fewer probes: less of QEMU's time). */
enum vqp_group {
    VQP_GROUP_KICK = 1,      /* virtio_queue_notify, virtio_queue_host_notifier_read */
    VQP_GROUP_POP = 2,       /* virtqueue_pop (entry and return) */
    VQP_GROUP_COMPLETE = 4,  /* virtqueue_fill, virtqueue_flush */
    VQP_GROUP_INTERRUPT = 8, /* virtio_notify(_irqfd) and what raises an interrupt within them (sys_enter too) */
    VQP_GROUP_ALL = 15,
};

/* Called once per record; return 0 to go on. */
typedef int (*vqp_record_fn)(void *ctx, const void *data, size_t size);

/* Loads the probes of `groups` (enum vqp_group, or-ed) for process `pid` whose executable is
 * `binary` and attaches them. 0 on success;
 * otherwise -errno with one line in `err` saying what failed (which function, what libbpf said). */
int vqp_open(struct vqp_probes **out, int pid, const char *binary, const struct vqp_element_layout *layout,
             unsigned int groups, char *err, size_t errlen);

/* Waits up to timeout_ms for records and hands each to fn. Records handed, or -errno. */
int vqp_poll(struct vqp_probes *p, int timeout_ms, vqp_record_fn fn, void *ctx);

/* Records the probes could not write because the ring buffer was full. */
unsigned long long vqp_dropped(struct vqp_probes *p);

/* How many probes are attached. */
int vqp_attached(const struct vqp_probes *p);

void vqp_close(struct vqp_probes *p);
#endif
