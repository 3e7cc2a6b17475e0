// SPDX-License-Identifier: (MIT OR GPL-2.0)
/*
 * pinspect's process events: the scheduler's fork, exec and exit
 * tracepoints write one record each into a ring buffer (an exec's a
 * larger one, exec_event, with the path exec'd and the executable's),
 * which collector/taskiter's Events reads once a collection. Everything a
 * record needs to name its process is taken here, while the kernel holds
 * it: the process's start time (its identity with the pid), its comm
 * and executable after an exec, its parent, the wait status of its end.
 * User space therefore reads nothing of /proc to name an event.
 *
 * No record wakes the reader unless the buffer holds more than
 * wake_bytes: a quiet machine costs the reader nothing between
 * collections, and a storm wakes it only often enough to drain the
 * buffer before it fills. A record that finds no room is counted in
 * lost[0] and dropped.
 *
 * Keep the layout in step with events.go: a test compares them.
 */
#include "events.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>

char LICENSE[] SEC("license") = "Dual MIT/GPL";

/* Record kinds, mirrored in events.go. */
#define EV_FORK 1        /* a new process (pid == tgid) */
#define EV_EXEC 2        /* a process exec'd */
#define EV_EXIT 3        /* a process ended: its last thread exited */
#define EV_THREAD_START 4 /* a new thread in a process */
#define EV_THREAD_EXIT 5  /* a thread other than the last ended */

/* signal_struct.flags: the process is ending as a group (exit_group, a
 * fatal signal); its wait status is then group_exit_code. Stable since
 * Linux 2.6. */
#define SIGNAL_GROUP_EXIT 0x00000004

struct proc_event {
	__u64 time_ns;        /* bpf_ktime_get_ns: CLOCK_MONOTONIC, as the connector stamps */
	__u64 start_boottime; /* the process's start (its leader's), raw boot-clock ns */
	__u32 kind;
	__s32 tid;       /* the thread the event is about */
	__s32 tgid;      /* its process */
	__s32 ppid;      /* the process's parent (tgid), 0 when not known */
	__s32 status;    /* EV_EXIT: the wait status (code << 8, signal, 0x80 core dumped) */
	__u32 pad;
	char comm[16];   /* the process's name: after the exec for EV_EXEC */
};

/* The bytes of each path an exec record holds, its NUL included. */
#define EXEC_PATH_BYTES 128

/* The bytes of the executable's path an exec record holds, its NUL
 * included (a power of two: the walk masks its offsets with it). */
#define EXEC_EXE_BYTES 256

/* The most path components (and mount crossings) the walk takes. */
#define EXE_DEPTH 40

/* exec_event.flags: a path did not fit in its buffer (it holds the first
 * EXEC_PATH_BYTES - 1 bytes); the executable's path did not fit, or its
 * walk took more than EXE_DEPTH steps (exe is empty); the process has no
 * executable to walk, or the walk met what d_path would not name (exe is
 * empty). */
#define EXEC_PATH_TRUNCATED 1
#define EXEC_INTERP_TRUNCATED 2
#define EXEC_EXE_TRUNCATED 4
#define EXEC_EXE_UNKNOWN 8
/* The executable has no name left (d_unlinked, or a memfd's): /proc/PID/exe
 * ends its path with " (deleted)", which exe leaves out. */
#define EXEC_EXE_DELETED 16

/* EV_EXEC's record: proc_event, then the path the kernel exec'd as the
 * caller gave it (bprm->filename: not resolved, possibly relative) and,
 * for a script or a binfmt_misc program, the interpreter it runs
 * (bprm->interp; empty when it is the file itself), then the new
 * program's executable as /proc/PID/exe names it (mm->exe_file's path,
 * walked here: empty when EXEC_EXE_TRUNCATED or EXEC_EXE_UNKNOWN). Every
 * other kind's record is a proc_event alone: user space tells them by
 * their length. */
