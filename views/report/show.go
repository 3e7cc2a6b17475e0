package report

import (
	"bufio"
	"fmt"
	"io"
	"path"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/pinspect/pinspect/collector"
	"github.com/pinspect/pinspect/collector/lifecycle"
	"github.com/pinspect/pinspect/views/sanitize"
)

// ShowSchema is the schema version of the `pinspect show` document.
const ShowSchema = "pinspect.show/v1"

// ShowDoc is one process in depth (`pinspect show PID --json`): identity
// and status, threads with their stacks, and the classified address space
// (docs/ADDRESS_SPACE.md). Parts that could not be read are absent and
// named in Unavailable with the reason, never zero.
type ShowDoc struct {
	Schema   string     `json:"schema"`
	TakenAt  string     `json:"taken_at"`
	ProcRoot string     `json:"proc_root"`
	Process  ProcessDoc `json:"process"`
	// Threads are the process's threads, each with the mapping holding
	// its stack when known.
	Threads []ShowThreadDoc `json:"threads,omitempty"`
	// Layout is stat's address-space layout; absent when the kernel
	// masked it for this reader.
	Layout *LayoutDoc `json:"layout,omitempty"`
	// Memory totals; MemorySource is "smaps_rollup" or "smaps".
	Memory       *MemoryDoc `json:"memory,omitempty"`
	MemorySource string     `json:"memory_source,omitempty"`
	// RSSSplit is the resident set by kind, from status; absent when
	// unavailable (Unavailable["rss_split"]), never zeros.
	RSSSplit *RSSSplitDoc `json:"rss_split,omitempty"`
	// PerMappingMemory is true when every mapping carries rss/pss bytes.
	PerMappingMemory bool         `json:"per_mapping_memory"`
	Segments         []SegmentDoc `json:"segments,omitempty"`
	Maps             []MappingDoc `json:"maps,omitempty"`
	// Unavailable names address-space parts that could not be read
	// ("maps", "memory", "layout", "exe", "threads") with the reason.
	Unavailable map[string]string `json:"unavailable,omitempty"`

	// mapSrc are the mappings of a streamed document (NewShowDocStream),
	// converted one at a time as they are written; Maps is nil then.
	mapSrc []collector.Mapping
	// liveTID is the live thread whose files gave the address space of
	// a process whose main thread exited (AddressSpace.LiveTID), else 0.
	liveTID int
	// mapsFile is the file the mappings were read from or tried
	// (AddressSpace.MapsFile), which the text names with their reason.
	mapsFile string
}

// ShowThreadDoc is a thread with its stack.
type ShowThreadDoc struct {
	ThreadDoc
	Stack *ThreadStackDoc `json:"stack,omitempty"`
	// StackUnknown says why Stack is absent ("running", "permission
	// denied", ...).
	StackUnknown string `json:"stack_unknown,omitempty"`
	// mapsUnread: StackUnknown is the mappings' reason (Unavailable
	// "maps"), which the text names with the file.
	mapsUnread bool
}

// ThreadStackDoc locates a thread's stack: its stack pointer and the
// mapping holding it. Addresses are hex strings ("0x7ffd..."): they exceed
// the integers JSON readers keep exactly.
type ThreadStackDoc struct {
	SP           string `json:"sp"`
	MappingStart string `json:"mapping_start,omitempty"`
	MappingEnd   string `json:"mapping_end,omitempty"`
	Class        string `json:"class,omitempty"`
	SizeBytes    uint64 `json:"size_bytes,omitempty"`
	// SharedByThreads is set when the mapping holds the stack pointers of
	// several threads (a Go arena): it is then not a per-thread stack.
	SharedByThreads int `json:"shared_by_threads,omitempty"`
}

// LayoutDoc is stat's layout (fields 26-28, 45-47) as hex strings.
type LayoutDoc struct {
	StartCode  string `json:"start_code"`
	EndCode    string `json:"end_code"`
	StartData  string `json:"start_data,omitempty"`
	EndData    string `json:"end_data,omitempty"`
	StartBrk   string `json:"start_brk,omitempty"`
	StartStack string `json:"start_stack"`
}

