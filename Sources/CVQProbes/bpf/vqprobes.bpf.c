/* vqscope's eBPF probes: uprobes on QEMU's own virtio functions, read-only (they only read QEMU's
 * memory and its arguments). scripts/bpf-build.sh compiles it into ../vqprobes_object.c (the bytes
 * that are committed; `--check` holds them to this source); Sources/VQProbes loads them with
 * libbpf. Records: vqprobes.h.
 *
 * Functions (QEMU's hw/virtio/virtio.c):
 *   virtio_queue_notify(VirtIODevice *vdev, int n)            kick (MMIO/PIO notify, no ioeventfd)
 *   virtio_queue_host_notifier_read(EventNotifier *n)         kick through an ioeventfd
 *   void *virtqueue_pop(VirtQueue *vq, size_t sz)             pop (uretprobe: the element)
 *   virtqueue_fill(VirtQueue *vq, const VirtQueueElement *elem, unsigned len, unsigned idx)
 *   virtqueue_flush(VirtQueue *vq, unsigned int count)
 *   virtio_notify(VirtIODevice *vdev, VirtQueue *vq)          interrupt or suppressed
 *   virtio_notify_irqfd(VirtIODevice *vdev, VirtQueue *vq)    the same through an irqfd
 * virtio_notify decides in a static function (virtio_should_notify) whether to interrupt; a probe
 * cannot see that decision, so it is observed: between virtio_notify's entry and its return on the
 * same thread, QEMU raising an interrupt (msix_notify, msi_notify, pci_set_irq, or a write(2) to an
 * eventfd: event_notifier_set, for the irqfd) makes it an INTERRUPT, nothing raised a SUPPRESSED.
 * The write is seen at the sys_enter raw tracepoint, not by a uprobe on event_notifier_set: QEMU's
 * main loop calls that thousands of times a second, and a uprobe traps on every call. */
#include <linux/bpf.h>
#include <linux/ptrace.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include "vqprobes.h"

char LICENSE[] SEC("license") = "Dual BSD/GPL";

/* Set by the loader before loading: the QEMU process, and where VirtQueueElement keeps its
 * fields (QEMU's include/hw/virtio/virtio.h; the loader checks what they give). */
const volatile unsigned int target_tgid = 0;
const volatile unsigned int elem_index_off = 0;
const volatile unsigned int elem_out_num_off = 12;
const volatile unsigned int elem_in_num_off = 16;
const volatile unsigned int elem_in_addr_off = 24;
const volatile unsigned int elem_out_addr_off = 32;
const volatile unsigned int elem_in_sg_off = 40;
const volatile unsigned int elem_out_sg_off = 48;

struct {
    __uint(type, BPF_MAP_TYPE_RINGBUF);
    __uint(max_entries, 16 << 20);
} events SEC(".maps");

/* Records are built here (too big for the BPF stack), then copied into the ring buffer. */
#define VQP_RECORD_MAX (sizeof(struct vqp_header) + VQP_MAX_SEGS * sizeof(struct vqp_segment) + 2 * VQP_DATA_MAX)
struct record {
    struct vqp_header h;
    struct vqp_segment segs[VQP_MAX_SEGS];
    unsigned char data[2 * VQP_DATA_MAX];
    /* Bytes the segment walk may still copy (kept here, not on the stack: the verifier then
     * treats it as any value, and checks the walk's step once). Not part of the record sent. */
    unsigned int remaining;
};
struct {
    __uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
    __uint(max_entries, 1);
    __type(key, __u32);
    __type(value, struct record);
} scratch SEC(".maps");

/* virtqueue_pop's VirtQueue, from its entry to its return, by thread. */
struct {
    __uint(type, BPF_MAP_TYPE_HASH);
    __uint(max_entries, 4096);
    __type(key, __u32);
    __type(value, __u64);
} popping SEC(".maps");

/* A virtio_notify in progress on a thread: its VirtQueue, whether it is the irqfd variant, and
 * whether an interrupt was raised within it. */
struct notify_state {
    __u64 vq;
    __u32 irqfd;
    __u32 raised;
};
struct {
    __uint(type, BPF_MAP_TYPE_HASH);
    __uint(max_entries, 4096);
    __type(key, __u32);
    __type(value, struct notify_state);
} notifying SEC(".maps");

/* Records dropped because the ring buffer was full (one counter; the reader reports it). */
struct {
    __uint(type, BPF_MAP_TYPE_ARRAY);
    __uint(max_entries, 1);
    __type(key, __u32);
    __type(value, __u64);
} dropped SEC(".maps");

static __always_inline int is_target(void)
{
    return (bpf_get_current_pid_tgid() >> 32) == target_tgid;
}

