package main

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/spf13/cobra"
	"go.yaml.in/yaml/v2"

	"github.com/pinspect/pinspect/views/metrics"
)

// The deployment files cannot run here (no Docker engine, no Kubernetes,
// no systemd): these tests parse them and check what makes them work,
// against the real command's flags. packaging/smoke-test.sh runs the
// unit's ExecStart and the image's build steps for real.

// serveFlagsAccept parses args with `pinspect serve`'s real flag set.
func serveFlagsAccept(t *testing.T, args []string) *cobra.Command {
	t.Helper()
	a := &app{}
	root := newRootCmd(a)
	serve, rest, err := root.Find([]string{"serve"})
	if err != nil || len(rest) != 0 {
		t.Fatalf("no serve command: %v", err)
	}
	if err := serve.ParseFlags(args); err != nil {
		t.Fatalf("serve %q: %v", args, err)
	}
	if len(serve.Flags().Args()) != 0 {
		t.Fatalf("serve %q: stray arguments %q", args, serve.Flags().Args())
	}
	return serve
}

// defaultPort is the port of serve's default address.
func defaultPort(t *testing.T) string {
	_, port, err := net.SplitHostPort(metrics.DefaultListen)
	if err != nil {
		t.Fatal(err)
	}
	return port
}

// listenPort returns the port serve would listen on with these flags,
// after checking the addresses as serve does (a wildcard host only with
// --web.listen-any) and that the deprecated --listen is not used.
func listenPort(t *testing.T, serve *cobra.Command) string {
	t.Helper()
	if f := serve.Flags().Lookup("listen"); f == nil || f.Changed {
		t.Errorf("--listen is deprecated (or gone): use --web.listen-address")
	}
	addrs, err := serve.Flags().GetStringArray("web.listen-address")
	if err != nil {
		t.Fatal(err)
	}
	any, err := serve.Flags().GetBool("web.listen-any")
	if err != nil {
		t.Fatal(err)
	}
	parsed, err := parseListen("--web.listen-address", addrs, any)
	if err != nil {
		t.Fatalf("serve would refuse %q: %v", addrs, err)
	}
	if len(parsed) != 1 || parsed[0].network != "tcp" {
		t.Fatalf("listen addresses %+v: want one host:port", parsed)
	}
	_, port, err := net.SplitHostPort(parsed[0].address)
	if err != nil {
		t.Fatal(err)
	}
	return port
}

type k8sContainer struct {
	Image string   `yaml:"image"`
	Args  []string `yaml:"args"`
	Env   []struct {
		Name      string `yaml:"name"`
		ValueFrom struct {
			FieldRef struct {
				FieldPath string `yaml:"fieldPath"`
			} `yaml:"fieldRef"`
		} `yaml:"valueFrom"`
	} `yaml:"env"`
	Ports []struct {
		Name          string `yaml:"name"`
		ContainerPort int    `yaml:"containerPort"`
	} `yaml:"ports"`
	SecurityContext struct {
		RunAsUser                *int  `yaml:"runAsUser"`
		AllowPrivilegeEscalation *bool `yaml:"allowPrivilegeEscalation"`
		ReadOnlyRootFilesystem   bool  `yaml:"readOnlyRootFilesystem"`
		Privileged               bool  `yaml:"privileged"`
		Capabilities             struct {
			Add  []string `yaml:"add"`
			Drop []string `yaml:"drop"`
		} `yaml:"capabilities"`
	} `yaml:"securityContext"`
	Resources struct {
		Limits map[string]string `yaml:"limits"`
	} `yaml:"resources"`
	ReadinessProbe k8sProbe `yaml:"readinessProbe"`
	LivenessProbe  k8sProbe `yaml:"livenessProbe"`
	VolumeMounts   []struct {
		Name      string `yaml:"name"`
		MountPath string `yaml:"mountPath"`
		ReadOnly  bool   `yaml:"readOnly"`
	} `yaml:"volumeMounts"`
}

