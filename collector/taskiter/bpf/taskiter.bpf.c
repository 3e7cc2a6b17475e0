// SPDX-License-Identifier: (MIT OR GPL-2.0)
/*
 * pinspect's task iterator: one fixed binary record per task (thread) of
 * the machine, written to the iterator's seq_file and read by
 * collector/taskiter. A thread-group leader's record is followed by a
 * group record with what the kernel keeps per process (signal_struct,
 * sighand, credentials, mm).
 *
 * The records hold raw kernel values (nanoseconds, page counts, raw state
 * bits); the Go side turns them into what /proc shows, the way
 * fs/proc/array.c does. Nothing here formats text.
 *
 * Every field access is CO-RE (kernel.h marks the types
 * preserve_access_index). Plain loads through task pointers are BTF
 * pointer loads the verifier guards (a fault reads 0); fields that some
 * kernels lack are read only behind bpf_core_field_exists().
 *
 * Keep the layouts in step with record.go: a test compares them.
 */
#include "kernel.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>

char LICENSE[] SEC("license") = "Dual MIT/GPL";

/* Record kinds and flags, mirrored in record.go. */
#define REC_TASK 1
#define REC_GROUP 2

/* task_rec.rec_flags */
#define TASK_HAS_SCHED_INFO (1u << 0) /* run_delay and pcount are real */
#define TASK_HAS_DELAYS (1u << 1)     /* blkio_delay is real */
#define TASK_HAS_PARENT (1u << 2)     /* ppid is real (pid_alive) */

/* group_rec.rec_flags */
#define GROUP_HAS_MM (1u << 0)         /* a user address space */
#define GROUP_HAS_TTY (1u << 1)        /* a controlling terminal */
#define GROUP_HAS_RSS (1u << 2)        /* rss[] was read */
#define GROUP_HAS_STATS (1u << 3)      /* cpu_delay_total of exited threads */
#define GROUP_NSPID_TRUNCATED (1u << 4) /* nesting deeper than nspid[] */
#define GROUP_HAS_SIGHAND (1u << 5)    /* sig_ignored/sig_caught are real */
#define GROUP_HAS_CRED (1u << 6)       /* uid/gid/caps are real */
#define GROUP_KNAME (1u << 7)          /* kname is a kthread's full name */
#define GROUP_WQ_DESC (1u << 8)        /* wq_desc is a worker's last work */
#define GROUP_WQ_RUNNING (1u << 9)     /* ... and it is running it now */
#define GROUP_KNAME_UNKNOWN (1u << 10) /* a kthread whose name was not found */
#define GROUP_RSS_SUM (1u << 11)       /* rss_sum[] holds the exact sums */
#define GROUP_HAS_EXE (1u << 12)       /* exe_* identify mm->exe_file */
#define GROUP_HAS_IO (1u << 13)        /* io[] is the whole process's (the walk) */
#define GROUP_HAS_CGROUP_ID (1u << 14) /* cgroup_id is the unified hierarchy's (the walk) */

#define PF_WQ_WORKER 0x00000020
#define PF_KTHREAD 0x00200000

#define NSPID_MAX 4

struct task_rec {
	__u16 kind;
	__u16 size;
	__u32 rec_flags;
	__u32 pid;
	__u32 tgid;
	__u32 ppid;
	__u32 tracer_pid;
	__u32 state;
	__u32 exit_state;
	__u32 flags;
	__u32 cpu;
	__s32 prio;
	__s32 static_prio;
	__u32 rt_priority;
	__u32 policy;
	__s32 exit_code;
	__u32 ptrace;
	__u64 utime;
	__u64 stime;
	__u64 sum_exec_runtime;
	__u64 prev_utime;
	__u64 prev_stime;
	__u64 nvcsw;
	__u64 nivcsw;
	__u64 min_flt;
	__u64 maj_flt;
	__u64 start_boottime;
	__u64 run_delay;
	__u64 pcount;
	__u64 blkio_delay;
	__u64 sig_pending;
	__u64 sig_blocked;
	char comm[16];
};

struct group_rec {
	__u16 kind;
	__u16 size;
	__u32 rec_flags;
	__s32 nr_threads;
	__u32 pgid;
	__u32 sid;
	__u32 tpgid;
	__s32 tty_major;
	__s32 tty_minor;
	__u32 pid_level;
	__u32 nspid[NSPID_MAX];
	__u32 sig_flags;       /* signal_struct.flags (SIGNAL_STOP_STOPPED, SIGNAL_GROUP_EXIT) */
	__s32 group_exit_code; /* the stop signal or the group's exit code */
	__u32 pad;
	__u64 utime;
	__u64 stime;
	__u64 sum_sched_runtime;
	__u64 prev_utime;
	__u64 prev_stime;
	__u64 nvcsw;
	__u64 nivcsw;
	__u64 min_flt;
	__u64 maj_flt;
	__u64 cpu_delay_total;
	__u64 shared_pending;
	__u64 sig_ignored;
	__u64 sig_caught;
	__u32 uid[4];
	__u32 gid[4];
	__u64 cap_inheritable;
	__u64 cap_permitted;
	__u64 cap_effective;
	__u64 cap_bset;
	__u64 cap_ambient;
	__u64 total_vm;
	__u64 hiwater_vm;
	__s64 rss[4];
	__s64 rss_sum[4];
	__u64 start_code;
	__u64 end_code;
	__u64 start_data;
	__u64 end_data;
	__u64 start_brk;
	__u64 start_stack;
	__u64 arg_start;
	__u64 arg_end;
	__u64 env_start;
	__u64 env_end;
	char kname[64];
	char wq_desc[32];
	/*
	 * The walk's sums over the live threads other than the leader, when
	 * it does not write their records (a process not in walk_want while
	 * walk_sum_threads is set); zero otherwise.
	 */
	__u64 thr_utime;
	__u64 thr_stime;
	__u64 thr_runtime;
	__u64 thr_min_flt;
	__u64 thr_maj_flt;
	__u64 thr_nvcsw;
	__u64 thr_nivcsw;
	__u64 thr_run_delay; /* of threads that have not exited */
	__u32 thr_count;
	__u32 thr_pad;
	/*
	 * The executable (mm->exe_file): the mount and dentry its path is
	 * made of, as opaque numbers that pinspect compares and never shows,
	 * and its inode number and device (the kernel's dev_t encoding).
	 * Processes with the same mount and dentry have the same
	 * /proc/PID/exe link: one readlink serves them all.
	 */
	__u64 exe_mnt;
	__u64 exe_dentry;
	__u64 exe_ino;
	__u32 exe_dev;
	__u32 exe_pad;
	/*
	 * The process's I/O accounting as /proc/PID/io shows it
	 * (do_io_accounting): the exited threads' (signal->ioac) plus every
	 * live thread's task->ioac, in the order rchar, wchar, syscr, syscw,
	 * read_bytes, write_bytes, cancelled_write_bytes. Only the walk sums
	 * the threads: GROUP_HAS_IO says it did, and that no thread of the
	 * process was released meanwhile (io_seq, signal->stats_lock's
	 * sequence, was even and unchanged from the leader to its last
	 * thread: the kernel's own check).
	 */
	__u64 io[7];
	__u32 io_seq;
	/*
	 * The walk's count of the summed threads (thr_count) in each state,
	 * by the index of the state's letter in "RSDTtXZPI" (as
	 * __task_state_index makes it).
	 */
	__u32 thr_states[9];
	/*
	 * The id of the process's cgroup in the unified hierarchy
	 * (task->cgroups->dfl_cgrp->kn->id, the cgroup directory's inode
	 * number): only the walk, under walk_cgroup_id, reads it, and
	 * GROUP_HAS_CGROUP_ID says it did. The id stays while the process
	 * stays in that cgroup: pinspect reads /proc/PID/cgroup again only
	 * when it changes.
	 */
	__u64 cgroup_id;
};

