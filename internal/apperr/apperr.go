// Package apperr is the one error type that carries a message for the user: a code saying
// what kind of failure it is, the message in Chinese as a field, and the error behind it
// for the log. Handlers return it (or wrap it); the server maps its code to a status in
// one place and writes its message, never the text of an error from inside the program.
// After benbjohnson/wtf's Error{Code, Message}.
package apperr

import (
	"errors"
	"fmt"
)

// Code is the kind of a failure, which decides its HTTP status.
type Code string

// The codes.
const (
	Invalid      Code = "invalid"       // the request is wrong: a parameter, a body (400)
	Unauthorized Code = "unauthorized"  // no login (401)
	Forbidden    Code = "forbidden"     // beyond the caller's scope or role (403)
	NotFound     Code = "not_found"     // no such thing, or no data for it (404)
	Timeout      Code = "timeout"       // cut at its time limit (408)
	TooLarge     Code = "too_large"     // past a size bound (413)
	Unprocessed  Code = "unprocessable" // well formed, but cannot be done: a query past its memory (422)
	TooMany      Code = "too_many"      // the caller's own limit: one query at a time (429)
	Conflict     Code = "conflict"      // the same work is already under way: a backup (409)
	Busy         Code = "busy"          // the server's limit: every slot taken (503)
	Unavailable  Code = "unavailable"   // not ready yet, or gone away (503)
	Internal     Code = "internal"      // a fault of the program: logged, never shown (500)
)

// Error is a failure with its message for the user.
type Error struct {
	Code    Code
	Message string // in Chinese, for the user; empty only for the sentinels below
	Err     error  // what caused it, for the log (never shown)
}

func (e *Error) Error() string {
	switch {
	case e.Message != "" && e.Err != nil:
		return e.Message + ": " + e.Err.Error()
	case e.Message != "":
		return e.Message
	case e.Err != nil:
		return string(e.Code) + ": " + e.Err.Error()
	}
	return string(e.Code)
}

func (e *Error) Unwrap() error { return e.Err }

// Is lets a sentinel of a code (an Error with no message) match every error of that code:
// errors.Is(err, reports.ErrNotFound).
func (e *Error) Is(target error) bool {
	t, ok := target.(*Error)
	return ok && t.Message == "" && t.Err == nil && t.Code == e.Code
}

// New is an error of a code with a message.
func New(code Code, msg string) *Error { return &Error{Code: code, Message: msg} }

// Errorf is an error of a code with a formatted message. A %w in the format wraps that
// error as the cause (kept for the log, out of the message).
func Errorf(code Code, format string, a ...any) *Error {
	wrapped := fmt.Errorf(format, a...)
	e := &Error{Code: code, Message: wrapped.Error()}
	if u := errors.Unwrap(wrapped); u != nil {
		e.Err = u
		// the message is what the user reads: the cause's own text stays out of it
		e.Message = fmt.Sprintf(stripW(format), a...)
	}
	return e
}

// stripW writes %w as %v's empty cousin: the cause is named only in the log.
func stripW(format string) string {
	out := make([]byte, 0, len(format))
	for i := 0; i < len(format); i++ {
		if format[i] == '%' && i+1 < len(format) && format[i+1] == 'w' {
			out = append(out, "%.0v"...)
			i++
			continue
		}
		out = append(out, format[i])
	}
	return string(out)
}

// Wrap is err as an error of a code with a message, err kept as the cause.
func Wrap(code Code, err error, msg string) *Error { return &Error{Code: code, Message: msg, Err: err} }

// Sentinel is a code's error with no message, for errors.Is.
func Sentinel(code Code) *Error { return &Error{Code: code} }

// CodeOf is the code of the first Error in err's chain, Internal if none.
func CodeOf(err error) Code {
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	return Internal
}

// MessageOf is the message of the first Error in err's chain that has one, "" if none.
func MessageOf(err error) string {
	for err != nil {
		var e *Error
		if !errors.As(err, &e) {
			return ""
		}
		if e.Message != "" {
			return e.Message
		}
		err = e.Err
	}
	return ""
}
