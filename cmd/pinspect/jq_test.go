package main

import (
	"encoding/json"
	"github.com/pinspect/pinspect/fixtures/livehelper"
	"math"
	"os"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// recipeRE finds the jq recipes of docs/SCHEMA.md: `pinspect ARGS | jq 'FILTER'`.
var recipeRE = regexp.MustCompile(`(?m)^pinspect ([^|\n]*)\| jq '([^'\n]+)'$`)

// TestJQTimeRecipes runs the jq recipes docs/SCHEMA.md gives for its times
// (jq's fromdate refuses fractional seconds) on a real document, with jq.
func TestJQTimeRecipes(t *testing.T) {
	jq, err := exec.LookPath("jq")
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("jq not installed, and CI=true: .ci/run installs it")
		}
		t.Skip("jq not installed (apt-get install jq); runs in CI")
	}
	md, err := os.ReadFile(repoRoot + "/docs/SCHEMA.md")
	if err != nil {
		t.Fatal(err)
	}
	recipes := recipeRE.FindAllStringSubmatch(string(md), -1)
	if len(recipes) != 3 {
		t.Fatalf("docs/SCHEMA.md has %d jq recipes, want 3", len(recipes))
	}
	// Started now: in the last hour. Gone with the test binary, should it die.
	young := exec.Command("sleep", "300")
	young.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := livehelper.StartSteady(young); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { young.Process.Kill(); young.Wait() })

	out, errs, code := runInProcess(t, "--json", "--no-threads")
	if code != 0 {
		t.Fatalf("--json: exit %d %s", code, errs)
	}
	var doc struct {
		TakenAt string `json:"taken_at"`
	}
	if err := json.Unmarshal([]byte(out), &doc); err != nil {
		t.Fatal(err)
	}
	taken, err := time.Parse(time.RFC3339Nano, doc.TakenAt)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(doc.TakenAt, ".") {
		t.Fatalf("taken_at %q has no fraction: the recipes would not be tested on one", doc.TakenAt)
	}
	runJQ := func(filter string) string {
		t.Helper()
		cmd := exec.Command(jq, filter)
		cmd.Stdin = strings.NewReader(out)
		res, err := cmd.Output()
		if err != nil {
			t.Fatalf("jq %q: %v", filter, err)
		}
		return strings.TrimSpace(string(res))
	}
	if v := runJQ(recipes[0][2]); v != strconv.FormatInt(taken.Unix(), 10) {
		t.Errorf("recipe 1: %s, want %d", v, taken.Unix())
	}
	v, err := strconv.ParseFloat(runJQ(recipes[1][2]), 64)
	if want := float64(taken.UnixNano()) / 1e9; err != nil || math.Abs(v-want) > 1e-3 {
		t.Errorf("recipe 2: %v (%v), want %f", v, err, want)
	}
	var pids []int
	if err := json.Unmarshal([]byte(runJQ(recipes[2][2])), &pids); err != nil {
		t.Fatalf("recipe 3: %v", err)
	}
	found := false
	for _, p := range pids {
		found = found || p == young.Process.Pid
	}
	if !found {
		t.Errorf("recipe 3: the process started now (%d) is not among %v", young.Process.Pid, pids)
	}
}