/* A leader's two records, built in place and written with one call. */
struct out {
	struct task_rec t;
	struct group_rec g;
};

/* Scratch space for one record pair: too big for the 512-byte stack. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct out);
} scratch SEC(".maps");

/* pid_nr0 is a struct pid's number in the initial pid namespace. */
static __always_inline __u32 pid_nr0(struct pid *p)
{
	if (!p)
		return 0;
	return p->numbers[0].nr;
}

static __always_inline void fill_task(struct task_rec *t, struct task_struct *task)
{
	__u32 flags = 0;

	t->kind = REC_TASK;
	t->size = sizeof(*t);
	t->pid = task->pid;
	t->tgid = task->tgid;
	if (bpf_core_field_exists(task->__state)) {
		t->state = task->__state;
	} else {
		struct task_struct___pre514 *old = (void *)task;
		t->state = (__u32)BPF_CORE_READ(old, state);
	}
	t->exit_state = task->exit_state;
	t->flags = task->flags;
	if (bpf_core_field_exists(task->thread_info.cpu)) {
		t->cpu = task->thread_info.cpu;
	} else if (bpf_core_field_exists(((struct task_struct___cpu *)task)->cpu)) {
		struct task_struct___cpu *c = (void *)task;
		t->cpu = BPF_CORE_READ(c, cpu);
	}
	t->prio = task->prio;
	t->static_prio = task->static_prio;
	t->rt_priority = task->rt_priority;
	t->policy = task->policy;
	t->exit_code = task->exit_code;
	t->ptrace = task->ptrace;
	/* pid_alive(): a task being released has no thread_pid. */
	if (task->thread_pid) {
		struct task_struct *rp = task->real_parent;

		if (rp) {
			t->ppid = rp->tgid;
			flags |= TASK_HAS_PARENT;
		}
	}
	if (t->ptrace) {
		struct task_struct *tracer = task->parent;

		if (tracer)
			t->tracer_pid = tracer->pid;
	}
	t->utime = task->utime;
	t->stime = task->stime;
	t->sum_exec_runtime = task->se.sum_exec_runtime;
	t->prev_utime = task->prev_cputime.utime;
	t->prev_stime = task->prev_cputime.stime;
	t->nvcsw = task->nvcsw;
	t->nivcsw = task->nivcsw;
	t->min_flt = task->min_flt;
	t->maj_flt = task->maj_flt;
	t->start_boottime = task->start_boottime;
	if (bpf_core_field_exists(task->sched_info)) {
		t->run_delay = task->sched_info.run_delay;
		t->pcount = task->sched_info.pcount;
		flags |= TASK_HAS_SCHED_INFO;
	}
	if (bpf_core_field_exists(task->delays)) {
		struct task_delay_info *d = task->delays;

		if (d) {
			t->blkio_delay = d->blkio_delay;
			flags |= TASK_HAS_DELAYS;
		}
	}
	t->sig_pending = task->pending.signal.sig[0];
	t->sig_blocked = task->blocked.sig[0];
	/* Two guarded loads, no helper call. */
	__builtin_memcpy(t->comm, task->comm, sizeof(t->comm));
	t->rec_flags = flags;
}

static __always_inline void fill_tty(struct group_rec *g, struct tty_struct *tty)
{
	struct tty_driver *drv;
	struct pid *pgrp = 0;

	if (!tty)
		return;
	g->rec_flags |= GROUP_HAS_TTY;
	drv = tty->driver;
	if (drv) {
		g->tty_major = drv->major;
		g->tty_minor = drv->minor_start + tty->index;
	}
	if (bpf_core_field_exists(tty->ctrl.pgrp)) {
		pgrp = tty->ctrl.pgrp;
	} else {
		struct tty_struct___pre517 *old = (void *)tty;

		if (bpf_core_field_exists(old->pgrp))
			pgrp = BPF_CORE_READ(old, pgrp);
	}
	g->tpgid = pid_nr0(pgrp);
}

/*
 * The exact RSS counters, as /proc/PID/status and statm show them on
 * current kernels (percpu_counter_sum: the central count plus every CPU's
 * part), so that pinspect need not open statm for every process.
 *
 * CPU n's part of a per-CPU counter is at the counter's per-CPU pointer
 * plus CPU n's per-CPU offset, which BPF cannot name. It is found once,
 * from the scratch map: bpf_map_lookup_percpu_elem gives CPU n's copy of
 * element 0, and the map's pptrs[0] is that element's per-CPU pointer, so
 * their difference is CPU n's offset. The lookup stops at the first CPU
 * past nr_cpu_ids; an offline CPU's part is zero (the kernel folds it into
 * count when the CPU goes down), so summing every possible CPU is what
 * percpu_counter_sum sums. Pointers become plain numbers by a round trip
 * through a global (allowed to a program loaded with CAP_PERFMON).
 */
#define MAX_CPUS 4096

__u64 cpu_copy[MAX_CPUS]; /* CPU n's copy of scratch element 0 */
__u64 pcpu_base;          /* scratch element 0's per-CPU pointer */
__u64 scratch_addr;
__u32 nr_cpus;            /* 0 until the offsets are found */

static long find_cpu(__u32 cpu, void *data)
{
	__u32 zero = 0;
	void *v;

	if (cpu >= MAX_CPUS)
		return 1;
	v = bpf_map_lookup_percpu_elem(&scratch, &zero, cpu);
	if (!v)
		return 1;
	*(volatile __u64 *)&cpu_copy[cpu] = (__u64)v;
	nr_cpus = cpu + 1;
	return 0;
}

static __always_inline int find_offsets(void)
{
	__u64 addr;

	*(volatile __u64 *)&scratch_addr = (__u64)(void *)&scratch;
	addr = *(volatile __u64 *)&scratch_addr;
	if (bpf_probe_read_kernel(&pcpu_base, sizeof(pcpu_base),
				  (void *)(addr + bpf_core_field_offset(struct bpf_array, pptrs))) < 0)
		return 0;
	bpf_loop(MAX_CPUS, find_cpu, 0, 0);
	return nr_cpus;
}

struct rss_sum_ctx {
	__u64 parts[4]; /* each counter's per-CPU pointer */
	__s64 sum[4];
	/*
	 * 1 when the four parts are one block of four s32s
	 * (percpu_counter_init_many, how mm_init makes them since 6.5): each
	 * CPU's four parts are then read with one copy, not four. Each copy
	 * is a helper call that checks the address (copy_from_kernel_nofault):
	 * eight of them a process were 2 % of the dashboard's refresh.
	 */
	__u32 block;
};

static long add_cpu(__u32 cpu, void *data)
{
	struct rss_sum_ctx *c = data;
	__u64 off;
	__s32 v, vs[4];
	int i;

	if (cpu >= MAX_CPUS)
		return 1;
	off = *(volatile __u64 *)&cpu_copy[cpu] - pcpu_base;
	if (c->block) {
		vs[0] = vs[1] = vs[2] = vs[3] = 0;
		bpf_probe_read_kernel(vs, sizeof(vs), (void *)(c->parts[0] + off));
		c->sum[0] += vs[0];
		c->sum[1] += vs[1];
		c->sum[2] += vs[2];
		c->sum[3] += vs[3];
		return 0;
	}
	for (i = 0; i < 4; i++) {
		v = 0;
		bpf_probe_read_kernel(&v, sizeof(v), (void *)(c->parts[i] + off));
		c->sum[i] += v;
	}
	return 0;
}

