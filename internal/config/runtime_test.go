package config

import (
	"strings"
	"testing"
)

func TestParseAllowHosts(t *testing.T) {
	got, err := ParseAllowHosts(" 127.0.0.1:5432, 127.0.0.1:6379 ")
	if err != nil || len(got) != 2 || got[0].String() != "127.0.0.1:5432" || got[1].Port() != 6379 {
		t.Fatalf("ParseAllowHosts: %v %v", got, err)
	}
	for _, bad := range []string{"10.0.0.5:5432", "169.254.169.254:80", "0.0.0.0:22", "127.0.0.1", "127.0.0.1:0",
		"localhost:5432", "127.0.0.2:5432", "[::1]:5432", "127.0.0.1:9001", "127.0.0.1:4566"} {
		if _, err := ParseAllowHosts(bad); err == nil {
			t.Errorf("ParseAllowHosts(%q) accepted", bad)
		}
	}
}

func TestParseInterpreters(t *testing.T) {
	m, err := ParseInterpreters("python3.12=/usr/bin/python3.12,nodejs22.x=/opt/node/bin/node")
	if err != nil || m["python3.12"] != "/usr/bin/python3.12" || m["nodejs22.x"] != "/opt/node/bin/node" {
		t.Fatalf("ParseInterpreters: %v %v", m, err)
	}
	for _, bad := range []string{"python3.12", "python3.12=python3", "=/usr/bin/python3"} {
		if _, err := ParseInterpreters(bad); err == nil {
			t.Errorf("ParseInterpreters(%q) accepted", bad)
		}
	}
}

func TestParseDebugPorts(t *testing.T) {
	got, err := ParseDebugPorts(" api=9229, worker_2=5678 ,")
	if err != nil || len(got) != 2 || got["api"] != "127.0.0.1:9229" || got["worker_2"] != "127.0.0.1:5678" {
		t.Fatalf("ParseDebugPorts = %v, %v", got, err)
	}
	for _, bad := range []string{"api", "api=", "api=0", "api=70000", "=9229", "a/b=9229", "api=9229,api=9230", "a=9229,b=9229",
		"arn:aws:lambda:us-east-1:000000000000:function:api=9229", "api=127.0.0.1:9229"} {
		if _, err := ParseDebugPorts(bad); err == nil || !strings.Contains(err.Error(), "--debug-port") {
			t.Errorf("ParseDebugPorts(%q) = %v, want an error naming --debug-port", bad, err)
		}
	}
}