// MemoryDoc are the memory totals in bytes (USS = private clean + private
// dirty).
type MemoryDoc struct {
	RSSBytes    uint64 `json:"rss_bytes"`
	PSSBytes    uint64 `json:"pss_bytes"`
	USSBytes    uint64 `json:"uss_bytes"`
	SharedBytes uint64 `json:"shared_bytes"`
	SwapBytes   uint64 `json:"swap_bytes"`
}

// RSSSplitDoc is the resident set by what backs it, in bytes: status's
// RssAnon (anonymous: heap, stacks, private copies), RssFile (file pages:
// code, libraries, mapped files) and RssShmem (shared memory: tmpfs,
// /dev/shm, SysV, shared anonymous, memfd). They add up to status's
// VmRSS, read at one instant (memory.rss_bytes, from smaps_rollup, is
// read apart).
type RSSSplitDoc struct {
	AnonBytes  uint64 `json:"anon_bytes"`
	FileBytes  uint64 `json:"file_bytes"`
	ShmemBytes uint64 `json:"shmem_bytes"`
}

// SegmentDoc is the total of one segment class.
type SegmentDoc struct {
	Class     string  `json:"class"`
	Mappings  int     `json:"mappings"`
	SizeBytes uint64  `json:"size_bytes"`
	RSSBytes  *uint64 `json:"rss_bytes,omitempty"`
	PSSBytes  *uint64 `json:"pss_bytes,omitempty"`
}

// MappingDoc is one mapping.
type MappingDoc struct {
	Start     string `json:"start"`
	End       string `json:"end"`
	SizeBytes uint64 `json:"size_bytes"`
	Perms     string `json:"perms"`
	Offset    uint64 `json:"offset"`
	Dev       string `json:"dev"`
	Inode     uint64 `json:"inode"`
	Path      string `json:"path,omitempty"`
	// PathRawBase64 keeps a path that is not valid UTF-8 losslessly.
	PathRawBase64 string  `json:"path_raw_base64,omitempty"`
	Class         string  `json:"class"`
	TID           int     `json:"tid,omitempty"`
	RSSBytes      *uint64 `json:"rss_bytes,omitempty"`
	PSSBytes      *uint64 `json:"pss_bytes,omitempty"`

	start, end uint64
	rawPath    string
}

// NewShowDoc builds the document from a process read with its threads and
// its address space (which may be nil when it could not be read at all,
// with the reason in p.Unavailable).
func NewShowDoc(p *collector.Process, as *collector.AddressSpace, takenAt time.Time, root string) *ShowDoc {
	return newShowDoc(p, as, takenAt, root, true)
}

