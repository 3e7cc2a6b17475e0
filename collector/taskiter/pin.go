package taskiter

// Pinning: `pinspect bpf pin` loads the walk and the cmdline program once
// and pins them, with their maps, in the BPF filesystem (bpffs), so that
// a one-shot command that finds them (Options.UsePin) opens them by path
// instead of loading them: no ELF parse, kernel-BTF trim, verification or
// map creation, about a fifth of a one-shot `pinspect --json` at 10,000
// processes (docs/PERFORMANCE.md).
//
// A pin is a directory PinRoot/HASH, HASH naming the embedded object
// (ObjectHash): a binary built from another object finds no pin of its
// own and loads as before. The directory holds the two programs, the
// walk's outer arrays (holding inner arrays made at pin time for a
// capacity: PinOptions), walk_want, the walk's data section (its
// globals), the cmdline program's two arrays, and "layout", a small
// array saying where the globals are in the data section (reading the
// object's ELF for it costs 5 ms) and which layout this file writes.
// Everything is 0700/0600 and owned by root: bpffs applies file modes to
// BPF_OBJ_GET, so no other user can open any of it.
//
// The pinned maps are state shared by whoever opens them: a user holds
// an exclusive flock on the pin directory from opening until Close. A
// one-shot that finds the lock taken (another one-shot running) loads
// its own as before; so does one that finds the pin too small for the
// machine's tasks, made by another layout, or unreadable.

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
	"unsafe"

	"github.com/cilium/ebpf"
	"golang.org/x/sys/unix"
)

// PinRoot is where pins are made and looked for: one directory per
// object (a variable: tests pin in a bpffs of their own).
var PinRoot = "/sys/fs/bpf/pinspect"

// ErrNoBPFFS means PinRoot's parent is not a mounted BPF filesystem:
// pinspect mounts nothing.
var ErrNoBPFFS = errors.New("not a BPF filesystem (bpffs)")

// errPinBusy: another process holds the pin.
var errPinBusy = errors.New("the pinned programs are in use by another pinspect")

// Files of a pin directory (bpffs refuses a name with a dot).
const (
	pinWalk      = "walk"
	pinTasks     = "walk_tasks"
	pinGroups    = "walk_groups"
	pinWant      = "walk_want"
	pinData      = "walk_bss"
	pinCmdlines  = "cmdlines"
	pinCmdSlots  = "cmd_slots"
	pinCmdPages  = "cmd_pages"
	pinLayout    = "layout"
	pinLayoutVer = 0x70696e02 // "pin" 2: the layout map's first word
)

// pinGlobals are the globals the layout map locates, in its order.
var pinGlobals = [8]string{"walk_sum_threads", "walk_no_io", "walk_no_sighand", "walk_cgroup_id",
	"walk_count_only", "walk_ntasks", "walk_ngroups", "walk_full"}

// layoutWords is the layout map's value: the version, the data section's
// size, the globals' offsets, the capacity asked for (tasks, processes),
// and the object's hash (ObjectHash's 8 bytes): a pin directory renamed
// to this object's name is still not taken for its.
const layoutWords = 1 + 1 + len(pinGlobals) + 2 + 2

// objectHashWords is ObjectHash as the layout's last two words.
func objectHashWords() [2]uint32 {
	b, _ := hex.DecodeString(ObjectHash())
	return [2]uint32{binary.BigEndian.Uint32(b[0:4]), binary.BigEndian.Uint32(b[4:8])}
}

// ObjectHash names the embedded BPF object: the first 16 hex digits of
// its SHA-256.
func ObjectHash() string { return objectHash() }

var objectHash = sync.OnceValue(func() string {
	sum := sha256.Sum256(_TaskIterBytes)
	return hex.EncodeToString(sum[:8])
})

// PinOptions sizes a pin. Zero fields take the defaults: twice the tasks
// and processes counted now, plus 1,024, at most pid_max (every task
// has a pid).
type PinOptions struct {
	Tasks, Processes int
}

// PinInfo describes one pin directory.
type PinInfo struct {
	Dir  string
	Hash string
	// Current: the pin is this binary's object.
	Current bool
	// Tasks and Processes are the walk's capacity (records of its
	// arrays); CmdlineSlots the cmdline program's (0: not pinned).
	Tasks, Processes, CmdlineSlots int
	// MemoryBytes is the kernel memory of the pinned maps (what the
	// kernel charges for them: bpftool's memlock).
	MemoryBytes uint64
	// Made is when the pin was made (the directory's change time).
	Made time.Time
	// Problem says why the pin cannot be read, when it cannot.
	Problem string
	// NotPin: the entry's name is not a pin's (not HASH nor
	// new-HASH-PID): something else in the pin root, left alone.
	NotPin bool
	// Busy: a pinspect holds the pin now (another one-shot would load
	// its own).
	Busy bool
	// TooSmall says why a one-shot would not use the pin now: the tasks
	// running now do not fit (empty when they do, or when not known).
	TooSmall string
}