static __always_inline void sum_rss(struct group_rec *g, struct mm_struct *mm)
{
	struct rss_sum_ctx c;
	__u32 n = nr_cpus;

	if (!n)
		n = find_offsets();
	if (!n)
		return;
	c.parts[0] = (__u64)mm->rss_stat[0].counters;
	c.parts[1] = (__u64)mm->rss_stat[1].counters;
	c.parts[2] = (__u64)mm->rss_stat[2].counters;
	c.parts[3] = (__u64)mm->rss_stat[3].counters;
	c.sum[0] = g->rss[0];
	c.sum[1] = g->rss[1];
	c.sum[2] = g->rss[2];
	c.sum[3] = g->rss[3];
	if (!c.parts[0] || !c.parts[1] || !c.parts[2] || !c.parts[3])
		return;
	c.block = c.parts[1] == c.parts[0] + 4 && c.parts[2] == c.parts[0] + 8 &&
		  c.parts[3] == c.parts[0] + 12;
	if (bpf_loop(n, add_cpu, &c, 0) < 0)
		return;
	g->rss_sum[0] = c.sum[0];
	g->rss_sum[1] = c.sum[1];
	g->rss_sum[2] = c.sum[2];
	g->rss_sum[3] = c.sum[3];
	g->rec_flags |= GROUP_RSS_SUM;
}

static __always_inline void fill_exe(struct group_rec *g, struct mm_struct *mm)
{
	struct file *f = mm->exe_file;
	struct inode *ino;
	struct super_block *sb;

	if (!f)
		return;
	g->exe_mnt = (__u64)(void *)f->f_path.mnt;
	g->exe_dentry = (__u64)(void *)f->f_path.dentry;
	ino = f->f_inode;
	if (!ino || !g->exe_mnt || !g->exe_dentry)
		return;
	sb = ino->i_sb;
	if (!sb)
		return;
	g->exe_ino = ino->i_ino;
	g->exe_dev = sb->s_dev;
	g->rec_flags |= GROUP_HAS_EXE;
}

static __always_inline void fill_mm(struct group_rec *g, struct mm_struct *mm)
{
	if (!mm)
		return;
	g->rec_flags |= GROUP_HAS_MM;
	fill_exe(g, mm);
	g->total_vm = mm->total_vm;
	g->hiwater_vm = mm->hiwater_vm;
	g->start_code = mm->start_code;
	g->end_code = mm->end_code;
	g->start_data = mm->start_data;
	g->end_data = mm->end_data;
	g->start_brk = mm->start_brk;
	g->start_stack = mm->start_stack;
	g->arg_start = mm->arg_start;
	g->arg_end = mm->arg_end;
	g->env_start = mm->env_start;
	g->env_end = mm->env_end;
	if (bpf_core_field_exists(mm->rss_stat[0].count)) {
		g->rss[0] = mm->rss_stat[0].count;
		g->rss[1] = mm->rss_stat[1].count;
		g->rss[2] = mm->rss_stat[2].count;
		g->rss[3] = mm->rss_stat[3].count;
		g->rec_flags |= GROUP_HAS_RSS;
		if (bpf_core_field_exists(mm->rss_stat[0].counters))
			sum_rss(g, mm);
	} else {
		struct mm_struct___pre62 *old = (void *)mm;

		if (bpf_core_field_exists(old->rss_stat.count[0].counter)) {
			g->rss[0] = BPF_CORE_READ(old, rss_stat.count[0].counter);
			g->rss[1] = BPF_CORE_READ(old, rss_stat.count[1].counter);
			g->rss[2] = BPF_CORE_READ(old, rss_stat.count[2].counter);
			g->rss[3] = BPF_CORE_READ(old, rss_stat.count[3].counter);
			g->rec_flags |= GROUP_HAS_RSS;
		}
	}
}

/*
 * One signal's disposition. The index must be a constant in the source:
 * CO-RE relocates sh->action[N] with the running kernel's element size
 * only when N is known to clang, not when a loop is unrolled later.
 * Signal N+1 is bit N, as collect_sigign_sigcatch() sets them: SIG_IGN
 * (1) ignored, any other handler but SIG_DFL (0) caught.
 */
#define DISPOSITION(N)                                                      \
	do {                                                                \
		unsigned long h = (unsigned long)sh->action[N].sa.sa_handler; \
		if (h == 1) /* SIG_IGN */                                   \
			ign |= 1ull << (N);                                 \
		else if (h != 0) /* not SIG_DFL */                          \
			caught |= 1ull << (N);                              \
	} while (0)
#define DISPOSITIONS8(N)                                                    \
	DISPOSITION(N); DISPOSITION(N + 1); DISPOSITION(N + 2);             \
	DISPOSITION(N + 3); DISPOSITION(N + 4); DISPOSITION(N + 5);         \
	DISPOSITION(N + 6); DISPOSITION(N + 7)

#ifdef PINSPECT_SEQ /* the walk has fill_sighand_walk */
static __always_inline void fill_sighand(struct group_rec *g, struct sighand_struct *sh)
{
	__u64 ign = 0, caught = 0;

	if (!sh)
		return;
	g->rec_flags |= GROUP_HAS_SIGHAND;
	DISPOSITIONS8(0);
	DISPOSITIONS8(8);
	DISPOSITIONS8(16);
	DISPOSITIONS8(24);
	DISPOSITIONS8(32);
	DISPOSITIONS8(40);
	DISPOSITIONS8(48);
	DISPOSITIONS8(56);
	g->sig_ignored = ign;
	g->sig_caught = caught;
}
#endif

/*
 * The walk's copy: one branch a signal instead of two. The verifier
 * keeps a state to compare against only every few branches, so it went
 * through the two-branch code about four times over (1,543 instructions
 * processed); this one, less than twice (1,071). The handler is a pointer to the verifier, which allows no
 * arithmetic on it: a round trip through a global makes it a plain
 * number. A handler of 0 or 1 (SIG_DFL, SIG_IGN) is its own ignored bit.
 * The bits are set in the record, not in registers, which clang then
 * kept all at once (past the 512-byte stack).
 */
__u64 walk_handler;

#define DISPOSITION_WALK(N)                                                 \
	do {                                                                \
		__u64 h;                                                    \
                                                                            \
		*hp = (__u64)sh->action[N].sa.sa_handler;                   \
		h = *hp;                                                    \
		if (h > 1)                                                  \
			g->sig_caught |= 1ull << (N);                       \
		else                                                        \
			g->sig_ignored |= h << (N);                         \
	} while (0)
#define DISPOSITIONS8_WALK(N)                                               \
	DISPOSITION_WALK(N); DISPOSITION_WALK(N + 1);                       \
	DISPOSITION_WALK(N + 2); DISPOSITION_WALK(N + 3);                   \
	DISPOSITION_WALK(N + 4); DISPOSITION_WALK(N + 5);                   \
	DISPOSITION_WALK(N + 6); DISPOSITION_WALK(N + 7)

static __always_inline void fill_sighand_walk(struct group_rec *g, struct sighand_struct *sh)
{
	volatile __u64 *hp = &walk_handler;

	if (!sh)
		return;
	g->rec_flags |= GROUP_HAS_SIGHAND;
	g->sig_ignored = 0;
	g->sig_caught = 0;
	DISPOSITIONS8_WALK(0);
	DISPOSITIONS8_WALK(8);
	DISPOSITIONS8_WALK(16);
	DISPOSITIONS8_WALK(24);
	DISPOSITIONS8_WALK(32);
	DISPOSITIONS8_WALK(40);
	DISPOSITIONS8_WALK(48);
	DISPOSITIONS8_WALK(56);
}

