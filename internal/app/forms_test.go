package app

import (
	"net/url"
	"strings"
	"testing"
	"unicode/utf8"
)

func TestSafeNext(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{
		"/":                  "/",
		"/audit":             "/audit",
		"/a?b=c":             "/a?b=c",
		"//evil":             "/",
		"/\\evil":            "/",
		"https://evil/":      "/",
		"evil":               "/",
		"/login?next=//evil": "/",
	} {
		if got := safeNext(in); got != want {
			t.Errorf("safeNext(%q) = %q, want %q", in, got, want)
		}
	}
}

func checkSafeNext(t *testing.T, in string) {
	got := safeNext(in)
	u, err := url.Parse(got)
	if err != nil || !strings.HasPrefix(got, "/") || strings.HasPrefix(got, "//") || strings.HasPrefix(got, `/\`) || u.Host != "" || u.Scheme != "" || strings.ContainsAny(got, "\r\n\\") {
		t.Fatalf("safeNext(%q) = %q leaves the site", in, got)
	}
}

func FuzzLoginForm(f *testing.F) {
	for _, s := range []string{"email=a%40b.c&password=x&next=%2F", "next=%2F%2Fevil", "password=%ff%fe", "email=" + strings.Repeat("a", 2000), "next=https:%2F%2Fevil", "next=%2F%5Cevil"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		form, err := url.ParseQuery(raw)
		if err != nil {
			return
		}
		in := decodeLoginForm(form)
		if !utf8.ValidString(in.Email) || len(in.Email) > maxFieldLen || !utf8.ValidString(in.Password) {
			t.Fatalf("decoded %+v", in)
		}
		checkSafeNext(t, in.Next)
		checkSafeNext(t, form.Get("next"))
	})
}

func FuzzCreateForm(f *testing.F) {
	for _, s := range []string{"remote=A&local=B&name=sales&copy_enums=1", "name=%3Cscript%3E", "name=%00%ff", "remote=" + strings.Repeat("x", 5000)} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		form, err := url.ParseQuery(raw)
		if err != nil {
			return
		}
		in := decodeCreateForm(form)
		for _, v := range []string{in.Remote, in.Local, in.Name} {
			if !utf8.ValidString(v) || len(v) > maxFieldLen || v != strings.TrimSpace(v) {
				t.Fatalf("decoded %+v", in)
			}
		}
		d := decodeDestroyForm(form)
		if !utf8.ValidString(d.Confirm) || len(d.Confirm) > maxFieldLen {
			t.Fatalf("decoded %+v", d)
		}
	})
}