struct exec_event {
	struct proc_event ev;
	__u32 flags;
	__u32 pad2;
	char path[EXEC_PATH_BYTES];
	char interp[EXEC_PATH_BYTES];
	char exe[EXEC_EXE_BYTES];
};

/* Never read: the two records' types are named here so that the object's
 * BTF describes them, for events_test.go to compare with events.go. */
volatile const struct proc_event *const unused_proc_event __attribute__((unused)) = 0;
volatile const struct exec_event *const unused_exec_event __attribute__((unused)) = 0;

/* The ring buffer's size is set by the loader (events.go: EventRingBytes). */
struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
} events SEC(".maps");

/* lost[0] counts the records dropped for want of room in the ring. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u64);
} lost SEC(".maps");

/* The walk's scratch: the path is made backwards from the end of the
 * first EXEC_EXE_BYTES, each component written at an offset masked to
 * them, so that any write stays inside the second half's room. */
struct exe_scratch {
	char buf[2 * EXEC_EXE_BYTES];
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct exe_scratch);
} scratch SEC(".maps");

/* How full the ring may be before a record wakes the reader (set at load). */
volatile const __u64 wake_bytes = 1 << 16;

/* reserve takes size bytes of the ring for a record that begins with a
 * proc_event (a proc_event, or an exec_event), or counts it lost. */
static __always_inline struct proc_event *reserve_size(__u64 size)
{
	struct proc_event *e = bpf_ringbuf_reserve(&events, size, 0);

	if (!e) {
		__u32 zero = 0;
		__u64 *n = bpf_map_lookup_elem(&lost, &zero);

		if (n)
			__sync_fetch_and_add(n, 1);
		return 0;
	}
	e->time_ns = bpf_ktime_get_ns();
	e->pad = 0;
	e->status = 0;
	e->ppid = 0;
	return e;
}

static __always_inline struct proc_event *reserve(void)
{
	return reserve_size(sizeof(struct proc_event));
}

/* submit hands a record of size bytes to the reader. */
static __always_inline void submit_size(void *e, __u64 size)
{
	__u64 flags = BPF_RB_NO_WAKEUP;

	if (bpf_ringbuf_query(&events, BPF_RB_AVAIL_DATA) + size >= wake_bytes)
		flags = BPF_RB_FORCE_WAKEUP;
	bpf_ringbuf_submit(e, flags);
}

static __always_inline void submit(struct proc_event *e)
{
	submit_size(e, sizeof(*e));
}

/* read_path copies the string at src into buf (EXEC_PATH_BYTES) and says
 * whether it was cut: a copy that fills the buffer is whole only when the
 * string's next byte is its end. An unreadable path is left empty. */
static __always_inline bool read_path(char *buf, const char *src)
{
	long n = bpf_probe_read_kernel_str(buf, EXEC_PATH_BYTES, src);
	char next = 0;

	if (n < 0) {
		buf[0] = 0;
		return 0;
	}
	if (n < EXEC_PATH_BYTES)
		return 0;
	if (bpf_probe_read_kernel(&next, 1, src + EXEC_PATH_BYTES - 1) < 0)
		return 1;
	return next != 0;
}

#define EXE_MASK (EXEC_EXE_BYTES - 1)

/* prepend writes n bytes from src (kernel memory) before *pos in buf, and
 * says false when they do not fit (with the '/' before them). */
static __always_inline bool prepend(char *buf, __u32 *pos, const void *src, __u32 n)
{
	if (n >= *pos)
		return 0;
	*pos -= n;
	if (bpf_probe_read_kernel(buf + (*pos & EXE_MASK), n & EXE_MASK, src) < 0)
		return 0;
	return 1;
}