// tasksNow is the machine's tasks (threads), from /proc/loadavg.
func tasksNow() (int, bool) {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return 0, false
	}
	f := strings.Fields(string(b))
	if len(f) < 4 {
		return 0, false
	}
	_, total, ok := strings.Cut(f[3], "/")
	n, err := strconv.Atoi(total)
	return n, ok && err == nil
}

// ErrPinSize means --tasks or --processes is out of bounds: above what
// pid_max allows, or below what runs now (a pin no one-shot would use).
var ErrPinSize = errors.New("pin size out of bounds")

// errPinTooSmall means this object's pin holds fewer tasks or processes
// than run now, with the room a one-shot asks (Iterator.PinTooSmall).
var errPinTooSmall = errors.New("the BPF pin is too small for the tasks running now")

// pinSizeCheck is checkPinSize (a variable: a test makes a pin too
// small for the machine, to see it passed over).
var pinSizeCheck = checkPinSize

// oneShotRoom is the least a pin must hold for a one-shot (and status)
// to use it with n tasks or processes running: n + n/16 + 64.
func oneShotRoom(n int) int { return n + n/16 + 64 }

// pinLeast is the least size pin accepts with n running: the one-shot's
// room, and as much again, so that the pin is not "too small now" at
// once when a few more run by the next command (its own threads, a
// fork; tester13 B4: a pin of 251 for 176 counted tasks was too small
// for the 218 status counted straight after).
func pinLeast(n int) int { return oneShotRoom(n) + n/16 + 64 }

// checkPinSize refuses a capacity a one-shot could soon not use (below
// pinLeast of the tasks or processes running now) or that no machine
// needs (above limit: pid_max and that room).
func checkPinSize(capT, capG, nt, ng, limit int) error {
	switch {
	case capT > limit || capG > limit:
		return fmt.Errorf("%w: %d tasks, %d processes: at most %d here (pid_max and room)", ErrPinSize, capT, capG, limit)
	case capT < pinLeast(nt) || capG < pinLeast(ng):
		return fmt.Errorf("%w: %d tasks, %d processes: %d and %d run now; a one-shot uses a pin that holds them plus n/16+64 (%d, %d), and a pin is made with that room twice, so that it still fits a little growth: at least %d tasks, %d processes",
			ErrPinSize, capT, capG, nt, ng, oneShotRoom(nt), oneShotRoom(ng), pinLeast(nt), pinLeast(ng))
	}
	return nil
}

// CheckBPFFS says whether PinRoot's parent is a BPF filesystem.
func CheckBPFFS() error {
	parent := filepath.Dir(PinRoot)
	var st unix.Statfs_t
	if err := unix.Statfs(parent, &st); err != nil {
		return fmt.Errorf("%s: %w", parent, err)
	}
	if uint32(st.Type) != uint32(unix.BPF_FS_MAGIC) {
		return fmt.Errorf("%s is %w (mount one with `mount -t bpf -o mode=0700 bpf %s`)", parent, ErrNoBPFFS, parent)
	}
	return nil
}

// checkPrivate refuses a directory that is not root's own (0700 or
// stricter, owned by this user): anyone may write in a bpffs root
// (mode 1777), and a directory made by another user must not be used.
func checkPrivate(path string, st *unix.Stat_t) error {
	if st.Mode&unix.S_IFMT != unix.S_IFDIR {
		return fmt.Errorf("%s is not a directory", path)
	}
	if int(st.Uid) != os.Geteuid() || st.Mode&0o077 != 0 {
		return fmt.Errorf("%s is owned by uid %d with mode %#o: refusing it, as pinspect makes it this user's, mode 0700 (remove it, `rm -r %s`, and pin again)", path, st.Uid, st.Mode&0o7777, path)
	}
	return nil
}

// ensureRoot makes PinRoot (0700) unless it is there and private.
func ensureRoot() error {
	if err := os.Mkdir(PinRoot, 0o700); err != nil && !errors.Is(err, os.ErrExist) {
		return err
	}
	var st unix.Stat_t
	if err := unix.Lstat(PinRoot, &st); err != nil {
		return err
	}
	return checkPrivate(PinRoot, &st)
}

