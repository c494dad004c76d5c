/* The libbpf edge of vqscope's eBPF event source: see include/vqprobes_loader.h. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <bpf/libbpf.h>
#include <bpf/bpf.h>
#include <bpf/btf.h>
#include "vqprobes_object.h"
#include "vqprobes_loader.h"

#define VQP_MAX_LINKS 16

struct vqp_probes {
    struct bpf_object *obj;
    struct bpf_link *links[VQP_MAX_LINKS];
    int nlinks;
    struct ring_buffer *ring;
    int dropped_fd;
    vqp_record_fn fn;
    void *ctx;
};

/* libbpf's last warning, kept for the one line that says why loading failed. */
static __thread char last_libbpf_message[256];

static int keep_libbpf_message(enum libbpf_print_level level, const char *fmt, va_list args)
{
    /* VQSCOPE_BPF_DEBUG=1: everything libbpf says (the verifier's log too) on stderr. */
    const char *debug = getenv("VQSCOPE_BPF_DEBUG");
    if (debug && debug[0] && strcmp(debug, "0") != 0) {
        va_list copy;
        va_copy(copy, args);
        vfprintf(stderr, fmt, copy);
        va_end(copy);
    }
    if (level == LIBBPF_DEBUG)
        return 0;
    char line[256];
    vsnprintf(line, sizeof(line), fmt, args);
    size_t n = strlen(line);
    while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == ' '))
        line[--n] = 0;
    if (n > 0)
        snprintf(last_libbpf_message, sizeof(last_libbpf_message), "%s", line);
    return 0;
}

static int fail(char *err, size_t errlen, int code, const char *what)
{
    if (last_libbpf_message[0])
        snprintf(err, errlen, "%s: %s (%s)", what, strerror(code), last_libbpf_message);
    else
        snprintf(err, errlen, "%s: %s", what, strerror(code));
    return -code;
}

/* Sets one `const volatile unsigned int` of the program's .rodata, found by name through BTF. */
static int set_rodata(struct bpf_object *obj, const char *name, unsigned int value)
{
    struct btf *btf = bpf_object__btf(obj);
    if (!btf)
        return -ENOENT;
    struct bpf_map *rodata = NULL, *m;
    bpf_object__for_each_map(m, obj) {
        const char *mn = bpf_map__name(m);
        size_t l = strlen(mn);
        if (l >= 7 && strcmp(mn + l - 7, ".rodata") == 0)
            rodata = m;
    }
    if (!rodata)
        return -ENOENT;
    int sec_id = btf__find_by_name_kind(btf, ".rodata", BTF_KIND_DATASEC);
    if (sec_id < 0)
        return -ENOENT;
    const struct btf_type *sec = btf__type_by_id(btf, sec_id);
    const struct btf_var_secinfo *vs = btf_var_secinfos(sec);
    size_t size = 0;
    const void *initial = bpf_map__initial_value(rodata, &size);
    if (!initial)
        return -ENOENT;
    for (int i = 0; i < btf_vlen(sec); i++, vs++) {
        const struct btf_type *var = btf__type_by_id(btf, vs->type);
        if (strcmp(btf__name_by_offset(btf, var->name_off), name) != 0)
            continue;
        if (vs->size != sizeof(value) || vs->offset + sizeof(value) > size)
            return -EINVAL;
        unsigned char *copy = malloc(size);
        if (!copy)
            return -ENOMEM;
        memcpy(copy, initial, size);
        memcpy(copy + vs->offset, &value, sizeof(value));
        int r = bpf_map__set_initial_value(rodata, copy, size);
        free(copy);
        return r;
    }
    return -ENOENT;
}

struct attachment {
    const char *program;
    const char *function;
    int retprobe;
    unsigned int group;
};

static const struct attachment attachments[] = {
    {"queue_notify", "virtio_queue_notify", 0, VQP_GROUP_KICK},
    {"host_notifier_read", "virtio_queue_host_notifier_read", 0, VQP_GROUP_KICK},
    {"pop_entry", "virtqueue_pop", 0, VQP_GROUP_POP},
    {"pop_return", "virtqueue_pop", 1, VQP_GROUP_POP},
    {"fill", "virtqueue_fill", 0, VQP_GROUP_COMPLETE},
    {"flush", "virtqueue_flush", 0, VQP_GROUP_COMPLETE},
    {"notify_entry_plain", "virtio_notify", 0, VQP_GROUP_INTERRUPT},
    {"notify_return_plain", "virtio_notify", 1, VQP_GROUP_INTERRUPT},
    {"notify_entry_irqfd", "virtio_notify_irqfd", 0, VQP_GROUP_INTERRUPT},
    {"notify_return_irqfd", "virtio_notify_irqfd", 1, VQP_GROUP_INTERRUPT},
    {"raise_interrupt", "msix_notify", 0, VQP_GROUP_INTERRUPT},
    {"raise_interrupt", "msi_notify", 0, VQP_GROUP_INTERRUPT},
    {"raise_interrupt", "pci_set_irq", 0, VQP_GROUP_INTERRUPT},
    {"raise_by_write", NULL, 0, VQP_GROUP_INTERRUPT}, /* the sys_enter raw tracepoint: a write(2) to the irqfd */
};

static int on_record(void *ctx, void *data, size_t size)
{
    struct vqp_probes *p = ctx;
    return p->fn ? p->fn(p->ctx, data, size) : 0;
}

