/* The records the vqscope probes write into their ring buffer, shared by the BPF program
 * (vqprobes.bpf.c) and its readers. All fields little-endian, laid out without padding surprises:
 * VQCore's ProbeEventDecoder reads the same offsets (its unit tests hold them).
 *
 * Every record: a header, `nsegs` segment records, then `data_len` bytes: the first `copied`
 * bytes of each segment in order. */
#ifndef VQPROBES_H
#define VQPROBES_H

#define VQP_MAX_SEGS 8          /* segments described per event: a chain's first 7 and its last */
#define VQP_EDGE_SEG_BYTES 1600 /* bytes copied of a chain's first and last segment (a frame) */
#define VQP_MID_SEG_BYTES 128   /* bytes copied of each segment between them */
#define VQP_DATA_MAX 4096       /* bytes copied per event at most */

enum vqp_kind {
    VQP_KICK = 1,          /* virtio_queue_notify(vdev, n): vq = vdev, arg = n */
    VQP_KICK_NOTIFIER = 2, /* virtio_queue_host_notifier_read(EventNotifier *): vq = the notifier */
    VQP_POP = 3,           /* virtqueue_pop(vq, sz) returned an element: head, out segments' bytes */
    VQP_FILL = 4,          /* virtqueue_fill(vq, elem, len, idx): head, len, in segments' bytes */
    VQP_FLUSH = 5,         /* virtqueue_flush(vq, count): arg = count */
    VQP_INTERRUPT = 6,     /* virtio_notify(_irqfd) raised an interrupt: arg = 1 for irqfd */
    VQP_SUPPRESSED = 7,    /* virtio_notify(_irqfd) returned without raising one: arg as above */
};

struct vqp_segment {
    unsigned long long addr; /* guest address of the buffer (the element's in_addr/out_addr) */
    unsigned int len;        /* its length (iov_len) */
    unsigned int copied;     /* bytes of it in the data area */
    unsigned int writable;   /* 1: device-writable (in), 0: device-readable (out) */
    unsigned int reserved;
};

struct vqp_header {
    unsigned long long ts_ns; /* bpf_ktime_get_ns: CLOCK_MONOTONIC */
    unsigned int kind;        /* enum vqp_kind */
    unsigned int tid;         /* QEMU's thread */
    unsigned long long vq;    /* VirtQueue * (KICK: VirtIODevice *; KICK_NOTIFIER: EventNotifier *) */
    unsigned long long arg;   /* KICK: queue number; FILL: idx; FLUSH: count; INTERRUPT/SUPPRESSED: irqfd */
    unsigned int head;        /* POP/FILL: the element's index (the chain's head) */
    unsigned int len;         /* FILL: bytes the device wrote */
    unsigned int out_num;     /* POP/FILL: device-readable segments */
    unsigned int in_num;      /* POP/FILL: device-writable segments */
    unsigned int nsegs;       /* segment records that follow */
    unsigned int data_len;    /* data bytes after them */
};

#endif