// Pin loads the walk and the cmdline program with arrays for o's
// capacity and pins them in PinRoot/ObjectHash(), replacing a pin of the
// same object. It needs root and a bpffs at PinRoot's parent
// (ErrNoBPFFS).
func Pin(o PinOptions) (PinInfo, error) {
	if err := CheckBPFFS(); err != nil {
		return PinInfo{}, err
	}
	if err := checkKernel(DefaultKernelBTF); err != nil {
		return PinInfo{}, err
	}
	w, spec, copts, err := openWalkTrimmed(DefaultKernelBTF)
	if err != nil {
		// The usual load, as Open falls back to it.
		spec, err = loadTaskIter()
		if err != nil {
			return PinInfo{}, err
		}
		copts = &ebpf.CollectionOptions{}
		if w, err = openWalk(spec, copts); err != nil {
			return PinInfo{}, fmt.Errorf("the walk does not load: %s", classify(err).Detail)
		}
	}
	defer w.close()
	// Every task has a pid below pid_max; a pin holds that many with the
	// room a one-shot asks of it (openPinnedWalk).
	limit := pidMax()
	limit += limit/16 + 64
	capT, capG := o.Tasks, o.Processes
	if capT <= 0 {
		capT = min(2*w.countedTasks+1024, limit)
	}
	if capG <= 0 {
		capG = min(2*w.countedGroups+1024, capT)
	}
	if err := pinSizeCheck(capT, capG, w.countedTasks, w.countedGroups, limit); err != nil {
		return PinInfo{}, err
	}
	if err := w.make(capT, capG); err != nil {
		return PinInfo{}, err
	}
	var layout [layoutWords]uint32
	layout[0] = pinLayoutVer
	data := spec.Maps[".bss"]
	if data == nil {
		return PinInfo{}, errors.New("the object has no .bss section")
	}
	layout[1] = data.ValueSize
	for i, name := range pinGlobals {
		v := spec.Variables[name]
		if v == nil || v.SectionName != ".bss" || v.Size() != 4 {
			return PinInfo{}, fmt.Errorf("global %s is not a 32-bit word of .bss", name)
		}
		layout[2+i] = v.Offset
	}
	layout[2+len(pinGlobals)] = uint32(capT)
	layout[3+len(pinGlobals)] = uint32(capG)
	h := objectHashWords()
	layout[4+len(pinGlobals)], layout[5+len(pinGlobals)] = h[0], h[1]
	var c *Cmdlines
	if cmdlinesPageSize == cmdTitle {
		// Sized so that its slots are about capG (openCmdlines adds a
		// quarter and 64).
		c, err = openCmdlines(spec, copts, max(64, (capG-64)*4/5), 0)
		if err != nil {
			return PinInfo{}, fmt.Errorf("the cmdline program does not load: %w", classify(err))
		}
		defer c.Close()
	}
	// Only now, loaded (a user who may not load BPF makes nothing).
	if err := ensureRoot(); err != nil {
		return PinInfo{}, err
	}
	final := filepath.Join(PinRoot, ObjectHash())
	tmp := filepath.Join(PinRoot, "new-"+ObjectHash()+"-"+strconv.Itoa(os.Getpid()))
	rootFD, _, err := openRoot()
	if err != nil {
		return PinInfo{}, err
	}
	defer unix.Close(rootFD)
	// One pin or unpin at a time (two at once removed each other's files).
	if err := flockWait(rootFD); err != nil {
		return PinInfo{}, err
	}
	if err := os.Mkdir(tmp, 0o700); err != nil {
		return PinInfo{}, err
	}
	if err := pinInto(tmp, w, c, layout[:]); err != nil {
		_ = removePinAt(rootFD, filepath.Base(tmp))
		return PinInfo{}, err
	}
	if _, err := os.Lstat(final); err == nil {
		if err := removePinAt(rootFD, ObjectHash()); err != nil {
			_ = removePinAt(rootFD, filepath.Base(tmp))
			return PinInfo{}, err
		}
	}
	if err := os.Rename(tmp, final); err != nil {
		_ = removePinAt(rootFD, filepath.Base(tmp))
		return PinInfo{}, err
	}
	return statusOf(final), nil
}

// pinInto pins w, c and the layout in dir.
func pinInto(dir string, w *walker, c *Cmdlines, layout []uint32) error {
	pin := func(name string, p interface{ Pin(string) error }) error {
		path := filepath.Join(dir, name)
		if err := p.Pin(path); err != nil {
			return fmt.Errorf("pin %s: %w", path, err)
		}
		return os.Chmod(path, 0o600)
	}
	pinID := func(name string, id ebpf.MapID) error {
		m, err := ebpf.NewMapFromID(id)
		if err != nil {
			return err
		}
		defer m.Close()
		return pin(name, m)
	}
	if err := pin(pinWalk, w.objs.Prog); err != nil {
		return err
	}
	for _, f := range []struct {
		name string
		id   ebpf.MapID
	}{{pinTasks, w.tasksID}, {pinGroups, w.groupsID}, {pinWant, w.wantID}} {
		if err := pinID(f.name, f.id); err != nil {
			return err
		}
	}
	dataID, err := dataSection(w.objs.Prog)
	if err != nil {
		return err
	}
	if err := pinID(pinData, dataID); err != nil {
		return err
	}
	if c != nil {
		if err := errors.Join(pin(pinCmdlines, c.prog), pin(pinCmdSlots, c.slotsMap), pin(pinCmdPages, c.pagesMap)); err != nil {
			return err
		}
	}
	lm, err := ebpf.NewMap(&ebpf.MapSpec{Name: "pinspect_layout", Type: ebpf.Array, KeySize: 4,
		ValueSize: uint32(4 * len(layout)), MaxEntries: 1})
	if err != nil {
		return err
	}
	defer lm.Close()
	if err := lm.Put(uint32(0), layout); err != nil {
		return err
	}
	return pin(pinLayout, lm)
}