static __always_inline void fill_cred(struct group_rec *g, const struct cred *c)
{
	if (!c)
		return;
	g->rec_flags |= GROUP_HAS_CRED;
	g->uid[0] = c->uid.val;
	g->uid[1] = c->euid.val;
	g->uid[2] = c->suid.val;
	g->uid[3] = c->fsuid.val;
	g->gid[0] = c->gid.val;
	g->gid[1] = c->egid.val;
	g->gid[2] = c->sgid.val;
	g->gid[3] = c->fsgid.val;
	bpf_core_read(&g->cap_inheritable, 8, &c->cap_inheritable);
	bpf_core_read(&g->cap_permitted, 8, &c->cap_permitted);
	bpf_core_read(&g->cap_effective, 8, &c->cap_effective);
	bpf_core_read(&g->cap_bset, 8, &c->cap_bset);
	bpf_core_read(&g->cap_ambient, 8, &c->cap_ambient);
}

/*
 * A kernel thread's name as /proc shows it (proc_task_name): its full name
 * when that was longer than comm (get_kthread_comm), and for a workqueue
 * worker attached to a pool "+desc" or "-desc" after it (wq_worker_comm:
 * the work it runs now, or the last one it ran).
 */
static __always_inline void fill_kname(struct group_rec *g, struct task_struct *task, __u32 pflags)
{
	struct kthread *kt;
	char *full;

	if (!bpf_core_field_exists(task->worker_private)) {
		g->rec_flags |= GROUP_KNAME_UNKNOWN;
		return;
	}
	kt = task->worker_private;
	if (!kt) {
		g->rec_flags |= GROUP_KNAME_UNKNOWN;
		return;
	}
	full = BPF_CORE_READ(kt, full_name);
	if (full && bpf_probe_read_kernel_str(g->kname, sizeof(g->kname), full) > 0)
		g->rec_flags |= GROUP_KNAME;
	if (pflags & PF_WQ_WORKER) {
		struct worker *w = BPF_CORE_READ(kt, data);

		if (!w || !BPF_CORE_READ(w, pool))
			return;
		if (bpf_probe_read_kernel_str(g->wq_desc, sizeof(g->wq_desc), &w->desc) > 1) {
			g->rec_flags |= GROUP_WQ_DESC;
			if (BPF_CORE_READ(w, current_work))
				g->rec_flags |= GROUP_WQ_RUNNING;
		}
	}
}

/*
 * signal->stats_lock's sequence: odd while a writer holds it; it moves
 * when a thread of the group is released (__exit_signal adds the
 * thread's counts to the signal struct). 1 (odd: never trusted) when
 * the kernel's layout is not known.
 */
static __always_inline __u32 stats_seq(struct signal_struct *sig)
{
	if (bpf_core_field_exists(sig->stats_lock.seqcount.seqcount.sequence))
		return sig->stats_lock.seqcount.seqcount.sequence;
	if (bpf_core_field_exists(((struct signal_struct___pre510 *)sig)->stats_lock.seqcount.sequence)) {
		struct signal_struct___pre510 *old = (void *)sig;

		return BPF_CORE_READ(old, stats_lock.seqcount.sequence);
	}
	return 1;
}

/* The index of a task's state letter in "RSDTtXZPI" (StateLetter in convert.go). */
static __always_inline __u32 state_index(struct task_struct *task)
{
	__u32 bits, s;

	if (bpf_core_field_exists(task->__state)) {
		bits = task->__state;
	} else {
		struct task_struct___pre514 *old = (void *)task;

		bits = (__u32)BPF_CORE_READ(old, state);
	}
	s = (bits | (__u32)task->exit_state) & 0x7f;
	if ((bits & 0x402) == 0x402) /* TASK_IDLE */
		s = 0x80;
	if (bits & (0x1000 | 0x8000)) /* TASK_RTLOCK_WAIT, TASK_FROZEN */
		s = 0x2;
	/* fls(s) */
	if (s >= 0x80)
		return 8;
	if (s >= 0x40)
		return 7;
	if (s >= 0x20)
		return 6;
	if (s >= 0x10)
		return 5;
	if (s >= 0x8)
		return 4;
	if (s >= 0x4)
		return 3;
	if (s >= 0x2)
		return 2;
	return s; /* 0 or 1 */
}

/*
 * What a group record holds but the dispositions, credentials, address
 * space and kernel name: the signal struct's and the pid's.
 */
static __always_inline void fill_group_ids(struct group_rec *g, struct task_struct *task)
{
	struct signal_struct *sig = task->signal;
	struct pid *tp = task->thread_pid;
	__u32 level;

	g->kind = REC_GROUP;
	g->size = sizeof(*g);
	g->rec_flags = 0;
	if (sig) {
		g->nr_threads = sig->nr_threads;
		g->pgid = pid_nr0(sig->pids[2]); /* PIDTYPE_PGID */
		g->sid = pid_nr0(sig->pids[3]);  /* PIDTYPE_SID */
		fill_tty(g, sig->tty);
		g->utime = sig->utime;
		g->stime = sig->stime;
		g->sum_sched_runtime = sig->sum_sched_runtime;
		g->prev_utime = sig->prev_cputime.utime;
		g->prev_stime = sig->prev_cputime.stime;
		g->nvcsw = sig->nvcsw;
		g->nivcsw = sig->nivcsw;
		g->min_flt = sig->min_flt;
		g->maj_flt = sig->maj_flt;
		g->shared_pending = sig->shared_pending.signal.sig[0];
		g->sig_flags = sig->flags;
		g->group_exit_code = sig->group_exit_code;
		if (bpf_core_field_exists(sig->ioac.read_bytes) &&
		    bpf_core_field_exists(sig->ioac.rchar)) {
			g->io_seq = stats_seq(sig);
			g->io[0] = sig->ioac.rchar;
			g->io[1] = sig->ioac.wchar;
			g->io[2] = sig->ioac.syscr;
			g->io[3] = sig->ioac.syscw;
			g->io[4] = sig->ioac.read_bytes;
			g->io[5] = sig->ioac.write_bytes;
			g->io[6] = sig->ioac.cancelled_write_bytes;
		}
		if (bpf_core_field_exists(sig->stats)) {
			struct taskstats *st = sig->stats;

			if (st) {
				g->cpu_delay_total = st->cpu_delay_total;
				g->rec_flags |= GROUP_HAS_STATS;
			}
		}
	}
	if (tp) {
		level = tp->level;
		g->pid_level = level;
		g->nspid[0] = tp->numbers[0].nr;
		if (level >= 1)
			g->nspid[1] = tp->numbers[1].nr;
		if (level >= 2)
			g->nspid[2] = tp->numbers[2].nr;
		if (level >= 3)
			g->nspid[3] = tp->numbers[3].nr;
		if (level >= NSPID_MAX)
			g->rec_flags |= GROUP_NSPID_TRUNCATED;
	}
}

/*
 * The process's cgroup id in the unified hierarchy (see cgroup_id). The
 * iterator runs under RCU, which keeps the css_set and its cgroup while
 * the pass reads them (the kernel's own task_dfl_cgroup readers do the
 * same).
 */
static __always_inline void fill_cgroup_id(struct group_rec *g, struct task_struct *task)
{
	struct css_set *cset;
	struct cgroup *cgrp;
	struct kernfs_node *kn;

	if (!bpf_core_field_exists(task->cgroups))
		return;
	cset = task->cgroups;
	if (!cset)
		return;
	cgrp = cset->dfl_cgrp;
	if (!cgrp)
		return;
	kn = cgrp->kn;
	if (!kn)
		return;
	g->cgroup_id = kn->id;
	g->rec_flags |= GROUP_HAS_CGROUP_ID;
}