// newShowDoc builds the document; convertMaps says whether the mappings
// are converted into Maps now (the text rendering needs them) or as they
// are written (NewShowDocStream).
func newShowDoc(p *collector.Process, as *collector.AddressSpace, takenAt time.Time, root string, convertMaps bool) *ShowDoc {
	d := &ShowDoc{
		Schema:   ShowSchema,
		TakenAt:  takenAt.UTC().Format(time.RFC3339Nano),
		ProcRoot: root,
		Process:  NewProcessDoc(p, false),
	}
	var stacks map[int]*collector.ThreadStack
	var holders map[int]int // mapping index -> threads whose sp it holds
	if as != nil {
		d.Unavailable = as.Unavailable
		d.liveTID = as.LiveTID
		d.mapsFile = as.MapsFile
		if as.LayoutTrusted {
			l := as.Layout
			d.Layout = &LayoutDoc{StartCode: hexAddr(l.StartCode), EndCode: hexAddr(l.EndCode), StartStack: hexAddr(l.StartStack)}
			if l.HasExtended {
				d.Layout.StartData, d.Layout.EndData, d.Layout.StartBrk = hexAddr(l.StartData), hexAddr(l.EndData), hexAddr(l.StartBrk)
			}
		}
		if m := as.Memory; m != nil {
			d.Memory = &MemoryDoc{RSSBytes: m.RSSBytes, PSSBytes: m.PSSBytes, USSBytes: m.USSBytes, SharedBytes: m.SharedBytes, SwapBytes: m.SwapBytes}
			d.MemorySource = as.MemorySource
		}
		if r := as.RSS; r != nil {
			d.RSSSplit = &RSSSplitDoc{AnonBytes: r.AnonBytes, FileBytes: r.FileBytes, ShmemBytes: r.ShmemBytes}
		}
		d.PerMappingMemory = as.PerMapping
		for _, s := range as.Segments {
			d.Segments = append(d.Segments, SegmentDoc{Class: string(s.Class), Mappings: s.Mappings, SizeBytes: s.SizeBytes, RSSBytes: s.RSSBytes, PSSBytes: s.PSSBytes})
		}
		switch {
		case as.Maps == nil:
		case convertMaps:
			d.Maps = make([]MappingDoc, len(as.Maps))
			for i := range as.Maps {
				d.Maps[i] = newMappingDoc(&as.Maps[i])
			}
		default:
			d.mapSrc = as.Maps
		}
		stacks = make(map[int]*collector.ThreadStack, len(as.Stacks))
		holders = make(map[int]int)
		for i := range as.Stacks {
			stacks[as.Stacks[i].TID] = &as.Stacks[i]
			if as.Stacks[i].Known && as.Stacks[i].Mapping >= 0 {
				holders[as.Stacks[i].Mapping]++
			}
		}
	}
	for i := range p.Threads {
		t := ShowThreadDoc{ThreadDoc: NewThreadDoc(&p.Threads[i])}
		s := stacks[t.TID]
		switch {
		case as == nil:
		case as.Maps == nil:
			// A zombie or kernel thread has no stack to show; anything
			// else (denied) is unknown, with the reason.
			if r := as.Unavailable["maps"]; r != collector.ReasonZombie && r != collector.ReasonKernel && r != "" {
				t.StackUnknown, t.mapsUnread = r, true
			}
		case s == nil:
			t.StackUnknown = "not read"
		case !s.Known:
			t.StackUnknown = s.Reason
		default:
			t.Stack = &ThreadStackDoc{SP: hexAddr(s.SP)}
			if s.Mapping >= 0 {
				m := &as.Maps[s.Mapping]
				t.Stack.MappingStart, t.Stack.MappingEnd = hexAddr(m.Start), hexAddr(m.End)
				t.Stack.Class, t.Stack.SizeBytes = string(m.Class), m.SizeBytes()
				if n := holders[s.Mapping]; n > 1 {
					t.Stack.SharedByThreads = n
				}
			} else {
				t.StackUnknown = s.Reason
			}
		}
		d.Threads = append(d.Threads, t)
	}
	return d
}

// newMappingDoc converts one mapping.
func newMappingDoc(m *collector.Mapping) MappingDoc {
	text, raw := textAndRaw(m.Path)
	return MappingDoc{
		Start: hexAddr(m.Start), End: hexAddr(m.End), SizeBytes: m.SizeBytes(),
		Perms: m.Perms, Offset: m.Offset, Dev: m.Dev, Inode: m.Inode,
		Path: text, PathRawBase64: raw, Class: string(m.Class), TID: m.TID,
		RSSBytes: m.RSSBytes, PSSBytes: m.PSSBytes,
		start: m.Start, end: m.End, rawPath: m.Path,
	}
}

func hexAddr(v uint64) string { return "0x" + strconv.FormatUint(v, 16) }

// ShowTextOptions tunes the text rendering.
type ShowTextOptions struct {
	// Maps adds the full mapping table after the diagram.
	Maps bool
}

// WriteShowText renders the document as text: identity and status, the
// thread table, segment totals and the address space drawn top to bottom
// (high addresses first, like a textbook).
func WriteShowText(w io.Writer, d *ShowDoc, opt ShowTextOptions) error {
	bw := bufio.NewWriterSize(w, 32<<10)
	writeShowIdentity(bw, &d.Process, d.ProcRoot)
	writeShowMemory(bw, d)
	writeShowThreads(bw, d)
	writeShowSegments(bw, d)
	if d.Maps != nil {
		writeDiagram(bw, d)
	}
	if opt.Maps && d.Maps != nil {
		writeMapTable(bw, d)
	}
	if len(d.Unavailable) > 0 {
		bw.WriteString("\nUnavailable\n")
		for _, k := range sortedKeys(d.Unavailable) {
			fmt.Fprintf(bw, "  %-8s %s\n", k, sanitize.Terminal(d.fileReason(k, d.Unavailable[k])))
		}
	}
	return bw.Flush()
}