// dataSection is the id of prog's .bss map.
func dataSection(prog *ebpf.Program) (ebpf.MapID, error) {
	info, err := prog.Info()
	if err != nil {
		return 0, err
	}
	ids, ok := info.MapIDs()
	if !ok {
		return 0, errors.New("the kernel gives no map ids of a program")
	}
	for _, id := range ids {
		m, err := ebpf.NewMapFromID(id)
		if err != nil {
			continue
		}
		mi, err := m.Info()
		_ = m.Close()
		if err == nil && strings.HasSuffix(mi.Name, ".bss") {
			return id, nil
		}
	}
	return 0, errors.New("the walk has no .bss map")
}

// pidMax is the kernel's pid_max (every task has a pid below it), or a
// large bound when it cannot be read.
func pidMax() int {
	b, err := os.ReadFile("/proc/sys/kernel/pid_max")
	if err == nil {
		if n, err := strconv.Atoi(strings.TrimSpace(string(b))); err == nil && n > 0 {
			return n
		}
	}
	return 1 << 22
}

// lockDir opens dir and takes its flock, without waiting.
func lockDir(dir string) (int, error) {
	fd, err := unix.Open(dir, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	if err != nil {
		return -1, &os.PathError{Op: "open", Path: dir, Err: err}
	}
	for {
		err = unix.Flock(fd, unix.LOCK_EX|unix.LOCK_NB)
		if err != unix.EINTR {
			break
		}
	}
	if err != nil {
		_ = unix.Close(fd)
		if err == unix.EWOULDBLOCK {
			return -1, errPinBusy
		}
		return -1, err
	}
	return fd, nil
}

// pinName reports whether name is a pin directory's name: HASH (16 hex
// digits) or new-HASH-PID (a pin being made, or left by a killed one).
func pinName(name string) bool {
	isHash := func(h string) bool {
		_, err := hex.DecodeString(h)
		return len(h) == 16 && err == nil && strings.ToLower(h) == h
	}
	if isHash(name) {
		return true
	}
	rest, ok := strings.CutPrefix(name, "new-")
	if !ok || len(rest) < 18 || rest[16] != '-' {
		return false
	}
	_, err := strconv.Atoi(rest[17:])
	return isHash(rest[:16]) && err == nil
}

// openPrivateAt opens name in dirfd (AT_FDCWD: a path) as a directory,
// never through a symlink, and checks that it is this user's alone.
func openPrivateAt(dirfd int, name, shown string) (int, error) {
	fd, err := unix.Openat(dirfd, name, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	if err != nil {
		return -1, &os.PathError{Op: "open", Path: shown, Err: err}
	}
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		_ = unix.Close(fd)
		return -1, err
	}
	if err := checkPrivate(shown, &st); err != nil {
		_ = unix.Close(fd)
		return -1, err
	}
	return fd, nil
}

// dirNames lists the names in the directory fd (a duplicate is read,
// fd stays open and at its start).
func dirNames(fd int) ([]string, error) {
	dup, err := unix.Dup(fd)
	if err != nil {
		return nil, err
	}
	f := os.NewFile(uintptr(dup), "dir")
	defer f.Close()
	return f.Readdirnames(-1)
}

// removePinAt removes the pin directory name of the pin root rootFD:
// every file in it, relative to the directory's own descriptor (opened
// without following a symlink, checked private), then the directory. It
// does not wait for a user of the pin: the kernel keeps a program and
// its maps while a descriptor holds them, so a one-shot using the pin
// finishes on it.
func removePinAt(rootFD int, name string) error {
	shown := filepath.Join(PinRoot, name)
	fd, err := openPrivateAt(rootFD, name, shown)
	if err != nil {
		return err
	}
	defer unix.Close(fd)
	names, err := dirNames(fd)
	if err != nil {
		return err
	}
	var errs []error
	for _, n := range names {
		if err := unix.Unlinkat(fd, n, 0); err != nil {
			errs = append(errs, &os.PathError{Op: "unlink", Path: filepath.Join(shown, n), Err: err})
		}
	}
	if err := unix.Unlinkat(rootFD, name, unix.AT_REMOVEDIR); err != nil {
		errs = append(errs, &os.PathError{Op: "rmdir", Path: shown, Err: err})
	}
	return joinErrs(errs...)
}

// openRoot opens PinRoot, checked private; ok false when it is not there.
func openRoot() (fd int, ok bool, err error) {
	fd, err = openPrivateAt(unix.AT_FDCWD, PinRoot, PinRoot)
	if errors.Is(err, unix.ENOENT) {
		return -1, false, nil
	}
	return fd, err == nil, err
}

// Unpin removes every pin under PinRoot (this object's and others') and
// PinRoot itself, and returns the directories removed. Nothing pinned
// is not an error. A PinRoot or pin directory that is not root's own
// (a symlink, another user's) is refused, and names that are not pins'
// are left alone.
func Unpin() ([]string, error) {
	rootFD, ok, err := openRoot()
	if !ok {
		return nil, err
	}
	defer unix.Close(rootFD)
	if err := flockWait(rootFD); err != nil {
		return nil, err
	}
	names, err := dirNames(rootFD)
	if err != nil {
		return nil, err
	}
	var (
		gone []string
		errs []error
	)
	for _, n := range names {
		if !pinName(n) {
			errs = append(errs, fmt.Errorf("%s: not a pin of pinspect: left alone", filepath.Join(PinRoot, n)))
			continue
		}
		if err := removePinAt(rootFD, n); err != nil {
			errs = append(errs, err)
			continue
		}
		gone = append(gone, filepath.Join(PinRoot, n))
	}
	if len(errs) == 0 {
		if err := unix.Rmdir(PinRoot); err != nil {
			errs = append(errs, &os.PathError{Op: "rmdir", Path: PinRoot, Err: err})
		}
	}
	return gone, joinErrs(errs...)
}

// Status describes every pin under PinRoot (none: an empty list). A
// PinRoot that is not root's own is an error; an entry that is not a pin
// is listed with its problem.
func Status() ([]PinInfo, error) {
	rootFD, ok, err := openRoot()
	if !ok {
		return nil, err
	}
	defer unix.Close(rootFD)
	names, err := dirNames(rootFD)
	if err != nil {
		return nil, err
	}
	slices.Sort(names)
	var out []PinInfo
	for _, n := range names {
		if !pinName(n) {
			out = append(out, PinInfo{Dir: filepath.Join(PinRoot, n), Hash: n, NotPin: true, Problem: "not a pin of pinspect"})
			continue
		}
		out = append(out, statusOf(filepath.Join(PinRoot, n)))
	}
	return out, nil
}

// statusOf reads what the pin at dir holds.
func statusOf(dir string) PinInfo {
	p := PinInfo{Dir: dir, Hash: filepath.Base(dir)}
	p.Current = p.Hash == ObjectHash()
	if strings.HasPrefix(p.Hash, "new-") {
		p.Current = false
		p.Problem = "a pin being made, or left by a `bpf pin` that was killed"
		return p
	}
	fd, err := openPrivateAt(unix.AT_FDCWD, dir, dir)
	if err != nil {
		p.Problem = err.Error()
		return p
	}
	defer unix.Close(fd)
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		p.Problem = err.Error()
		return p
	}
	p.Made = time.Unix(st.Ctim.Unix())
	// Every file a one-shot opens: a pin missing one is not used (a
	// one-shot passes it over), so it is not usable here either.
	missing, errs := pinnedPrograms(fd)
	add := func(m *ebpf.Map) int {
		info, err := m.Info()
		if err != nil {
			errs = append(errs, err)
			return 0
		}
		if n, ok := info.Memlock(); ok {
			p.MemoryBytes += n
		}
		return int(info.MaxEntries)
	}
	for _, name := range []string{pinTasks, pinGroups, pinWant, pinData, pinCmdSlots, pinCmdPages, pinLayout} {
		m, err := ebpf.LoadPinnedMap(fdPath(fd, name), &ebpf.LoadPinOptions{ReadOnly: true})
		if errors.Is(err, os.ErrNotExist) {
			missing = append(missing, name)
			continue
		}
		if err != nil {
			errs = append(errs, err)
			continue
		}
		n := add(m)
		switch name {
		case pinTasks, pinGroups:
			if inner, err := innerMap(m); err == nil {
				k := add(inner)
				_ = inner.Close()
				if name == pinTasks {
					p.Tasks = k
				} else {
					p.Processes = k
				}
			} else {
				errs = append(errs, err)
			}
		case pinCmdSlots, pinCmdPages:
			if err := cmdMapShape(name, m); err != nil {
				errs = append(errs, err)
			} else if name == pinCmdSlots {
				p.CmdlineSlots = n
			}
		}
		_ = m.Close()
	}
	if missing = missingPinFiles(missing, p.Current); len(missing) > 0 {
		errs = append([]error{fmt.Errorf("the pin is damaged: %s missing (pin again)", strings.Join(missing, ", "))}, errs...)
	}
	if len(errs) > 0 {
		// The first says it (a pin missing its files repeats it).
		p.Problem = errs[0].Error()
		if len(errs) > 1 {
			p.Problem += fmt.Sprintf(" (and %d more)", len(errs)-1)
		}
		return p
	}
	if p.Current {
		p.Busy = unix.Flock(fd, unix.LOCK_EX|unix.LOCK_NB) != nil
		if nt, ok := tasksNow(); ok && oneShotRoom(nt) > p.Tasks {
			p.TooSmall = fmt.Sprintf("%d tasks run now, and a one-shot needs a pin of %d (n + n/16 + 64): it loads its own (pin again to resize)", nt, oneShotRoom(nt))
		}
	}
	return p
}