type k8sProbe struct {
	HTTPGet struct {
		Path string `yaml:"path"`
		Port string `yaml:"port"`
	} `yaml:"httpGet"`
}

type k8sDoc struct {
	Kind     string `yaml:"kind"`
	Metadata struct {
		Namespace string `yaml:"namespace"`
	} `yaml:"metadata"`
	Spec struct {
		Template struct {
			Metadata struct {
				Annotations map[string]string `yaml:"annotations"`
			} `yaml:"metadata"`
			Spec struct {
				HostPID     bool           `yaml:"hostPID"`
				HostNetwork bool           `yaml:"hostNetwork"`
				DNSPolicy   string         `yaml:"dnsPolicy"`
				Containers  []k8sContainer `yaml:"containers"`
				Volumes     []struct {
					Name     string `yaml:"name"`
					HostPath struct {
						Path string `yaml:"path"`
						Type string `yaml:"type"`
					} `yaml:"hostPath"`
				} `yaml:"volumes"`
			} `yaml:"spec"`
		} `yaml:"template"`
	} `yaml:"spec"`
}

// wantCaps are the capabilities every deployment gives pinspect: taskstats
// and the connector (NET_ADMIN), other users' maps (SYS_PTRACE).
var wantCaps = []string{"NET_ADMIN", "SYS_PTRACE"}