/*
 * bpf_rdonly_cast (Linux 6.2 and later) turns the iterator's trusted task
 * pointer into a read-only untrusted one. The loads stay the same guarded
 * loads, but the verifier no longer asks, for every pointer loaded from a
 * trusted task (mm, signal, real_parent, ...), whether the kernel marks
 * that field as trusted or RCU-safe: each such question is a linear search
 * of the kernel's whole BTF by name, up to four per load and again on
 * every path that reaches it, and they were most of the verifier's time
 * (about 20 ms of a 50 ms one-shot command). Weak: a kernel without it
 * loads the program unchanged (and has no such checks to pay).
 */
extern void *bpf_rdonly_cast(const void *obj, __u32 btf_id) __ksym __weak;

/*
 * The seq_file iterator is compiled on its own (generate.sh builds this
 * file twice: with PINSPECT_SEQ, the object taskiterseq_bpf*.o holds only
 * pinspect_tasks; without, taskiter_bpf*.o holds the walk, the cmdline
 * and the identity programs). It is loaded only where the walk cannot be
 * (Linux before 6.7) and by tests, while every load of the walk parsed
 * it too: a third of the object's instructions and of its CO-RE and line
 * records (about 1.3 ms of a one-shot's 3.7 ms of ELF parsing).
 */
#ifdef PINSPECT_SEQ
/* The group record as the seq_file iterator fills it (the walk has walk_fill_group). */
static __always_inline void fill_group(struct group_rec *g, struct task_struct *task)
{
	fill_group_ids(g, task);
	fill_sighand(g, task->sighand);
	fill_cred(g, task->real_cred);
	fill_mm(g, task->mm);
	if (task->flags & PF_KTHREAD)
		fill_kname(g, task, task->flags);
}

SEC("iter/task")
int pinspect_tasks(struct bpf_iter__task *ctx)
{
	struct task_struct *task = ctx->task;
	struct seq_file *seq = ctx->meta->seq;
	__u32 zero = 0;
	struct out *o;

	if (!task)
		return 0;
	if (bpf_rdonly_cast)
		task = bpf_rdonly_cast(task, bpf_core_type_id_kernel(struct task_struct));
	if (task->pid != task->tgid) {
		/* A thread: its record fits on the stack. */
		struct task_rec t;

		__builtin_memset(&t, 0, sizeof(t));
		fill_task(&t, task);
		bpf_seq_write(seq, &t, sizeof(t));
		return 0;
	}
	/* A leader: its two records are too big for the 512-byte stack. */
	o = bpf_map_lookup_elem(&scratch, &zero);
	if (!o)
		return 0;
	__builtin_memset(o, 0, sizeof(*o));
	fill_task(&o->t, task);
	fill_group(&o->g, task);
	bpf_seq_write(seq, o, sizeof(*o));
	return 0;
}
#else /* !PINSPECT_SEQ: the walk, the cmdlines, the identities */

/*
 * The walk (Linux 6.7 and later): one run of pinspect_walk reads every
 * task of the machine with the open-coded task iterator, a plain walk of
 * the kernel's task list under RCU, and writes the same records into two
 * arrays that pinspect maps into its memory: a task record per thread in
 * walk_tasks, a group record per thread-group leader in walk_groups (the
 * n-th leader's in slot n). The seq_file iterator above costs about 0.4 µs
 * a task before it writes anything (a pid lookup, a reference, a program
 * call and the seq_file's buffering for every task); this walk costs
 * about 30 ns a task on top of the records.
 *
 * The list holds every process in creation order, each leader followed
 * by its threads; the swapper (pid 0) heads it and is skipped. Each array
 * is an inner map that pinspect sizes and replaces when it grows: a
 * record that does not fit is counted, not written, and walk_full tells
 * pinspect to grow the arrays to walk_ntasks and walk_ngroups and run
 * again.
 */
#define WALK_WANT_MAX 4096

struct task_slots {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(map_flags, BPF_F_MMAPABLE | BPF_F_INNER_MAP);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct task_rec);
};

struct group_slots {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(map_flags, BPF_F_MMAPABLE | BPF_F_INNER_MAP);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct group_rec);
};

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY_OF_MAPS);
	__uint(max_entries, 1);
	__type(key, __u32);
	__array(values, struct task_slots);
} walk_tasks SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY_OF_MAPS);
	__uint(max_entries, 1);
	__type(key, __u32);
	__array(values, struct group_slots);
} walk_groups SEC(".maps");

/*
 * With walk_sum_threads set, the threads of a process not in walk_want
 * get no records: their counts are summed into the group record's thr_*
 * fields, which is all a view that does not show them needs (a dashboard
 * shows the threads of one process).
 */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, WALK_WANT_MAX);
	__type(key, __u32);
	__type(value, __u8);
} walk_want SEC(".maps");

__u32 walk_sum_threads;
/*
 * With walk_no_io set, walk_add_io and walk_end_io do nothing: no
 * thread's io counters are loaded and GROUP_HAS_IO stays clear. A reader
 * that does not show io (everything but serve) saves the loads of every
 * thread's task->ioac, a cache line or two of each of 18,000 task
 * structs at 2,000 x 9.
 */
__u32 walk_no_io;
/*
 * With walk_no_sighand set, walk_fill_sighand does nothing: the 64
 * handlers of a process (its sighand_struct, 32 cache lines, cold at
 * every pass) are not loaded and GROUP_HAS_SIGHAND stays clear, so the
 * reader knows the dispositions are absent, not all default. The
 * dashboard reads them from /proc for the few processes it shows them
 * for (the parents of zombies, the focused process).
 */
__u32 walk_no_sighand;
/*
 * With walk_cgroup_id set, each group record gets its process's cgroup
 * id (cgroup_id): a reader that shows cgroups (the dashboard) reads a
 * process's /proc/PID/cgroup only when the id moved, instead of once
 * a minute for every process.
 */
__u32 walk_cgroup_id;
__u32 walk_count_only; /* count the tasks and processes, write nothing */
__u32 walk_ntasks;  /* task records of the last walk (written or not) */
__u32 walk_ngroups; /* group records of the last walk (written or not) */
__u32 walk_full;    /* 1 when a record did not fit */

extern int bpf_iter_task_new(struct bpf_iter_task *it, struct task_struct *task,
			     unsigned int flags) __ksym;
extern struct task_struct *bpf_iter_task_next(struct bpf_iter_task *it) __ksym;
extern void bpf_iter_task_destroy(struct bpf_iter_task *it) __ksym;
extern void bpf_rcu_read_lock(void) __ksym;
extern void bpf_rcu_read_unlock(void) __ksym;

/*
 * The verifier checks a loop over an open-coded iterator by running its
 * body until the state at the top repeats, comparing the values it knows
 * exactly: the record-filling code above makes thousands of such states
 * (every signal disposition bit is a branch that sets a known constant).
 * So the records are filled by global functions, which the verifier
 * checks once, on their own, whatever their callers. The task goes to
 * them as a plain number (a global function takes no untrusted pointer)
 * and becomes a read-only task pointer again with bpf_rdonly_cast.
 */
__u64 walk_task; /* the task being filled, as a number */
__u64 walk_leader; /* the leader of the process being summed, as a number */

__noinline int walk_fill_task(__u64 addr, struct task_rec *t)
{
	struct task_struct *task;

	if (!bpf_rdonly_cast || !t)
		return 0;
	task = bpf_rdonly_cast((void *)addr, bpf_core_type_id_kernel(struct task_struct));
	__builtin_memset(t, 0, sizeof(*t));
	fill_task(t, task);
	return 0;
}

/*
 * The dispositions and the address space (the RSS sums' bpf_loop) are
 * global functions of their own as well: inside walk_fill_group the
 * verifier went through them once for each way the code before them had
 * ended (three times), and on their own it checks them once.
 */