// pinnedPrograms opens the programs of the pin directory fd: those
// missing, and what else is wrong with them.
func pinnedPrograms(fd int) (missing []string, errs []error) {
	for _, name := range []string{pinWalk, pinCmdlines} {
		prog, err := ebpf.LoadPinnedProgram(fdPath(fd, name), nil)
		if errors.Is(err, os.ErrNotExist) {
			missing = append(missing, name)
			continue
		}
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", name, err))
			continue
		}
		if name == pinWalk && prog.Type() != ebpf.Syscall {
			errs = append(errs, errors.New("the pinned walk is not a syscall program"))
		}
		_ = prog.Close()
	}
	return missing, errs
}

// missingPinFiles is the files of a pin missing from it (missing: those
// not found) that a one-shot needs: every file, but for the cmdline
// program's three when none of them is there and the pin is another
// binary's or this machine's pins have no cmdline program (Pin makes
// none where the page size is not the program's).
func missingPinFiles(missing []string, current bool) []string {
	cmd := func(n string) bool { return n == pinCmdlines || n == pinCmdSlots || n == pinCmdPages }
	if k := len(slices.DeleteFunc(slices.Clone(missing), cmd)); len(missing)-k == 3 && (!current || cmdlinesPageSize != cmdTitle) {
		return slices.DeleteFunc(missing, cmd)
	}
	return missing
}