/* read_exe writes into exe the path of the file f as d_path(&f->f_path)
 * makes it for a reader at the namespace's root (what /proc/PID/exe shows
 * to one): the names from the file's dentry up to its mount's root, then
 * on from the mountpoint in the parent mount, until a mount that has
 * none; a pseudo file's (a memfd's: its own parent, not a mount root,
 * with a d_dname) "/NAME", as simple_dname makes it; "/" for a dentry
 * that reaches its own parent before its mount's root without a d_dname
 * (a disconnected one: a file opened by handle, d_alloc_anon's), as
 * prepend_path gives for it ("Escaped?"). It returns the flags to add:
 * EXEC_EXE_DELETED for an unlinked file or a pseudo file (d_path's
 * " (deleted)", left out of exe); EXEC_EXE_UNKNOWN when there is no file
 * or a read fails, EXEC_EXE_TRUNCATED when the path does not fit or has
 * more than EXE_DEPTH parts: exe is then empty.
 *
 * d_path takes rename_lock and retries when a rename moved a dentry on
 * the way; this walk cannot (bpf_d_path is not allowed at a tracepoint),
 * so a directory of the path renamed during the exec may give a name
 * that mixes the two. */
static __always_inline __u32 read_exe(char *exe, struct file *f)
{
	__u32 zero = 0, pos = EXEC_EXE_BYTES - 1, i, n;
	struct exe_scratch *s = bpf_map_lookup_elem(&scratch, &zero);
	struct dentry *d, *parent, *root;
	struct mount *m, *up;
	const unsigned char *name;
	bool done = 0;
	__u32 flags = 0;

	exe[0] = 0;
	if (!s || !f)
		return EXEC_EXE_UNKNOWN;
	d = BPF_CORE_READ(f, f_path.dentry);
	m = (struct mount *)((void *)BPF_CORE_READ(f, f_path.mnt) - bpf_core_field_offset(struct mount, mnt));
	if (!d)
		return EXEC_EXE_UNKNOWN;
	s->buf[pos] = 0;
	parent = BPF_CORE_READ(d, d_parent);
	root = BPF_CORE_READ(m, mnt.mnt_root);
	/* d_unlinked: unhashed and not a root. A pseudo file's dentry is its
	 * own parent and not its mount's root: d_path names it by its
	 * d_dname (simple_dname) when it has one (d_path's test); without,
	 * the walk below finds it escaped. */
	if (!BPF_CORE_READ(d, d_hash.pprev) && parent != d)
		flags = EXEC_EXE_DELETED;
	if (parent == d && d != root && BPF_CORE_READ(d, d_op, d_dname)) {
		flags = EXEC_EXE_DELETED;
		done = 1;
	}
	if (done) {
		n = BPF_CORE_READ(d, d_name.len);
		name = BPF_CORE_READ(d, d_name.name);
		if (!prepend(s->buf, &pos, name, n))
			return EXEC_EXE_TRUNCATED;
		pos--;
		s->buf[pos & EXE_MASK] = '/';
		goto copy;
	}
	for (i = 0; i < EXE_DEPTH; i++) {
		root = BPF_CORE_READ(m, mnt.mnt_root);
		if (d == root) {
			up = BPF_CORE_READ(m, mnt_parent);
			if (up == m || !up) {
				done = 1;
				break;
			}
			d = BPF_CORE_READ(m, mnt_mountpoint);
			m = up;
			continue;
		}
		parent = BPF_CORE_READ(d, d_parent);
		if (parent == d || !parent) {
			/* Above the root it can reach (fs/d_path.c's "Escaped?":
			 * a disconnected dentry): d_path drops what it had and
			 * gives "/" (with " (deleted)" for an unlinked one). */
			pos = EXEC_EXE_BYTES - 1;
			done = 1;
			break;
		}
		n = BPF_CORE_READ(d, d_name.len);
		name = BPF_CORE_READ(d, d_name.name);
		if (!prepend(s->buf, &pos, name, n))
			return EXEC_EXE_TRUNCATED;
		pos--;
		s->buf[pos & EXE_MASK] = '/';
		d = parent;
	}
	if (!done)
		return EXEC_EXE_TRUNCATED;
	if (pos == EXEC_EXE_BYTES - 1) {
		pos--;
		s->buf[pos & EXE_MASK] = '/';
	}
copy:
	if (bpf_probe_read_kernel_str(exe, EXEC_EXE_BYTES, s->buf + (pos & EXE_MASK)) < 0) {
		exe[0] = 0;
		return EXEC_EXE_UNKNOWN;
	}
	return flags;
}