func TestDaemonSetManifest(t *testing.T) {
	raw, err := os.ReadFile(repoRoot + "/packaging/kubernetes/daemonset.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var ds *k8sDoc
	dec := yaml.NewDecoder(bytes.NewReader(raw))
	for {
		var d k8sDoc
		if err := dec.Decode(&d); err != nil {
			if errors.Is(err, io.EOF) {
				break
			}
			t.Fatalf("daemonset.yaml: %v", err)
		}
		if d.Kind == "DaemonSet" {
			ds = &d
		}
	}
	if ds == nil {
		t.Fatal("no DaemonSet in daemonset.yaml")
	}
	pod := ds.Spec.Template.Spec
	if !pod.HostPID || !pod.HostNetwork || pod.DNSPolicy != "ClusterFirstWithHostNet" {
		t.Errorf("hostPID %v hostNetwork %v dnsPolicy %q: want the host's pid and network namespaces", pod.HostPID, pod.HostNetwork, pod.DNSPolicy)
	}
	if len(pod.Containers) != 1 {
		t.Fatalf("%d containers", len(pod.Containers))
	}
	c := pod.Containers[0]
	sc := c.SecurityContext
	if !slices.Equal(sc.Capabilities.Add, wantCaps) || !slices.Equal(sc.Capabilities.Drop, []string{"ALL"}) {
		t.Errorf("capabilities add %v drop %v, want add %v drop ALL", sc.Capabilities.Add, sc.Capabilities.Drop, wantCaps)
	}
	if sc.RunAsUser == nil || *sc.RunAsUser != 0 || sc.AllowPrivilegeEscalation == nil || *sc.AllowPrivilegeEscalation || !sc.ReadOnlyRootFilesystem || sc.Privileged {
		t.Errorf("securityContext %+v: want root with two capabilities, no escalation, a read-only root", sc)
	}
	if c.Resources.Limits["memory"] == "" {
		t.Error("no memory limit")
	}
	if len(c.Args) == 0 || c.Args[0] != "serve" {
		t.Fatalf("args %q: want serve ...", c.Args)
	}
	// $(NODE_IP) is the node's address from the downward API.
	if len(c.Env) != 1 || c.Env[0].Name != "NODE_IP" || c.Env[0].ValueFrom.FieldRef.FieldPath != "status.hostIP" {
		t.Errorf("env %+v: want NODE_IP from status.hostIP", c.Env)
	}
	args := slices.Clone(c.Args[1:])
	for i := range args {
		args[i] = strings.ReplaceAll(args[i], "$(NODE_IP)", "192.0.2.7")
	}
	serve := serveFlagsAccept(t, args)
	port := listenPort(t, serve)
	if port != defaultPort(t) {
		t.Errorf("the manifest listens on %s, serve's default port is %s", port, defaultPort(t))
	}
	if len(c.Ports) != 1 || c.Ports[0].Name != "metrics" || c.Ports[0].ContainerPort == 0 || strconv.Itoa(c.Ports[0].ContainerPort) != port {
		t.Errorf("ports %+v, want metrics on %s", c.Ports, port)
	}
	if a := ds.Spec.Template.Metadata.Annotations["prometheus.io/port"]; a != port {
		t.Errorf("prometheus.io/port %q, want %s", a, port)
	}
	// The probes ask serve's own endpoints, on the metrics port.
	for _, p := range []struct {
		what string
		got  k8sProbe
		want string
	}{{"readiness", c.ReadinessProbe, metrics.PathReady}, {"liveness", c.LivenessProbe, metrics.PathHealthy}} {
		if p.got.HTTPGet.Port != "metrics" || p.got.HTTPGet.Path != p.want {
			t.Errorf("%s probe %+v, want %s on port metrics", p.what, p.got.HTTPGet, p.want)
		}
	}
	// --passwd-file reads the node's passwd, mounted read-only.
	passwd := serve.Flags().Lookup("passwd-file")
	if passwd == nil || !passwd.Changed {
		t.Fatal("no --passwd-file: owners would be named from the image's passwd")
	}
	mounted := false
	for _, m := range c.VolumeMounts {
		if m.MountPath != passwd.Value.String() {
			continue
		}
		for _, v := range pod.Volumes {
			if v.Name == m.Name && v.HostPath.Path == "/etc/passwd" && v.HostPath.Type == "File" && m.ReadOnly {
				mounted = true
			}
		}
	}
	if !mounted {
		t.Errorf("--passwd-file %s is not the node's /etc/passwd mounted read-only", passwd.Value)
	}
}

func TestDockerfile(t *testing.T) {
	raw, err := os.ReadFile(repoRoot + "/packaging/docker/Dockerfile")
	if err != nil {
		t.Fatal(err)
	}
	var runs, entrypoint, cmd, expose string
	sc := bufio.NewScanner(bytes.NewReader(raw))
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		switch {
		case strings.HasPrefix(line, "RUN "):
			runs += line + "\n"
		case strings.HasPrefix(line, "ENTRYPOINT "):
			entrypoint = strings.TrimPrefix(line, "ENTRYPOINT ")
		case strings.HasPrefix(line, "CMD "):
			cmd = strings.TrimPrefix(line, "CMD ")
		case strings.HasPrefix(line, "EXPOSE "):
			expose = strings.TrimPrefix(line, "EXPOSE ")
		}
	}
	// The build steps are the script the smoke test runs.
	if !strings.Contains(runs, "packaging/docker/build.sh /out") {
		t.Errorf("RUN steps do not call packaging/docker/build.sh:\n%s", runs)
	}
	if entrypoint != `["/usr/bin/pinspect"]` {
		t.Errorf("ENTRYPOINT %s", entrypoint)
	}
	var args []string
	if err := yaml.Unmarshal([]byte(cmd), &args); err != nil || len(args) == 0 || args[0] != "serve" {
		t.Fatalf("CMD %s: %v", cmd, err)
	}
	serve := serveFlagsAccept(t, args[1:])
	if port := listenPort(t, serve); port != expose || port != defaultPort(t) {
		t.Errorf("CMD listens on %s, EXPOSE %s, serve's default port %s", port, expose, defaultPort(t))
	}
}

