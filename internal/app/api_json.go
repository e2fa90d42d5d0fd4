package app

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"reflect"
	"strings"

	"github.com/labstack/echo/v4"
	"github.com/pglinks/pglinks/internal/errs"
	"github.com/pglinks/pglinks/internal/fleet"
)

// apiErrorBody is the API's one error shape:
//
//	{"error": {"kind": "conflict", "message": "...", "field": "name"}}
type apiErrorBody struct {
	Error apiErrorDetail `json:"error"`
}

type apiErrorDetail struct {
	Kind    string `json:"kind"`
	Message string `json:"message"`
	Field   string `json:"field,omitempty"`
	// Details list the parts of a refusal (preflight problems, blockers,
	// existing links), each in words.
	Details []string `json:"details,omitempty"`
	// RequestID is given with internal errors, for the administrator.
	RequestID string `json:"request_id,omitempty"`
}

// apiKindRateLimited is the kind of a 429: not a domain error, a limit of
// the API itself.
const apiKindRateLimited = "rate_limited"

// apiDetailsError carries details with a domain error, for apiError.
type apiDetailsError struct {
	error
	details []string
}

func (e apiDetailsError) Unwrap() error { return e.error }

func withDetails(err error, details []string) error {
	if len(details) == 0 {
		return err
	}
	return apiDetailsError{err, details}
}

// kindOfStatus names the kind of an HTTP error that did not come from the
// domain (no route, body too large, ...), from its status.
func kindOfStatus(status int) string {
	switch {
	case status == http.StatusTooManyRequests:
		return apiKindRateLimited
	case status == http.StatusUnauthorized:
		return string(errs.Unauthorized)
	case status == http.StatusForbidden:
		return string(errs.Forbidden)
	case status == http.StatusNotFound:
		return string(errs.NotFound)
	case status == http.StatusConflict:
		return string(errs.Conflict)
	case status == http.StatusServiceUnavailable:
		return string(errs.Unavailable)
	case status >= 500:
		return string(errs.Internal)
	}
	return string(errs.Invalid)
}

// apiError answers an /api/ request's error as JSON, with the status the
// error kind maps to (statusOf, as pages do). Internal errors say only
// "Internal error" and the request id; their cause goes to the log.
func (a *App) apiError(err error, c echo.Context) {
	d := apiErrorDetail{}
	status := http.StatusInternalServerError
	var he *echo.HTTPError
	var de apiDetailsError
	if errors.As(err, &de) {
		d.Details = de.details
	}
	switch {
	case errors.As(err, &he):
		status = he.Code
		d.Kind = kindOfStatus(status)
		d.Message = http.StatusText(status)
		if m, ok := he.Message.(string); ok && status < 500 {
			d.Message = m
		}
		if status == http.StatusRequestEntityTooLarge {
			d.Message = fmt.Sprintf("The request body is larger than %s: nothing was done.", apiBodyLimit)
		}
	case errs.KindOf(err) != errs.Internal:
		kind := errs.KindOf(err)
		status, d.Kind, d.Message, d.Field = statusOf(kind), string(kind), errs.MessageOf(err), errs.FieldOf(err)
	}
	if status >= 500 && d.Message == "" || status == http.StatusInternalServerError {
		d.RequestID = c.Response().Header().Get(echo.HeaderXRequestID)
		a.log.Error("api request failed", "method", c.Request().Method, "path", c.Request().URL.Path, "request_id", d.RequestID, "err", err)
		d.Kind, d.Message, d.Details = string(errs.Internal), "Internal error. If it persists, give your administrator this request id.", nil
	}
	d.Message = fleet.MaskSecrets(d.Message)
	if status == http.StatusUnauthorized {
		c.Response().Header().Set("WWW-Authenticate", `Bearer realm="pglinks"`)
	}
	if c.Request().Method == http.MethodHead {
		c.NoContent(status)
		return
	}
	if err := writeJSON(c, status, apiErrorBody{Error: d}); err != nil {
		a.log.Error("writing API error", "err", err)
	}
}

