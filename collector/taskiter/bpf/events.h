/* SPDX-License-Identifier: (MIT OR GPL-2.0) */
/*
 * The kernel types the process-event program (events.bpf.c) reads, and
 * nothing else. Like kernel.h (the task iterator's, kept apart so that the
 * two programs can change without touching each other's objects), this is
 * not a vmlinux.h: every struct is preserve_access_index, and the loader
 * relocates each field by its name against the running kernel's BTF.
 */
#ifndef PINSPECT_EVENTS_KERNEL_H
#define PINSPECT_EVENTS_KERNEL_H

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
typedef __u32 u32;
typedef int pid_t;
typedef _Bool bool;

#define CORE __attribute__((preserve_access_index))

/* From the UAPI (linux/bpf.h), stable ABI values. */
enum bpf_map_type {
	BPF_MAP_TYPE_ARRAY = 2,
	BPF_MAP_TYPE_PERCPU_ARRAY = 6,
	BPF_MAP_TYPE_RINGBUF = 27,
};

/* bpf_ringbuf_submit's flags and bpf_ringbuf_query's question. */
#define BPF_RB_NO_WAKEUP (1ULL << 0)
#define BPF_RB_FORCE_WAKEUP (1ULL << 1)
#define BPF_RB_AVAIL_DATA 0

typedef struct {
	int counter;
} atomic_t;

struct signal_struct {
	atomic_t live;
	unsigned int flags;
	int group_exit_code;
} CORE;

/* The program being exec'd: filename is the path given to execve (as
 * given: relative, or /dev/fd/N for an fexecve); interp is the file the
 * kernel actually runs after binfmt_script or binfmt_misc (a script's
 * interpreter), the same pointer as filename when neither took part. */
struct linux_binprm {
	const char *filename;
	const char *interp;
} CORE;

/* The executable's path, walked as d_path walks it (fs/d_path.c):
 * dentry names up to the mount's root, then across to the mountpoint in
 * the parent mount, up to the namespace's root. struct mount holds the
 * struct vfsmount a path points to (mnt). */
struct qstr {
	__u32 len;
	const unsigned char *name;
} CORE;

struct hlist_bl_node {
	struct hlist_bl_node *next, **pprev;
} CORE;

struct dentry;

/* d_dname names a pseudo file (a memfd's, a pipe's) for d_path. */
struct dentry_operations {
	char *(*d_dname)(struct dentry *, char *, int);
} CORE;

struct dentry {
	struct hlist_bl_node d_hash;
	struct dentry *d_parent;
	struct qstr d_name;
	const struct dentry_operations *d_op;
} CORE;

struct vfsmount {
	struct dentry *mnt_root;
} CORE;

struct mount {
	struct mount *mnt_parent;
	struct dentry *mnt_mountpoint;
	struct vfsmount mnt;
} CORE;

struct path {
	struct vfsmount *mnt;
	struct dentry *dentry;
} CORE;

struct file {
	struct path f_path;
} CORE;

struct mm_struct {
	struct file *exe_file;
} CORE;

struct task_struct {
	int exit_code;
	struct mm_struct *mm;
	pid_t pid;
	pid_t tgid;
	struct task_struct *real_parent;
	struct task_struct *group_leader;
	u64 start_boottime;
	char comm[16];
	struct signal_struct *signal;
} CORE;

#endif