int vqp_open(struct vqp_probes **out, int pid, const char *binary, const struct vqp_element_layout *layout,
             unsigned int groups, char *err, size_t errlen)
{
    *out = NULL;
    last_libbpf_message[0] = 0;
    libbpf_set_print(keep_libbpf_message);
    struct vqp_probes *p = calloc(1, sizeof(*p));
    if (!p)
        return fail(err, errlen, ENOMEM, "no memory for the probes");
    p->dropped_fd = -1;
    LIBBPF_OPTS(bpf_object_open_opts, open_opts, .object_name = "vqprobes");
    p->obj = bpf_object__open_mem(vqprobes_object, vqprobes_object_size, &open_opts);
    if (!p->obj) {
        int e = errno ? errno : EINVAL;
        free(p);
        return fail(err, errlen, e, "libbpf could not open the probes' object");
    }
    struct { const char *name; unsigned int value; } consts[] = {
        {"target_tgid", (unsigned int)pid},
        {"elem_index_off", layout->index},
        {"elem_out_num_off", layout->out_num},
        {"elem_in_num_off", layout->in_num},
        {"elem_in_addr_off", layout->in_addr},
        {"elem_out_addr_off", layout->out_addr},
        {"elem_in_sg_off", layout->in_sg},
        {"elem_out_sg_off", layout->out_sg},
    };
    for (size_t i = 0; i < sizeof(consts) / sizeof(consts[0]); i++) {
        int r = set_rodata(p->obj, consts[i].name, consts[i].value);
        if (r < 0) {
            vqp_close(p);
            char what[128];
            snprintf(what, sizeof(what), "the probes' constant %s is missing", consts[i].name);
            return fail(err, errlen, -r, what);
        }
    }
    /* Programs of groups not asked for are not even loaded. */
    struct bpf_program *prog;
    bpf_object__for_each_program(prog, p->obj) {
        int wanted = 0;
        for (size_t i = 0; i < sizeof(attachments) / sizeof(attachments[0]); i++)
            if (strcmp(attachments[i].program, bpf_program__name(prog)) == 0 && (attachments[i].group & groups))
                wanted = 1;
        bpf_program__set_autoload(prog, wanted);
    }
    if (bpf_object__load(p->obj) != 0) {
        int e = errno ? errno : EPERM;
        vqp_close(p);
        return fail(err, errlen, e, "the kernel refused the BPF probes");
    }
    for (size_t i = 0; i < sizeof(attachments) / sizeof(attachments[0]); i++) {
        const struct attachment *a = &attachments[i];
        if (!(a->group & groups))
            continue;
        struct bpf_program *prog = bpf_object__find_program_by_name(p->obj, a->program);
        if (!prog) {
            vqp_close(p);
            return fail(err, errlen, ENOENT, a->program);
        }
        struct bpf_link *link;
        if (a->function) {
            LIBBPF_OPTS(bpf_uprobe_opts, uopts, .func_name = a->function, .retprobe = a->retprobe);
            link = bpf_program__attach_uprobe_opts(prog, pid, binary, 0, &uopts);
        } else {
            link = bpf_program__attach_raw_tracepoint(prog, "sys_enter");
        }
        if (!link) {
            int e = errno ? errno : ENOENT;
            vqp_close(p);
            char what[160];
            if (a->function)
                snprintf(what, sizeof(what), "cannot attach a %s to QEMU's %s", a->retprobe ? "uretprobe" : "uprobe",
                         a->function);
            else
                snprintf(what, sizeof(what), "cannot attach to the sys_enter raw tracepoint");
            return fail(err, errlen, e, what);
        }
        p->links[p->nlinks++] = link;
    }
    struct bpf_map *events = bpf_object__find_map_by_name(p->obj, "events");
    struct bpf_map *dropped = bpf_object__find_map_by_name(p->obj, "dropped");
    if (!events || !dropped) {
        vqp_close(p);
        return fail(err, errlen, ENOENT, "the probes' maps are missing");
    }
    p->dropped_fd = bpf_map__fd(dropped);
    p->ring = ring_buffer__new(bpf_map__fd(events), on_record, p, NULL);
    if (!p->ring) {
        int e = errno ? errno : ENOMEM;
        vqp_close(p);
        return fail(err, errlen, e, "cannot map the probes' ring buffer");
    }
    *out = p;
    return 0;
}

int vqp_poll(struct vqp_probes *p, int timeout_ms, vqp_record_fn fn, void *ctx)
{
    p->fn = fn;
    p->ctx = ctx;
    int n = ring_buffer__poll(p->ring, timeout_ms);
    p->fn = NULL;
    p->ctx = NULL;
    if (n == -EINTR)
        return 0;
    return n;
}

unsigned long long vqp_dropped(struct vqp_probes *p)
{
    unsigned int zero = 0;
    unsigned long long n = 0;
    if (p->dropped_fd >= 0)
        bpf_map_lookup_elem(p->dropped_fd, &zero, &n);
    return n;
}

int vqp_attached(const struct vqp_probes *p) { return p->nlinks; }

void vqp_close(struct vqp_probes *p)
{
    if (!p)
        return;
    if (p->ring)
        ring_buffer__free(p->ring);
    for (int i = p->nlinks - 1; i >= 0; i--)
        bpf_link__destroy(p->links[i]);
    if (p->obj)
        bpf_object__close(p->obj);
    free(p);
}
