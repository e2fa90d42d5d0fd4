package auth

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"runtime"
	"runtime/debug"
	"strings"
	"sync"
	"unicode/utf8"

	"golang.org/x/crypto/argon2"

	"github.com/pglinks/pglinks/internal/errs"
)

// Password length limits. The upper bound keeps a hostile form from making
// us hash megabytes.
const (
	MinPasswordLength = 12
	MaxPasswordLength = 1024
)

// argonParams are the argon2id cost parameters. m=64 MiB, t=2, p=2 takes
// about 110 ms on a 2-core server (see BenchmarkHashPassword): slow for a
// guesser, quick enough for a person signing in.
type argonParams struct {
	memory  uint32 // KiB
	time    uint32
	threads uint8
	saltLen int
	keyLen  int
}

var defaultParams = argonParams{memory: 64 * 1024, time: 2, threads: 2, saltLen: 16, keyLen: 32}

// minHashMemory (KiB) is the least memory a stored hash may name: one
// below it is refused as malformed.
var minHashMemory uint32 = 8 * 1024

// hashSlots bounds concurrent hashes: each holds 64 MiB, and a burst of
// logins must not exhaust the server's memory.
var hashSlots = make(chan struct{}, max(2, runtime.GOMAXPROCS(0)))

// errMalformedHash is never shown to users; a stored hash we cannot read is
// a bug or tampering.
var errMalformedHash = errors.New("auth: malformed password hash")

func validatePassword(password string) error {
	n := utf8.RuneCountInString(password)
	if n < MinPasswordLength {
		return errs.E(errs.Invalid, "Password must be at least %d characters.", MinPasswordLength).OnField("password")
	}
	if len(password) > MaxPasswordLength {
		return errs.E(errs.Invalid, "Password must be at most %d bytes.", MaxPasswordLength).OnField("password")
	}
	return nil
}

// hashPassword returns a PHC-style string:
// $argon2id$v=19$m=65536,t=2,p=2$<salt>$<hash> (unpadded standard base64).
func hashPassword(ctx context.Context, password string) (string, error) {
	p := defaultParams
	salt := make([]byte, p.saltLen)
	if _, err := rand.Read(salt); err != nil {
		return "", fmt.Errorf("auth: salt: %w", err)
	}
	key, err := argonKey(ctx, password, salt, p)
	if err != nil {
		return "", err
	}
	b64 := base64.RawStdEncoding
	return fmt.Sprintf("$argon2id$v=%d$m=%d,t=%d,p=%d$%s$%s",
		argon2.Version, p.memory, p.time, p.threads, b64.EncodeToString(salt), b64.EncodeToString(key)), nil
}

// verifyPassword reports whether password matches encoded, comparing in
// constant time.
func verifyPassword(ctx context.Context, password, encoded string) (bool, error) {
	p, salt, want, err := decodeHash(encoded)
	if err != nil {
		return false, err
	}
	got, err := argonKey(ctx, password, salt, p)
	if err != nil {
		return false, err
	}
	return subtle.ConstantTimeCompare(got, want) == 1, nil
}

func argonKey(ctx context.Context, password string, salt []byte, p argonParams) ([]byte, error) {
	select {
	case hashSlots <- struct{}{}:
	case <-ctx.Done():
		return nil, fmt.Errorf("auth: wait to hash password: %w", ctx.Err())
	}
	key := argon2.IDKey([]byte(password), salt, p.time, p.memory, p.threads, uint32(p.keyLen))
	<-hashSlots
	if len(hashSlots) == 0 {
		// The hash's 64 MiB goes back to the system now, not after the
		// runtime's slow scavenging: a server that signs someone in now
		// and then would otherwise keep that much more resident.
		go debug.FreeOSMemory()
	}
	return key, nil
}

func decodeHash(encoded string) (argonParams, []byte, []byte, error) {
	var p argonParams
	parts := strings.Split(encoded, "$")
	// "", "argon2id", "v=19", "m=..,t=..,p=..", salt, hash
	if len(parts) != 6 || parts[0] != "" || parts[1] != "argon2id" {
		return p, nil, nil, errMalformedHash
	}
	var version int
	if _, err := fmt.Sscanf(parts[2], "v=%d", &version); err != nil || version != argon2.Version {
		return p, nil, nil, errMalformedHash
	}
	if _, err := fmt.Sscanf(parts[3], "m=%d,t=%d,p=%d", &p.memory, &p.time, &p.threads); err != nil {
		return p, nil, nil, errMalformedHash
	}
	// Bounds stop a corrupted row from asking for gigabytes or hours, and
	// a weak hash from being accepted.
	if p.memory < minHashMemory || p.memory > 1024*1024 || p.time < 1 || p.time > 16 || p.threads < 1 {
		return p, nil, nil, errMalformedHash
	}
	b64 := base64.RawStdEncoding
	salt, err := b64.DecodeString(parts[4])
	if err != nil || len(salt) < 8 {
		return p, nil, nil, errMalformedHash
	}
	key, err := b64.DecodeString(parts[5])
	if err != nil || len(key) < 16 || len(key) > 64 {
		return p, nil, nil, errMalformedHash
	}
	p.saltLen, p.keyLen = len(salt), len(key)
	return p, salt, key, nil
}

// dummyHash is verified against when an email is unknown, so that answer
// costs as much time as a wrong password.
var dummyHash = sync.OnceValue(func() string {
	h, err := hashPassword(context.Background(), GeneratePassword())
	if err != nil {
		panic(err)
	}
	return h
})

// passwordAlphabet is URL-safe and avoids look-alikes (0/O, 1/l/I) because
// generated passwords are read off a terminal.
const passwordAlphabet = "abcdefghijkmnopqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789-_"

// GeneratePassword returns a random 20-character password (about 117 bits).
func GeneratePassword() string {
	return randomString(20, passwordAlphabet)
}

// randomString draws n characters uniformly from alphabet.
func randomString(n int, alphabet string) string {
	b := make([]byte, n)
	limit := 256 - 256%len(alphabet) // reject bytes that would bias the draw
	buf := make([]byte, 1)
	for i := 0; i < n; {
		if _, err := rand.Read(buf); err != nil {
			panic(err) // crypto/rand never fails on supported platforms
		}
		if int(buf[0]) >= limit {
			continue
		}
		b[i] = alphabet[int(buf[0])%len(alphabet)]
		i++
	}
	return string(b)
}
