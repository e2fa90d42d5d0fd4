package app

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/getkin/kin-openapi/routers/gorillamux"
	"github.com/pglinks/pglinks/internal/auth"
)

// The API's tests go through the real router (httptest over app.New) and
// check every request they send and every answer they get against the
// OpenAPI document the API serves (kin-openapi: the document is loaded and
// validated, requests are matched to its operations with its gorilla/mux
// router, bodies and statuses checked with openapi3filter).

var (
	openAPIOnce   sync.Once
	openAPIRouter routers.Router
	openAPIErr    error
)

func apiRouter(t *testing.T) routers.Router {
	t.Helper()
	openAPIOnce.Do(func() {
		loader := openapi3.NewLoader()
		doc, err := loader.LoadFromData(openAPIDoc)
		if err != nil {
			openAPIErr = err
			return
		}
		if err := doc.Validate(context.Background()); err != nil {
			openAPIErr = err
			return
		}
		openAPIRouter, openAPIErr = gorillamux.NewRouter(doc)
	})
	if openAPIErr != nil {
		t.Fatalf("openapi.json: %v", openAPIErr)
	}
	return openAPIRouter
}

// apiClient calls the API with one token.
type apiClient struct {
	t     *testing.T
	e     *env
	token string
	// header is sent with every request (e.g. a browser's cookie).
	header http.Header
}

type apiResponse struct {
	Status int
	Header http.Header
	Body   []byte
}

// JSON decodes the answer into v.
func (r apiResponse) JSON(t *testing.T, v any) {
	t.Helper()
	if err := json.Unmarshal(r.Body, v); err != nil {
		t.Fatalf("answer is not JSON: %v\n%s", err, r.Body)
	}
}

// apiErr is the error shape, decoded.
type apiErr struct {
	Error struct {
		Kind, Message, Field, RequestID string
		Details                         []string
	}
}

// Err decodes the answer as the API's error, failing unless its status is
// status and its kind kind.
func (r apiResponse) Err(t *testing.T, status int, kind string) apiErr {
	t.Helper()
	var e apiErr
	r.JSON(t, &e)
	if r.Status != status || e.Error.Kind != kind || e.Error.Message == "" {
		t.Fatalf("got %d %s, want %d %s error:\n%s", r.Status, e.Error.Kind, status, kind, r.Body)
	}
	return e
}

// tokenFor makes a token for email's user.
func (e *env) tokenFor(t *testing.T, email, name string) string {
	t.Helper()
	ctx := context.Background()
	users, err := e.store.ListUsers(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, u := range users {
		if u.Email == email {
			_, secret, err := e.store.CreateToken(ctx, u.ID, name, time.Time{})
			if err != nil {
				t.Fatal(err)
			}
			return secret
		}
	}
	t.Fatalf("no user %s", email)
	return ""
}

func (e *env) api(t *testing.T, email, tokenName string) *apiClient {
	return &apiClient{t: t, e: e, token: e.tokenFor(t, email, tokenName)}
}

// do sends a request whose body (any JSON value, or nil) matches the
// document, and checks both the request and the answer against it.
func (c *apiClient) do(method, path string, body any) apiResponse {
	c.t.Helper()
	var raw []byte
	if body != nil {
		var err error
		if raw, err = json.Marshal(body); err != nil {
			c.t.Fatal(err)
		}
	}
	return c.send(method, path, raw, "application/json", true)
}

// raw sends a body as it is, for requests the document would refuse (an
// unknown field, the wrong type): only the answer is checked.
func (c *apiClient) raw(method, path, body, contentType string) apiResponse {
	c.t.Helper()
	return c.send(method, path, []byte(body), contentType, false)
}

func (c *apiClient) get(path string) apiResponse { c.t.Helper(); return c.do("GET", path, nil) }

func (c *apiClient) send(method, path string, body []byte, contentType string, checkRequest bool) apiResponse {
	c.t.Helper()
	newReq := func() *http.Request {
		req, err := http.NewRequest(method, c.e.srv.URL+path, bytes.NewReader(body))
		if err != nil {
			c.t.Fatal(err)
		}
		if len(body) > 0 {
			req.Header.Set("Content-Type", contentType)
		}
		if c.token != "" {
			req.Header.Set("Authorization", "Bearer "+c.token)
		}
		for k, vs := range c.header {
			req.Header[k] = vs
		}
		return req
	}
	router := apiRouter(c.t)
	req := newReq()
	route, params, err := router.FindRoute(req)
	if err != nil {
		c.t.Fatalf("%s %s is not in openapi.json: %v", method, path, err)
	}
	opts := &openapi3filter.Options{AuthenticationFunc: openapi3filter.NoopAuthenticationFunc, IncludeResponseStatus: true, MultiError: true}
	in := &openapi3filter.RequestValidationInput{Request: req, PathParams: params, Route: route, Options: opts}
	if checkRequest {
		if err := openapi3filter.ValidateRequest(context.Background(), in); err != nil {
			c.t.Fatalf("%s %s: the request does not match openapi.json: %v", method, path, err)
		}
	}
	resp, err := http.DefaultClient.Do(newReq())
	if err != nil {
		c.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	r := apiResponse{Status: resp.StatusCode, Header: resp.Header, Body: b}
	if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		c.t.Fatalf("%s %s: %d with Content-Type %q:\n%s", method, path, r.Status, ct, b)
	}
	in.Request = newReq() // the body was read by the validation above
	err = openapi3filter.ValidateResponse(context.Background(), &openapi3filter.ResponseValidationInput{
		RequestValidationInput: in, Status: r.Status, Header: resp.Header, Body: io.NopCloser(bytes.NewReader(b)), Options: opts,
	})
	if err != nil {
		c.t.Fatalf("%s %s: the answer (%d) does not match openapi.json: %v\n%s", method, path, r.Status, err, b)
	}
	return r
}

// userID is the id of email's user.
func (e *env) userID(t *testing.T, email string) int64 {
	t.Helper()
	users, err := e.store.ListUsers(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	for _, u := range users {
		if u.Email == email {
			return u.ID
		}
	}
	t.Fatalf("no user %s", email)
	return 0
}

// auditBy lists the audit entries of action made by actor.
func (e *env) auditBy(t *testing.T, action, actor string) []auth.AuditEntry {
	t.Helper()
	entries, err := e.store.ListAudit(context.Background(), auth.AuditFilter{Action: action, Limit: auth.MaxAuditLimit})
	if err != nil {
		t.Fatal(err)
	}
	var out []auth.AuditEntry
	for _, en := range entries {
		if en.Actor == actor {
			out = append(out, en)
		}
	}
	return out
}