// cmdMapShape checks that the pinned map m, named name (cmd_slots or
// cmd_pages), holds the cmdline program's values: a pin whose two were
// swapped or replaced is damaged, not too small.
func cmdMapShape(name string, m *ebpf.Map) error {
	want := uint32(cmdSlotSize)
	if name == pinCmdPages {
		want = cmdPageSize
	}
	if m.ValueSize() != want {
		return fmt.Errorf("the pin is damaged: its %s holds values of %d bytes, the cmdline program's are %d (pin again)", name, m.ValueSize(), want)
	}
	return nil
}

// innerMap opens the array that outer (an array of one array) holds.
func innerMap(outer *ebpf.Map) (*ebpf.Map, error) {
	var id uint32
	if err := outer.Lookup(uint32(0), &id); err != nil {
		return nil, fmt.Errorf("walk array: %w", err)
	}
	return ebpf.NewMapFromID(ebpf.MapID(id))
}

// flockWait takes fd's exclusive flock, waiting (a pin takes a fraction
// of a second): pin and unpin hold the pin root's.
func flockWait(fd int) error {
	for {
		err := unix.Flock(fd, unix.LOCK_EX)
		if err != unix.EINTR {
			return err
		}
	}
}

// joinErrs is errs in one line ("; " between them), nil when all are
// nil: errors.Join's newlines come out as "?" on a terminal.
func joinErrs(errs ...error) error {
	var msgs []string
	for _, e := range errs {
		if e != nil {
			msgs = append(msgs, e.Error())
		}
	}
	if len(msgs) == 0 {
		return nil
	}
	return errors.New(strings.Join(msgs, "; "))
}

// fdPath is name in the directory open as dirFD, as a path the kernel
// resolves through that descriptor: the objects opened are those of the
// directory locked, even when the pin is replaced meanwhile.
func fdPath(dirFD int, name string) string {
	return "/proc/self/fd/" + strconv.Itoa(dirFD) + "/" + name
}

// pinHold is what a user of a pin keeps until Close: the locked
// directory and the data section's mapping.
type pinHold struct {
	dirFD int
	data  []byte
	// cmdlines is the pinned cmdline program in use: a run of it
	// abandoned at its deadline may still write the pinned slots and
	// pages, so the lock is kept while it is in the kernel.
	cmdlines *Cmdlines
}

// release unmaps the data section and drops the lock.
func (h *pinHold) release() error {
	if h == nil {
		return nil
	}
	if h.cmdlines != nil && h.cmdlines.inKernel() {
		// Kept, with the lock, for the life of the process: the next
		// user must not run the program over slots and pages this run
		// may still write.
		return nil
	}
	var errs []error
	if h.data != nil {
		errs = append(errs, unix.Munmap(h.data))
		h.data = nil
	}
	if h.dirFD >= 0 {
		errs = append(errs, unix.Close(h.dirFD))
		h.dirFD = -1
	}
	return errors.Join(errs...)
}

// word is a 32-bit global of a pinned walk's data section.
type word []byte

// Set sets the word to in (a uint32).
func (w word) Set(in any) error {
	v, ok := in.(uint32)
	if !ok {
		return fmt.Errorf("pinned global: set %T, want uint32", in)
	}
	binary.NativeEndian.PutUint32(w, v)
	return nil
}

// Get reads the word into out (a *uint32).
func (w word) Get(out any) error {
	p, ok := out.(*uint32)
	if !ok {
		return fmt.Errorf("pinned global: get into %T, want *uint32", out)
	}
	*p = binary.NativeEndian.Uint32(w)
	return nil
}

