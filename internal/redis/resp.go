package redis

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"strconv"
)

// RESP2, the protocol every Redis speaks: a command is an array of bulk
// strings; a reply is a status (+OK), an error (-ERR ...), an integer, a
// bulk string (nil when absent) or an array of replies.

// Error is an error reply ("WRONGPASS invalid username-password pair",
// "NOAUTH Authentication required.").
type Error string

func (e Error) Error() string { return "redis: " + string(e) }

// Code is the reply's first word, upper case by Redis' convention
// ("WRONGPASS", "NOAUTH", "ERR").
func (e Error) Code() string {
	s := string(e)
	n := 0
	for n < len(s) && n < 32 && s[n] >= 'A' && s[n] <= 'Z' {
		n++
	}
	if n == 0 {
		return "ERR"
	}
	return s[:n]
}

// Status is a status reply ("OK", "PONG").
type Status string

// Limits bound what a reply may make the client allocate: a server that
// is not Redis (or is hostile) must not make pglinks read a gigabyte.
type Limits struct {
	// MaxBulk is the longest bulk string, in bytes.
	MaxBulk int
	// MaxArray is the most elements of one array.
	MaxArray int
}

// DefaultLimits fit the replies pglinks asks for (INFO, DBSIZE, a few keys).
var DefaultLimits = Limits{MaxBulk: 4 << 20, MaxArray: 1 << 20}

// maxLine bounds a reply's header line (a status or an error reply).
const maxLine = 64 << 10

// maxDepth bounds nested arrays.
const maxDepth = 8

// ErrProtocol marks a reply no Redis sends.
var ErrProtocol = errors.New("redis: not a Redis reply")

// AppendCommand appends args as a RESP command.
func AppendCommand(buf []byte, args ...string) []byte {
	buf = append(buf, '*')
	buf = strconv.AppendInt(buf, int64(len(args)), 10)
	buf = append(buf, '\r', '\n')
	for _, a := range args {
		buf = append(buf, '$')
		buf = strconv.AppendInt(buf, int64(len(a)), 10)
		buf = append(buf, '\r', '\n')
		buf = append(buf, a...)
		buf = append(buf, '\r', '\n')
	}
	return buf
}

// ReadReply reads one reply: Status, Error, int64, string (bulk), nil
// (a nil bulk or array) or []any. An error reply is returned as the value,
// not as the error: the error is for the connection (I/O, protocol).
func ReadReply(r *bufio.Reader, lim Limits) (any, error) { return readValue(r, lim, 0) }

func readLine(r *bufio.Reader) (string, error) {
	var line []byte
	for {
		chunk, err := r.ReadSlice('\n')
		line = append(line, chunk...)
		if err == nil {
			break
		}
		if !errors.Is(err, bufio.ErrBufferFull) {
			if errors.Is(err, io.EOF) && len(line) > 0 {
				err = io.ErrUnexpectedEOF
			}
			return "", err
		}
		if len(line) > maxLine {
			return "", fmt.Errorf("%w: a reply line longer than %d bytes", ErrProtocol, maxLine)
		}
	}
	if len(line) < 3 || line[len(line)-2] != '\r' {
		return "", fmt.Errorf("%w: a malformed line", ErrProtocol)
	}
	return string(line[:len(line)-2]), nil
}

func readValue(r *bufio.Reader, lim Limits, depth int) (any, error) {
	line, err := readLine(r)
	if err != nil {
		return nil, err
	}
	body := line[1:]
	switch line[0] {
	case '+':
		return Status(body), nil
	case '-':
		return Error(body), nil
	case ':':
		n, err := strconv.ParseInt(body, 10, 64)
		if err != nil {
			return nil, fmt.Errorf("%w: a malformed integer", ErrProtocol)
		}
		return n, nil
	case '$':
		n, err := strconv.Atoi(body)
		switch {
		case err != nil || n < -1:
			return nil, fmt.Errorf("%w: a malformed length", ErrProtocol)
		case n == -1:
			return nil, nil
		case n > lim.MaxBulk:
			return nil, fmt.Errorf("%w: a value of %d bytes (at most %d are read)", ErrProtocol, n, lim.MaxBulk)
		}
		b := make([]byte, n+2)
		if _, err := io.ReadFull(r, b); err != nil {
			return nil, err
		}
		if b[n] != '\r' || b[n+1] != '\n' {
			return nil, fmt.Errorf("%w: a value without its line end", ErrProtocol)
		}
		return string(b[:n]), nil
	case '*':
		n, err := strconv.Atoi(body)
		switch {
		case err != nil || n < -1:
			return nil, fmt.Errorf("%w: a malformed array length", ErrProtocol)
		case n == -1:
			return nil, nil
		case n > lim.MaxArray:
			return nil, fmt.Errorf("%w: an array of %d elements (at most %d are read)", ErrProtocol, n, lim.MaxArray)
		case depth >= maxDepth:
			return nil, fmt.Errorf("%w: arrays nested deeper than %d", ErrProtocol, maxDepth)
		}
		out := make([]any, n)
		for i := range out {
			if out[i], err = readValue(r, lim, depth+1); err != nil {
				return nil, err
			}
		}
		return out, nil
	}
	return nil, fmt.Errorf("%w: unknown reply type %q", ErrProtocol, line[0])
}
