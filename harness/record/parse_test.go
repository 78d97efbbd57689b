package record

import (
	"fmt"
	"testing"
)

func TestMonitorLinesAreParsedIntoTheSenderAndItsArguments(t *testing.T) {
	tests := []struct {
		line, addr, args string
	}{
		{`1700000000.123456 [0 127.0.0.1:54321] "SET" "k0" "tok" "PX" "1000" "NX"`, "127.0.0.1:54321", `[SET k0 tok PX 1000 NX]`},
		{`1700000000.123470 [0 lua] "del" "k0"`, "lua", `[del k0]`},
		{`1700000000.1 [0 127.0.0.1:1] "SET" "k0" "a \"quoted\" \\ value\x01"`, "127.0.0.1:1", "[SET k0 a \"quoted\" \\ value\x01]"},
		{`1700000000.1 [0 unix:/tmp/r.sock] "PING"`, "unix:/tmp/r.sock", `[PING]`},
	}
	for _, tc := range tests {
		t.Run(tc.line, func(t *testing.T) {
			addr, args, ok := parseMonitor(tc.line)
			if !ok || addr != tc.addr || fmt.Sprint(args) != tc.args {
				t.Fatalf("got %q %q %v", addr, args, ok)
			}
		})
	}
	for _, bad := range []string{`OK`, `1.0 [0 x] unquoted`, `1.0 [0 x] "open`} {
		if _, _, ok := parseMonitor(bad); ok {
			t.Errorf("%q parsed", bad)
		}
	}
}

func TestTheKeyOfACommandIsItsFirstArgumentOrAScriptsFirstKey(t *testing.T) {
	tests := []struct {
		args      []string
		key, rest string
	}{
		{[]string{"SET", "k0", "t", "PX", "1000", "NX"}, "k0", "[t PX 1000 NX]"},
		{[]string{"EVALSHA", "abc", "1", "k3", "tok", "1000"}, "k3", "[tok 1000]"},
		{[]string{"EVALSHA", "abc", "0", "x"}, "", "[]"},
		{[]string{"INCR", "fence:k1"}, "fence:k1", "[]"},
		{[]string{"PING"}, "", "[]"},
	}
	for _, tc := range tests {
		key, rest := keyOf(tc.args[0], tc.args)
		if key != tc.key || fmt.Sprint(rest) != tc.rest {
			t.Errorf("%v: key %q rest %v", tc.args, key, rest)
		}
	}
	if n, ok := setName("HELLO", []string{"hello", "2", "setname", "g1w3"}); !ok || n != "g1w3" {
		t.Errorf("HELLO setname: %q %v", n, ok)
	}
	if n, ok := setName("CLIENT", []string{"client", "setname", "g2w1"}); !ok || n != "g2w1" {
		t.Errorf("CLIENT SETNAME: %q %v", n, ok)
	}
}