// openPinned makes it use the pin of this object, when there is one that
// fits the machine and no one else holds it; otherwise it says why not
// and leaves it as it was.
func (it *Iterator) openPinned(opts Options) error {
	dir := filepath.Join(PinRoot, ObjectHash())
	fd, err := lockDir(dir)
	if err != nil {
		return err
	}
	h := &pinHold{dirFD: fd}
	w, err := openPinnedWalk(dir, h)
	if err != nil {
		_ = h.release()
		return err
	}
	var c *Cmdlines
	if opts.Cmdlines && w.countedGroups >= opts.CmdlinesFrom {
		if cmdlinesPageSize != cmdTitle {
			it.CmdlinesUnavailable = fmt.Errorf("the cmdline program reads a rewritten title's first %d bytes, the kernel its first page (%d bytes here)", cmdTitle, cmdlinesPageSize)
		} else if c, err = openPinnedCmdlines(h.dirFD, w.countedGroups, it.bootOffset); err != nil {
			it.CmdlinesUnavailable = nil
			_ = w.close()
			_ = h.release()
			return err
		}
	}
	w.raw = opts.RawRuns
	w.pinned = true
	h.cmdlines = c
	it.walk, it.cmdlines, it.pin = w, c, h
	return nil
}

// pinFiles opens a pin's maps, closing them all at the end.
type pinFiles struct {
	dirFD  int
	opened []*ebpf.Map
}

func (f *pinFiles) load(name string) (*ebpf.Map, error) {
	m, err := ebpf.LoadPinnedMap(fdPath(f.dirFD, name), nil)
	if err == nil {
		f.opened = append(f.opened, m)
	}
	return m, err
}

func (f *pinFiles) close() {
	for _, m := range f.opened {
		_ = m.Close()
	}
}

// openPinnedWalk opens the walk pinned in dir (locked: h), with its
// globals, arrays and walk_want as the last user left them, and runs
// it once to count the machine's tasks, which its arrays must hold.
func openPinnedWalk(dir string, h *pinHold) (_ *walker, err error) {
	// The pin root and the directory: root's own, or not used (a root
	// another user made could have pins moved around in it).
	var st unix.Stat_t
	if err := unix.Lstat(PinRoot, &st); err != nil {
		return nil, err
	}
	if err := checkPrivate(PinRoot, &st); err != nil {
		return nil, err
	}
	if err := unix.Fstat(h.dirFD, &st); err != nil {
		return nil, err
	}
	if err := checkPrivate(dir, &st); err != nil {
		return nil, err
	}
	f := &pinFiles{dirFD: h.dirFD}
	defer f.close()
	var layout [layoutWords]uint32
	lm, err := f.load(pinLayout)
	if err == nil {
		err = lm.Lookup(uint32(0), &layout)
	}
	if err != nil {
		return nil, err
	}
	obj := objectHashWords()
	if layout[0] != pinLayoutVer || layout[4+len(pinGlobals)] != obj[0] || layout[5+len(pinGlobals)] != obj[1] {
		return nil, errors.New("the pin was made by another pinspect (layout or object)")
	}
	prog, err := ebpf.LoadPinnedProgram(fdPath(h.dirFD, pinWalk), nil)
	if err != nil {
		return nil, err
	}
	w := &walker{}
	w.objs.Prog = prog
	if prog.Type() != ebpf.Syscall {
		_ = prog.Close()
		return nil, errors.New("the pinned walk is not a syscall program")
	}
	defer func() {
		if err != nil {
			_ = w.close()
		}
	}()
	if err := w.pinnedGlobals(f, h, layout); err != nil {
		return nil, err
	}
	if err := w.pinnedArrays(f); err != nil {
		return nil, err
	}
	// The counting run, as a load's: the arrays must hold the machine.
	if err := w.vars.Count.Set(uint32(1)); err != nil {
		return nil, err
	}
	w.countedTasks, w.countedGroups, _, err = w.once()
	if err2 := w.vars.Count.Set(uint32(0)); err == nil {
		err = err2
	}
	if err != nil {
		return nil, err
	}
	nt, ng := w.countedTasks, w.countedGroups
	if oneShotRoom(nt) > w.tasks.cap || oneShotRoom(ng) > w.groups.cap {
		return nil, fmt.Errorf("%w: it holds %d tasks and %d processes, %d and %d run now", errPinTooSmall, w.tasks.cap, w.groups.cap, nt, ng)
	}
	w.processes.Store(int64(ng))
	return w, nil
}

// pinnedGlobals maps the pinned data section into h and points w.vars
// at its words, the flags the last user left cleared.
func (w *walker) pinnedGlobals(f *pinFiles, h *pinHold, layout [layoutWords]uint32) error {
	data, err := f.load(pinData)
	if err != nil {
		return err
	}
	size := int(layout[1])
	if data.ValueSize() != uint32(size) || size == 0 {
		return errors.New("the pinned data section is not the object's")
	}
	h.data, err = unix.Mmap(data.FD(), 0, pageRound(size), unix.PROT_READ|unix.PROT_WRITE, unix.MAP_SHARED)
	if err != nil {
		return fmt.Errorf("map the pinned data section: %w", err)
	}
	var g [len(pinGlobals)]global
	for i := range pinGlobals {
		off := int(layout[2+i])
		if off+4 > size {
			return errors.New("a pinned global is past the data section")
		}
		g[i] = word(h.data[off : off+4 : off+4])
	}
	w.vars = walkGlobals{Sum: g[0], NoIO: g[1], NoSig: g[2], CgID: g[3], Count: g[4], NTasks: g[5], NGroups: g[6], Full: g[7]}
	for _, v := range []global{w.vars.Sum, w.vars.NoIO, w.vars.NoSig, w.vars.CgID, w.vars.Count} {
		_ = v.Set(uint32(0))
	}
	return nil
}