__noinline int walk_fill_sighand(__u64 addr, struct group_rec *g)
{
	struct task_struct *task;

	if (!bpf_rdonly_cast || !g || walk_no_sighand)
		return 0;
	task = bpf_rdonly_cast((void *)addr, bpf_core_type_id_kernel(struct task_struct));
	fill_sighand_walk(g, task->sighand);
	return 0;
}

__noinline int walk_fill_mm(__u64 addr, struct group_rec *g)
{
	struct task_struct *task;

	if (!bpf_rdonly_cast || !g)
		return 0;
	task = bpf_rdonly_cast((void *)addr, bpf_core_type_id_kernel(struct task_struct));
	fill_mm(g, task->mm);
	return 0;
}

__noinline int walk_fill_group(__u64 addr, struct group_rec *g)
{
	struct task_struct *task;

	if (!bpf_rdonly_cast || !g)
		return 0;
	task = bpf_rdonly_cast((void *)addr, bpf_core_type_id_kernel(struct task_struct));
	__builtin_memset(g, 0, sizeof(*g));
	fill_group_ids(g, task);
	walk_fill_sighand(addr, g);
	fill_cred(g, task->real_cred);
	walk_fill_mm(addr, g);
	if (task->flags & PF_KTHREAD)
		fill_kname(g, task, task->flags);
	if (walk_cgroup_id)
		fill_cgroup_id(g, task);
	return 0;
}

/* Adds a task's io counters to its process's (do_io_accounting). */
__noinline int walk_add_io(__u64 addr, struct group_rec *g)
{
	struct task_struct *task;

	if (!bpf_rdonly_cast || !g || walk_no_io)
		return 0;
	task = bpf_rdonly_cast((void *)addr, bpf_core_type_id_kernel(struct task_struct));
	if (!bpf_core_field_exists(task->ioac.read_bytes) || !bpf_core_field_exists(task->ioac.rchar))
		return 0;
	g->io[0] += task->ioac.rchar;
	g->io[1] += task->ioac.wchar;
	g->io[2] += task->ioac.syscr;
	g->io[3] += task->ioac.syscw;
	g->io[4] += task->ioac.read_bytes;
	g->io[5] += task->ioac.write_bytes;
	g->io[6] += task->ioac.cancelled_write_bytes;
	return 0;
}

/* Adds a thread to its process's sums (Totals.Add in convert.go). */
__noinline int walk_sum_thread(__u64 addr, struct group_rec *g)
{
	struct task_struct *task;
	__u32 i;

	if (!bpf_rdonly_cast || !g)
		return 0;
	task = bpf_rdonly_cast((void *)addr, bpf_core_type_id_kernel(struct task_struct));
	g->thr_utime += task->utime;
	g->thr_stime += task->stime;
	g->thr_runtime += task->se.sum_exec_runtime;
	g->thr_min_flt += task->min_flt;
	g->thr_maj_flt += task->maj_flt;
	g->thr_nvcsw += task->nvcsw;
	g->thr_nivcsw += task->nivcsw;
	walk_add_io(addr, g);
	if (bpf_core_field_exists(task->sched_info) && task->exit_state == 0)
		g->thr_run_delay += task->sched_info.run_delay;
	i = state_index(task);
	if (i < 9)
		g->thr_states[i]++;
	g->thr_count++;
	return 0;
}

/*
 * Ends a process's io sums: they are the process's when no thread of it
 * was released since its leader was read (the sequence the kernel's own
 * reader retries on), else GROUP_HAS_IO stays clear and pinspect reads
 * /proc/PID/io.
 */
__noinline int walk_end_io(__u64 addr, struct group_rec *g)
{
	struct task_struct *task;
	struct signal_struct *sig;

	if (!bpf_rdonly_cast || !g || walk_no_io)
		return 0;
	task = bpf_rdonly_cast((void *)addr, bpf_core_type_id_kernel(struct task_struct));
	if (!bpf_core_field_exists(task->ioac.read_bytes) || !bpf_core_field_exists(task->ioac.rchar))
		return 0;
	sig = task->signal;
	if (!sig || (g->io_seq & 1) || stats_seq(sig) != g->io_seq)
		return 0;
	g->rec_flags |= GROUP_HAS_IO;
	return 0;
}

/*
 * The loop keeps no pointer that may be NULL at its top: the verifier
 * checks the loop until the state there repeats, and every mix of NULL
 * and not-NULL pointers was a state of its own (the body was gone through
 * up to 26 times, 1,576 instructions processed). So cur always points at
 * a group record (the first, before any process), and whether it is the
 * current process's, and whether that process's threads are summed into
 * it, are flags in globals, whose values the verifier does not follow.
 */
__u32 walk_cur;     /* 1: cur is the group record of the process being read */
__u32 walk_summing; /* 1: its threads are summed into it */

SEC("syscall")
int pinspect_walk(void *ctx)
{
	struct bpf_iter_task it;
	struct task_struct *task;
	struct group_rec *cur;
	void *tasks, *groups;
	__u32 zero = 0, sum_threads = walk_sum_threads;

	if (!bpf_rdonly_cast)
		return 1;
	/*
	 * The counts live in globals, not registers: a register that the
	 * verifier knows exactly differs at every turn of the loop, and the
	 * verifier would never see the loop's state repeat.
	 */
	walk_ntasks = 0;
	walk_ngroups = 0;
	walk_full = 0;
	walk_cur = 0;
	walk_summing = 0;
	if (walk_count_only) {
		/*
		 * What the arrays must hold (at load, before they exist): the
		 * processes, each with its count of threads (the threads on
		 * its list, which a full walk visits), so that only the
		 * leaders are visited (2,000 tasks instead of 18,000 at 2,000
		 * processes of 9 threads).
		 */
		bpf_rcu_read_lock();
		bpf_iter_task_new(&it, 0, BPF_TASK_ITER_ALL_PROCS);
		while ((task = bpf_iter_task_next(&it))) {
			struct signal_struct *sig;
			int n;

			task = bpf_rdonly_cast(task, bpf_core_type_id_kernel(struct task_struct));
			if (task->pid == 0)
				continue;
			sig = task->signal;
			n = sig ? sig->nr_threads : 1;
			walk_ntasks += n > 0 ? n : 1;
			walk_ngroups++;
		}
		bpf_iter_task_destroy(&it);
		bpf_rcu_read_unlock();
		return 0;
	}
	tasks = bpf_map_lookup_elem(&walk_tasks, &zero);
	groups = bpf_map_lookup_elem(&walk_groups, &zero);
	if (!tasks || !groups)
		return 1;
	cur = bpf_map_lookup_elem(groups, &zero);
	if (!cur)
		return 1;
	bpf_rcu_read_lock();
	bpf_iter_task_new(&it, 0, BPF_TASK_ITER_ALL_THREADS);
	while ((task = bpf_iter_task_next(&it))) {
		struct task_rec *t;
		struct group_rec *g;
		__u64 addr;
		__u32 i, j;
		int pid, tgid;

		task = bpf_rdonly_cast(task, bpf_core_type_id_kernel(struct task_struct));
		pid = task->pid;
		tgid = task->tgid;
		if (pid == 0)
			continue; /* the swapper, which /proc does not show */
		*(volatile __u64 *)&walk_task = (__u64)(void *)task;
		addr = *(volatile __u64 *)&walk_task;
		if (pid != tgid && walk_summing) {
			walk_sum_thread(addr, cur);
			continue;
		}
		if (pid == tgid) {
			if (walk_cur)
				walk_end_io(*(volatile __u64 *)&walk_leader, cur);
			walk_cur = 0;
			walk_summing = 0;
		}
		i = walk_ntasks;
		walk_ntasks = i + 1;
		t = bpf_map_lookup_elem(tasks, &i);
		if (t)
			walk_fill_task(addr, t);
		else
			walk_full = 1;
		if (pid != tgid) {
			/* a thread whose record is written */
			if (walk_cur)
				walk_add_io(addr, cur);
			continue;
		}
		j = walk_ngroups;
		walk_ngroups = j + 1;
		g = bpf_map_lookup_elem(groups, &j);
		if (!g) {
			walk_full = 1;
			continue;
		}
		walk_fill_group(addr, g);
		walk_add_io(addr, g);
		cur = g;
		walk_cur = 1;
		*(volatile __u64 *)&walk_leader = addr;
		if (sum_threads && !bpf_map_lookup_elem(&walk_want, &tgid))
			walk_summing = 1;
	}
	if (walk_cur)
		walk_end_io(*(volatile __u64 *)&walk_leader, cur);
	bpf_iter_task_destroy(&it);
	bpf_rcu_read_unlock();
	return 0;
}