// writeShowIdentity writes the process's name, program, command line,
// state and CPU. A name not read says why, with the stat file's path
// under root (tester12 B5: "Process 1487  " with no name and no word of
// the garbled stat).
func writeShowIdentity(bw *bufio.Writer, p *ProcessDoc, root string) {
	comm := ""
	switch {
	case p.Comm != nil:
		comm = sanitize.Terminal(*p.Comm)
	case p.Unavailable["stat"] != "":
		comm = "(name not read: " + sanitize.Terminal(statPath(root, p.PID)+": "+p.Unavailable["stat"]) + ")"
	default:
		comm = "(name not read)"
	}
	fmt.Fprintf(bw, "Process %d  %s\n", p.PID, comm)
	if p.Exe != "" {
		del := ""
		if p.ExeDeleted {
			// Not the kernel's " (deleted)": a file's own name can end
			// in that.
			del = "  [deleted]"
		}
		fmt.Fprintf(bw, "  exe       %s%s\n", sanitize.Terminal(p.Exe), del)
	}
	if len(p.Cmdline) > 0 {
		fmt.Fprintf(bw, "  cmdline   %s\n", clipText(sanitize.Args(p.Cmdline), 200))
	}
	if p.State != "" {
		writeShowState(bw, p)
	}
	if p.UserSeconds != nil {
		fmt.Fprintf(bw, "  cpu       user %.2f s, system %.2f s", *p.UserSeconds, *p.SystemSeconds)
		if p.VolCtx != nil {
			fmt.Fprintf(bw, "   context switches: %d voluntary, %d involuntary (%s)", *p.VolCtx, *p.InvolCtx, p.CtxSource)
		}
		bw.WriteString("\n")
	}
	switch {
	case p.ExitStatus != nil:
		fmt.Fprintf(bw, "  exited    %s (not yet reaped by its parent)\n", p.ExitStatus)
	case p.Unavailable["exit_code"] != "":
		fmt.Fprintf(bw, "  exited    status %s for this user (not yet reaped by its parent)\n", sanitize.Terminal(p.Unavailable["exit_code"]))
	}
}

// writeShowState writes the state line: state, parent, user, threads,
// start.
func writeShowState(bw *bufio.Writer, p *ProcessDoc) {
	name := p.StateName
	if p.LeaderExited && p.NumThreads != nil {
		// Alive: the kernel shows the exited leader's Z.
		name = fmt.Sprintf("leader exited, %s running; the process is alive", lifecycle.CountOf(int(*p.NumThreads-1), "thread", "threads"))
	}
	fmt.Fprintf(bw, "  state     %s (%s)", p.State, name)
	if p.PPID != nil {
		fmt.Fprintf(bw, "   ppid %d", *p.PPID)
	}
	if p.User != "" {
		fmt.Fprintf(bw, "   user %s", sanitize.Terminal(p.User))
	}
	if p.NumThreads != nil {
		fmt.Fprintf(bw, "   threads %d", *p.NumThreads)
	}
	if p.StartedAt != "" {
		fmt.Fprintf(bw, "   started %s", p.StartedAt)
	}
	bw.WriteString("\n")
}

// writeShowMemory writes the memory totals and the layout.
func writeShowMemory(bw *bufio.Writer, d *ShowDoc) {
	if m := d.Memory; m != nil {
		fmt.Fprintf(bw, "  memory    rss %s  pss %s  uss %s  shared %s  swap %s  (%s)\n",
			iecBytes(m.RSSBytes), iecBytes(m.PSSBytes), iecBytes(m.USSBytes), iecBytes(m.SharedBytes), iecBytes(m.SwapBytes), d.MemorySource)
	} else if r, ok := d.Unavailable["memory"]; ok {
		fmt.Fprintf(bw, "  memory    unavailable: %s\n", sanitize.Terminal(d.fileReason("memory", r)))
	}
	if r := d.RSSSplit; r != nil {
		fmt.Fprintf(bw, "  resident  anon %s  file %s  shmem %s  (status RssAnon, RssFile, RssShmem)\n",
			iecBytes(r.AnonBytes), iecBytes(r.FileBytes), iecBytes(r.ShmemBytes))
	}
	if l := d.Layout; l != nil {
		fmt.Fprintf(bw, "  layout    code %s-%s", l.StartCode, l.EndCode)
		if l.StartData != "" {
			fmt.Fprintf(bw, "  data %s-%s  brk start %s", l.StartData, l.EndData, l.StartBrk)
		}
		fmt.Fprintf(bw, "  stack start %s\n", l.StartStack)
	} else if r, ok := d.Unavailable["layout"]; ok {
		fmt.Fprintf(bw, "  layout    unavailable: %s\n", sanitize.Terminal(d.fileReason("layout", r)))
	}
}

