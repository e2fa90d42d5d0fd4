package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strings"
	"time"
)

// apiClient speaks pglinks' API with one token.
type apiClient struct {
	base  string // e.g. http://127.0.0.1:8080/api/v1
	token string
	http  *http.Client
}

// cliTimeout is above the server's request deadline (75 s), so the
// server's own answer, not a client timeout, says what happened.
const cliTimeout = 90 * time.Second

// newAPIClient finds pglinks (--url, PGLINKS_URL) and the token
// (--token-file, PGLINKS_TOKEN, PGLINKS_TOKEN_FILE).
func newAPIClient(f *cliFlags, getenv func(string) string) (*apiClient, error) {
	base := f.strs["url"]
	if base == "" {
		base = getenv("PGLINKS_URL")
	}
	if base == "" {
		return nil, usageError("say where pglinks is: PGLINKS_URL=https://pglinks.example.com or --url")
	}
	u, err := url.Parse(base)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, usageError(fmt.Sprintf("PGLINKS_URL / --url %q is not an http(s) URL", base))
	}
	var token string
	switch file := f.strs["token-file"]; {
	case file != "":
		token, err = readTokenFile(file)
	case getenv("PGLINKS_TOKEN") != "":
		token = strings.TrimSpace(getenv("PGLINKS_TOKEN"))
	case getenv("PGLINKS_TOKEN_FILE") != "":
		token, err = readTokenFile(getenv("PGLINKS_TOKEN_FILE"))
	default:
		return nil, usageError("no API token: set PGLINKS_TOKEN, or PGLINKS_TOKEN_FILE / --token-file with a file of mode 0600 (create a token on your Account page)")
	}
	if err != nil {
		return nil, err
	}
	return &apiClient{base: strings.TrimSuffix(base, "/") + "/api/v1", token: token, http: &http.Client{Timeout: cliTimeout}}, nil
}

// readTokenFile reads a token from a file only its owner can read: a
// token in a file others can read is as good as published.
func readTokenFile(path string) (string, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return "", fmt.Errorf("token file: %w", err)
	}
	if !fi.Mode().IsRegular() {
		return "", fmt.Errorf("token file %s is not a regular file", path)
	}
	if perm := fi.Mode().Perm(); perm&0o077 != 0 {
		return "", fmt.Errorf("token file %s is open to other users (mode %04o): run chmod 600 %s, and revoke the token if others may have read it", path, perm, path)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return "", fmt.Errorf("token file: %w", err)
	}
	token := strings.TrimSpace(string(b))
	if token == "" {
		return "", fmt.Errorf("token file %s is empty", path)
	}
	return token, nil
}

// apiRefusal is the API's error: its message is what the user reads.
type apiRefusal struct {
	Status  int
	Kind    string
	Message string
	Details []string
}

func (e *apiRefusal) Error() string {
	msg := e.Message
	for _, d := range e.Details {
		if !strings.Contains(msg, d) {
			msg += "\n  " + d
		}
	}
	return msg
}

// call sends a request with a JSON body (nil: none) and returns the
// answer's body; an error answer is an *apiRefusal.
func (c *apiClient) call(ctx context.Context, method, path string, body any) ([]byte, error) {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return nil, err
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.base+path, rd)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Authorization", "Bearer "+c.token)
	req.Header.Set("Accept", "application/json")
	req.Header.Set("User-Agent", "pglinks-cli")
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := c.http.Do(req)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err // the URL is in the message already
		}
		return nil, fmt.Errorf("cannot reach pglinks at %s: %w", strings.TrimSuffix(c.base, "/api/v1"), err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 64<<20))
	if err != nil {
		return nil, fmt.Errorf("reading pglinks' answer: %w", err)
	}
	if resp.StatusCode >= 300 {
		var e struct {
			Error struct {
				Kind, Message string
				Details       []string
				RequestID     string `json:"request_id"`
			}
		}
		if json.Unmarshal(b, &e) != nil || e.Error.Message == "" {
			return nil, &apiRefusal{Status: resp.StatusCode, Message: fmt.Sprintf("pglinks answered %s", resp.Status)}
		}
		msg := e.Error.Message
		if e.Error.RequestID != "" {
			msg += " (request id " + e.Error.RequestID + ")"
		}
		if ra := resp.Header.Get("Retry-After"); resp.StatusCode == http.StatusTooManyRequests && ra != "" && !strings.Contains(msg, ra) {
			msg += " Retry after " + ra + " s."
		}
		return nil, &apiRefusal{Status: resp.StatusCode, Kind: e.Error.Kind, Message: msg, Details: e.Error.Details}
	}
	return b, nil
}

// get calls and decodes the answer into v; it returns the raw answer too,
// for --json.
func (c *apiClient) get(ctx context.Context, path string, v any) ([]byte, error) {
	return c.decode(ctx, http.MethodGet, path, nil, v)
}

func (c *apiClient) decode(ctx context.Context, method, path string, body, v any) ([]byte, error) {
	b, err := c.call(ctx, method, path, body)
	if err != nil {
		return nil, err
	}
	if v != nil {
		if err := json.Unmarshal(b, v); err != nil {
			return nil, fmt.Errorf("pglinks' answer is not what this client expects (%v): is %s a pglinks of the same version?", err, strings.TrimSuffix(c.base, "/api/v1"))
		}
	}
	return b, nil
}