/*
 * The cmdlines (a one-shot command's, loaded only when asked): one run of
 * pinspect_cmdlines copies the argument areas of the processes pinspect
 * names in cmd_slots, the way /proc/PID/cmdline reads them
 * (get_mm_cmdline in fs/proc/base.c), into the pages of cmd_pages, which
 * pinspect maps into its memory. It is a sleepable program (SEC
 * "syscall"): bpf_copy_from_user_task reads another process's memory
 * through access_process_vm, which takes that process's mmap lock and
 * faults its pages in.
 *
 * That can block, so a process is copied only when it cannot: first
 * bpf_find_vma takes the target's mmap lock with a trylock (-EBUSY when
 * a writer holds it or anyone waits for it, so a process whose lock is
 * stuck behind a hung fault is never waited for) and hands over the VMA
 * holding arg_start; the copy goes on only when that VMA is anonymous
 * (no vm_ops, no file: no file system behind a fault), has no
 * userfaultfd context (no monitor to wait for), is not VM_IO or
 * VM_PFNMAP, and holds everything that will be read. Anything else is
 * left for pinspect's /proc reader, which reads each cmdline under a
 * deadline. The check and the copy are two lock takings, so a writer can
 * still come between them; pinspect runs the program under the same
 * deadline and gives up on the one process the run is stuck at. That
 * wait is killable (access_process_vm takes the lock with
 * mmap_read_lock_killable, as /proc/PID/cmdline does), and only
 * anonymous memory is read, so no fault waits on a file system: a
 * pinspect that exits (or is killed) while a run waits is not kept.
 */
#define CMD_PAGE 8192 /* a page of cmd_pages; a cmdline starts in its first half */
#define CMD_MAX 4096  /* the longest argument area copied (longer: /proc) */
#define CMD_TITLE 4096 /* what the kernel reads of a rewritten argv (PAGE_SIZE) */

/* cmd_slot.state, mirrored in cmdline.go. */
#define CMD_WANTED 0   /* not reached (the run stopped before it) */
#define CMD_STARTED 1  /* being read: still so after a run, it is stuck there */
#define CMD_READ 2     /* buf holds it: page, off, len */
#define CMD_EMPTY 3    /* no address space, or none set up yet: /proc shows nothing */
#define CMD_GONE 4     /* no such process */
#define CMD_UNSAFE 5   /* its argument area might block a reader: /proc */
#define CMD_BUSY 6     /* its mmap lock was taken for writing or contended: /proc */
#define CMD_LONG 7     /* longer than CMD_MAX, or the pages are full: /proc */
#define CMD_FAULT 8    /* the copy failed (a page that cannot be read): /proc */

/* cmd_slot.flags */
#define CMD_SETPROCTITLE (1u << 0) /* argv's last byte is not NUL: the kernel's title rule */

#define VM_PFNMAP 0x00000400
#define VM_IO 0x00004000

struct cmd_slot {
	__u32 pid;   /* in: a thread of the process (a pid of the initial namespace) */
	__u32 state; /* out: CMD_* */
	__u64 start_boottime; /* out: its leader's, to tell a reused pid */
	__u32 page;  /* out: where the bytes are */
	__u32 off;
	__u32 len;
	__u32 flags;
};

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(map_flags, BPF_F_MMAPABLE);
	__uint(max_entries, 1); /* sized by pinspect at load */
	__type(key, __u32);
	__type(value, struct cmd_slot);
} cmd_slots SEC(".maps");

struct cmd_page {
	char b[CMD_PAGE];
};

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(map_flags, BPF_F_MMAPABLE);
	__uint(max_entries, 1); /* sized by pinspect at load */
	__type(key, __u32);
	__type(value, struct cmd_page);
} cmd_pages SEC(".maps");

/* The run's context (BPF_PROG_RUN's ctx_in), mirrored in cmdline.go. */
struct cmd_args {
	__u32 count;  /* slots 0..count-1 */
	__u32 npages; /* in: pages of cmd_pages to use; out: pages used */
};

/* One run's state, through bpf_loop. */
struct cmd_loop {
	__u32 npages;
	__u32 page, off; /* where the next cmdline goes */
};

/* The argument area to read and bpf_find_vma's verdict on it. */
struct cmd_vma {
	__u64 from, to; /* [from, to) must lie in one safe VMA */
	__u32 safe;
};

extern struct task_struct *bpf_task_from_pid(s32 pid) __ksym;
extern void bpf_task_release(struct task_struct *p) __ksym;

/*
 * The check of the VMA is a global function, which the verifier checks
 * once: in the callback itself (which it checks again for every state
 * the caller reaches bpf_find_vma with: twelve) its branches had it go
 * through the callback's end 72 times. The VMA reaches it as a number,
 * as the walk's task does.
 */
__u64 cmd_vma_addr;

__noinline int cmd_vma_safe(__u64 addr, struct cmd_vma *v)
{
	struct vm_area_struct *vma;
	struct userfaultfd_ctx *uctx = 0;

	if (!v || !bpf_rdonly_cast)
		return 0;
	/* Read-only loads: no trusted-field questions (bpf_rdonly_cast above). */
	vma = bpf_rdonly_cast((void *)addr, bpf_core_type_id_kernel(struct vm_area_struct));
	if (bpf_core_field_exists(vma->vm_userfaultfd_ctx.ctx))
		uctx = vma->vm_userfaultfd_ctx.ctx;
	v->safe = !vma->vm_ops && !vma->vm_file && !uctx &&
		  !(vma->vm_flags & (VM_IO | VM_PFNMAP)) &&
		  vma->vm_start <= v->from && v->to <= vma->vm_end;
	return 0;
}

static long cmd_check_vma(struct task_struct *task, struct vm_area_struct *vma, void *data)
{
	*(volatile __u64 *)&cmd_vma_addr = (__u64)(void *)vma;
	cmd_vma_safe(*(volatile __u64 *)&cmd_vma_addr, data);
	return 0;
}

/*
 * Reads slot i's process (task, trusted, for the helpers; ro, the same
 * read-only, for the loads); returns its state.
 */
static __always_inline __u32 cmd_read(struct cmd_slot *s, struct cmd_loop *l, struct task_struct *task,
				      struct task_struct *ro)
{
	__u64 arg_start, arg_end, env_start, env_end, n, want;
	struct cmd_vma v = {};
	struct cmd_page *pg;
	struct mm_struct *mm;
	__u32 page = l->page;
	long err;
	char *dst;