/* fill sets the fields every kind shares from thread t of process leader. */
static __always_inline void fill(struct proc_event *e, __u32 kind, struct task_struct *t, struct task_struct *leader)
{
	e->kind = kind;
	e->tid = t->pid;
	e->tgid = t->tgid;
	e->start_boottime = leader->start_boottime;
	__builtin_memcpy(e->comm, leader->comm, sizeof(e->comm));
}

SEC("tp_btf/sched_process_fork")
int pinspect_fork(u64 *ctx)
{
	struct task_struct *child = (struct task_struct *)ctx[1];
	struct task_struct *leader = child->group_leader;
	struct proc_event *e = reserve();

	if (!e)
		return 0;
	if (child->pid == child->tgid) {
		fill(e, EV_FORK, child, child);
		/* The parent a new process reports, as /proc does: real_parent (with
		 * CLONE_PARENT, the parent of the thread that forked). */
		e->ppid = child->real_parent->tgid;
	} else {
		fill(e, EV_THREAD_START, child, leader);
	}
	submit(e);
	return 0;
}

SEC("tp_btf/sched_process_exec")
int pinspect_exec(u64 *ctx)
{
	/* After de_thread the exec'ing thread leads the process, with the
	 * old leader's pid and start time, and its comm is the new program's. */
	struct task_struct *p = (struct task_struct *)ctx[0];
	struct linux_binprm *bprm = (struct linux_binprm *)ctx[2];
	const char *filename = bprm->filename;
	const char *interp = bprm->interp;
	struct exec_event *x = (struct exec_event *)reserve_size(sizeof(struct exec_event));

	if (!x)
		return 0;
	fill(&x->ev, EV_EXEC, p, p->group_leader);
	x->ev.ppid = p->real_parent->tgid;
	x->flags = 0;
	x->pad2 = 0;
	if (read_path(x->path, filename))
		x->flags |= EXEC_PATH_TRUNCATED;
	x->interp[0] = 0;
	if (interp != filename && read_path(x->interp, interp))
		x->flags |= EXEC_INTERP_TRUNCATED;
	/* The new program's executable, as /proc/PID/exe will show it:
	 * begin_new_exec has set mm->exe_file (a script's interpreter). */
	x->flags |= read_exe(x->exe, p->mm ? p->mm->exe_file : 0);
	submit_size(x, sizeof(*x));
	return 0;
}

SEC("tp_btf/sched_process_exit")
int pinspect_exit(u64 *ctx)
{
	struct task_struct *p = (struct task_struct *)ctx[0];
	struct task_struct *leader = p->group_leader;
	struct signal_struct *sig = p->signal;
	struct proc_event *e;
	bool last;

	/* do_exit counts the thread out of signal->live before the tracepoint:
	 * none left is the process's end. The leader ending before its threads
	 * writes nothing (the last one's record ends the process). */
	if (p->pid == p->tgid && sig->live.counter != 0)
		return 0;
	/* Any other thread reserves its place before it reads the count: a
	 * thread that still finds others live then holds a place before the
	 * record of the thread whose count out left none, so the last record
	 * of a process that says EV_EXIT follows every EV_THREAD_EXIT of it.
	 * Two threads may both find none left; user space takes the last
	 * EV_EXIT of a process as its end and the earlier ones as threads'. */
	e = reserve();
	if (!e)
		return 0;
	last = sig->live.counter == 0;
	if (!last) {
		fill(e, EV_THREAD_EXIT, p, leader);
		submit(e);
		return 0;
	}
	fill(e, EV_EXIT, p, leader);
	e->ppid = leader->real_parent->tgid;
	/* What wait() reports of the process (wait_task_zombie). */
	if (sig->flags & SIGNAL_GROUP_EXIT)
		e->status = sig->group_exit_code;
	else
		e->status = leader->exit_code;
	submit(e);
	return 0;
}
