package app

import (
	"net/url"

	"strings"
	"unicode/utf8"

	"github.com/pglinks/pglinks/views"
)

// Form decoding is kept apart from handlers so it can be fuzzed: whatever
// arrives, these return plain values and never panic.

const maxFieldLen = 512

// field returns a trimmed form value, cut to a sane length and to valid
// UTF-8 so it can be echoed back into the form safely.
func field(form url.Values, name string) string {
	v := strings.ToValidUTF8(strings.TrimSpace(form.Get(name)), "\uFFFD")
	if len(v) > maxFieldLen {
		cut := maxFieldLen
		for cut > 0 && !utf8.RuneStart(v[cut]) {
			cut--
		}
		v = strings.TrimSpace(v[:cut])
	}
	return v
}

// createInput is the create-link form.
type createInput struct {
	Remote, Local, Name string
	CopyEnums           bool
	// DuplicateOK confirms a second link from the same remote into the
	// same local.
	DuplicateOK bool
	views.CreateOptions
	// Redis are the choices for a Redis remote.
	Redis views.RedisForm
}

func decodeCreateForm(form url.Values) createInput {
	in := createInput{
		Remote:      field(form, "remote"),
		Local:       field(form, "local"),
		Name:        field(form, "name"),
		CopyEnums:   form.Get("copy_enums") != "",
		DuplicateOK: form.Get("duplicate_ok") != "",
	}
	in.CreateOptions = decodeCreateOptions(form)
	in.Redis = decodeRedisOptions(form)
	return in
}

// loginInput is the sign-in form. The password is not trimmed: spaces may
// be part of it.
type loginInput struct {
	Email, Password, Next string
}

func decodeLoginForm(form url.Values) loginInput {
	pw := form.Get("password")
	if len(pw) > 1024 || !utf8.ValidString(pw) {
		pw = ""
	}
	return loginInput{
		Email:    field(form, "email"),
		Password: pw,
		Next:     safeNext(form.Get("next")),
	}
}

// destroyInput is the typed-name confirmation.
type destroyInput struct {
	Confirm, Fingerprint string
}

func decodeDestroyForm(form url.Values) destroyInput {
	return destroyInput{Confirm: nameField(form.Get("confirm")), Fingerprint: field(form, "fingerprint")}
}
