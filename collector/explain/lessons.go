package explain

// The lessons --teach prints: the concept behind each finding, in plain
// words.

const lessonCPUBound = `A program is CPU-bound when its threads spend their time computing: they
are either on a CPU or in the queue for one. A CPU runs one thread at a
time, so such a program goes as fast as the CPUs it gets: once every CPU
it may use is busy, another thread only joins the queue. The useful number
of CPU-bound threads is the number of CPUs (or the cgroup's quota).`

const lessonIOBound = `A program is I/O-bound when its threads spend their time waiting — for a
timer, the network, a pipe, a database — rather than computing. A waiting
thread holds no CPU, so many of them can wait at once: a pool of 64 such
threads on 2 CPUs can do far more work than 2 threads, as long as each
waits on its own and the thing waited on keeps up. Each thread still costs
a stack and some memory, which is why servers with thousands of
connections use event loops instead.`

const lessonDisk = `A thread in state D (uninterruptible sleep) is waiting inside the kernel,
usually for the storage device to finish a read or a write it must have
before it can go on (fsync, fdatasync, a page it must read). It cannot be
interrupted, uses no CPU, and is counted in the load average. More threads
help only while the device can take more requests at once.`

const lessonPool = `The kernel keeps a run queue per CPU of threads that are ready to run.
/proc/PID/task/TID/schedstat gives each thread's time on a CPU, its time
waiting in a run queue, and how many times it got a CPU. When more threads
want a CPU than there are CPUs, the extra threads wait: throughput stays
the same, and every request takes longer. Involuntary context switches do
not show this: the scheduler preempts threads on a tick whether 2 or 64
are waiting. Waiting can be the process's own doing (too many threads), the
neighbours' (other processes want the same CPUs) or a cgroup quota's.`

const lessonState = `The state letter: R is runnable — on a CPU or waiting for one; S is asleep
until something happens; D is asleep inside the kernel and cannot be
interrupted (I/O, a vfork parent, a kernel lock); T is stopped by a signal
(SIGSTOP, Ctrl-Z) until SIGCONT; t is stopped by its tracer (a debugger,
strace) until the tracer lets it go; Z has exited and waits for its parent. A process's
letter is its main thread's alone. A pool's main thread often just waits
(S, in pthread_join) while the workers do the work, so look at the threads.`

const lessonTraced = `A tracer (strace, ltrace, a debugger) attaches to a thread with ptrace.
The kernel then stops the thread at each event the tracer asked for — with
strace, every system call on its way in and out, and every signal — and
wakes the tracer, which reads the thread and lets it go on. Each stop is
two context switches and the tracer's own work: a traced program runs
slower, many times slower when it makes many system calls, even one that
mostly sleeps. /proc/PID/status's TracerPid names the tracing thread (0:
none); a thread in state t is stopped for it right now.`

const lessonGIL = `CPython protects its interpreter with one lock, the GIL: a thread must hold
it to run Python code. Threads that compute take turns — a thread gives it
up after a few milliseconds and the next one runs — so eight CPU-bound
threads use about one CPU in all, and spend most of their time waiting for
the lock. While a thread waits for I/O it releases the lock, which is why
threads still help Python programs that wait. Separate processes each
have their own interpreter and lock.`

const lessonEventLoop = `An event loop serves many connections with one thread: it asks the kernel
(epoll) which descriptors are ready, handles each briefly, and asks again.
It needs no thread per connection and switches little. Its limit is its
one thread: a handler that blocks or computes for long stops every other
connection, and one loop can use one CPU at most.`

const lessonSwitch = `A context switch saves one thread's registers and loads another's. The
kernel's part shows up as system CPU time. The larger cost often comes
afterwards: the new thread finds the CPU caches and the TLB (the cache of
address translations) filled with the old thread's data. Between threads
of one process the address space stays the same; between processes it
changes, which once meant a TLB flush (CPUs with PCID keep entries tagged
per address space, which narrows the difference). /proc counts switches,
not this refill.`

const lessonWaits = `Where a sleeping thread sleeps says what it waits for. /proc/PID/task/TID/wchan
names the kernel function (futex_wait: a lock or condition variable;
hrtimer_nanosleep: a timer; ep_poll: an event loop; submit_bio_wait: the
disk), and /proc/PID/task/TID/syscall the system call it is in, with its
arguments. /proc/PID/io counts the bytes it moved through system calls and
what reached storage.`

const lessonCOW = `fork() gives the child a copy of the parent's memory without copying it:
both share every page, read-only, and the kernel copies a page only when
one of them writes to it (copy on write). In /proc/PID/smaps, pages written
before the fork and still shared are Shared_Dirty; pages copied since (or
written only here) are Private_Dirty. Each copy is a minor page fault, so
a high minor-fault rate in a forked process means it is copying now. RSS
counts shared pages in every process that maps them; PSS splits them.`

const lessonFamily = `Many programs are families of processes: a parent forks workers (a
pre-fork web server, a zygote that forks browser tabs or app processes).
They share the parent's code and data until they write to them, so each
worker's RSS includes memory the others count too. PSS divides each shared
page among the processes that map it, so the family's PSS is what it
really uses; USS is what would be freed if all of them exited.`

const lessonGo = `Go runs goroutines, not threads: its runtime multiplexes many goroutines
(cheap, with small stacks that grow) onto a few OS threads — the M:N model.
The kernel sees only the threads, so /proc cannot count goroutines or see
their states; a goroutine blocked on a channel uses no thread at all.
Goroutine stacks are allocated from the Go heap, in anonymous mappings.`

const lessonJVM = `A JVM maps each Java platform thread to one OS thread, and adds its own
threads for garbage collection, the JIT compilers and housekeeping. Its
heap is one large anonymous mapping managed by the garbage collector;
/proc sees its size, not what is live in it.`

const lessonLeak = `A leak is memory that keeps growing because it is never freed. One
reading cannot show it: it needs memory over time, and a steady slope over
minutes rather than a warm-up that flattens out. Big allocations do not come
from [heap] (brk): malloc serves blocks of 128 KiB and more with separate
anonymous mappings, and Go, Java and others manage their own arenas there.`

const lessonZombies = `When a process exits, the kernel keeps a small record of it — its pid and
its exit status — until its parent asks for that status with wait(2)
(waitpid, waitid). Until then the process is a zombie: state Z, no memory,
no threads, nothing to kill. A parent that never calls wait, or that
cannot because it is stopped or stuck, collects zombies; setting SIGCHLD to
SIG_IGN tells the kernel to reap children at once. When the parent exits,
init (or the nearest subreaper) adopts its zombies and reaps them.`