	mm = ro->mm;
	if (!mm || (ro->flags & PF_KTHREAD))
		return CMD_EMPTY;
	arg_start = mm->arg_start;
	arg_end = mm->arg_end;
	env_start = mm->env_start;
	env_end = mm->env_end;
	if (!env_end || arg_start >= arg_end)
		return CMD_EMPTY; /* get_mm_cmdline: not spawned far enough, or nothing */
	/* A rewritten argv may run on into the environment, if it follows. */
	if (env_start != arg_end || env_end < env_start)
		env_end = arg_end;
	n = arg_end - arg_start;
	if (n > CMD_MAX)
		return CMD_LONG;
	/* What a rewritten title may need: a page at most, up to env_end. */
	want = env_end - arg_start;
	if (want > CMD_TITLE)
		want = CMD_TITLE;
	if (want < n)
		want = n;
	/* A cmdline starts in a page's first half: want fits after it. */
	if (l->off >= CMD_PAGE / 2) {
		page++;
		l->off = 0;
		l->page = page;
	}
	if (page >= l->npages)
		return CMD_LONG;
	v.from = arg_start;
	v.to = arg_start + want;
	err = bpf_find_vma(task, arg_start, cmd_check_vma, &v, 0);
	if (err == -16 /* EBUSY */)
		return CMD_BUSY;
	if (err || !v.safe)
		return CMD_UNSAFE;
	pg = bpf_map_lookup_elem(&cmd_pages, &page);
	if (!pg)
		return CMD_LONG;
	dst = pg->b + (l->off & (CMD_PAGE / 2 - 1));
	if (n < 1 || n > CMD_MAX)
		return CMD_LONG;
	if (bpf_copy_from_user_task(dst, n, (void *)arg_start, task, 0))
		return CMD_FAULT;
	/*
	 * get_mm_cmdline's rule: when argv's last byte is not NUL the
	 * process rewrote it (setproctitle), and the kernel reads a string
	 * from arg_start instead, a page at most and no further than the
	 * environment's end; pinspect cuts it at its first NUL.
	 */
	if (dst[(n - 1) & (CMD_MAX - 1)] != 0) {
		s->flags |= CMD_SETPROCTITLE;
		if (want > n) {
			if (want < 1 || want > CMD_TITLE)
				return CMD_LONG;
			if (bpf_copy_from_user_task(dst, want, (void *)arg_start, task, 0))
				return CMD_FAULT;
			n = want;
		}
	}
	/*
	 * An exec since mm was read: the copies may be of the new program's
	 * memory at the old program's addresses (/proc reads one mm from
	 * start to end). Left to /proc.
	 */
	if (ro->mm != mm)
		return CMD_FAULT;
	s->page = page;
	s->off = l->off;
	s->len = n;
	l->off += n;
	return CMD_READ;
}

/*
 * Reads one slot's process. A global function, which the verifier checks
 * once on its own: inlined into the loop's callback, the states of every
 * path (each return above sets a known constant) made its check take a
 * quarter of a second.
 */
__noinline int cmd_read_slot(struct cmd_slot *s, struct cmd_loop *l)
{
	struct task_struct *task, *ro, *leader;
	__u32 state;

	if (!s || !l || !bpf_rdonly_cast)
		return 0;
	s->flags = 0;
	s->len = 0;
	*(volatile __u32 *)&s->state = CMD_STARTED;
	task = bpf_task_from_pid(s->pid);
	if (!task) {
		*(volatile __u32 *)&s->state = CMD_GONE;
		return 0;
	}
	ro = bpf_rdonly_cast(task, bpf_core_type_id_kernel(struct task_struct));
	leader = ro->group_leader;
	s->start_boottime = leader ? leader->start_boottime : 0;
	state = cmd_read(s, l, task, ro);
	bpf_task_release(task);
	*(volatile __u32 *)&s->state = state;
	return 0;
}

static long cmd_one(__u32 i, void *data)
{
	struct cmd_slot *s;

	s = bpf_map_lookup_elem(&cmd_slots, &i);
	if (!s)
		return 1;
	cmd_read_slot(s, data);
	return 0;
}

SEC("syscall")
int pinspect_cmdlines(struct cmd_args *args)
{
	struct cmd_loop l = {};
	__u32 count = args->count;

	l.npages = args->npages;
	bpf_loop(count, cmd_one, &l, 0);
	/* Back to pinspect (the context is copied out): the pages used. */
	args->npages = l.page + (l.off ? 1 : 0);
	return 0;
}

/*
 * pinspect_idents answers who a few processes are, by pid, for the
 * kernel event sources (a new process's start time and name, an exiting
 * one's state and thread count): the fields of /proc/PID/stat that
 * collector.Reader.Identities reads, without opening that file (about
 * 20 µs a process under a fork storm, most of it the lookup of the new
 * pid's /proc directory and the formatting of its stat). pinspect writes
 * the pids into ident_slots, which it maps into its memory, and runs the
 * program once for them all; each slot comes back with its task's record
 * (fill_task) and the few fields of its signal struct that stat shows.
 * A pid with no task (it was released) comes back not found, as
 * /proc/PID would not open.
 */
struct ident_slot {
	__u32 pid;   /* in: a process (a pid of the initial namespace) */
	__u32 found; /* out: 1 when the pid names a live or zombie task */
	__s32 nr_threads;
	__u32 pgid;
	__u32 sid;
	__u32 sig_flags;       /* signal_struct.flags */
	__s32 group_exit_code; /* the stop signal or the group's exit code */
	__u32 pad;
	struct task_rec t; /* out: the task's record */
};

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(map_flags, BPF_F_MMAPABLE);
	__uint(max_entries, 1); /* sized by pinspect at load */
	__type(key, __u32);
	__type(value, struct ident_slot);
} ident_slots SEC(".maps");

/* The run's context (BPF_PROG_RUN's ctx_in), mirrored in ident.go. */
struct ident_args {
	__u32 count; /* slots 0..count-1 */
	__u32 pad;
};

__u64 ident_task; /* the task being read, as a number */

/*
 * Fills one slot from its task (a global function, checked once: see
 * walk_fill_task).
 */
__noinline int ident_fill(__u64 addr, struct ident_slot *s)
{
	struct task_struct *task;
	struct signal_struct *sig;

	if (!bpf_rdonly_cast || !s)
		return 0;
	task = bpf_rdonly_cast((void *)addr, bpf_core_type_id_kernel(struct task_struct));
	/*
	 * A task keeps its signal struct until the task itself is freed,
	 * after its pid was released (bpf_task_from_pid finds it no more):
	 * a task found here always has one. Without it the answer would
	 * lack the group's fields, so the slot says not found, as for a
	 * released pid.
	 */
	sig = task->signal;
	if (!sig)
		return 0;
	__builtin_memset(&s->t, 0, sizeof(s->t));
	fill_task(&s->t, task);
	s->nr_threads = sig->nr_threads;
	s->pgid = pid_nr0(sig->pids[2]); /* PIDTYPE_PGID */
	s->sid = pid_nr0(sig->pids[3]);  /* PIDTYPE_SID */
	s->sig_flags = sig->flags;
	s->group_exit_code = sig->group_exit_code;
	s->found = 1;
	return 0;
}

static long ident_one(__u32 i, void *data)
{
	struct task_struct *task;
	struct ident_slot *s;

	s = bpf_map_lookup_elem(&ident_slots, &i);
	if (!s)
		return 1;
	s->found = 0;
	task = bpf_task_from_pid(s->pid);
	if (!task)
		return 0;
	bpf_rcu_read_lock();
	*(volatile __u64 *)&ident_task = (__u64)(void *)task;
	ident_fill(*(volatile __u64 *)&ident_task, s);
	bpf_rcu_read_unlock();
	bpf_task_release(task);
	return 0;
}

SEC("syscall")
int pinspect_idents(struct ident_args *args)
{
	if (!bpf_rdonly_cast)
		return 1;
	bpf_loop(args->count, ident_one, 0, 0);
	return 0;
}
#endif /* PINSPECT_SEQ */