static __always_inline struct record *begin(unsigned int kind, __u64 vq, __u64 arg)
{
    __u32 zero = 0;
    struct record *r = bpf_map_lookup_elem(&scratch, &zero);
    if (!r)
        return 0;
    r->h.ts_ns = bpf_ktime_get_ns();
    r->h.kind = kind;
    r->h.tid = (__u32)bpf_get_current_pid_tgid();
    r->h.vq = vq;
    r->h.arg = arg;
    r->h.head = 0;
    r->h.len = 0;
    r->h.out_num = 0;
    r->h.in_num = 0;
    r->h.nsegs = 0;
    r->h.data_len = 0;
    return r;
}

static __always_inline void submit(struct record *r)
{
    __u64 size = sizeof(struct vqp_header) + VQP_MAX_SEGS * sizeof(struct vqp_segment) + r->h.data_len;
    if (size > VQP_RECORD_MAX)
        size = VQP_RECORD_MAX;
    if (bpf_ringbuf_output(&events, r, size, 0) != 0) {
        __u32 zero = 0;
        __u64 *n = bpf_map_lookup_elem(&dropped, &zero);
        if (n)
            __sync_fetch_and_add(n, 1);
    }
}

/* One direction of an element's segments, walked by bpf_loop (one verification of the step,
 * however many segments). */
struct segment_walk {
    __u64 addrs;            /* the element's in_addr/out_addr array */
    __u64 sg;               /* its in_sg/out_sg array */
    unsigned int num;       /* segments in that direction */
    unsigned int writable;
};

static struct record *scratch_record(void)
{
    __u32 zero = 0;
    return bpf_map_lookup_elem(&scratch, &zero);
}

/* Describes segment i and copies its first bytes: a frame's worth of the first and last segment,
 * a little of those between. 1 stops the walk. */
static long segment_step(__u32 i, void *ctx)
{
    struct segment_walk *w = ctx;
    struct record *r = scratch_record();
    if (!r || i >= w->num)
        return 1;
    unsigned int s = r->h.nsegs;
    if (s >= VQP_MAX_SEGS)
        return 1;
    /* A chain longer than the records: its first segments and, in the last record, its last
     * one (a blk request's status byte, a frame's end). */
    __u32 idx = (i == VQP_MAX_SEGS - 1 && w->num > VQP_MAX_SEGS) ? w->num - 1 : i;
    __u64 addr = 0;
    __u64 iov[2] = {0, 0};
    bpf_probe_read_user(&addr, sizeof(addr), (void *)(w->addrs + (__u64)idx * 8));
    bpf_probe_read_user(iov, sizeof(iov), (void *)(w->sg + (__u64)idx * 16));
    unsigned int remaining = r->remaining;
    unsigned int want = iov[1] > remaining ? remaining : (unsigned int)iov[1];
    unsigned int cap = (idx == 0 || idx == w->num - 1) ? VQP_EDGE_SEG_BYTES : VQP_MID_SEG_BYTES;
    if (want > cap)
        want = cap;
    unsigned int off = r->h.data_len;
    if (off >= VQP_DATA_MAX)
        want = 0;
    else if (want > VQP_DATA_MAX - off)
        want = VQP_DATA_MAX - off;
    unsigned int end = off + want;
    off &= VQP_DATA_MAX - 1;
    want &= 2 * VQP_DATA_MAX - 1;
    if (want > 0 && bpf_probe_read_user(&r->data[off], want, (void *)iov[0]) != 0) {
        want = 0;
        end = r->h.data_len;
    }
    r->remaining = want > remaining ? 0 : remaining - want;
    s &= VQP_MAX_SEGS - 1;
    r->segs[s].addr = addr;
    r->segs[s].len = (unsigned int)iov[1];
    r->segs[s].copied = want;
    r->segs[s].writable = w->writable;
    r->segs[s].reserved = 0;
    r->h.nsegs = s + 1;
    r->h.data_len = end;
    return 0;
}

static __always_inline void add_segments(__u64 elem, unsigned int num, unsigned int addr_off, unsigned int sg_off,
                                         unsigned int writable, unsigned int limit)
{
    struct record *r = scratch_record();
    if (!r)
        return;
    r->remaining = limit;
    struct segment_walk w = {.num = num, .writable = writable};
    bpf_probe_read_user(&w.addrs, sizeof(w.addrs), (void *)(elem + addr_off));
    bpf_probe_read_user(&w.sg, sizeof(w.sg), (void *)(elem + sg_off));
    bpf_loop(VQP_MAX_SEGS, segment_step, &w, 0);
}

SEC("uprobe")
int BPF_KPROBE(queue_notify, __u64 vdev, int n)
{
    if (!is_target())
        return 0;
    struct record *r = begin(VQP_KICK, vdev, (__u64)(unsigned int)n);
    if (r)
        submit(r);
    return 0;
}

SEC("uprobe")
int BPF_KPROBE(host_notifier_read, __u64 notifier)
{
    if (!is_target())
        return 0;
    struct record *r = begin(VQP_KICK_NOTIFIER, notifier, 0);
    if (r)
        submit(r);
    return 0;
}

