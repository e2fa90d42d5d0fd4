// Package errs gives domain errors a kind. The HTTP layer maps each kind to a
// status in exactly one place; users see the message of Invalid, Conflict,
// NotFound, Forbidden and Unavailable errors, and a generic message with a
// request id for everything else.
package errs

import (
	"errors"
	"fmt"
)

// Kind classifies an error for the people who see it.
type Kind string

const (
	Invalid      Kind = "invalid"      // the request itself is wrong (bad name, mismatch)
	NotFound     Kind = "not_found"    // the thing named does not exist
	Conflict     Kind = "conflict"     // the state forbids it (name taken, busy)
	Forbidden    Kind = "forbidden"    // not allowed for this user or object
	Unauthorized Kind = "unauthorized" // not signed in / bad credentials
	Unavailable  Kind = "unavailable"  // a database could not be reached or refused us
	Internal     Kind = "internal"     // a bug or an unexpected failure
)

// Error is a domain error with a user-facing message.
type Error struct {
	Kind    Kind
	Message string // safe to show: no passwords, no full URLs
	Field   string // optional form field the message belongs to
	Err     error  // underlying cause, for logs
}

func (e *Error) Error() string {
	if e.Err != nil {
		return e.Message + ": " + e.Err.Error()
	}
	return e.Message
}

func (e *Error) Unwrap() error { return e.Err }

// E builds an error of kind with a formatted message.
func E(kind Kind, format string, args ...any) *Error {
	return &Error{Kind: kind, Message: fmt.Sprintf(format, args...)}
}

// Wrap builds an error of kind with a message and a cause.
func Wrap(kind Kind, err error, format string, args ...any) *Error {
	return &Error{Kind: kind, Message: fmt.Sprintf(format, args...), Err: err}
}

// OnField attaches the error to a form field.
func (e *Error) OnField(field string) *Error {
	e.Field = field
	return e
}

// KindOf reports the kind of err; errors that are not *Error are Internal.
func KindOf(err error) Kind {
	var e *Error
	if errors.As(err, &e) {
		return e.Kind
	}
	return Internal
}

// MessageOf is the user-facing message of err, or "" when it has none.
func MessageOf(err error) string {
	var e *Error
	if errors.As(err, &e) {
		return e.Message
	}
	return ""
}

// FieldOf is the form field err belongs to, or "".
func FieldOf(err error) string {
	var e *Error
	if errors.As(err, &e) {
		return e.Field
	}
	return ""
}

// Is reports whether err is of kind.
func Is(err error, kind Kind) bool { return err != nil && KindOf(err) == kind }