// writeShowThreads writes the thread table of d.
func writeShowThreads(bw *bufio.Writer, d *ShowDoc) {
	threads := d.Threads
	if len(threads) == 0 {
		return
	}
	fmt.Fprintf(bw, "\nThreads (%d)\n", len(threads))
	fmt.Fprintf(bw, "  %-8s %-16s %-2s %8s %9s %9s  %s\n", "TID", "NAME", "S", "CPU s", "VCSW", "NVCSW", "STACK")
	for _, t := range threads {
		vol, inv := "-", "-"
		if t.VolCtx != nil {
			vol, inv = strconv.FormatUint(*t.VolCtx, 10), strconv.FormatUint(*t.InvolCtx, 10)
		}
		fmt.Fprintf(bw, "  %-8d %-16s %-2s %8.2f %9s %9s  %s\n", t.TID, clipText(sanitize.Terminal(t.Comm), 16), t.State,
			t.UserSeconds+t.SystemSeconds, vol, inv, d.threadStackText(&t))
	}
}

// threadStackText says where a thread's stack is, or why that is unknown
// (the mappings' reason with their file).
func (d *ShowDoc) threadStackText(t *ShowThreadDoc) string {
	switch {
	case t.Stack != nil && t.Stack.MappingStart != "":
		shared := ""
		if t.Stack.SharedByThreads > 1 {
			shared = fmt.Sprintf(", shared by %d threads", t.Stack.SharedByThreads)
		}
		return fmt.Sprintf("%s %s-%s (%s%s)", t.Stack.Class, trimHex(t.Stack.MappingStart), trimHex(t.Stack.MappingEnd), iecBytes(t.Stack.SizeBytes), shared)
	case t.StackUnknown != "":
		if t.mapsUnread {
			return "unknown: " + sanitize.Terminal(d.fileReason("maps", t.StackUnknown))
		}
		return "unknown: " + sanitize.Terminal(t.StackUnknown)
	}
	return "-"
}

// writeShowSegments writes the totals per segment class.
func writeShowSegments(bw *bufio.Writer, d *ShowDoc) {
	if len(d.Segments) == 0 {
		return
	}
	fmt.Fprintf(bw, "\nSegments\n  %-13s %8s %11s", "CLASS", "MAPPINGS", "SIZE")
	if d.PerMappingMemory {
		fmt.Fprintf(bw, " %11s %11s", "RSS", "PSS")
	}
	bw.WriteString("\n")
	heap := false
	for _, s := range d.Segments {
		fmt.Fprintf(bw, "  %-13s %8d %11s", s.Class, s.Mappings, iecBytes(s.SizeBytes))
		if s.RSSBytes != nil && s.PSSBytes != nil {
			fmt.Fprintf(bw, " %11s %11s", iecBytes(*s.RSSBytes), iecBytes(*s.PSSBytes))
		}
		bw.WriteString("\n")
		heap = heap || s.Class == string(collector.SegHeap)
	}
	if heap {
		bw.WriteString("  " + HeapNote + "\n")
	}
}

// HeapNote says what the heap row holds, wherever heap is shown: the
// brk area only. glibc's malloc gives each block above its mmap
// threshold (128 KiB, rising with use to 32 MiB) an anonymous mapping of
// its own, and other threads allocate from arenas in anonymous memory.
const HeapNote = "(heap is the brk area only: malloc serves big blocks (128 KiB and up) and other threads' arenas from anonymous mappings, counted under anon)"

func trimHex(s string) string { return strings.TrimPrefix(s, "0x") }

