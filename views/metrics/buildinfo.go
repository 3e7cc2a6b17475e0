package metrics

import "github.com/prometheus/client_golang/prometheus"

// BuildInfo is what a pinspect binary knows about its own build; the
// command fills it (from -ldflags or the Go build info) and
// NewBuildInfoCollector exports it.
type BuildInfo struct {
	Version   string // a release (v0.2.0, 0.1.0+git.540e148), "devel" when unrecorded
	Revision  string // the commit, "unknown" when unrecorded
	GoVersion string // the toolchain that built it (go1.26.8)
	GoOS      string
	GoArch    string
	Tags      string // build tags, "" for none
}

// NewBuildInfoCollector returns the pinspect_build_info gauge: always 1,
// labelled with the build's facts, in the form every Prometheus exporter
// uses (node_exporter_build_info, process_exporter_build_info), so one
// query finds the versions running across a fleet:
//
//	count by (version) (pinspect_build_info)
func NewBuildInfoCollector(b BuildInfo) prometheus.Collector {
	return prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "pinspect_build_info",
		Help: "A metric with a constant '1' value labelled by the version, revision, goversion, goos, goarch and tags pinspect was built from.",
		ConstLabels: prometheus.Labels{
			"version":   b.Version,
			"revision":  b.Revision,
			"goversion": b.GoVersion,
			"goos":      b.GoOS,
			"goarch":    b.GoArch,
			"tags":      b.Tags,
		},
	}, func() float64 { return 1 })
}