// TestSystemdUnits: every unit in packaging/systemd runs the packaged
// binary's subcommand with flags it accepts (the shipped
// /etc/default/pinspect's included), as a transient non-root user with
// the same two capabilities the other deployments give, and hides neither
// the host's processes nor its network namespace.
func TestSystemdUnits(t *testing.T) {
	units, err := filepath.Glob(repoRoot + "/packaging/systemd/*.service")
	if err != nil || len(units) < 2 {
		t.Fatalf("units %v: %v", units, err)
	}
	nfpm, err := os.ReadFile(repoRoot + "/packaging/nfpm.yaml")
	if err != nil {
		t.Fatal(err)
	}
	def, err := os.ReadFile(repoRoot + "/packaging/default/pinspect")
	if err != nil {
		t.Fatal(err)
	}
	for _, unit := range units {
		t.Run(filepath.Base(unit), func(t *testing.T) { checkUnit(t, unit, string(nfpm), string(def)) })
	}
}

func checkUnit(t *testing.T, unit, nfpm, def string) {
	raw, err := os.ReadFile(unit)
	if err != nil {
		t.Fatal(err)
	}
	keys := map[string]string{}
	sc := bufio.NewScanner(bytes.NewReader(raw))
	for sc.Scan() {
		if k, v, ok := strings.Cut(sc.Text(), "="); ok && !strings.HasPrefix(k, "#") {
			keys[k] = v
		}
	}
	exec := strings.Fields(keys["ExecStart"])
	if len(exec) < 3 || exec[0] != "/usr/bin/pinspect" || !strings.HasPrefix(exec[len(exec)-1], "$PINSPECT_") {
		t.Fatalf("ExecStart %q: want /usr/bin/pinspect SUBCOMMAND ... $PINSPECT_..._ARGS", keys["ExecStart"])
	}
	if !strings.Contains(nfpm, "dst: "+exec[0]+"\n") || !strings.Contains(nfpm, "src: packaging/systemd/*.service") {
		t.Errorf("the package does not install %s or the units", exec[0])
	}
	if keys["EnvironmentFile"] != "-/etc/default/pinspect" {
		t.Errorf("EnvironmentFile %q", keys["EnvironmentFile"])
	}
	// The arguments: the unit's own and the shipped default file's.
	variable := strings.TrimPrefix(exec[len(exec)-1], "$")
	var extra []string
	found := false
	for _, line := range strings.Split(def, "\n") {
		if v, ok := strings.CutPrefix(line, variable+"="); ok {
			extra, found = strings.Fields(strings.Trim(v, `"`)), true
		}
	}
	if !found {
		t.Errorf("/etc/default/pinspect (packaging/default/pinspect) does not set %s", variable)
	}
	a := &app{}
	root := newRootCmd(a)
	sub, rest, err := root.Find(exec[1:2])
	if err != nil || len(rest) != 0 || sub == root {
		t.Fatalf("no subcommand %q: %v", exec[1], err)
	}
	if err := sub.ParseFlags(append(slices.Clone(exec[2:len(exec)-1]), extra...)); err != nil || len(sub.Flags().Args()) != 0 {
		t.Errorf("%s %q: %v (stray %q)", exec[1], exec[2:], err, sub.Flags().Args())
	}
	var caps []string
	for _, c := range strings.Fields(keys["AmbientCapabilities"]) {
		caps = append(caps, strings.TrimPrefix(c, "CAP_"))
	}
	if !slices.Equal(caps, wantCaps) || keys["CapabilityBoundingSet"] != keys["AmbientCapabilities"] {
		t.Errorf("AmbientCapabilities %q CapabilityBoundingSet %q, want %v", keys["AmbientCapabilities"], keys["CapabilityBoundingSet"], wantCaps)
	}
	for k, want := range map[string]string{"DynamicUser": "yes", "NoNewPrivileges": "yes", "ProtectSystem": "strict"} {
		if keys[k] != want {
			t.Errorf("%s=%q, want %s", k, keys[k], want)
		}
	}
	if v, set := keys["PrivateNetwork"]; set && v != "no" {
		t.Errorf("PrivateNetwork=%s: the process-events connector exists only in the host's network namespace", v)
	}
	for _, k := range []string{"ProtectProc", "ProcSubset"} {
		if _, set := keys[k]; set {
			t.Errorf("%s is set: it hides the host's processes", k)
		}
	}
}
