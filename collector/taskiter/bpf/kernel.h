/* SPDX-License-Identifier: (MIT OR GPL-2.0) */
/*
 * The kernel types the task iterator reads, and nothing else.
 *
 * This is not a vmlinux.h: it declares only the structs and fields that
 * taskiter.bpf.c touches. Every struct is marked preserve_access_index, so
 * clang records each field access as a CO-RE relocation, and the loader
 * (cilium/ebpf) rewrites it against the running kernel's BTF by field NAME.
 * The order, offsets and padding below are therefore irrelevant; names and
 * the kinds of types are what must match. A field that a kernel lacks is
 * read only behind bpf_core_field_exists().
 *
 * Types named NAME___flavor are older layouts of NAME (libbpf's flavor
 * convention: the suffix after ___ is ignored when matching).
 */
#ifndef PINSPECT_TASKITER_KERNEL_H
#define PINSPECT_TASKITER_KERNEL_H

typedef unsigned char __u8;
typedef short __s16;
typedef unsigned short __u16;
typedef int __s32;
typedef unsigned int __u32;
typedef long long __s64;
typedef unsigned long long __u64;
typedef __u32 __be32;
typedef __u16 __be16;
typedef __u32 __wsum;
typedef __u64 u64;
typedef __s64 s64;
typedef __u32 u32;
typedef __s32 s32;
typedef int pid_t;
typedef _Bool bool;

#define CORE __attribute__((preserve_access_index))

/* From the UAPI (linux/bpf.h), a stable ABI value. */
enum bpf_map_type {
	BPF_MAP_TYPE_HASH = 1,
	BPF_MAP_TYPE_ARRAY = 2,
	BPF_MAP_TYPE_PERCPU_ARRAY = 6,
	BPF_MAP_TYPE_ARRAY_OF_MAPS = 12,
};

/* Map flags (linux/bpf.h). */
#define BPF_F_MMAPABLE (1U << 10)
#define BPF_F_INNER_MAP (1U << 12)

struct seq_file;

struct bpf_iter_meta {
	struct seq_file *seq;
	__u64 session_id;
	__u64 seq_num;
} CORE;

struct upid {
	int nr;
} CORE;

struct pid {
	unsigned int level;
	struct upid numbers[4];
} CORE;

struct thread_info {
	__u32 cpu;
} CORE;

struct sched_entity {
	u64 sum_exec_runtime;
} CORE;

struct sched_info {
	unsigned long pcount;
	unsigned long long run_delay;
} CORE;

struct prev_cputime {
	u64 utime;
	u64 stime;
} CORE;

typedef struct {
	unsigned long sig[1];
} sigset_t;

struct sigpending {
	sigset_t signal;
} CORE;

struct sigaction {
	void *sa_handler;
} CORE;

struct k_sigaction {
	struct sigaction sa;
} CORE;

/* _NSIG is 64 on the architectures pinspect builds for. */
#define KERNEL_NSIG 64

struct sighand_struct {
	struct k_sigaction action[KERNEL_NSIG];
} CORE;

struct taskstats {
	__u64 cpu_delay_total;
} CORE;

struct tty_driver {
	int major;
	int minor_start;
} CORE;

/* Since 5.17 the foreground group lives in tty->ctrl. */
struct tty_struct {
	int index;
	struct tty_driver *driver;
	struct {
		struct pid *pgrp;
	} ctrl;
} CORE;

struct tty_struct___pre517 {
	struct pid *pgrp;
} CORE;

/*
 * A task's I/O accounting (include/linux/task_io_accounting.h): the
 * first four fields exist with CONFIG_TASK_XACCT, the last three with
 * CONFIG_TASK_IO_ACCOUNTING.
 */
struct task_io_accounting {
	u64 rchar;
	u64 wchar;
	u64 syscr;
	u64 syscw;
	u64 read_bytes;
	u64 write_bytes;
	u64 cancelled_write_bytes;
} CORE;

/* seqlock_t: since 5.10 its count is a seqcount_spinlock_t. */
struct seqcount {
	unsigned int sequence;
} CORE;

struct seqcount_spinlock {
	struct seqcount seqcount;
} CORE;

struct seqlock {
	struct seqcount_spinlock seqcount;
} CORE;

/* Before 5.10: seqlock_t { struct seqcount seqcount; ... }. */
struct seqcount___pre510 {
	unsigned int sequence;
} CORE;

struct seqlock___pre510 {
	struct seqcount___pre510 seqcount;
} CORE;

struct signal_struct___pre510 {
	struct seqlock___pre510 stats_lock;
} CORE;

struct signal_struct {
	int nr_threads;
	struct seqlock stats_lock;
	struct task_io_accounting ioac;
	struct sigpending shared_pending;
	struct pid *pids[4];
	struct tty_struct *tty;
	u64 utime;
	u64 stime;
	struct prev_cputime prev_cputime;
	unsigned long nvcsw;
	unsigned long nivcsw;
	unsigned long min_flt;
	unsigned long maj_flt;
	unsigned long long sum_sched_runtime;
	struct taskstats *stats;
	unsigned int flags;
	int group_exit_code;
} CORE;

typedef struct {
	unsigned int val;
} kuid_t;

typedef struct {
	unsigned int val;
} kgid_t;

/* kernel_cap_t is one u64 since 6.3 and two u32 before: 8 bytes, the same
 * little-endian value either way, so it is copied whole. */
typedef struct {
	u64 val;
} kernel_cap_t;

