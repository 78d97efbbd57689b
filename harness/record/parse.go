package record

import (
	"bufio"
	"fmt"
	"strconv"
	"strings"
)

// parseMonitor reads one MONITOR line (without its leading '+'):
//
//	1700000000.123456 [0 127.0.0.1:54321] "SET" "k0" "tok" "PX" "1000" "NX"
//	1700000000.123470 [0 lua] "del" "k0"
//
// and returns the sender's address ("lua" for a command a script ran) and the command's arguments, unquoted.
func parseMonitor(s string) (addr string, args []string, ok bool) {
	open := strings.IndexByte(s, '[')
	closing := strings.IndexByte(s, ']')
	if open < 0 || closing < open {
		return "", nil, false
	}
	db, a, found := strings.Cut(s[open+1:closing], " ")
	if !found || db == "" {
		return "", nil, false
	}
	args, ok = unquoteArgs(s[closing+1:])
	return a, args, ok
}

// unquoteArgs splits the quoted arguments of a MONITOR line, undoing Redis's escapes (sdscatrepr: \\ \" \n \r \t
// \a \b and \xHH).
func unquoteArgs(s string) ([]string, bool) {
	var out []string
	i := 0
	for {
		for i < len(s) && s[i] == ' ' {
			i++
		}
		if i >= len(s) {
			return out, true
		}
		if s[i] != '"' {
			return nil, false
		}
		i++
		var b strings.Builder
		for {
			if i >= len(s) {
				return nil, false
			}
			c := s[i]
			if c == '"' {
				i++
				break
			}
			if c != '\\' || i+1 >= len(s) {
				b.WriteByte(c)
				i++
				continue
			}
			i++
			switch s[i] {
			case 'n':
				b.WriteByte('\n')
			case 'r':
				b.WriteByte('\r')
			case 't':
				b.WriteByte('\t')
			case 'a':
				b.WriteByte('\a')
			case 'b':
				b.WriteByte('\b')
			case 'x':
				if i+2 < len(s) {
					if v, err := strconv.ParseUint(s[i+1:i+3], 16, 8); err == nil {
						b.WriteByte(byte(v))
						i += 2
						break
					}
				}
				b.WriteByte('x')
			default:
				b.WriteByte(s[i])
			}
			i++
		}
		out = append(out, b.String())
	}
}

// setName returns the name a connection gives itself: CLIENT SETNAME name, or HELLO … SETNAME name.
func setName(cmd string, args []string) (string, bool) {
	switch cmd {
	case "CLIENT":
		if len(args) >= 3 && strings.EqualFold(args[1], "setname") {
			return args[2], true
		}
	case "HELLO":
		for i := 1; i+1 < len(args); i++ {
			if strings.EqualFold(args[i], "setname") {
				return args[i+1], true
			}
		}
	}
	return "", false
}

// keyOf returns the key a command acts on and the arguments after it: the first key of a script call (EVAL and
// EVALSHA name their keys after a count), the first argument of the commands that take one key.
func keyOf(cmd string, args []string) (key string, rest []string) {
	switch cmd {
	case "EVAL", "EVALSHA", "EVAL_RO", "EVALSHA_RO", "FCALL":
		if len(args) >= 4 {
			if n, err := strconv.Atoi(args[2]); err == nil && n >= 1 {
				return args[3], args[4:]
			}
		}
		return "", nil
	case "SET", "SETNX", "SETEX", "PSETEX", "GET", "GETDEL", "GETSET", "DEL", "UNLINK", "EXPIRE", "PEXPIRE",
		"EXPIREAT", "PEXPIREAT", "PERSIST", "INCR", "INCRBY", "DECR", "TTL", "PTTL", "EXISTS", "TYPE":
		if len(args) >= 2 {
			return args[1], args[2:]
		}
	}
	return "", nil
}

// readBulk reads one RESP bulk string reply.
func readBulk(rd *bufio.Reader) (string, error) {
	head, err := rd.ReadString('\n')
	if err != nil {
		return "", err
	}
	head = strings.TrimRight(head, "\r\n")
	if !strings.HasPrefix(head, "$") {
		return "", fmt.Errorf("record: expected a bulk reply, got %q", head)
	}
	n, err := strconv.Atoi(head[1:])
	if err != nil || n < 0 {
		return "", fmt.Errorf("record: bad bulk length %q", head)
	}
	buf := make([]byte, n+2)
	if _, err := readFull(rd, buf); err != nil {
		return "", err
	}
	return string(buf[:n]), nil
}

func readFull(rd *bufio.Reader, buf []byte) (int, error) {
	n := 0
	for n < len(buf) {
		m, err := rd.Read(buf[n:])
		n += m
		if err != nil {
			return n, err
		}
	}
	return n, nil
}

// readInt reads one RESP integer reply.
func readInt(rd *bufio.Reader) (int64, error) {
	head, err := rd.ReadString('\n')
	if err != nil {
		return 0, err
	}
	head = strings.TrimRight(head, "\r\n")
	if !strings.HasPrefix(head, ":") {
		return 0, fmt.Errorf("record: expected an integer reply, got %q", head)
	}
	return strconv.ParseInt(head[1:], 10, 64)
}
