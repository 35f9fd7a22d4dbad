package engine

import (
	"bufio"
	"io"
	"os"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"syscall"

	sm "github.com/gomad/mad/internal/selfmetric"
	"github.com/gomad/mad/internal/vmem"
)

// Report reports every counter and gauge of the daemon: each pipeline's
// (its sources, shards, emitter and sinks), the configuration's, the
// feedback of mad's own metrics, and the process's. /metrics and the
// self-metrics both read it.
func (d *Daemon) Report(emit func(sm.Value)) {
	d.mu.Lock()
	ps := d.pipelinesLocked()
	retired := d.retired.Snapshot()
	refused := make(map[string]string, len(d.problems))
	for k, v := range d.problems {
		refused[k] = v
	}
	d.mu.Unlock()
	emit(sm.Value{Name: "mad_config_reloads_total", Help: "Configuration checks (periodic, SIGHUP, POST /reload).", V: float64(d.reloads.Load())})
	emit(sm.Value{Name: "mad_config_reload_errors_total", Help: "Configuration checks that refused a file or failed to apply it.", V: float64(d.reloadErrs.Load())})
	files := make([]string, 0, len(refused))
	for f := range refused {
		files = append(files, f)
	}
	slices.Sort(files)
	for _, f := range files {
		msg := refused[f]
		if len(msg) > 200 {
			msg = msg[:200] + "…"
		}
		emit(sm.Value{Name: "mad_config_refused", Kind: sm.Gauge, Labels: []string{"file", f, "error", msg}, V: 1,
			Help: "1 for each configuration file whose current version was refused (the pipeline it defined, if any, keeps running as it was); the label error says why."})
	}
	d.refusals().Report(emit)
	d.self.Report(emit)
	retired.Report(emit, func(emit func(sm.Value)) {
		for _, p := range ps {
			p.Report(emit)
		}
	})
	reportProcess(emit)
}

// reportProcess reports the Go runtime's and the process's figures; mad's
// own metrics carry the runtime's where MAD has the JVM's.
func reportProcess(emit func(sm.Value)) {
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	gauge := func(name, help string, v float64, mad, unit string) {
		emit(sm.Value{Name: name, Help: help, Kind: sm.Gauge, V: v, MAD: mad, Unit: unit})
	}
	gauge("go_goroutines", "Goroutines.", float64(runtime.NumGoroutine()), "go/goroutines", "")
	gauge("go_memstats_heap_alloc_bytes", "Heap bytes allocated and in use.", float64(ms.HeapAlloc), "go/memory/heap_alloc", "BYTE")
	gauge("go_memstats_sys_bytes", "Bytes obtained from the OS.", float64(ms.Sys), "go/memory/sys", "BYTE")
	emit(sm.Value{Name: "go_gc_cycles_total", Help: "Completed GC cycles.", V: float64(ms.NumGC), MAD: "go/gc/cycles"})
	emit(sm.Value{Name: "go_memstats_alloc_bytes_total", Help: "Heap bytes allocated, in all.", V: float64(ms.TotalAlloc)})
	gauge("go_gc_pause_total_seconds", "Total GC pause.", float64(ms.PauseTotalNs)/1e9, "", "")
	emit(sm.Value{V: float64(ms.PauseTotalNs), MAD: "go/gc/pause_total", Unit: "NANOSECOND"})
	mapped, resident := vmem.Stats()
	gauge("mad_offheap_mapped_bytes", "Address space of the arrays kept off the Go heap (series records, big tables' rows): pages cost memory only once written.", float64(mapped), "", "")
	gauge("mad_offheap_resident_bytes", "Resident memory of the arrays kept off the Go heap; part of process_resident_memory_bytes, not of the go_memstats figures or GOMEMLIMIT.", float64(resident), "", "")
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) == nil {
		emit(sm.Value{Name: "process_cpu_seconds_total", Help: "User and system CPU time.", V: float64(ru.Utime.Nano()+ru.Stime.Nano()) / 1e9})
	}
	if b, err := os.ReadFile("/proc/self/statm"); err == nil {
		if f := strings.Fields(string(b)); len(f) > 1 {
			if pages, err := strconv.ParseInt(f[1], 10, 64); err == nil {
				gauge("process_resident_memory_bytes", "Resident memory.", float64(pages*int64(os.Getpagesize())), "", "")
			}
		}
	}
}

// writeMetrics writes what r reports in Prometheus text format: each family
// once, its HELP and TYPE first, then all its samples, in the order the
// families were first reported. Values without a Prometheus name are left
// out.
func writeMetrics(out io.Writer, r sm.Reporter) error {
	type family struct {
		name, help string
		kind       sm.Kind
		samples    []sm.Value
	}
	var order []*family
	byName := map[string]*family{}
	r.Report(func(v sm.Value) {
		if v.Name == "" {
			return
		}
		f := byName[v.Name]
		if f == nil {
			f = &family{name: v.Name, kind: v.Kind}
			byName[v.Name] = f
			order = append(order, f)
		}
		if f.help == "" {
			f.help = v.Help
		}
		f.samples = append(f.samples, v)
	})
	w := bufio.NewWriter(out)
	var buf []byte
	for _, f := range order {
		typ := "counter"
		if f.kind == sm.Gauge {
			typ = "gauge"
		}
		w.WriteString("# HELP " + f.name + " " + f.help + "\n# TYPE " + f.name + " " + typ + "\n")
		for _, v := range f.samples {
			buf = appendSeries(buf[:0], &v)
			buf = append(buf, ' ')
			buf = strconv.AppendFloat(buf, v.V, 'g', -1, 64)
			buf = append(buf, '\n')
			w.Write(buf)
		}
	}
	return w.Flush()
}

// appendSeries appends the series of v as /metrics writes it: the family's
// name and, if any, its labels in braces (name{k="v",…}). The live page
// names the series its figures sum in the same words (ui_state.go).
func appendSeries(dst []byte, v *sm.Value) []byte {
	dst = append(dst, v.Name...)
	if len(v.Labels) == 0 {
		return dst
	}
	dst = append(dst, '{')
	for i := 0; i+1 < len(v.Labels); i += 2 {
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = append(dst, v.Labels[i]...)
		dst = append(dst, `="`...)
		dst = append(dst, escapeLabel(v.Labels[i+1])...)
		dst = append(dst, '"')
	}
	return append(dst, '}')
}

// escapeLabel escapes a label value as the text format wants: backslash,
// double quote and line feed.
func escapeLabel(s string) string {
	if !strings.ContainsAny(s, "\\\"\n") {
		return s
	}
	return strings.NewReplacer(`\`, `\\`, `"`, `\"`, "\n", `\n`).Replace(s)
}