// pinnedArrays adopts the pinned walk's arrays and reads which
// processes walk_want holds (the next pass changes it from there).
func (w *walker) pinnedArrays(f *pinFiles) error {
	for _, name := range []string{pinTasks, pinGroups} {
		outer, err := f.load(name)
		if err != nil {
			return err
		}
		inner, err := innerMap(outer)
		if err != nil {
			return err
		}
		f.opened = append(f.opened, inner)
		s, id := &w.tasks, &w.tasksID
		if name == pinGroups {
			s, id = &w.groups, &w.groupsID
		}
		if *id, err = mapID(outer); err != nil {
			return err
		}
		if err := s.adopt(inner); err != nil {
			return err
		}
		want := int(unsafe.Sizeof(taskIterTaskRec{}))
		if name == pinGroups {
			want = int(unsafe.Sizeof(taskIterGroupRec{}))
		}
		if s.recSize != want {
			return fmt.Errorf("the pinned %s hold records of %d bytes, this object's are %d", name, s.recSize, want)
		}
	}
	want, err := f.load(pinWant)
	if err != nil {
		return err
	}
	if w.wantID, err = mapID(want); err != nil {
		return err
	}
	var pid uint32
	keys := want.Iterate()
	for keys.Next(&pid, new(uint8)) {
		w.want = append(w.want, int(pid))
	}
	if err := keys.Err(); err != nil {
		return err
	}
	slices.Sort(w.want)
	return nil
}

// adopt makes s the pinned inner array m (its id, capacity, record size
// and a spec to grow it by).
func (s *slots) adopt(m *ebpf.Map) error {
	info, err := m.Info()
	if err != nil {
		return err
	}
	id, ok := info.ID()
	if !ok {
		return errors.New("the kernel gives no map ids")
	}
	s.spec = &ebpf.MapSpec{Type: info.Type, KeySize: info.KeySize, ValueSize: info.ValueSize,
		MaxEntries: info.MaxEntries, Flags: info.Flags}
	s.id, s.cap = id, int(info.MaxEntries)
	s.recSize = int(info.ValueSize)
	pg := os.Getpagesize()
	unit := pg / gcd(pg, s.recSize)
	s.perWin = unit * max(1, winBytes/(unit*s.recSize))
	return nil
}

// openPinnedCmdlines opens the pinned cmdline program when its slots
// hold processes with room.
func openPinnedCmdlines(dirFD, processes int, bootOffset uint64) (*Cmdlines, error) {
	prog, err := ebpf.LoadPinnedProgram(fdPath(dirFD, pinCmdlines), nil)
	if err != nil {
		return nil, err
	}
	c := &Cmdlines{prog: prog, bootOffset: bootOffset}
	fail := func(err error) (*Cmdlines, error) {
		_ = c.Close()
		return nil, err
	}
	if c.slotsMap, err = ebpf.LoadPinnedMap(fdPath(dirFD, pinCmdSlots), nil); err != nil {
		return fail(err)
	}
	if c.pagesMap, err = ebpf.LoadPinnedMap(fdPath(dirFD, pinCmdPages), nil); err != nil {
		return fail(err)
	}
	if err := joinErrs(cmdMapShape(pinCmdSlots, c.slotsMap), cmdMapShape(pinCmdPages, c.pagesMap)); err != nil {
		return fail(err)
	}
	c.nslots, c.npages = int(c.slotsMap.MaxEntries()), int(c.pagesMap.MaxEntries())
	if processes+processes/16+64 > c.nslots {
		return fail(fmt.Errorf("%w: its cmdline program holds %d processes, %d run now", errPinTooSmall, c.nslots, processes))
	}
	mem, err := unix.Mmap(c.slotsMap.FD(), 0, pageRound(c.nslots*cmdSlotSize), unix.PROT_READ|unix.PROT_WRITE, unix.MAP_SHARED)
	if err != nil {
		return fail(fmt.Errorf("cmdlines: map the slots: %w", err))
	}
	c.slots = mem[:c.nslots*cmdSlotSize]
	return c, nil
}

// Pinned reports whether the iterator is a pin's (Options.UsePin found
// one that fits) rather than loaded by this process.
func (it *Iterator) Pinned() bool { return it.pin != nil }

// inKernel reports whether a run is in the kernel (one abandoned at its
// deadline that has not returned).
func (c *Cmdlines) inKernel() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.running
}