struct cred {
	kuid_t uid;
	kgid_t gid;
	kuid_t suid;
	kgid_t sgid;
	kuid_t euid;
	kgid_t egid;
	kuid_t fsuid;
	kgid_t fsgid;
	kernel_cap_t cap_inheritable;
	kernel_cap_t cap_permitted;
	kernel_cap_t cap_effective;
	kernel_cap_t cap_bset;
	kernel_cap_t cap_ambient;
} CORE;

/*
 * The RSS counters: percpu_counter[NR_MM_COUNTERS] since 6.2. counters is
 * a per-CPU pointer (s32 __percpu *): CPU n's part is at counters plus
 * that CPU's per-CPU offset.
 */
struct percpu_counter {
	s64 count;
	s32 *counters;
} CORE;

/*
 * A BPF array map (kernel/bpf/arraymap.c): for a per-CPU array, pptrs[i]
 * is element i's per-CPU pointer. Only its offset is used.
 */
struct bpf_array {
	void *pptrs[0];
} CORE;

/*
 * The executable's identity (mm->exe_file): its path's mount and dentry,
 * which /proc/PID/exe's link is made from (d_path), and its inode.
 */
typedef u32 dev_t;

struct super_block {
	dev_t s_dev;
} CORE;

struct inode {
	unsigned long i_ino;
	struct super_block *i_sb;
} CORE;

struct vfsmount;
struct dentry;

struct path {
	struct vfsmount *mnt;
	struct dentry *dentry;
} CORE;

struct file {
	struct path f_path;
	struct inode *f_inode;
} CORE;

struct mm_struct {
	struct file *exe_file;
	unsigned long total_vm;
	unsigned long hiwater_vm;
	unsigned long start_code;
	unsigned long end_code;
	unsigned long start_data;
	unsigned long end_data;
	unsigned long start_brk;
	unsigned long start_stack;
	unsigned long arg_start;
	unsigned long arg_end;
	unsigned long env_start;
	unsigned long env_end;
	struct percpu_counter rss_stat[4];
} CORE;

/* Before 6.2: struct mm_rss_stat { atomic_long_t count[4]; }. */
typedef struct {
	long counter;
} atomic_long_t;

struct mm_rss_stat___pre62 {
	atomic_long_t count[4];
} CORE;

struct mm_struct___pre62 {
	struct mm_rss_stat___pre62 rss_stat;
} CORE;

struct task_delay_info {
	u64 blkio_delay;
} CORE;

/* kernel/kthread.c: what task->worker_private points to in a kthread. */
struct kthread {
	void *data;
	char *full_name;
} CORE;

struct worker_pool;

/* kernel/workqueue_internal.h: a workqueue worker's kthread data. */
struct worker {
	void *current_work;
	struct worker_pool *pool;
	char desc[32];
} CORE;

struct task_struct {
	struct thread_info thread_info;
	unsigned int __state;
	unsigned int flags;
	unsigned int ptrace;
	int prio;
	int static_prio;
	unsigned int rt_priority;
	unsigned int policy;
	struct sched_entity se;
	struct sched_info sched_info;
	struct mm_struct *mm;
	int exit_state;
	int exit_code;
	pid_t pid;
	pid_t tgid;
	struct task_struct *real_parent;
	struct task_struct *parent;
	struct task_struct *group_leader;
	struct pid *thread_pid;
	u64 utime;
	u64 stime;
	struct prev_cputime prev_cputime;
	unsigned long nvcsw;
	unsigned long nivcsw;
	u64 start_boottime;
	unsigned long min_flt;
	unsigned long maj_flt;
	const struct cred *real_cred;
	char comm[16];
	struct signal_struct *signal;
	struct sighand_struct *sighand;
	sigset_t blocked;
	struct sigpending pending;
	struct task_delay_info *delays;
	void *worker_private;
	struct task_io_accounting ioac;
	struct css_set *cgroups;
} CORE;

/*
 * A task's cgroups (CONFIG_CGROUPS): its css_set, the cgroup of the
 * unified hierarchy in it (what /proc/PID/cgroup's "0::" line names),
 * and that cgroup's kernfs node, whose id is the cgroup directory's
 * inode number, kept for the cgroup's life.
 */
struct kernfs_node {
	u64 id;
} CORE;

struct cgroup {
	struct kernfs_node *kn;
} CORE;

struct css_set {
	struct cgroup *dfl_cgrp;
} CORE;

/* Before 5.14 the state was a long named state. */
struct task_struct___pre514 {
	long state;
} CORE;

/* Some architectures keep the cpu in task_struct rather than thread_info. */
struct task_struct___cpu {
	unsigned int cpu;
} CORE;

struct bpf_iter__task {
	struct bpf_iter_meta *meta;
	struct task_struct *task;
} CORE;

/*
 * The open-coded task iterator's state (Linux 6.7 and later): opaque, of
 * the kernel's size, on the program's stack. Not CORE: the kernel checks
 * its size against its own by name.
 */
struct bpf_iter_task {
	__u64 __opaque[3];
} __attribute__((aligned(8)));

/* bpf_iter_task_new's flags (enum bpf_iter_task_type). */
#define BPF_TASK_ITER_ALL_PROCS 0
#define BPF_TASK_ITER_ALL_THREADS 1

#endif

/*
 * For the cmdline program (pinspect_cmdlines): the VMA that holds a
 * process's argument area, as bpf_find_vma hands it to its callback.
 */
struct vm_operations_struct;
struct userfaultfd_ctx;

struct vm_userfaultfd_ctx {
	struct userfaultfd_ctx *ctx;
} CORE;

struct vm_area_struct {
	unsigned long vm_start;
	unsigned long vm_end;
	unsigned long vm_flags;
	const struct vm_operations_struct *vm_ops;
	struct file *vm_file;
	struct vm_userfaultfd_ctx vm_userfaultfd_ctx;
} CORE;