func sortedKeys(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	for i := 1; i < len(keys); i++ {
		for j := i; j > 0 && keys[j] < keys[j-1]; j-- {
			keys[j], keys[j-1] = keys[j-1], keys[j]
		}
	}
	return keys
}

// region is one row of the diagram: adjacent mappings of one class and
// one file (or a collapsed run of many small ones).
type region struct {
	start, end uint64
	class      string
	path       string
	tid        int
	mappings   int
	size       uint64
	rss        *uint64
	mixed      map[string]int // class counts of a collapsed run
}

// collapseMin is the shortest run of anon/guard/file/shm rows that a
// long diagram folds into one row, so 60,000 mappings draw in a screenful.
const collapseMin = 8

// maxDiagramRows is the row count above which the diagram folds runs.
const maxDiagramRows = 48

func buildRegions(d *ShowDoc) []region {
	var rs []region
	for i := range d.Maps {
		m := &d.Maps[i]
		if n := len(rs); n > 0 {
			r := &rs[n-1]
			if r.end == m.start && r.class == m.Class && r.path == m.rawPath && r.tid == m.TID {
				r.end = m.end
				r.mappings++
				r.size += m.SizeBytes
				addPtr(&r.rss, m.RSSBytes)
				continue
			}
		}
		r := region{start: m.start, end: m.end, class: m.Class, path: m.rawPath, tid: m.TID, mappings: 1, size: m.SizeBytes}
		addPtr(&r.rss, m.RSSBytes)
		rs = append(rs, r)
	}
	// Fold long runs of unremarkable rows when the picture would not fit
	// a screen or two.
	if len(rs) <= maxDiagramRows {
		return rs
	}
	out := rs[:0:0]
	for i := 0; i < len(rs); {
		j := i
		for j < len(rs) && foldable(rs[j].class) {
			j++
		}
		if j-i >= collapseMin {
			f := region{start: rs[i].start, end: rs[j-1].end, class: "mixed", mixed: map[string]int{}}
			for _, r := range rs[i:j] {
				f.mappings += r.mappings
				f.size += r.size
				f.mixed[r.class] += r.mappings
				addPtr(&f.rss, r.rss)
			}
			out = append(out, f)
			i = j
			continue
		}
		if j == i {
			j = i + 1
		}
		out = append(out, rs[i:j]...)
		i = j
	}
	return out
}

func foldable(class string) bool {
	switch collector.Segment(class) {
	case collector.SegAnon, collector.SegGuard, collector.SegReserved, collector.SegFile, collector.SegShm:
		return true
	}
	return false
}

func addPtr(dst **uint64, v *uint64) {
	if v == nil {
		return
	}
	if *dst == nil {
		*dst = new(uint64)
	}
	**dst += *v
}

// diagramWidth is the inner width of the diagram box.
const diagramWidth = 72

func writeDiagram(bw *bufio.Writer, d *ShowDoc) {
	rs := buildRegions(d)
	var virt uint64
	for i := range d.Maps {
		virt += d.Maps[i].SizeBytes
	}
	fmt.Fprintf(bw, "\nAddress space: %d mappings, %s virtual (high addresses at the top)\n", len(d.Maps), iecBytes(virt))
	rule := strings.Repeat("─", diagramWidth)
	names := threadNames(d)
	exe := d.Process.Exe
	for i := len(rs) - 1; i >= 0; i-- {
		r := &rs[i]
		switch {
		case i == len(rs)-1:
			fmt.Fprintf(bw, "  %16x ┌%s┐\n", r.end, rule)
		case rs[i+1].start != r.end:
			fmt.Fprintf(bw, "  %16x ├%s┤\n", rs[i+1].start, rule)
			gap := fmt.Sprintf("  ... %s unmapped ...", iecBytes(rs[i+1].start-r.end))
			if rs[i+1].start >= 1<<63 && r.end < 1<<47 {
				gap = "  ... the kernel's half of the address space ..."
			}
			fmt.Fprintf(bw, "  %16s ╎%s╎\n", "", padText(gap, diagramWidth))
			fmt.Fprintf(bw, "  %16x ├%s┤\n", r.end, rule)
		default:
			fmt.Fprintf(bw, "  %16x ├%s┤\n", r.end, rule)
		}
		size := iecBytes(r.size)
		if r.rss != nil {
			size = iecBytes(*r.rss) + " of " + size
		}
		label := regionLabel(r, exe, names)
		if r.class == string(collector.SegLibData) && r.path == "" && i > 0 && rs[i-1].path != "" && rs[i-1].end == r.start {
			label = "bss of " + baseName(rs[i-1].path)
		}
		text := strings.TrimRight(fmt.Sprintf("%-14s %s", classTitle(r.class), label), " ")
		fmt.Fprintf(bw, "  %16s │ %s %s │\n", "", padText(text, diagramWidth-4-utf8.RuneCountInString(size)), size)
	}
	if len(rs) > 0 {
		fmt.Fprintf(bw, "  %16x └%s┘\n", rs[0].start, rule)
		if d.PerMappingMemory {
			bw.WriteString("  (sizes: resident of virtual)\n")
		}
	}
}

