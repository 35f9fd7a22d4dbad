package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestContainerImage runs the image `make image` built (make image-test
// sets MAD_CONTAINER_IMAGE; without it the test is skipped) with podman
// (MAD_CONTAINER_CMD, "podman" by default, may add podman's global flags):
// its settings (user 65532, MAD_CONFIG, the exposed ports, the HEALTHCHECK),
// the version stamped by make build, /ping, the HEALTHCHECK's command run
// in the container, a StatsD line sent to the published UDP port coming out
// as a metric on standard output, the process's user, and SIGTERM ending it
// with exit status 0.
func TestContainerImage(t *testing.T) {
	image := os.Getenv("MAD_CONTAINER_IMAGE")
	if image == "" {
		t.Skip("set MAD_CONTAINER_IMAGE to an image of mad (make image-test)")
	}
	engine := strings.Fields(os.Getenv("MAD_CONTAINER_CMD"))
	if len(engine) == 0 {
		engine = []string{"podman"}
	}
	if _, err := exec.LookPath(engine[0]); err != nil {
		t.Fatalf("MAD_CONTAINER_CMD %q: %v (the image is run with podman: apt-get install -y podman)", engine, err)
	}
	podman := func(args ...string) (string, error) {
		t.Helper()
		var stdout, stderr bytes.Buffer
		cmd := exec.Command(engine[0], append(engine[1:], args...)...)
		cmd.Stdout, cmd.Stderr = &stdout, &stderr
		err := cmd.Run()
		if err != nil {
			return stdout.String(), fmt.Errorf("%s %s: %v\n%s", strings.Join(engine, " "), strings.Join(args, " "), err, stderr.String())
		}
		return stdout.String(), nil
	}

	// What the image says about itself.
	out, err := podman("image", "inspect", image)
	if err != nil {
		t.Fatal(err)
	}
	var inspect []struct {
		Size   int64
		Config struct {
			User         string
			Env          []string
			ExposedPorts map[string]struct{}
			Entrypoint   []string
			WorkingDir   string
		}
		Healthcheck struct{ Test []string }
	}
	if err := json.Unmarshal([]byte(out), &inspect); err != nil || len(inspect) != 1 {
		t.Fatalf("image inspect: %v\n%s", err, out)
	}
	img := inspect[0]
	t.Logf("%s: %d bytes (%.1f MB)", image, img.Size, float64(img.Size)/1e6)
	if img.Config.User != "65532:65532" {
		t.Errorf("user: got %q; want 65532:65532", img.Config.User)
	}
	for _, p := range []string{"7090/tcp", "7091/tcp", "8125/udp", "8125/tcp"} {
		if _, ok := img.Config.ExposedPorts[p]; !ok {
			t.Errorf("exposed ports %v: %s missing", img.Config.ExposedPorts, p)
		}
	}
	if !strings.Contains(strings.Join(img.Config.Env, " "), "MAD_CONFIG=/opt/mad/config/config.conf") {
		t.Errorf("environment %v: want MAD_CONFIG=/opt/mad/config/config.conf", img.Config.Env)
	}
	if got := strings.Join(img.Healthcheck.Test, " "); got != "CMD /opt/mad/bin/mad -health-check http://127.0.0.1:7090/ping" {
		t.Errorf("HEALTHCHECK: got %q; want mad -health-check of /ping (built with --format docker?)", got)
	}

	// podman raises RLIMIT_NOFILE and RLIMIT_NPROC by default, which fails
	// where it lacks CAP_SYS_RESOURCE (a sandbox); these limits can always
	// be set: the caller's open files, and processes enough for mad's
	// threads.
	var nofile syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &nofile); err != nil {
		t.Fatal(err)
	}
	limits := []string{"--ulimit", fmt.Sprintf("nofile=%d:%d", nofile.Max, nofile.Max), "--ulimit", "nproc=4096:4096"}
	hint := func(err error) string {
		switch s := err.Error(); {
		case strings.Contains(s, "cgroups in hybrid mode"):
			return "\ncrun refuses this machine's hybrid cgroups: run with MAD_CONTAINER_CMD=\"podman --runtime runc\" (make image-test CONTAINER_CMD=\"podman --runtime runc\")"
		case strings.Contains(s, "setrlimit") || strings.Contains(s, "rlimit"):
			return "\nthe runtime cannot set the container's resource limits (podman itself runs with lower ones?)"
		}
		return ""
	}
	out, err = podman(append(append([]string{"run", "--rm"}, limits...), image, "-version")...)
	if err != nil {
		t.Fatalf("%v%s", err, hint(err))
	}
	if v := strings.TrimSpace(out); !strings.HasPrefix(v, "mad ") || strings.Contains(v, "devel (unknown)") {
		t.Errorf("-version: got %q; want the version and commit make build stamps", v)
	}

	// The daemon, on its default configuration, its ports published on
	// loopback at ports podman picks.
	args := append([]string{"run", "-d"}, limits...)
	args = append(args, "-p", "127.0.0.1::7090/tcp", "-p", "127.0.0.1::8125/udp", image)
	out, err = podman(args...)
	if err != nil {
		t.Fatalf("%v%s", err, hint(err))
	}
	id := strings.TrimSpace(out)
	t.Cleanup(func() { podman("rm", "-f", id) })
	logs := func() string {
		var b bytes.Buffer
		cmd := exec.Command(engine[0], append(engine[1:], "logs", id)...)
		cmd.Stdout, cmd.Stderr = &b, &b
		cmd.Run()
		return b.String()
	}
	port := func(p string) string {
		t.Helper()
		out, err := podman("port", id, p)
		if err != nil {
			t.Fatal(err)
		}
		return strings.TrimSpace(strings.Split(out, "\n")[0])
	}
	httpAddr, statsdAddr := port("7090/tcp"), port("8125/udp")
	waitFor := func(what string, ok func() bool) {
		t.Helper()
		for deadline := time.Now().Add(60 * time.Second); !ok(); time.Sleep(100 * time.Millisecond) {
			if time.Now().After(deadline) {
				t.Fatalf("timed out waiting for %s; container log:\n%s", what, logs())
			}
		}
	}
	waitFor("/ping", func() bool {
		resp, err := http.Get("http://" + httpAddr + "/ping")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	})
	// The HEALTHCHECK's command, in the container.
	if out, err := podman("healthcheck", "run", id); err != nil {
		t.Errorf("healthcheck run: %v %s", err, out)
	}
	if out, err := podman("top", id, "user", "huser", "comm"); err != nil || !strings.Contains(out, "65532") {
		t.Errorf("top: %v; want the process running as 65532:\n%s", err, out)
	}
	udp, err := net.Dial("udp", statsdAddr)
	if err != nil {
		t.Fatal(err)
	}
	defer udp.Close()
	waitFor("the metric on standard output", func() bool {
		udp.Write([]byte("container.test.requests:1|c|#via:podman\n"))
		return strings.Contains(logs(), `"metric":"container.test.requests"`)
	})

	if _, err := podman("stop", "-t", "30", id); err != nil {
		t.Fatal(err)
	}
	out, err = podman("inspect", "--format", "{{.State.ExitCode}}", id)
	if err != nil || strings.TrimSpace(out) != "0" {
		t.Errorf("exit code after SIGTERM: %q (%v); want 0; log:\n%s", out, err, logs())
	}
	if l := logs(); !strings.Contains(l, `msg="stopping: flushing open buckets" signal=terminated`) || !strings.Contains(l, "msg=stopped") {
		t.Errorf("the log does not show SIGTERM's flush:\n%s", l)
	}
}
