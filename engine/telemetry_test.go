package engine

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/gomad/mad/engine/config"
	"github.com/gomad/mad/engine/pipeline"
	"github.com/gomad/mad/ingest"
)

// TestTelemetryEndToEnd: StatsD in, a TelemetrySink behind MAD's shipped
// PeriodFilteringSink (periods up to PT1S), a websocket client subscribed
// with v2's subscribeMetric gets reportMetric messages in MAD's shape.
func TestTelemetryEndToEnd(t *testing.T) {
	dir := t.TempDir()
	pipes := filepath.Join(dir, "pipelines")
	must(t, os.Mkdir(pipes, 0o755))
	writeFile(t, pipes, "p.conf", `name=p
periods=["PT1S", "PT1M"]
sources=[{ type=StatsdSource, name=s, host="127.0.0.1", port=0 }]
sinks=[{
  type="com.arpnetworking.tsdcore.sinks.PeriodFilteringSink", name=f, excludeGreaterThan="PT1S"
  sink={ type="com.arpnetworking.tsdcore.sinks.TelemetrySink", name=telemetry_sink }
}]
`)
	main := writeFile(t, dir, "main.conf", fmt.Sprintf("pipelinesDirectory=%q\nhttpHost=\"127.0.0.1\"\nhttpPort=0\nreloadInterval=0\n", pipes))
	d, err := Open(main, nil, config.LoadOptions{Env: env()}, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Stop()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	ws, _, err := websocket.Dial(ctx, "ws://"+d.HTTPAddr().String()+"/telemetry/v2/stream", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer ws.CloseNow()
	sub, _ := json.Marshal(map[string]string{"command": "subscribeMetric", "service": "checkout", "metric": "api.latency", "statistic": "median"})
	must(t, ws.Write(ctx, websocket.MessageText, sub))
	c, err := net.Dial("udp", pipeline.SourcesOf[*ingest.UDPSource](d.Pipelines()[0])[0].Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	// Send until a report arrives (buckets close about a second later).
	go func() {
		for ctx.Err() == nil {
			fmt.Fprint(c, "api.latency:250|ms|#service:checkout,host:web-1\n")
			time.Sleep(50 * time.Millisecond)
		}
	}()
	for {
		_, b, err := ws.Read(ctx)
		if err != nil {
			t.Fatalf("no report: %v", err)
		}
		var msg struct {
			Command string         `json:"command"`
			Data    map[string]any `json:"data"`
		}
		must(t, json.Unmarshal(b, &msg))
		if msg.Command != "reportMetric" {
			continue
		}
		want := map[string]any{"server": "web-1", "service": "checkout", "metric": "api.latency", "statistic": "median", "data": 0.25,
			"numeratorUnits": []any{"SECOND"}, "denominatorUnits": []any{}}
		for k, v := range want {
			if fmt.Sprint(msg.Data[k]) != fmt.Sprint(v) {
				t.Errorf("report %s = %v, want %v (%s)", k, msg.Data[k], v, b)
			}
		}
		if _, ok := msg.Data["timestamp"].(float64); !ok {
			t.Errorf("report without a timestamp: %s", b)
		}
		return
	}
}