func classTitle(c string) string {
	switch collector.Segment(c) {
	case collector.SegStack, collector.SegThreadStack:
		return c + " ↓"
	case collector.SegHeap:
		return c + " ↑"
	}
	return c
}

func threadNames(d *ShowDoc) map[int]string {
	n := make(map[int]string, len(d.Threads))
	for _, t := range d.Threads {
		n[t.TID] = t.Comm
	}
	return n
}

func regionLabel(r *region, exe string, names map[int]string) string {
	if r.mixed != nil {
		var parts []string
		for _, c := range []collector.Segment{collector.SegAnon, collector.SegGuard, collector.SegReserved, collector.SegFile, collector.SegShm} {
			if n := r.mixed[string(c)]; n > 0 {
				parts = append(parts, fmt.Sprintf("%d %s", n, c))
			}
		}
		return strings.Join(parts, " + ") + " mappings"
	}
	base := baseName(r.path)
	thread := func(tid int) string {
		if name, ok := names[tid]; ok {
			return fmt.Sprintf("tid %d %s", tid, sanitize.Terminal(name))
		}
		return fmt.Sprintf("tid %d", tid)
	}
	var s string
	switch collector.Segment(r.class) {
	case collector.SegStack:
		s = "main thread"
		if r.tid != 0 {
			s += ", " + thread(r.tid)
		}
	case collector.SegThreadStack:
		s = thread(r.tid)
	case collector.SegGuard:
		s = "stack guard"
		if r.tid != 0 {
			s = fmt.Sprintf("stack guard of tid %d", r.tid)
		}
	case collector.SegReserved:
		s = "no access: address space set aside"
		if base != "" {
			s = "no access: " + base + " (alignment gap)"
		}
	case collector.SegBSS:
		if exe != "" {
			s = "of " + baseName(exe)
		}
	case collector.SegLibData:
		if r.path == "" {
			s = "bss of a library"
		} else {
			s = base
		}
	case collector.SegAnon, collector.SegVdso, collector.SegVvar, collector.SegVsyscall, collector.SegHeap:
		if strings.HasPrefix(r.path, "[") && r.class == string(collector.SegAnon) {
			s = sanitize.Terminal(r.path)
		}
	default:
		s = base
	}
	if r.mappings > 1 {
		s += fmt.Sprintf(" (%d mappings)", r.mappings)
	}
	return strings.TrimSpace(s)
}

// baseName is the sanitised last element of a path, "" for "".
func baseName(p string) string {
	if p == "" {
		return ""
	}
	return sanitize.Terminal(path.Base(p))
}

func writeMapTable(bw *bufio.Writer, d *ShowDoc) {
	fmt.Fprintf(bw, "\nMappings\n  %16s %16s %5s %11s", "START", "END", "PERMS", "SIZE")
	if d.PerMappingMemory {
		fmt.Fprintf(bw, " %11s %11s", "RSS", "PSS")
	}
	fmt.Fprintf(bw, "  %-13s %s\n", "CLASS", "PATH")
	for i := len(d.Maps) - 1; i >= 0; i-- {
		m := &d.Maps[i]
		fmt.Fprintf(bw, "  %16x %16x %5s %11s", m.start, m.end, m.Perms, iecBytes(m.SizeBytes))
		if d.PerMappingMemory {
			rss, pss := "-", "-"
			if m.RSSBytes != nil {
				rss, pss = iecBytes(*m.RSSBytes), iecBytes(*m.PSSBytes)
			}
			fmt.Fprintf(bw, " %11s %11s", rss, pss)
		}
		cls := m.Class
		if m.TID != 0 {
			cls += ":" + strconv.Itoa(m.TID)
		}
		fmt.Fprintf(bw, "  %-13s %s\n", cls, sanitize.Terminal(m.rawPath))
	}
}