SEC("uprobe")
int BPF_KPROBE(pop_entry, __u64 vq)
{
    if (!is_target())
        return 0;
    __u32 tid = (__u32)bpf_get_current_pid_tgid();
    bpf_map_update_elem(&popping, &tid, &vq, BPF_ANY);
    return 0;
}

SEC("uretprobe")
int BPF_KRETPROBE(pop_return, __u64 elem)
{
    if (!is_target())
        return 0;
    __u32 tid = (__u32)bpf_get_current_pid_tgid();
    __u64 *vq = bpf_map_lookup_elem(&popping, &tid);
    if (!vq)
        return 0;
    __u64 queue = *vq;
    bpf_map_delete_elem(&popping, &tid);
    if (!elem)
        return 0;
    struct record *r = begin(VQP_POP, queue, 0);
    if (!r)
        return 0;
    bpf_probe_read_user(&r->h.head, 4, (void *)(elem + elem_index_off));
    bpf_probe_read_user(&r->h.out_num, 4, (void *)(elem + elem_out_num_off));
    bpf_probe_read_user(&r->h.in_num, 4, (void *)(elem + elem_in_num_off));
    /* The driver's bytes (device-readable), then the writable segments' addresses and lengths. */
    add_segments(elem, r->h.out_num, elem_out_addr_off, elem_out_sg_off, 0, VQP_DATA_MAX);
    add_segments(elem, r->h.in_num, elem_in_addr_off, elem_in_sg_off, 1, 0);
    submit(r);
    return 0;
}

SEC("uprobe")
int BPF_KPROBE(fill, __u64 vq, __u64 elem, unsigned int len, unsigned int idx)
{
    if (!is_target())
        return 0;
    struct record *r = begin(VQP_FILL, vq, idx);
    if (!r)
        return 0;
    r->h.len = len;
    bpf_probe_read_user(&r->h.head, 4, (void *)(elem + elem_index_off));
    bpf_probe_read_user(&r->h.out_num, 4, (void *)(elem + elem_out_num_off));
    bpf_probe_read_user(&r->h.in_num, 4, (void *)(elem + elem_in_num_off));
    /* The bytes the device wrote: the writable segments up to len. */
    add_segments(elem, r->h.in_num, elem_in_addr_off, elem_in_sg_off, 1,
                 len > VQP_DATA_MAX ? VQP_DATA_MAX : len);
    submit(r);
    return 0;
}

SEC("uprobe")
int BPF_KPROBE(flush, __u64 vq, unsigned int count)
{
    if (!is_target())
        return 0;
    struct record *r = begin(VQP_FLUSH, vq, count);
    if (r)
        submit(r);
    return 0;
}

static __always_inline int notify_entry(__u64 vq, __u32 irqfd)
{
    if (!is_target())
        return 0;
    __u32 tid = (__u32)bpf_get_current_pid_tgid();
    struct notify_state st = {.vq = vq, .irqfd = irqfd, .raised = 0};
    bpf_map_update_elem(&notifying, &tid, &st, BPF_ANY);
    return 0;
}

static __always_inline int notify_return(void)
{
    if (!is_target())
        return 0;
    __u32 tid = (__u32)bpf_get_current_pid_tgid();
    struct notify_state *st = bpf_map_lookup_elem(&notifying, &tid);
    if (!st)
        return 0;
    struct notify_state copy = *st;
    bpf_map_delete_elem(&notifying, &tid);
    struct record *r = begin(copy.raised ? VQP_INTERRUPT : VQP_SUPPRESSED, copy.vq, copy.irqfd);
    if (r)
        submit(r);
    return 0;
}

SEC("uprobe")
int BPF_KPROBE(notify_entry_plain, __u64 vdev, __u64 vq) { return notify_entry(vq, 0); }

SEC("uretprobe")
int BPF_KRETPROBE(notify_return_plain) { return notify_return(); }

SEC("uprobe")
int BPF_KPROBE(notify_entry_irqfd, __u64 vdev, __u64 vq) { return notify_entry(vq, 1); }

SEC("uretprobe")
int BPF_KRETPROBE(notify_return_irqfd) { return notify_return(); }

/* An interrupt raised by QEMU (MSI-X, MSI, INTx): counts only inside a virtio_notify on the same
 * thread. */
SEC("uprobe")
int BPF_KPROBE(raise_interrupt)
{
    if (!is_target())
        return 0;
    __u32 tid = (__u32)bpf_get_current_pid_tgid();
    struct notify_state *st = bpf_map_lookup_elem(&notifying, &tid);
    if (st)
        st->raised = 1;
    return 0;
}

/* A write(2) inside a virtio_notify on the same thread: event_notifier_set signalling the irqfd. */
SEC("raw_tp/sys_enter")
int BPF_PROG(raise_by_write, struct pt_regs *regs, long id)
{
    if (id != 1 /* __NR_write on x86-64 */ || !is_target())
        return 0;
    __u32 tid = (__u32)bpf_get_current_pid_tgid();
    struct notify_state *st = bpf_map_lookup_elem(&notifying, &tid);
    if (st)
        st->raised = 1;
    return 0;
}
