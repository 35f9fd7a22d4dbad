package main

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"
)

// healthCheckTimeout bounds mad -health-check: connecting, the answer and
// its body.
const healthCheckTimeout = 3 * time.Second

// healthCheck GETs url (a mad's /ping) and reports whether it is healthy: a
// 200 whose body, if it is JSON with a status, says HEALTHY, as MAD's /ping
// does. It prints the answer, or why there is none, to w. It is what a
// container's HEALTHCHECK runs, the image having no curl.
func healthCheck(url string, w io.Writer) bool {
	c := &http.Client{Timeout: healthCheckTimeout, Transport: &http.Transport{Proxy: nil, DisableKeepAlives: true}}
	resp, err := c.Get(url)
	if err != nil {
		fmt.Fprintf(w, "unhealthy: %v\n", err)
		return false
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	text := strings.TrimSpace(string(body))
	if err != nil {
		fmt.Fprintf(w, "unhealthy: %s: %s, reading the body: %v\n", url, resp.Status, err)
		return false
	}
	var ping struct {
		Status *string `json:"status"`
	}
	switch {
	case resp.StatusCode != http.StatusOK:
	case json.Unmarshal(body, &ping) == nil && ping.Status != nil && *ping.Status != "HEALTHY":
	default:
		fmt.Fprintf(w, "healthy: %s: %s %s\n", url, resp.Status, text)
		return true
	}
	fmt.Fprintf(w, "unhealthy: %s: %s %s\n", url, resp.Status, text)
	return false
}