// writeJSON answers with v as JSON. HTML characters are not escaped: the
// answer is data, served as application/json with nosniff, and names come
// back exactly as they are (a table named <script> is that string).
func writeJSON(c echo.Context, status int, v any) error {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	if err := enc.Encode(v); err != nil {
		return err
	}
	return c.Blob(status, "application/json; charset=utf-8", buf.Bytes())
}

// apiBodyLimit is the largest request body the API reads (the whole app's
// limit, see routes).
const apiBodyLimit = "64 KB"

// decodeJSON reads the request body into v strictly: application/json,
// one JSON value, no field the API does not know (named in the message),
// values of the right type, and no NUL character in any text (PostgreSQL
// cannot store one). An empty body is an empty object.
func decodeJSON(c echo.Context, v any) error {
	r := c.Request()
	if ct := r.Header.Get(echo.HeaderContentType); ct != "" {
		if mt, _, err := mime.ParseMediaType(ct); err != nil || mt != "application/json" {
			return errs.E(errs.Invalid, "Send the request body as JSON, with Content-Type: application/json (got %q).", ct)
		}
	}
	body, err := io.ReadAll(r.Body)
	if err != nil {
		var he *echo.HTTPError
		if errors.As(err, &he) {
			return he // body too large
		}
		return errs.Wrap(errs.Invalid, err, "The request body could not be read.")
	}
	if len(bytes.TrimSpace(body)) == 0 {
		body = []byte("{}")
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return jsonDecodeError(err)
	}
	if dec.More() {
		return errs.E(errs.Invalid, "The request body holds more than one JSON value.")
	}
	if f := nulField(reflect.ValueOf(v), ""); f != "" {
		return errs.E(errs.Invalid, "The field %q holds a NUL character, which no name or value may contain. Nothing was done.", f).OnField(f)
	}
	return nil
}

// jsonDecodeError says what is wrong with a body in words, naming the field.
func jsonDecodeError(err error) error {
	var syn *json.SyntaxError
	var typ *json.UnmarshalTypeError
	switch {
	case errors.As(err, &syn):
		return errs.E(errs.Invalid, "The request body is not valid JSON (at byte %d): %s.", syn.Offset, syn.Error())
	case errors.As(err, &typ):
		return errs.E(errs.Invalid, "The field %q must be %s, not a JSON %s.", typ.Field, jsonTypeName(typ.Type), typ.Value).OnField(typ.Field)
	case errors.Is(err, io.ErrUnexpectedEOF):
		return errs.E(errs.Invalid, "The request body ends in the middle of a JSON value.")
	}
	if f, ok := strings.CutPrefix(err.Error(), "json: unknown field "); ok {
		name := strings.Trim(f, `"`)
		return errs.E(errs.Invalid, "The request has a field this API does not know: %s. Nothing was done; see /api/v1/openapi.json for the fields.", f).OnField(name)
	}
	return errs.Wrap(errs.Invalid, err, "The request body could not be read as JSON: %s.", err.Error())
}

func jsonTypeName(t reflect.Type) string {
	switch t.Kind() {
	case reflect.Bool:
		return "true or false"
	case reflect.String:
		return "a string"
	case reflect.Slice:
		return "an array"
	case reflect.Int, reflect.Int64:
		return "a whole number"
	case reflect.Pointer:
		return jsonTypeName(t.Elem())
	}
	return "an object"
}

// nulField names the first field (by its JSON name) of the decoded v whose
// text holds a NUL, or "".
func nulField(v reflect.Value, name string) string {
	switch v.Kind() {
	case reflect.Pointer, reflect.Interface:
		if v.IsNil() {
			return ""
		}
		return nulField(v.Elem(), name)
	case reflect.String:
		if strings.IndexByte(v.String(), 0) >= 0 {
			return name
		}
	case reflect.Slice:
		for i := range v.Len() {
			if f := nulField(v.Index(i), name); f != "" {
				return f
			}
		}
	case reflect.Struct:
		t := v.Type()
		for i := range t.NumField() {
			tag, _, _ := strings.Cut(t.Field(i).Tag.Get("json"), ",")
			if f := nulField(v.Field(i), tag); f != "" {
				return f
			}
		}
	}
	return ""
}