// padText pads or cuts s to n runes.
func padText(s string, n int) string {
	c := utf8.RuneCountInString(s)
	if c > n {
		r := []rune(s)
		return string(r[:n-1]) + "…"
	}
	return s + strings.Repeat(" ", n-c)
}

func clipText(s string, n int) string {
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	r := []rune(s)
	return string(r[:n-1]) + "…"
}

// iecBytes formats a byte count with binary units: "4.0 KiB", "132 KiB",
// "8.0 MiB", "512 B".
func iecBytes(v uint64) string {
	const units = "KMGTPE"
	if v < 1024 {
		return strconv.FormatUint(v, 10) + " B"
	}
	f := float64(v)
	i := -1
	for f >= 1024 && i < len(units)-1 {
		f /= 1024
		i++
	}
	if f < 10 {
		return fmt.Sprintf("%.1f %ciB", f, units[i])
	}
	return fmt.Sprintf("%.0f %ciB", f, units[i])
}

// statPath is the stat file of pid under the proc root ("" is /proc).
func statPath(root string, pid int) string { return procFilePath(root, pid, 0, "stat") }

// procFilePath is the path of a process's file under root (/proc when
// empty): ROOT/PID/FILE, or ROOT/PID/task/TID/FILE for tid > 0.
func procFilePath(root string, pid, tid int, file string) string {
	root = strings.TrimRight(root, "/")
	if root == "" {
		root = "/proc"
	}
	p := root + "/" + strconv.Itoa(pid) + "/"
	if tid > 0 {
		p += "task/" + strconv.Itoa(tid) + "/"
	}
	return p + file
}

// mapsReason is reason r of Unavailable[key] with the file it is about
// (under the document's root) before it: the mappings' (maps or smaps),
// also for the memory when the reason is theirs (both "not present" in
// a tree without the file; the same timeout), and the exe link's:
// "/proc/100/maps: permission denied". ok is false for other keys and
// reasons, and for a reason that is not a file's (a zombie's, a kernel
// thread's, no address space, masked).
func (d *ShowDoc) mapsReason(key, r string) (string, bool) {
	file := ""
	switch {
	case key == "exe":
		file = "exe"
	case key == "maps", key == "memory" && r == d.Unavailable["maps"]:
		file = d.mapsFile
	}
	switch r {
	case "", collector.ReasonZombie, collector.ReasonKernel, collector.ReasonNoMM, collector.ReasonMasked:
		return "", false
	}
	if file == "" {
		return "", false
	}
	return procFilePath(d.ProcRoot, d.Process.PID, d.liveTID, file) + ": " + r, true
}

// reasonFiles are the Unavailable keys whose reason can begin with the
// file the collector read, named relative to the process ("stat:
// malformed stat: no (comm)"), and that file.
var reasonFiles = map[string]string{"layout": "stat", "memory": "smaps_rollup", "rss_split": "status"}

// fileReason is reason r of Unavailable[key] for the text, with the file
// it begins with given as the path read under the document's root:
// "stat: malformed stat" is "/proc/100/stat: malformed stat", and
// "DIR/100/stat: ..." under --proc-root DIR. The layout comes from the
// process's own stat; the memory and the split from a live thread's
// files when the main thread exited (liveTID). Other reasons are r. The
// JSON keeps r (proc_root and the pid give the path).
func (d *ShowDoc) fileReason(key, r string) string {
	if p, ok := d.mapsReason(key, r); ok {
		return p
	}
	file, ok := reasonFiles[key]
	if !ok {
		return r
	}
	rest, cut := strings.CutPrefix(r, file+": ")
	if !cut {
		return r
	}
	tid := d.liveTID
	if key == "layout" {
		tid = 0
	}
	return procFilePath(d.ProcRoot, d.Process.PID, tid, file) + ": " + rest
}
